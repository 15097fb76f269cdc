"""Adversarial images against an image classifier: FGSM, iterative FGSM / PGD, a targeted
attack, and the robustness curve (held-out accuracy against ε). No Qt; the CNN tab's
Adversarial view, `main.py attack` and adversarial training (nets.families.cnn) use it.

Every attack follows the gradient of the cross-entropy with respect to the *image*
(backend.input_gradient, compiled once per model), taken on the logits rather than on the
softmax's output, so that a very confident network still gives a usable direction.
Pixels live in the 0..1 range; ε is a share of that range.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from nets.errors import PlainError

ATTACKS = ("fgsm", "pgd", "targeted")
ATTACK_NAMES = {"fgsm": "FGSM (one step)", "pgd": "PGD (iterated FGSM)",
                "targeted": "Targeted (make it say …)"}
PGD_STEPS = 10
CURVE_EPSILONS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)


class AttackError(PlainError, ValueError):
    """An attack that cannot be made as asked; the message says why, for the person."""


def check_epsilon(eps) -> float:
    """ε as a float in [0, 1], else AttackError in words."""
    try:
        value = float(eps)
    except (TypeError, ValueError):
        raise AttackError(f"ε must be a number between 0 and 1, not {eps!r}.") from None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise AttackError(
            f"ε must be between 0 and 1: it is how far each pixel may move, as a share of "
            f"the 0..1 pixel range (0.1 = a tenth of black-to-white); {eps!r} is not.")
    return value


def parse_epsilons(text: str) -> list[float]:
    """"0,0.05,0.1" -> [0.0, 0.05, 0.1]; each checked, else AttackError in words."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if not parts:
        raise AttackError("Give at least one ε, e.g. --eps 0,0.1,0.2.")
    return [check_epsilon(p) for p in parts]


def _softmax_layer(model):
    """The last layer if it is a softmax (a Dense with softmax, or a softmax Activation)."""
    import keras

    last = model.layers[-1] if model.layers else None
    act = getattr(last, "activation", None)
    if act is keras.activations.softmax or getattr(act, "__name__", "") == "softmax":
        return last
    return None


def check_classifier(model, image_shape=None) -> None:
    """AttackError in words unless `model` is a softmax classifier of (h, w, c) images in
    0..1 (and of `image_shape`'s, when given)."""
    shape = getattr(model, "input_shape", None)
    if not isinstance(shape, tuple) or len(shape) != 4 or shape[-1] not in (1, 3):
        raise AttackError(f"This model does not take images (its input is {shape}): an "
                          "attack needs a classifier of images.")
    if _softmax_layer(model) is None or len(model.output_shape) != 2 \
            or model.output_shape[-1] < 2:
        raise AttackError("This model does not end in a softmax over classes, so there is "
                          "no class to push it away from: an attack needs a classifier.")
    if image_shape is not None and tuple(image_shape) != tuple(shape[1:]):
        raise AttackError(f"The model reads images of {'x'.join(map(str, shape[1:]))}, "
                          f"these are {'x'.join(map(str, image_shape))}: it is not a "
                          "classifier of these images.")


def check_family(family: str) -> None:
    if family != "cnn":
        raise AttackError(f"This is a {family!r} model; attacks are made against the "
                          "Convolutional nets tab's classifiers (family 'cnn').")


def _logits_model(model):
    """A model sharing `model`'s layers and weights that stops before the softmax."""
    import keras
    from keras import ops

    last = _softmax_layer(model)
    if not isinstance(last, keras.layers.Dense):  # a softmax Activation: its input
        return keras.Model(model.input, last.input)

    class Logits(keras.layers.Layer):
        """The Dense layer's affine part alone (its variables, so they track training)."""

        def __init__(self, dense):
            super().__init__(name="logits")
            self.dense = dense
            self.built = True

        def call(self, x):
            z = ops.matmul(x, self.dense.kernel)
            return z + self.dense.bias if self.dense.use_bias else z

    return keras.Model(model.input, Logits(last)(last.input))


def _cross_entropy(call, x, labels):
    """Sum over the batch of −log softmax(z)[label] from the logits: each image's own
    gradient is its own term's."""
    from keras import ops

    z = call(x)
    picked = ops.sum(z * ops.one_hot(labels, ops.shape(z)[-1], dtype=z.dtype), axis=-1)
    return ops.sum(ops.logsumexp(z, axis=-1) - picked)


