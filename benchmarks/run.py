"""Every benchmark that fits on a 2-core CPU in about 10 minutes, as one table.

Start-up, CNN accuracy and time, in-app training throughput against a bare `model.fit`,
GUI event-loop lag while the CNN and the DQN tabs train, draw-to-prediction and
latent-drag-to-image latency, plot redraw cost, each family's own figures (autoencoders,
VAE, K-means and sparse coding against scikit-learn, DQN steps/s with the live view on and
off) and the peak memory of each section. Each section runs in a fresh process, so its
peak memory is its own. Prints a markdown table and writes results.md and results.json.

    python benchmarks/run.py                   # the full set (about 10 minutes on 2 cores)
    python benchmarks/run.py --quick           # a smoke pass: checks the benchmarks run
    python benchmarks/run.py --only cnn,vae    # some sections

Run it with the project's environment (`.venv/bin/python benchmarks/run.py`). Longer
measurements stay in their own scripts: dictionary_learning.py (the K-means study, all K),
dqn.py (CartPole learning to 475, Pong speed) and soak.py (memory over a long session).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# first: sets up the environment
from common import ROOT, SCRATCH, LagProbe, launch_times, percentile

ROWS: list[dict] = []


def row(name: str, value, unit: str, target: str = "", compared_to: str = "", **extra):
    ROWS.append({"benchmark": name, "value": value, "unit": unit, "target": target,
                 "compared_to": compared_to, **extra})
    print(f"  {name}: {value} {unit}", flush=True)


def spin(qapp, seconds: float) -> None:
    """Keep the GUI's event loop turning for a while, as between a person's mouse moves."""
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        qapp.processEvents()


def latency_rows(name: str, seconds: list[float], what: str) -> None:
    ms = [1000 * v for v in seconds]
    row(f"{name} latency, median", round(statistics.median(ms), 1), "ms",
        compared_to=f"{len(ms)} {what}")
    row(f"{name} latency, 95th percentile", round(percentile(ms, 95), 1), "ms", "<= 30 ms")


# ------------------------------------------------------------------ start-up
def bench_startup(repeats: int) -> None:
    visible, ready = zip(*(launch_times() for _ in range(repeats)))
    row("launch to window visible (median)", round(statistics.median(visible), 2), "s",
        "<= 1.5 s", runs=repeats)
    row("launch to backend ready, tabs built (median)", round(statistics.median(ready), 2),
        "s", "", runs=repeats)


# ------------------------------------------------------------------ CNN quality
QUICK_CNN = dict(filters=4, conv_blocks=1)  # --quick: the same code, a smaller convnet


def bench_cnn_accuracy(quick: bool) -> None:
    from nets import data, runner
    from nets.families import cnn
    from nets.progress import ListReporter

    cfg = cnn.Config(epochs=1, **QUICK_CNN) if quick else cnn.Config()
    t0 = time.monotonic()
    done = runner.execute(runner.RunRequest("cnn", cfg, "mnist-5k", seed=0, autosave=False),
                          ListReporter())
    wall = time.monotonic() - t0
    ds = data.load("mnist-5k")
    acc = float((cnn.predict(done.result.model, ds.x_val).argmax(1) == ds.y_val).mean())
    row(f"CNN held-out accuracy, bundled 4,000/1,000, {'a small' if quick else 'default'} "
        f"config ({cfg.epochs} epochs)",
        round(100 * acc, 2), "%", ">= 97.5 %")
    row("CNN wall time for that run (data, build, train, mistakes)", round(wall, 1), "s",
        "<= 60 s", fit_seconds=round(done.result.fit_seconds, 1))


# ------------------------------------------------------------------ throughput in the app
# Steady-state seconds per epoch: the whole fit() minus its first epoch (which traces the
# graph), divided by the remaining epochs. In the app that includes everything the app adds
# while training: the event bridge, per-epoch autosave, live plots and filter views. The
# reference is a plain model.fit of the same model on the same inputs through the same
# pipeline (the same augmented batches, the same validation), with nothing else attached.
def bare_epoch_seconds(cfg, ds) -> float:
    import keras

    from nets.families import cnn
    from nets.runner import augmented_batches, seed_everything

    first = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            first.append(time.perf_counter() - self.t0)

    seed_everything(0)
    model = cnn.build_model(cfg, ds.input_shape, ds.num_classes, len(ds.x_train))
    x, augment, _ = cnn.training_inputs(cfg, ds, 0)
    data = (dict(x=augmented_batches(x, ds.y_train, cfg.batch_size, augment, 0),
                 shuffle=False) if augment else dict(x=x, y=ds.y_train,
                                                     batch_size=cfg.batch_size))
    t0 = time.perf_counter()
    model.fit(**data, validation_data=(ds.x_val, ds.y_val), epochs=cfg.epochs, verbose=0,
              callbacks=[Clock()])
    return (time.perf_counter() - t0 - first[0]) / (cfg.epochs - 1)


def app_epoch_seconds(qapp, cfg, probe: LagProbe | None = None) -> float:
    from PySide6.QtCore import QEventLoop

    from app.tabs.cnn import CNNTab
    from nets.progress import EpochMetrics

    tab = CNNTab()
    tab.resize(1400, 860)
    tab.show()
    tab.panel.form.set_config(cfg)
    tab.panel.select_dataset("mnist-5k")
    tab.panel.resume_box.setChecked(False)
    tab.panel.views.setCurrentWidget(tab.filters)  # the live filter view redraws too
    first = []

    def on_events(batch):
        first.extend(e.seconds for e in batch if isinstance(e, EpochMetrics))

    tab.panel.events.connect(on_events)
    loop = QEventLoop()  # a real event loop, as in the app: it sleeps when idle
    tab.panel.finished.connect(loop.quit)
    tab.panel.start()
    if probe:
        probe.start()
    loop.exec()
    if probe:
        probe.stop()
    tab.shutdown()
    tab.close()
    tab.deleteLater()
    qapp.processEvents()
    return (tab.panel.trained.fit_seconds - first[0]) / (cfg.epochs - 1)


def bench_throughput(qapp, quick: bool) -> None:
    from nets import data
    from nets.families import cnn

    cfg = cnn.Config(epochs=2, **QUICK_CNN) if quick else cnn.Config(epochs=8)
    ds = data.load("mnist-5k")
    if not quick:  # warm-up of both: the first fit of a process pays one-off costs
        bare_epoch_seconds(cfg, ds)
        app_epoch_seconds(qapp, cfg)
    bare, app = [], []
    for _ in range(1 if quick else 4):  # interleaved, so drift hits both alike
        bare.append(bare_epoch_seconds(cfg, ds))
        app.append(app_epoch_seconds(qapp, cfg))
    # the best of each: noise on a shared machine only ever adds time
    b, a = min(bare), min(app)
    row("training throughput in the app / bare model.fit(verbose=0)", round(b / a, 3),
        "ratio", ">= 0.95", compared_to=f"seconds per epoch after the first, best of "
                                        f"{len(bare)} interleaved runs after a warm-up "
                                        f"(medians {statistics.median(bare):.3f} / "
                                        f"{statistics.median(app):.3f}): bare fit {b:.3f} "
                                        f"vs in-app {a:.3f}; "
                                        f"{'a small' if quick else 'default'} CNN with its "
                                        "augmentation pipeline, bundled digits")
    probe = LagProbe(settle_s=2)  # a separate run: the probe's timer costs a little
    app_epoch_seconds(qapp, cfg, probe)
    what = f"10 ms timer, {len(probe.lags)} beats while the CNN tab trained {cfg.epochs} epochs"
    row("GUI event-loop lag while the CNN tab trains, p50", probe.ms(50), "ms",
        compared_to=what)
    row("GUI event-loop lag while the CNN tab trains, p99", probe.ms(99), "ms", "<= 50 ms")


# ------------------------------------------------------------------ draw to prediction
def bench_draw_latency(qapp, quick: bool) -> None:
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    from app.tabs.cnn import CNNTab
    from nets import runner
    from nets.families import cnn
    from nets.progress import ListReporter

    cfg = cnn.Config(epochs=1, **(QUICK_CNN if quick else {}))
    done = runner.execute(runner.RunRequest("cnn", cfg, "mnist-5k", autosave=False),
                          ListReporter())
    tab = CNNTab()
    tab.resize(1400, 860)
    tab.show()
    tab.panel.trained = done.result
    tab.panel.model_changed.emit(done.result.model)
    latencies = []
    tab.prediction_shown.connect(latencies.append)
    canvas = tab.draw.canvas
    strokes = 3 if quick else 20
    for s in range(strokes):
        tab.draw.canvas.clear()
        x0 = 60 + (s * 37) % 120
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(x0, 40))
        for i in range(30):  # a stroke drawn at ~60 mouse events a second
            QTest.mouseMove(canvas, QPoint(x0 + i * 2, 40 + i * 6))
            spin(qapp, 1 / 60)
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(x0 + 60, 220))
        spin(qapp, 0.2)
    tab.shutdown()
    latency_rows("draw-to-prediction", latencies,
                 f"predictions shown while drawing {strokes} strokes")


# ------------------------------------------------------------------ autoencoders
def bench_autoencoders(quick: bool) -> None:
    from nets.families import autoencoder as aes
    from nets import runner
    from nets.progress import Artifact, EpochMetrics, ListReporter

    if quick:  # the few-labels recipe trains each network 2 x 100 epochs: a few will do
        aes.FEW_LABEL_PROBE_EPOCHS = aes.FEW_LABEL_FINETUNE_EPOCHS = 3
    for kind in ("plain",) if quick else ("plain", "stacked", "denoising"):
        cfg = aes.Config(kind=kind, epochs=1 if quick else aes.Config().epochs,
                         few_labels=20 if quick else 100)
        rep = ListReporter()
        done = runner.execute(runner.RunRequest("autoencoder", cfg, "mnist-5k", seed=0,
                                                autosave=False), rep)
        metrics = rep.of(EpochMetrics)[-1].metrics  # val_loss includes the penalties
        mse = metrics.get("val_reconstruction", metrics["val_loss"])
        scores = [e.value for e in rep.of(Artifact) if e.name == "few_labels"][-1]
        row(f"{kind} autoencoder: held-out reconstruction MSE per pixel "
            f"({cfg.hidden} units, {cfg.epochs} epochs{' per stage' if kind == 'stacked' else ''})",
            round(mse, 4), "", compared_to=done.message)
        row(f"{kind} autoencoder: {scores['labels']} labels, a softmax on the code, then the "
            "whole network fine-tuned; held-out accuracy: pretrained / from random weights "
            "(one seed: benchmarks/autoencoder_lessons.py has the spread)",
            f"{100 * scores['pretrained']:.1f} / {100 * scores['scratch']:.1f}", "%",
            "pretrained > scratch")


# ------------------------------------------------------------------ VAE
def bench_vae(quick: bool):
    from nets import data, runner
    from nets.families import vae
    from nets.progress import EpochMetrics, ListReporter

    cfg = vae.Config(epochs=2 if quick else vae.Config().epochs)
    rep = ListReporter()
    done = runner.execute(runner.RunRequest("vae", cfg, "mnist-5k", seed=0, autosave=False),
                          rep)
    ds = data.load("mnist-5k")
    terms = vae.elbo_terms(done.result.model, ds.x_val)
    per_epoch = statistics.median(e.seconds for e in rep.of(EpochMetrics)[1:] or
                                  rep.of(EpochMetrics))
    row(f"VAE negative ELBO on the 1,000 held-out digits (dense, 2-D latent, "
        f"{cfg.epochs} epochs)", round(terms["loss"], 1), "nats/digit",
        compared_to=f"reconstruction {terms['reconstruction']:.1f} + KL {terms['kl']:.1f} "
                    "(for context, not a target: keras.io's conv VAE reaches about 147 on "
                    "full MNIST after 30 epochs)")
    row("VAE seconds per epoch (4,000 digits)", round(per_epoch, 2), "s")
    return done.result


def bench_latent_drag(qapp, trained, quick: bool) -> None:
    import pyqtgraph as pg
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    from app.tabs.vae import VAETab

    tab = VAETab()
    tab.resize(1400, 860)
    tab.show()
    tab.panel.trained = trained
    tab.panel.model_changed.emit(trained.model)
    latencies = []
    tab.decoded_shown.connect(latencies.append)
    m = tab.explorer.map
    qapp.processEvents()

    def to_widget(x, y):
        p = m.mapFromScene(m.plotItem.vb.mapViewToScene(pg.Point(x, y)))
        return QPoint(int(p.x()), int(p.y()))

    drags = 2 if quick else 10
    for d in range(drags):
        QTest.mousePress(m.viewport(), Qt.MouseButton.LeftButton, pos=to_widget(-2.5, -2 + d / 3))
        for i in range(60):  # a drag across the plane at ~60 mouse events a second
            QTest.mouseMove(m.viewport(), to_widget(-2.5 + i / 12, -2 + d / 3 + i / 30))
            spin(qapp, 1 / 60)
        QTest.mouseRelease(m.viewport(), Qt.MouseButton.LeftButton, pos=to_widget(2.5, 0))
    spin(qapp, 0.2)
    tab.shutdown()
    latency_rows("latent-drag-to-image", latencies, f"decodings shown during {drags} drags")


# ------------------------------------------------------------------ plots
def bench_plot_redraw(qapp, quick: bool) -> None:
    """One redraw of the live loss plot (two curves, downsampled and clipped to view) with
    n points, against the same two curves (same pens) without downsampling or clipping.
    The viewport is repainted synchronously, so the time includes drawing."""
    import numpy as np
    import pyqtgraph as pg

    from app.widgets.plots import BatchLossPlot

    repeats = 5 if quick else 30
    for n in (1_000, 10_000, 100_000):
        ours, plain = BatchLossPlot(), pg.PlotWidget()
        curves = [plain.plot(pen=c.opts["pen"]) for c in (ours.raw, ours.smooth)]
        rng = np.random.default_rng(0)
        for w in (ours, plain):
            w.resize(600, 300)
            w.show()
        x = np.arange(n, dtype=float)
        y = np.exp(-x / n) + 0.1 * rng.standard_normal(n)
        for i, v in enumerate(y):
            ours.add(i, float(v))
        times = {"ours": [], "plain": []}
        for _ in range(repeats):
            t0 = time.perf_counter()
            ours.refresh()  # setData: pyqtgraph recomputes the downsampled curves
            ours.viewport().repaint()
            t1 = time.perf_counter()
            for curve in curves:
                curve.setData(x, y)
            plain.viewport().repaint()
            t2 = time.perf_counter()
            times["ours"].append(t1 - t0)
            times["plain"].append(t2 - t1)
            qapp.processEvents()
        a = 1000 * statistics.median(times["ours"])
        b = 1000 * statistics.median(times["plain"])
        row(f"live loss plot redraw with {n:,} points (median)", round(a, 2), "ms",
            compared_to=f"the same curves without downsampling: {b:.2f} ms")
        for w in (ours, plain):
            w.close()
            w.deleteLater()
        qapp.processEvents()


# ------------------------------------------------------------------ families' own figures
def bench_dictionaries(quick: bool) -> None:
    import dictionary_learning as dl

    for r in dl.bench_kmeans_speed(quick, ks=(400,)):
        row(f"K-means fit time, ours / scikit-learn MiniBatchKMeans (K = {r['K']}, "
            f"{r['patches']:,} whitened 6x6 digit patches)", r["time ratio (target <= 1.0)"],
            "ratio", "<= 1.0", compared_to=f"{r['ours s']} s vs {r['scikit-learn s']} s; "
                                           f"inertia ratio {r['inertia ratio (<= 1.0)']}")
    learn, coding = dl.bench_sparse_coding(quick)
    ours, theirs = learn
    row("sparse-coding dictionary, ours / scikit-learn MiniBatchDictionaryLearning: time",
        round(ours["seconds"] / theirs["seconds"], 2), "ratio", "<= 1.0",
        compared_to=f"{ours['seconds']} s vs {theirs['seconds']} s; held-out objective "
                    f"{ours['held-out objective']} vs {theirs['held-out objective']}")
    for r in coding:
        row(f"coding one {r['input']} image ({r['code size']} atoms): sparse coding / "
            "autoencoder encoder", r["ratio"], "x slower",
            compared_to=f"{r['sparse coding ms']} ms vs {r['autoencoder encoder ms']} ms")


def bench_dqn(quick: bool) -> None:
    import dqn as dqn_bench

    on, off, ratio = dqn_bench.bench_gui(quick, seconds=3 if quick else 20,
                                         rounds=1 if quick else 2)
    row("DQN tab training Pong: agent steps/s, live view on / off",
        ratio["agent steps/s"], "ratio", ">= 0.9",
        compared_to=f"{on['agent steps/s']} vs {off['agent steps/s']} steps/s")
    for r in (on, off):
        row(f"GUI event-loop lag while the DQN tab trains (live view {r['live view']}), "
            "p50 / p99", f"{r['event-loop lag p50 ms']} / "
                         f"{r['event-loop lag p99 ms (target <= 50)']}", "ms", "p99 <= 50 ms")


def section_cnn(quick, qapp):
    bench_cnn_accuracy(quick)
    bench_throughput(qapp, quick)
    bench_draw_latency(qapp, quick)


SECTIONS = {  # name -> fn(quick, qapp); each runs in a fresh process
    "startup": lambda quick, qapp: bench_startup(1 if quick else 3),
    "cnn": section_cnn,
    "autoencoders": lambda quick, qapp: bench_autoencoders(quick),
    "vae": lambda quick, qapp: bench_latent_drag(qapp, bench_vae(quick), quick),
    "plots": lambda quick, qapp: bench_plot_redraw(qapp, quick),
    "dictionaries": lambda quick, qapp: bench_dictionaries(quick),
    "dqn": lambda quick, qapp: bench_dqn(quick),
}


def peak_memory_mb() -> float | None:
    """Peak resident memory of this process or of an app it launched, whichever is higher
    (Linux and macOS; None elsewhere)."""
    try:
        import resource
    except ImportError:
        return None
    peak = max(resource.getrusage(who).ru_maxrss
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return round(peak / (2**20 if sys.platform == "darwin" else 1024))


def run_section(name: str, quick: bool, rows_file: str) -> int:
    """In this (fresh) process: one section, its rows and its peak memory to rows_file."""
    from PySide6.QtCore import QEvent

    from app.main_window import make_application

    qapp = make_application([])
    SECTIONS[name](quick, qapp)
    row(f"peak memory of the {name} section", peak_memory_mb(), "MB",
        compared_to="resident set size of its process (or the app it launched), Python, "
                    "TensorFlow and Qt included")
    Path(rows_file).write_text(json.dumps(ROWS))
    for widget in qapp.topLevelWidgets():  # tear down in order, as the app does on exit
        if widget.isVisible():
            widget.close()
    qapp.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    qapp.processEvents()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke pass, numbers meaningless")
    parser.add_argument("--only", help="comma-separated sections: " + ", ".join(SECTIONS))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"),
                        help="folder for results.json and results.md")
    parser.add_argument("--section", choices=SECTIONS, help=argparse.SUPPRESS)
    parser.add_argument("--rows", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.section:
        return run_section(args.section, args.quick, args.rows)

    names = args.only.split(",") if args.only else list(SECTIONS)
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    failed = []
    for name in names:
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        with tempfile.NamedTemporaryFile(suffix=".json", dir=SCRATCH, delete=False) as f:
            rows_file = f.name
        cmd = [sys.executable, __file__, "--section", name, "--rows", rows_file]
        code = subprocess.call(cmd + (["--quick"] if args.quick else []))
        text = Path(rows_file).read_text()
        Path(rows_file).unlink()
        if code != 0 or not text:
            failed.append(name)
            ROWS.append({"benchmark": f"FAILED (exit status {code})", "section": name,
                         "value": "", "unit": "", "target": "", "compared_to": ""})
            continue
        for r in json.loads(text):
            ROWS.append({**r, "section": name})
        print(f"   {name}: {time.perf_counter() - t0:.0f} s", flush=True)

    import keras
    import tensorflow as tf

    machine = (f"{os.cpu_count()} CPU cores, TensorFlow {tf.__version__}, Keras "
               f"{keras.__version__}, GPUs: {len(tf.config.list_physical_devices('GPU'))}")
    lines = [f"# Benchmarks ({'quick' if args.quick else 'full'}) — {machine}", "",
             "| section | benchmark | value | target | compared to |", "|---|---|---|---|---|"]
    lines += [f"| {r.get('section', '')} | {r['benchmark']} | {r['value']} {r['unit']} | "
              f"{r['target']} | {r['compared_to']} |" for r in ROWS]
    table = "\n".join(lines)
    print("\n" + table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(table + "\n")
    (out / "results.json").write_text(json.dumps({"machine": machine, "quick": args.quick,
                                                  "failed": failed, "rows": ROWS}, indent=1))
    if failed:
        print(f"FAILED sections: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
