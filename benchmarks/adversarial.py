"""Adversarial images: the latency of attacking a drawn digit in the CNN tab (request to
images and bars on screen, and the attack alone), and held-out accuracy against ε under
FGSM and PGD for the default convnet trained plainly and with adversarial training (the
same epochs, same seed), on the bundled digits.

References: PyTorch's FGSM tutorial (a small MNIST convnet): 98.1% at ε = 0, 43.0% at
0.2, 8.7% at 0.3. Goodfellow et al. 2014, ε = 0.25, MNIST: error 99.9% (shallow softmax),
89.4% (maxout), 17.9% (maxout after adversarial training). Target: FGSM on a drawn digit
<= 50 ms p95.

    .venv/bin/python benchmarks/adversarial.py              # default CNN, 20 epochs each
    .venv/bin/python benchmarks/adversarial.py --epochs 10
    .venv/bin/python benchmarks/adversarial.py --quick      # a smoke pass: seconds

Prints markdown tables and writes them to benchmarks/results/adversarial.md (and .json);
--out '' writes nothing.
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import common  # noqa: F401  (the project on the path, a scratch home)
import numpy as np

EPSILONS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)
PYTORCH_TUTORIAL = {0.0: "98.1%", 0.2: "43.0%", 0.3: "8.7%"}
GOODFELLOW = {0.25: "0.1% / 10.6% / 82.1%"}  # softmax / maxout / maxout adv. trained


def train(config, seed: int):
    from nets import runner
    from nets.progress import ListReporter

    request = runner.RunRequest("cnn", config, "mnist-5k", seed=seed, autosave=False)
    t0 = time.perf_counter()
    done = runner.execute(request, ListReporter())
    if done.status != "finished":
        raise SystemExit(f"training failed: {done.message}\n{done.detail}")
    return done.result.model, time.perf_counter() - t0


def draw_a_seven(qtbot_app, canvas) -> None:
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(80, 50))
    for x in range(80, 201, 10):
        QTest.mouseMove(canvas, QPoint(x, 50))
    for y in range(50, 251, 10):
        QTest.mouseMove(canvas, QPoint(200 - (y - 50) // 3, y))
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(133, 250))
    qtbot_app.processEvents()


def wait_for(app, flag: list, n: int, timeout: float = 30.0) -> None:
    t0 = time.monotonic()
    while len(flag) < n and time.monotonic() - t0 < timeout:
        app.processEvents()
        time.sleep(0.001)
    if len(flag) < n:
        raise SystemExit("the Adversarial view did not answer in time")


def view_latency(model, repeats: int) -> list[dict]:
    """Slider moves on the Adversarial page with a drawn 7: request to images shown."""
    from PySide6.QtWidgets import QApplication

    from app.tabs.cnn import CNNTab

    app = QApplication.instance() or QApplication([])
    tab = CNNTab()
    tab.resize(1300, 850)
    tab.show()
    tab.panel.model_changed.emit(model)
    draw_a_seven(app, tab.draw.canvas)
    view = tab.adversarial
    tab.panel.views.setCurrentWidget(view)
    seen: list[float] = []
    view.attack_shown.connect(seen.append)
    view.source.setCurrentIndex(1)  # your drawing
    wait_for(app, seen, 1)
    def move(value: int) -> None:  # one slider move, answered before the next
        if view.eps.value() == value:
            value += 1
        n = len(seen)
        view.eps.setValue(value)
        wait_for(app, seen, n + 1)

    rows = []
    for kind in ("fgsm", "pgd"):
        index = ("fgsm", "pgd", "targeted").index(kind)
        if view.kind.currentIndex() != index:
            n = len(seen)
            view.kind.setCurrentIndex(index)
            wait_for(app, seen, n + 1)
        for i in range(3):  # warm-up
            move(5 + 11 * i)
        start = len(seen)
        for i in range(repeats):
            move(5 + (i * 7) % 40)
        ms = [1000 * s for s in seen[start:]]
        rows.append({"attack on a drawn 7": f"{kind.upper()} (view: slider to images)",
                     "p50 ms": round(common.percentile(ms, 50), 1),
                     "p95 ms": round(common.percentile(ms, 95), 1), "runs": len(ms)})
    tab.shutdown()
    return rows


def attack_latency(model, digit: np.ndarray, repeats: int) -> list[dict]:
    from nets.adversarial import Attacker

    attacker = Attacker(model)
    x, rows = digit[None], []
    label = np.array([int(attacker.probabilities(x)[0].argmax())])
    for kind in ("fgsm", "pgd"):
        attacker.attack(kind, x, label, 0.1)
        ms = []
        for _ in range(repeats):
            t = time.perf_counter()
            attacker.attack(kind, x, label, 0.1)
            ms.append(1000 * (time.perf_counter() - t))
        rows.append({"attack on a drawn 7": f"{kind.upper()} (attack alone, nets)",
                     "p50 ms": round(common.percentile(ms, 50), 1),
                     "p95 ms": round(common.percentile(ms, 95), 1), "runs": repeats})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke pass of seconds")
    parser.add_argument("--epochs", type=int, help="epochs of each training (default: the "
                        "family's default, 20)")
    parser.add_argument("--epsilon", type=float, default=0.25,
                        help="adversarial training's ε (default: 0.25)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--images", type=int, default=1000, help="held-out images scored")
    parser.add_argument("--out", default=str(common.RESULTS))
    args = parser.parse_args()

    from nets import adversarial, backend, data
    from nets.families import cnn

    info = backend.start()
    config = cnn.Config()
    images, repeats = args.images, 50
    if args.quick:
        config = cnn.Config(filters=4, conv_blocks=1, augment=False, epochs=1)
        images, repeats = 200, 5
    if args.epochs:
        config = dataclasses.replace(config, epochs=args.epochs)
    tables = common.Tables()
    ds = data.load("mnist-5k")
    plain, plain_s = train(config, args.seed)
    robust, robust_s = train(dataclasses.replace(config, adversarial=True,
                                                 adversarial_epsilon=args.epsilon),
                             args.seed)
    x, y = ds.x_val[:images], ds.y_val[:images]
    curves = {}
    for name, model in (("plain", plain), ("adversarial", robust)):
        for kind in ("fgsm", "pgd"):
            curves[name, kind] = adversarial.robustness_curve(model, x, y, EPSILONS, kind)
    rows = []
    for i, eps in enumerate(EPSILONS):
        rows.append({
            "ε": eps,
            "FGSM, plain": f"{curves['plain', 'fgsm'].accuracy[i]:.1%}",
            "FGSM, adv. trained": f"{curves['adversarial', 'fgsm'].accuracy[i]:.1%}",
            "PGD-10, plain": f"{curves['plain', 'pgd'].accuracy[i]:.1%}",
            "PGD-10, adv. trained": f"{curves['adversarial', 'pgd'].accuracy[i]:.1%}",
            "PyTorch tutorial (FGSM)": PYTORCH_TUTORIAL.get(eps, "—"),
            "Goodfellow 2014 acc. (softmax / maxout / adv. maxout)":
                GOODFELLOW.get(eps, "—")})
    desc = (f"{'quick: 4 filters, 1 block, no augmentation' if args.quick else 'default CNN'}"
            f", {config.epochs} epochs each on mnist-5k (4,000 train), seed {args.seed}; "
            f"adversarial training ε {args.epsilon:g}; {images:,} held-out digits; "
            f"training {plain_s:.0f} s plain, {robust_s:.0f} s adversarial; "
            f"curve seconds (FGSM / PGD, plain): {curves['plain', 'fgsm'].seconds:.1f} / "
            f"{curves['plain', 'pgd'].seconds:.1f}; {backend.describe(info)}")
    tables.add(f"Held-out accuracy against ε ({desc})", rows)
    digit = drawn_digit()
    tables.add("Attack latency on a drawn digit (ε 0.05-0.45 slider moves; PGD 10 steps)",
               view_latency(plain, repeats) + attack_latency(plain, digit, repeats))
    if args.out:
        tables.write(args.out, "adversarial")


def drawn_digit() -> np.ndarray:
    """The 7 the view benchmark draws, as the network reads it (28x28x1)."""
    from PySide6.QtWidgets import QApplication

    from app.widgets.canvas import DrawingCanvas
    from nets.images import mnist_style

    app = QApplication.instance() or QApplication([])
    canvas = DrawingCanvas()
    canvas.show()
    draw_a_seven(app, canvas)
    digit = mnist_style(canvas.array())
    canvas.close()
    return digit[..., None].astype(np.float32)


if __name__ == "__main__":
    main()