class Attacker:
    """The attacks against one model, compiled once; call from one thread at a time."""

    def __init__(self, model, batch: int = 500):
        from nets import backend

        check_classifier(model)
        self.model = model
        self.batch = batch
        self.classes = int(model.output_shape[-1])
        self._grad = backend.input_gradient(_logits_model(model), _cross_entropy)
        self._predict = backend.predictor(model)

    def gradient(self, x: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """d(cross-entropy of `labels`)/dx, batched."""
        x = np.asarray(x, np.float32)
        labels = np.asarray(labels, np.int32)
        out = [self._grad(x[i:i + self.batch], labels[i:i + self.batch])[1]
               for i in range(0, len(x), self.batch)]
        return np.concatenate(out) if out else np.zeros_like(x)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        out = [np.asarray(self._predict(x[i:i + self.batch]))
               for i in range(0, len(x), self.batch)]
        return np.concatenate(out) if out else np.zeros((0, self.classes), np.float32)

    # ------------------------------------------------------------ the attacks
    def fgsm(self, x, labels, eps: float, direction: np.ndarray | None = None) -> np.ndarray:
        """Fast gradient sign (Goodfellow et al. 2014): one step of ε up the loss's
        gradient sign, clipped to [0, 1]. `direction`: sign(gradient), when known."""
        eps = check_epsilon(eps)
        x = np.asarray(x, np.float32)
        if direction is None:
            direction = np.sign(self.gradient(x, labels))
        return np.clip(x + np.float32(eps) * direction, 0.0, 1.0).astype(np.float32)

    def pgd(self, x, labels, eps: float, steps: int = PGD_STEPS, alpha: float | None = None,
            random_start: bool = False, seed: int = 0, targeted: bool = False) -> np.ndarray:
        """Projected gradient descent (Kurakin et al. 2016; Madry et al. 2018): `steps`
        sign steps of `alpha` (default 2.5 ε / steps), each projected back into the ε-ball
        around x and into [0, 1]; optionally from a random point of the ball. Targeted:
        `labels` are the wished classes, and the steps go down their loss."""
        eps = check_epsilon(eps)
        x = np.asarray(x, np.float32)
        if eps == 0 or len(x) == 0:
            return x.copy()
        alpha = np.float32(2.5 * eps / steps if alpha is None else alpha)
        lo, hi = np.clip(x - eps, 0.0, 1.0), np.clip(x + eps, 0.0, 1.0)
        adv = x.copy()
        if random_start:
            rng = np.random.default_rng(seed)
            adv = np.clip(x + rng.uniform(-eps, eps, x.shape).astype(np.float32), lo, hi)
        sign = np.float32(-1.0 if targeted else 1.0)
        for _ in range(int(steps)):
            adv = adv + sign * alpha * np.sign(self.gradient(adv, labels))
            adv = np.clip(adv, lo, hi).astype(np.float32)
        return adv

    def targeted(self, x, target: int, eps: float, steps: int = PGD_STEPS,
                 alpha: float | None = None) -> np.ndarray:
        """"Make it say `target`": PGD that lowers the target class's loss."""
        if not 0 <= int(target) < self.classes:
            raise AttackError(f"The target class must be between 0 and {self.classes - 1}.")
        wished = np.full(len(x), int(target), np.int32)
        return self.pgd(x, wished, eps, steps, alpha, targeted=True)

    def attack(self, kind: str, x, labels, eps: float, target: int | None = None,
               steps: int = PGD_STEPS) -> np.ndarray:
        if kind == "fgsm":
            return self.fgsm(x, labels, eps)
        if kind == "pgd":
            return self.pgd(x, labels, eps, steps)
        if kind == "targeted":
            if target is None:
                raise AttackError("A targeted attack needs a target class (e.g. --target 3).")
            return self.targeted(x, target, eps, steps)
        raise AttackError(f"Unknown attack {kind!r}; known: {', '.join(ATTACKS)}.")


# ---------------------------------------------------------------- the robustness curve
@dataclass
class Curve:
    """Held-out accuracy under one attack at each ε."""

    attack: str
    epsilons: list[float]
    accuracy: list[float]
    images: int
    seconds: float
    model: str = ""  # what the model was, for the legend ("run 2, adversarial training")
    target: int | None = None
    target_rate: list[float] = field(default_factory=list)  # targeted: share said target

    def rows(self) -> list[dict]:
        rows = []
        for i, eps in enumerate(self.epsilons):
            row = {"eps": eps, "accuracy": self.accuracy[i]}
            if self.target_rate:
                row["target_rate"] = self.target_rate[i]
            rows.append(row)
        return rows

    def table(self) -> str:
        head = "| ε | held-out accuracy |" + (" says the target |" if self.target_rate
                                                else "")
        lines = [head, "|---|---|" + ("---|" if self.target_rate else "")]
        for row in self.rows():
            line = f"| {row['eps']:g} | {row['accuracy']:.1%} |"
            if self.target_rate:
                line += f" {row['target_rate']:.1%} |"
            lines.append(line)
        return "\n".join(lines)


def robustness_curve(model, x, y, epsilons=CURVE_EPSILONS, attack: str = "fgsm",
                     target: int | None = None, steps: int = PGD_STEPS,
                     attacker: Attacker | None = None, label: str = "",
                     should_stop=None) -> Curve:
    """Accuracy on (x, y) under `attack` at each ε. FGSM's direction does not depend on ε,
    so it is computed once and every ε costs one prediction; PGD and the targeted attack
    run anew for each ε. `should_stop()`, polled between ε, may end it early (AttackError
    is not raised: the curve holds the ε done)."""
    epsilons = [check_epsilon(e) for e in epsilons]
    if attack not in ATTACKS:
        raise AttackError(f"Unknown attack {attack!r}; known: {', '.join(ATTACKS)}.")
    x = np.asarray(x, np.float32)
    y = np.asarray(y).astype(np.int32)
    attacker = attacker or Attacker(model)
    check_classifier(attacker.model, x.shape[1:])
    t0 = time.perf_counter()
    direction = np.sign(attacker.gradient(x, y)) if attack == "fgsm" else None
    accuracy, rate = [], []
    others = y != (target if target is not None else -1)
    for eps in epsilons:
        if should_stop is not None and should_stop():
            break
        if attack == "fgsm":
            adv = attacker.fgsm(x, y, eps, direction)
        else:
            adv = attacker.attack(attack, x, y, eps, target, steps)
        guess = attacker.probabilities(adv).argmax(1)
        accuracy.append(float(np.mean(guess == y)) if len(y) else float("nan"))
        if attack == "targeted":
            rate.append(float(np.mean(guess[others] == target)) if others.any() else 0.0)
    return Curve(attack, epsilons[:len(accuracy)], accuracy, len(y),
                 time.perf_counter() - t0, label, target, rate)


def perturbation_words(delta: np.ndarray) -> tuple[np.ndarray, str]:
    """The perturbation scaled to full contrast for showing (0.5 = unchanged grey) and a
    sentence with its true size: "±0.10 of the 0..1 pixel range, shown ×5"."""
    delta = np.asarray(delta, np.float32)
    largest = float(np.abs(delta).max()) if delta.size else 0.0
    if largest < 1e-6:
        return np.full(delta.shape, 0.5, np.float32), "No change (ε = 0)."
    gain = 0.5 / largest
    shown = np.clip(0.5 + gain * delta, 0.0, 1.0)
    return shown, f"±{largest:.2f} of the 0..1 pixel range, shown ×{gain:.3g}"


# ---------------------------------------------------------------- files (main.py attack)
def load_classifier(path):
    """A saved convnet (nets.runner.TrainedModel) ready to attack; StorageError for a
    file that is not a model, AttackError for a model that is not a CNN classifier."""
    from nets import storage
    from nets.families import cnn

    meta = storage.read_meta(path)
    check_family(str(meta.get("family", "unknown")))
    trained = cnn.load(path)
    check_classifier(trained.model)
    return trained


def write_curve(curve: Curve, path, about: dict | None = None):
    """The curve as .csv (one row per ε) or .json (with `about`: model, data), written
    to a temporary file in the same folder and renamed over `path`."""
    import json
    import os
    import tempfile
    from pathlib import Path

    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise AttackError(f"Write the curve to a .csv or .json file, not {path.name}.")
    if suffix == ".json":
        text = json.dumps({"attack": curve.attack, "target": curve.target,
                           "images": curve.images, "seconds": round(curve.seconds, 3),
                           **(about or {}), "curve": curve.rows()}, indent=1)
    else:
        keys = list(curve.rows()[0]) if curve.rows() else ["eps", "accuracy"]
        lines = [",".join(keys)] + [",".join(f"{row[k]:.6g}" for k in keys)
                                    for row in curve.rows()]
        text = "\n".join(lines) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
