"""The Convolutional nets tab's Adversarial page: attack a held-out digit or the person's
drawing (FGSM, PGD, targeted) with an ε slider that re-attacks at once, and plot the
robustness curve (held-out accuracy against ε) of the last few models side by side.

The science is nets.adversarial; the jobs here run in the tab's background runners.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QGridLayout, QHBoxLayout, QLabel, QPushButton,
                               QSlider, QSpinBox, QVBoxLayout, QWidget)

from app.widgets.images import ImageGrid, ProbabilityBars
from app.widgets.plots import add_key, class_colour, key_entry, set_key
from nets import adversarial
from nets import data as datasets

CURVE_IMAGES = 1000  # held-out images a robustness curve is measured on
KEPT_CURVES = 3  # curves of the latest models kept on the plot
SOURCES = (("held-out", "A held-out digit"), ("drawing", "Your drawing (Draw page)"))


def as_model_input(digit: np.ndarray, model) -> np.ndarray:
    """A 28x28 digit in [0, 1] as the (h, w, c) image `model` reads."""
    h, w, c = model.input_shape[1:]
    x = digit
    if (h, w) != x.shape:
        from PIL import Image

        x = np.asarray(Image.fromarray(x).resize((w, h), Image.Resampling.BILINEAR))
    return np.repeat(np.asarray(x, np.float32)[..., None], c, axis=-1)


def held_out(cache: dict, model, dataset_key: str):
    """The model's held-out images, loaded once per dataset and image shape."""
    h, w, c = model.input_shape[1:]
    key = (dataset_key, h, w, c)
    if cache.get("data_key") != key:
        cache["data"] = datasets.load(dataset_key, image_size=(h, w), channels=c)
        cache["data_key"] = key
    return cache["data"]


def attacker_for(cache: dict, model) -> adversarial.Attacker:
    if cache.get("attacker") is None or cache["attacker"].model is not model:
        cache["attacker"] = adversarial.Attacker(model)  # compiled once per model
    return cache["attacker"]


@dataclass
class Attacked:
    original: np.ndarray  # (h, w, c)
    adversarial: np.ndarray
    before: np.ndarray  # class probabilities
    after: np.ndarray
    label: int | None  # the true class of a held-out digit; None for a drawing
    index: int = -1  # the held-out digit's index


def attack_job(cache: dict, model, dataset_key: str, source: str, index: int,
               digit, kind: str, eps: float, target: int) -> Attacked | None:
    """Runs in the attack thread. A drawing is attacked away from the network's own guess
    (no one told it the true class)."""
    attacker = attacker_for(cache, model)
    label = None
    if source == "drawing":
        if digit is None:
            return None
        x = as_model_input(digit, model)
    else:
        ds = held_out(cache, model, dataset_key)
        index = index % len(ds.y_val)
        x, label = ds.x_val[index], int(ds.y_val[index])
    before = attacker.probabilities(x[None])[0]
    wanted = label if label is not None else int(before.argmax())
    adv = attacker.attack(kind, x[None], np.array([wanted]), eps, target)[0]
    after = attacker.probabilities(adv[None])[0]
    return Attacked(x, adv, before, after, label, index)


def curve_job(cache: dict, model, dataset_key: str, kind: str, target: int,
              label: str) -> adversarial.Curve:
    """Runs in the curve thread: the robustness curve on the first held-out images."""
    ds = held_out(cache, model, dataset_key)
    n = min(CURVE_IMAGES, len(ds.y_val))
    return adversarial.robustness_curve(model, ds.x_val[:n], ds.y_val[:n],
                                        adversarial.CURVE_EPSILONS, kind, target,
                                        attacker=attacker_for(cache, model), label=label)


def _words(text: str) -> str:
    """A runner's "AttackError: ..." without the class name the person need not read."""
    name, _, rest = text.partition(": ")
    return rest if name.endswith("Error") and name in ("AttackError", "DataError") else text


def _plain(image: np.ndarray) -> np.ndarray:
    return image[..., 0] if image.shape[-1] == 1 else image


