"""The convolutional-net tab: train a convnet, see its filters and feature maps, look at
its mistakes, and draw a digit for it to classify live.

Run alone with `python -m app.tabs.cnn`.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel,
                               QPushButton, QScrollArea, QVBoxLayout, QWidget)

from app.widgets.canvas import DrawingCanvas
from app.tabs.adversarial import AdversarialView
from app.tabs.base import FamilyTab
from app.widgets.images import ImageGrid, ProbabilityBars
from nets.families import cnn
from nets.images import mnist_style
from nets import data as datasets
from nets.progress import Artifact, ImageEvent

ABOUT = """<h3>Convolutional nets</h3>
<p>A convolutional layer slides a set of small learnt filters over the image. Each filter
is one pattern detector, used at every position (<i>weight sharing</i>), and each output
unit looks only at a small patch of the layer below (<i>sparse connectivity</i>). Because
the output keeps its layout, the network knows <i>where</i> a pattern was found. Pooling
then shrinks each map, so the filters of the next block see larger parts of the digit.
Stacks of such blocks, ending in a softmax over the classes (LeCun et al. 1998), read
handwritten digits almost perfectly, and for years they held the records on large photo
collections such as ImageNet; the best scores there now come from transformer models.</p>
<p><b>The loss</b> is the cross-entropy: &minus;log p(correct class), minus the log of the
probability the network gives the right class, averaged over the batch. A network that
spreads its bets evenly over 10 classes gives each 0.1, a loss of log 10 &asymp; 2.30:
that is where the curve starts. A loss of 0.1 means the right class gets about 90% on
average; it only reaches 0 when the network is certain and right every time.</p>
<p><b>What the views show</b></p>
<ul>
<li><b>Loss per batch</b>: the training loss of every batch and its moving average.</li>
<li><b>Per epoch</b>: loss and accuracy on the training digits and on held-out digits the
network never trains on. Do not be surprised when the training accuracy is <i>below</i>
the held-out one: it is measured during the epoch, while the network is still improving,
on augmented digits and with dropout switching off part of the network; the held-out
digits are scored after the epoch, clean, by the whole network. The sign of memorising is
the held-out loss rising while the training loss keeps falling.</li>
<li><b>Draw</b>: your digit, reduced the way MNIST digits were made, and the network's
probability for each class, updated as you draw (also while it trains).</li>
<li><b>Filters</b>: the first layer's filters, changing as it learns.</li>
<li><b>Feature maps</b>: every conv layer's response to your drawing.</li>
<li><b>Mistakes</b>: held-out digits it gets wrong after training (cleared when a new
run starts).</li>
<li><b>Adversarial</b>: fool the network. An <i>adversarial image</i> is the digit plus
a small change aimed at the network: each pixel moved by at most &epsilon; (a share of the
black-to-white range) in the direction that raises the network's loss the fastest. FGSM
takes one such step; PGD takes several smaller ones, each kept within &epsilon; of the
original; the targeted attack lowers the loss of a class you choose instead. The
<i>robustness curve</i> is the held-out accuracy as &epsilon; grows.</li>
</ul>
<p><b>Adversarial images</b>: Szegedy et al. found that changes too small for a person to
notice make a trained network give a confident wrong answer, and that the same image
often fools other networks too. Goodfellow et al. explained it by the networks being too
<i>linear</i>: a change of &epsilon; in each of 784 pixels, each in the direction of its
weight, adds up to a large change of the output. On MNIST at &epsilon; = 0.25 their
shallow softmax classifier was wrong on 99.9% of the test digits and a maxout network on
89.4%; trained on a half-and-half mix of clean and FGSM images (<i>adversarial
training</i>, the toggle in the settings), the maxout net's error fell to 17.9%.
PyTorch's FGSM tutorial shows a small MNIST convnet falling from 98.1% accuracy at
&epsilon; = 0 to 43.0% at 0.2 and 8.7% at 0.3. Madry et al. trained against PGD, the
strongest first-order attack, and made MNIST nets that keep about 89% at &epsilon; = 0.3
against it.</p>
<p><b>Augmentation</b>: MNIST's digits were written on forms in the USA: their strokes
are of similar widths, their 1s bare strokes, their 6s without the hook of a typed 6. So
each epoch every training digit is changed at random: a wider or narrower pen, a slant, a
slight turn, narrower or wider; and before training half the 1s get a flag (some a base
too) and half the 6s a hook, as typed digits have. That is what lets the network read
your drawing with a thin or thick pen, and typed digits, not only MNIST look-alikes.</p>
<p><b>Try this</b>: one conv block against three; no augmentation (held-out MNIST stays
about as good, but thin-pen, slanted and typed digits are misread more often, thin pens
several times as often); dropout 0 and then 0.8, watching the gap between the training and
held-out curves; a learning rate of 1 (the loss stops falling). On the Adversarial page:
draw a 7 and make it say 3 with the targeted attack, noting the smallest &epsilon; that
works; measure the robustness curve, then train again with <i>Adversarial training</i>
ticked and measure it again: both curves stay on the plot.</p>
<p><b>Papers</b>: LeCun, Bottou, Bengio &amp; Haffner 1998, <i>Gradient-based learning
applied to document recognition</i> (Proc. IEEE), the convnet and MNIST; Srivastava et al.
2014, <i>Dropout: a simple way to prevent neural networks from overfitting</i> (JMLR);
Ioffe &amp; Szegedy 2015, <i>Batch normalization: accelerating deep network training by
reducing internal covariate shift</i> (ICML); Szegedy et al. 2013, <i>Intriguing
properties of neural networks</i> (arXiv:1312.6199), adversarial examples found;
Goodfellow, Shlens &amp; Szegedy 2014, <i>Explaining and harnessing adversarial
examples</i> (arXiv:1412.6572; ICLR 2015), FGSM and adversarial training; Kurakin,
Goodfellow &amp; Bengio 2016, <i>Adversarial examples in the physical world</i>, the
iterated FGSM; Madry et al. 2018, <i>Towards deep learning models resistant to
adversarial attacks</i> (ICLR), PGD; PyTorch's tutorial <i>Adversarial example
generation</i> (Inkawhich), the FGSM figures quoted above.</p>"""


MISTAKES_NOTE = ("Held-out images the network gets wrong appear here after training "
                 "(caption: true → guessed).")
RUN_MISTAKES_NOTE = ("Training … the held-out images this run gets wrong appear here when "
                     "it finishes (caption: true → guessed).")


def classify_drawing(model, probes: dict, drawing: np.ndarray):
    """Runs in the predictor thread: drawing -> (digit, probabilities, feature maps)."""
    digit = mnist_style(drawing)
    if digit is None or model is None:
        return digit, None, []
    h, w, c = model.input_shape[1:]
    x = digit
    if (h, w) != x.shape:
        from PIL import Image

        x = np.asarray(Image.fromarray(x).resize((w, h), Image.Resampling.BILINEAR))
    x = np.repeat(x[..., None], c, axis=-1)
    probe = probes.get("probe")
    if probe is None or probe.model is not model:
        probe = probes["probe"] = cnn.Probe(model)  # built once per model
    probs, maps = probe(x)
    return digit, probs, list(zip(probe.names, maps))


def mistakes_of(model, dataset_key: str) -> ImageEvent:
    """Runs in a background thread: held-out mistakes of a loaded model."""
    h, w, c = model.input_shape[1:]
    ds = datasets.load(dataset_key, image_size=(h, w), channels=c)
    return cnn.mistakes_event(model, ds)


class DrawView(QWidget):
    """Canvas, what the network receives, and its probabilities."""

    def __init__(self, parent=None):
        super().__init__(parent)
        grid = QGridLayout(self)
        self.canvas = DrawingCanvas()
        grid.addWidget(self.canvas, 0, 0, Qt.AlignmentFlag.AlignTop)
        tools = QHBoxLayout()
        self.pen = QDoubleSpinBox()
        self.pen.setRange(4, 40)
        self.pen.setValue(self.canvas.pen_width)
        self.pen.setSuffix(" px")
        self.pen.setToolTip("Pen width. MNIST digits have strokes about a tenth of the digit's "
                            "height.")
        self.pen.valueChanged.connect(self.canvas.set_pen_width)
        self.undo = QPushButton("Undo")
        self.undo.setToolTip("Remove the last stroke (Ctrl+Z or right-click)")
        self.undo.clicked.connect(self.canvas.undo)
        self.clear = QPushButton("Clear")
        self.clear.setToolTip("Erase the drawing (Delete)")
        self.clear.clicked.connect(self.canvas.clear)
        tools.addWidget(QLabel("Pen"))
        tools.addWidget(self.pen)
        tools.addWidget(self.undo)
        tools.addWidget(self.clear)
        tools.addStretch(1)
        grid.addLayout(tools, 1, 0)
        for keys, slot in ((QKeySequence.StandardKey.Undo, self.canvas.undo),
                           (QKeySequence.StandardKey.Delete, self.canvas.clear)):
            sc = QShortcut(QKeySequence(keys), self)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(slot)

        right = QVBoxLayout()
        self.preview = ImageGrid(note="What the network sees: the drawing scaled into a "
                                      "20x20 box and centred by its centre of mass in 28x28, "
                                      "as MNIST digits were made.")
        self.preview.setToolTip("The 28x28 input given to the network.")
        self.preview.setMinimumSize(160, 180)
        right.addWidget(self.preview)
        self.guess = QLabel("Draw a digit on the left.")
        font = self.guess.font()
        font.setPointSize(font.pointSize() + 4)
        self.guess.setFont(font)
        right.addWidget(self.guess)
        grid.addLayout(right, 0, 1)
        self.bars = ProbabilityBars(datasets.DIGIT_NAMES)
        self.bars.setMinimumHeight(200)
        grid.addWidget(self.bars, 2, 0, 1, 2)
        grid.setRowStretch(2, 1)
        grid.setColumnStretch(1, 1)


class FeatureMapsView(QScrollArea):
    """One image grid per conv layer, for the digit on the canvas."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        inner = QWidget()
        self.box = QVBoxLayout(inner)
        self.note = QLabel("Draw a digit on the Draw page: every conv layer's response to "
                           "it appears here, one small image per filter. Early layers "
                           "respond to strokes and edges, later ones to larger parts.")
        self.note.setWordWrap(True)
        self.box.addWidget(self.note)
        self.box.addStretch(1)
        self.setWidget(inner)
        self.grids: dict[str, ImageGrid] = {}

    def show_maps(self, maps: list[tuple[str, np.ndarray]]) -> None:
        names = [n for n, _ in maps]
        if list(self.grids) != names:
            for grid in self.grids.values():
                grid.setParent(None)
                grid.deleteLater()
            self.grids = {}
            for name in names:
                grid = ImageGrid()
                grid.setMinimumHeight(260)
                self.box.insertWidget(self.box.count() - 1, grid)
                self.grids[name] = grid
        for name, m in maps:
            self.grids[name].set_images(m, note=f"{name}: {len(m)} maps of "
                                                f"{m.shape[1]}x{m.shape[2]}")