class AdversarialView(QWidget):
    """Controls, the three images, probabilities before and after, and the curve."""

    attack_shown = Signal(float)  # seconds from the request to the images
    curve_shown = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.model = None
        self.model_label = ""
        self.dataset_key = "mnist-5k"
        self.digit = None  # the latest drawing, 28x28
        self.attack_runner = self.curve_runner = None  # set by the tab (attach)
        self._serial = 0  # counts models: a late answer for an older one is dropped
        self.curves: list[adversarial.Curve] = []
        layout = QVBoxLayout(self)
        layout.addLayout(self._controls())
        layout.addLayout(self._pictures(), 4)
        layout.addLayout(self._curve_part(), 2)
        self._update_enabled()

    # ------------------------------------------------------------ building
    def _controls(self) -> QVBoxLayout:
        rows = QVBoxLayout()  # what to attack above, how below: the page stays narrow
        self.source = QComboBox()
        for key, text in SOURCES:
            self.source.addItem(text, key)
        self.source.setToolTip("What to attack: a digit the network never trained on (its "
                               "true class is known), or the digit you drew on the Draw "
                               "page (attacked away from the network's own guess).")
        self.index = QSpinBox()
        self.index.setRange(0, 999)
        self.index.setPrefix("#")
        self.index.setToolTip("Which held-out digit.")
        self.another = QPushButton("&Another digit")
        self.another.setToolTip("A held-out digit picked at random (Alt+A).")
        self.kind = QComboBox()
        for key in adversarial.ATTACKS:
            self.kind.addItem(adversarial.ATTACK_NAMES[key], key)
        self.kind.setToolTip(
            "FGSM: one step of ε in the direction that raises the loss fastest (the sign "
            "of its gradient) — cheap, and already enough to fool most nets.\n"
            f"PGD: {adversarial.PGD_STEPS} smaller steps, each kept within ε of the "
            "original: a stronger attack for the same ε.\n"
            "Targeted: PGD that lowers the loss of a class you choose, to make the net "
            "say that class.")
        self.target = QSpinBox()
        self.target.setRange(0, 9)
        self.target.setValue(3)
        self.target.setPrefix("say ")
        self.target.setToolTip("The class the targeted attack wants the network to say.")
        self.eps = QSlider(Qt.Orientation.Horizontal)
        self.eps.setRange(0, 50)
        self.eps.setValue(10)
        self.eps.setMinimumWidth(160)
        self.eps.setToolTip("ε: how far each pixel may move, as a share of the 0..1 range "
                            "from black to white. At 0.1 the change is faint to a person; "
                            "moving the slider attacks again at once.")
        self.eps_label = QLabel()
        for widgets in ((QLabel("Attack"), self.source, self.index, self.another),
                        (self.kind, self.target, QLabel("ε"), self.eps, self.eps_label)):
            row = QHBoxLayout()
            for w in widgets:
                row.addWidget(w)
            row.addStretch(1)
            rows.addLayout(row)
        self.source.currentIndexChanged.connect(self._source_changed)
        self.index.valueChanged.connect(self.request_attack)
        self.another.clicked.connect(self._another)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.target.valueChanged.connect(self.request_attack)
        self.eps.valueChanged.connect(self._eps_changed)
        self._eps_changed()
        return rows

    def _pictures(self) -> QGridLayout:
        grid = QGridLayout()
        self.original = ImageGrid(note="Original")
        self.perturbation = ImageGrid(note="Perturbation")
        self.adversarial = ImageGrid(note="Adversarial image")
        self.original.setToolTip("The image as the network receives it.")
        self.perturbation.setToolTip(
            "What the attack added, amplified to full contrast so it can be seen: its true "
            "size is written above. Grey: unchanged; white: made lighter; black: made "
            "darker. The pattern follows the network's gradient, not the "
            "digit's shape: it is noise to a person, but aimed.")
        self.adversarial.setToolTip("Original + perturbation, kept within 0..1: to a "
                                    "person still the same digit.")
        for col, w in enumerate((self.original, self.perturbation, self.adversarial)):
            w.setMinimumSize(140, 140)
            grid.addWidget(w, 0, col)
        self.before = ProbabilityBars(datasets.DIGIT_NAMES)
        self.before.setTitle("Before the attack")
        self.after = ProbabilityBars(datasets.DIGIT_NAMES)
        self.after.setTitle("After the attack")
        self.after.setToolTip("The network's probabilities for the adversarial image. A "
                              "confident wrong answer from a change a person cannot see is "
                              "what Szegedy et al. 2013 found in every net they tried.")
        for bars in (self.before, self.after):
            bars.setMinimumHeight(150)
        grid.addWidget(self.before, 1, 0, 1, 1)
        grid.addWidget(self.after, 1, 1, 1, 2)
        self.summary = QLabel("Train or load a model to attack it.")
        self.summary.setWordWrap(True)
        grid.addWidget(self.summary, 2, 0, 1, 3)
        grid.setRowStretch(0, 1)
        grid.setRowStretch(1, 1)
        return grid

    def _curve_part(self) -> QHBoxLayout:
        row = QHBoxLayout()
        side = QVBoxLayout()
        self.curve_button = QPushButton("&Robustness curve")
        self.curve_button.setToolTip(
            f"Held-out accuracy under the chosen attack at ε = 0 … 0.3, on the first "
            f"{CURVE_IMAGES:,} held-out images, computed in the background. The curves of "
            f"the last {KEPT_CURVES} models stay, so a model trained with 'Adversarial "
            "training' ticked can be compared with the one before (Alt+R).")
        self.curve_button.clicked.connect(self.request_curve)
        self.curve_note = QLabel("Goodfellow et al. 2014, ε = 0.25 on MNIST: a shallow "
                                 "softmax 99.9% wrong, maxout 89.4%, 17.9% after "
                                 "adversarial training.")
        self.curve_note.setWordWrap(True)
        self.curve_note.setMaximumWidth(260)
        side.addWidget(self.curve_button)
        side.addWidget(self.curve_note)
        side.addStretch(1)
        row.addLayout(side)
        self.plot = pg.PlotWidget()
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "ε (share of the 0..1 pixel range)")
        item.getAxis("bottom").enableAutoSIPrefix(False)
        item.setLabel("left", "held-out accuracy")
        item.setYRange(0, 1, padding=0.02)
        item.setXRange(0, adversarial.CURVE_EPSILONS[-1], padding=0.02)
        item.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setMouseEnabled(False, False)
        self.key = add_key(item, "bottom")
        self.lines = [item.plot(pen=pg.mkPen(class_colour(i), width=2), symbol="o",
                                symbolSize=6, symbolBrush=class_colour(i))
                      for i in range(KEPT_CURVES)]
        row.addWidget(self.plot, 1)
        return row

    def attach(self, attack_runner, curve_runner) -> None:
        """The tab's background runners (results come to show_attack / show_curve)."""
        self.attack_runner, self.curve_runner = attack_runner, curve_runner
        self._attack_cache: dict = {}  # touched only by the attack thread
        self._curve_cache: dict = {}  # ... and the curve thread

    # ------------------------------------------------------------ inputs
    def set_model(self, model, label: str = "", dataset_key: str | None = None) -> None:
        self._serial += 1
        self.model, self.model_label = model, label
        if dataset_key:
            self.dataset_key = dataset_key
        self._update_enabled()
        self.request_attack()

    def set_drawing(self, digit) -> None:
        self.digit = digit
        if self.source.currentData() == "drawing":
            self.request_attack()

    @property
    def epsilon(self) -> float:
        return self.eps.value() / 100

    def _eps_changed(self) -> None:
        self.eps_label.setText(f"{self.epsilon:.2f}")
        self.request_attack()

    def _kind_changed(self) -> None:
        self._update_enabled()
        self.request_attack()

    def _source_changed(self) -> None:
        self._update_enabled()
        self.request_attack()

    def _another(self) -> None:
        self.index.setValue(int(np.random.default_rng().integers(self.index.maximum() + 1)))

    def _update_enabled(self) -> None:
        held = self.source.currentData() == "held-out"
        self.index.setEnabled(held)
        self.another.setEnabled(held)
        self.target.setEnabled(self.kind.currentData() == "targeted")
        self.curve_button.setEnabled(self.model is not None)

    # ------------------------------------------------------------ attacking
    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.request_attack()  # hidden, it does not attack: the drawing may have changed

    def request_attack(self) -> None:
        if self.attack_runner is None or self.model is None or not self.isVisible():
            return
        self.attack_runner.submit(attack_job, self._attack_cache, self.model,
                                  self.dataset_key, self.source.currentData(),
                                  self.index.value(), self.digit, self.kind.currentData(),
                                  self.epsilon, self.target.value(),
                                  tag=(self._serial, time.perf_counter()))

    def show_attack(self, tag, result: Attacked | None) -> None:
        serial, requested_at = tag
        if serial != self._serial:
            return  # made for a model that has gone since
        if result is None:
            for grid in (self.original, self.perturbation, self.adversarial):
                grid.set_images(np.zeros((0, 1, 1)))
            self.summary.setText("Draw a digit on the Draw page to attack it.")
            return
        shown, words = adversarial.perturbation_words(result.adversarial - result.original)
        self.original.set_images(_plain(result.original)[None])
        self.perturbation.set_images(_plain(shown)[None], note=f"Perturbation: {words}")
        self.adversarial.set_images(_plain(result.adversarial)[None])
        names = self.before.names
        if len(names) != len(result.before):
            names = [str(i) for i in range(len(result.before))]
            self.before.set_names(names)
            self.after.set_names(names)
        self.before.set_probabilities(result.before)
        self.after.set_probabilities(result.after)
        self.summary.setText(self._describe(result, names))
        self.attack_shown.emit(time.perf_counter() - requested_at)

    def _describe(self, r: Attacked, names: list[str]) -> str:
        b, a = int(r.before.argmax()), int(r.after.argmax())
        what = (f"Held-out digit #{r.index}, a {names[r.label]}" if r.label is not None
                else "Your drawing")
        text = (f"{what}: the network says {names[b]} ({r.before[b]:.0%}) before, "
                f"{names[a]} ({r.after[a]:.0%}) after, at ε = {self.epsilon:.2f}.")
        kind = self.kind.currentData()
        if kind == "targeted":
            t = self.target.value()
            done = "it worked" if a == t else "not yet: try a larger ε"
            text += f" Asked to say {names[t]}: {done} (p = {r.after[t]:.0%})."
        elif a != b:
            text += " Fooled."
        return text

    # ------------------------------------------------------------ the curve
    def request_curve(self) -> None:
        if self.curve_runner is None or self.model is None:
            return
        kind = self.kind.currentData()
        what = adversarial.ATTACK_NAMES[kind].split(" (")[0]
        if kind == "targeted":
            what += f" → {self.target.value()}"
        label = f"{self.model_label or 'this model'}, {what}"
        self.curve_note.setText(f"Measuring the curve on {CURVE_IMAGES:,} held-out "
                                "images …")
        self.curve_button.setEnabled(False)
        self.curve_runner.submit(curve_job, self._curve_cache, self.model,
                                 self.dataset_key, kind, self.target.value(), label,
                                 tag=self._serial)

    def show_curve(self, _serial, curve: adversarial.Curve) -> None:
        self.curves = [c for c in self.curves if c.model != curve.model][-(KEPT_CURVES - 1):]
        self.curves.append(curve)
        entries = []
        for i, line in enumerate(self.lines):
            if i < len(self.curves):
                c = self.curves[i]
                line.setData(c.epsilons, c.accuracy)
                entries.append(key_entry(c.model, class_colour(i), "━━"))
            else:
                line.setData([], [])
        set_key(self.key, entries, columns=1)
        at = dict(zip(curve.epsilons, curve.accuracy))
        self.curve_note.setText(
            f"{curve.model}: {at[0.0]:.1%} clean, {at.get(0.1, 0):.1%} at ε = 0.1, "
            f"{at.get(0.25, 0):.1%} at 0.25 ({curve.images:,} held-out images, "
            f"{curve.seconds:.1f} s). Goodfellow et al. 2014, ε = 0.25 on MNIST: a "
            "shallow softmax 99.9% wrong, maxout 89.4%, 17.9% after adversarial training.")
        self._update_enabled()
        self.curve_shown.emit()

    def curve_failed(self, _tag, text: str) -> None:
        self.curve_note.setText(f"Could not measure the curve: {_words(text)}")
        self._update_enabled()

    def attack_failed(self, _tag, text: str) -> None:
        self.summary.setText(f"Could not attack: {_words(text)}")