class CNNTab(FamilyTab):
    prediction_shown = Signal(float)  # seconds from the drawing's change to the bars

    def __init__(self, parent=None):
        super().__init__("cnn", parent)

        self.draw = DrawView()
        self.panel.add_view(self.draw, "Draw", "Draw a digit and see what the network says")
        self.filters = ImageGrid(note="First-layer filters: each small image is one learnt "
                                      "3x3 (or larger) pattern detector, bright where it "
                                      "wants ink. They change as the network trains.")
        self.panel.add_view(self.filters, "Filters", "What the first conv layer has learnt")
        self.maps = FeatureMapsView()
        self.panel.add_view(self.maps, "Feature maps", "Every conv layer's response to "
                                                       "your drawing")
        self.mistakes = ImageGrid(note=MISTAKES_NOTE)
        self.panel.add_view(self.mistakes, "Mistakes", "Misclassified held-out images")
        self.adversarial = AdversarialView()
        self.panel.add_view(self.adversarial, "Adversarial", "Fool the network with a "
                                                             "change you can hardly see")
        self.add_about(ABOUT)

        self.predictor = self.runner("cnn-predict", self._show_prediction)
        self.predictor.failed.connect(self._prediction_failed)
        self.background = self.runner("cnn-mistakes", self._show_loaded_mistakes)
        self._probes: dict = {}  # touched only by the predictor thread
        attack = self.runner("cnn-attack", self.adversarial.show_attack)
        attack.failed.connect(self.adversarial.attack_failed)
        curve = self.runner("cnn-robustness", self.adversarial.show_curve)
        curve.failed.connect(self.adversarial.curve_failed)
        self.adversarial.attach(attack, curve)
        self._models = 0  # models seen: the robustness curves are labelled by it
        self.model = None
        self._in_run = False  # the current run's first events have been seen
        self._loads = 0  # counts loaded models: a late answer for an older one is dropped

        self.draw.canvas.changed.connect(self.request_prediction)
        self.panel.model_changed.connect(self._on_model)
        self.panel.events.connect(self._on_events)
        self.panel.loaded.connect(self._on_loaded)
        self.panel.finished.connect(self._on_finished)

    # ------------------------------------------------------------ model and events
    def _on_model(self, model) -> None:
        new = model is not self.model
        self.model = model
        if model is None:
            return
        self._models += new
        trained = self.panel.trained
        self._adversarial_model(model, trained)
        names = trained.meta.get("classes") if trained and trained.model is model else None
        if names and list(names) != self.draw.bars.names:
            self.draw.bars.set_names([str(n) for n in names])
        self.filters.set_images(cnn.first_layer_filters(model))
        self.request_prediction()

    def _on_loaded(self, trained) -> None:
        self._loads += 1
        if isinstance(trained.meta.get("dataset"), str):
            self.mistakes.set_images(np.zeros((0, 1, 1)), note="Finding the held-out images "
                                                               "this model gets wrong …")
            self.background.submit(mistakes_of, trained.model, trained.meta["dataset"],
                                   tag=self._loads)
        else:
            self.mistakes.set_images(np.zeros((0, 1, 1)), note=MISTAKES_NOTE)

    def _on_finished(self, done) -> None:
        self._in_run = False
        if self.mistakes.note.text() == RUN_MISTAKES_NOTE:  # no list came: say why
            why = ("it had no held-out images to check" if done.status == "finished"
                   else "it ended before its last epoch")
            self.mistakes.set_images(np.zeros((0, 1, 1)),
                                     note=f"No mistakes to show for this run: {why}.")

    def _on_events(self, batch: list) -> None:
        if not self._in_run:  # the first events of a new run: the old mistakes are stale
            self._in_run = True
            self._loads += 1  # and a loaded model's, still being computed, will be too
            self.mistakes.set_images(np.zeros((0, 1, 1)), note=RUN_MISTAKES_NOTE)
        latest = {}
        for event in batch:
            if isinstance(event, ImageEvent):
                latest[event.name] = event  # only the newest of each is worth drawing
            elif isinstance(event, Artifact) and event.name == "classes":
                self.draw.bars.set_names([str(n) for n in event.value])
        if "filters" in latest:
            self.filters.set_images(latest["filters"].images)
        if "mistakes" in latest:
            self._show_mistakes(None, latest["mistakes"])

    def _show_mistakes(self, _tag, event: ImageEvent) -> None:
        self.mistakes.set_images(event.images, event.captions, note=event.note, columns=8)

    def _show_loaded_mistakes(self, loads: int, event: ImageEvent) -> None:
        if loads == self._loads:  # else another model (or a run) has come since
            self._show_mistakes(None, event)

    def _adversarial_model(self, model, trained) -> None:
        """The model to attack, named for its robustness curve by how it was trained."""
        if trained is not None and trained.model is model:
            config, dataset = trained.meta.get("config", {}), trained.meta.get("dataset")
        else:  # a run that has just started: the form holds its settings
            config = dataclasses.asdict(self.panel.form.config())
            dataset = self.panel.dataset_key()
        how = (f"adversarial training ε {config.get('adversarial_epsilon', 0):g}"
               if config.get("adversarial") else "plain training")
        self.adversarial.set_model(model, f"model {self._models}: {how}",
                                   dataset if isinstance(dataset, str) else None)

    # ------------------------------------------------------------ drawing
    def request_prediction(self) -> None:
        self.predictor.submit(classify_drawing, self.model, self._probes,
                              self.draw.canvas.array(), tag=time.perf_counter())

    def _show_prediction(self, requested_at, value) -> None:
        digit, probs, maps = value
        self.adversarial.set_drawing(digit)
        if digit is None:
            self.draw.preview.set_images(np.zeros((0, 28, 28)))
            self.draw.bars.set_probabilities(np.zeros(len(self.draw.bars.names)))
            self.draw.guess.setText("Draw a digit on the left.")
            return
        self.draw.preview.set_images(digit[None])
        if probs is None:
            self.draw.guess.setText("Train or load a model to classify your drawing.")
            return
        if len(probs) != len(self.draw.bars.names):
            self.draw.bars.set_names([str(i) for i in range(len(probs))])
        self.draw.bars.set_probabilities(probs)
        best = int(np.argmax(probs))
        training = " (still training)" if self.panel.is_running() else ""
        self.draw.guess.setText(f"Guess: {self.draw.bars.names[best]}  "
                                f"({probs[best]:.0%}){training}")
        self.maps.show_maps(maps)
        self.prediction_shown.emit(time.perf_counter() - requested_at)

    def _prediction_failed(self, _tag, _text: str) -> None:
        self.draw.guess.setText("Could not classify the drawing.")


if __name__ == "__main__":
    from app.main_window import run_standalone

    run_standalone(CNNTab)
