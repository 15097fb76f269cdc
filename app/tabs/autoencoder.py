"""The autoencoder tab: plain, stacked, denoising and sparse autoencoders, their features
(pen strokes on digits, edges on photo patches), your own digit corrupted and repaired,
and what the learnt code is worth with few labels.

Run alone with `python -m app.tabs.autoencoder`.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel,
                               QPushButton, QScrollArea, QVBoxLayout, QWidget)

from app.widgets.canvas import DrawingCanvas
from app.tabs.base import FamilyTab
from app.widgets.images import ImageGrid
from nets.families import autoencoder as aes
from nets.images import mnist_style
from nets.progress import Artifact, ImageEvent

ABOUT = """<h3>Autoencoders</h3>
<p>An autoencoder learns without labels. It maps an input X through a hidden code Z and
back to a reconstruction X', and gradient descent lowers the cost C(X) = ||X' - X||<sup>2
</sup>. When the code is smaller than the input, or the input is damaged and the network
must undo the damage (<i>denoising</i>), or the code must be <i>sparse</i>, it has to find
the regularities of the data: strokes, loops, edges.</p>
<p><b>More units than pixels.</b> With more hidden units than inputs (<i>overcomplete</i>:
more than 784 for digits) and no penalty, a plain autoencoder can learn to pass its input
through almost unchanged: a low cost, and features that say little. <b>Denoising</b> is
one fix (Vincent et al. 2008): it sees a damaged input and must rebuild the clean one, and
a copy of damage is still damage, so it has to learn what digits look like. Sparsity is
another.</p>
<p><b>Sparse</b> (Ng's UFLDL notes; on by default): each sigmoid unit j has an average
activation <span style="text-decoration: overline">&rho;</span><sub>j</sub> over a batch,
and the cost adds &beta; &Sigma;<sub>j</sub> KL(&rho; ||
<span style="text-decoration: overline">&rho;</span><sub>j</sub>), which is smallest when
every unit is active for only a fraction &rho; of the inputs, plus weight decay
(&lambda;/2) ||W||<sup>2</sup>. A unit that may fire rarely must specialise: on digits the
units become pen strokes, on whitened patches of the sample photos (choose them as the
dataset) they become edges.</p>
<p><b>Features</b> shows each hidden unit as the input that excites it most under a
unit-norm constraint: x<sub>j</sub> = W<sub>ij</sub> / sqrt(sum<sub>j</sub> W<sub>ij</sub>
<sup>2</sup>); grey is 0. Click one to see the held-out inputs that excite it most.</p>
<p>A <b>stacked</b> autoencoder trains one layer at a time on the codes of the layer below
(greedy layer-wise pretraining; the dashed lines on the loss plot mark each stage, where
the loss jumps: each stage rebuilds a different input, starting untrained), then fine-tunes
them all together.
Its deeper features are drawn by multiplying their weights through the weights of the
layers below. That ignores the sigmoids and biases in between, so it is only an
approximation of what excites a deeper unit. The lecture's <i>stacked denoising</i>
autoencoder (Vincent et al. 2010) trains every layer of the stack as a denoising
autoencoder; this tab cannot do both at once yet: <i>Kind</i> is one choice, stacked or
denoising.</p>
<p><b>Few labels</b>: after training, a softmax is put on the code and trained alone on a
few labelled examples; then the whole network is fine-tuned on them. The same network from
random weights is trained exactly the same way. The difference between the two is what
the features learnt from unlabelled data are worth: with 100 labels, 3.4 &plusmn; 2.2
points over 5 seeds, and less as labels get plentiful (see the Few labels view).</p>
<p><b>Try this</b>: set the sparsity weight and the weight decay to 0 and compare the
features with the default sparse ones; then, with both still 0, give it 1,000 hidden units
and train it plain, then denoising, and compare their features and the repair of your
digit; train a stacked one and watch the loss jump at each stage.</p>
<p><b>Papers</b>: Ng 2011, <i>Sparse autoencoder</i> (CS294A lecture notes, the UFLDL
tutorial); Vincent, Larochelle, Bengio &amp; Manzagol 2008, <i>Extracting and composing
robust features with denoising autoencoders</i> (ICML); Vincent et al. 2010, <i>Stacked
denoising autoencoders</i> (JMLR); Hinton, Osindero &amp; Teh 2006, <i>A fast learning
algorithm for deep belief nets</i>, and Bengio, Lamblin, Popovici &amp; Larochelle 2007,
<i>Greedy layer-wise training of deep networks</i> (NIPS), for training one layer at a
time.</p>"""

REPAIR_NOTE = ("Your digit, corrupted, and the reconstruction. A denoising autoencoder "
               "trained on this corruption repairs it best.")
# Measured by benchmarks/autoencoder_lessons.py with the tab's defaults (5 seeds).
GAP_NOTE = ("<b>How big is the gap, and why?</b> With the defaults (100 labelled digits, "
            "10 per class), over 5 seeds, the pretrained network reached 79.5 &plusmn; 1.9 % "
            "held-out accuracy and the same network from random weights 76.1 &plusmn; 1.0 %: "
            "a gap of 3.4 &plusmn; 2.2 points, in favour of pretraining in every seed but of "
            "very different size (+0.6 to +5.9), so one run shows it only roughly. The "
            "network from random weights is judged at its best fine-tuning length (100 "
            "epochs; 30 or 200 give it no more). Why: from 100 examples alone, 196 units of "
            "784 weights each learn whatever tells those 100 apart; the pretrained units "
            "already respond to the pen strokes of 4,000 unlabelled digits, so the softmax on "
            "them only has to learn which strokes make which digit. With thousands of labels "
            "the gap closes.")


def repair_job(ae, drawing: np.ndarray, kind: str, level: float):
    """Runs in the background: drawing -> (digit, corrupted, reconstructed); None when
    there is nothing to repair (no drawing, no model, or a model of photo patches)."""
    if ae is None or ae.linear_output or ae.input_shape != (28, 28, 1):
        return None
    digit = mnist_style(drawing)
    if digit is None:
        return None
    x = digit.reshape(1, *ae.input_shape)
    noisy = np.asarray(aes.corrupt(x, kind, level))
    return digit, noisy.reshape(digit.shape), ae.reconstruct(noisy).reshape(digit.shape)


def top_job(ae, images: np.ndarray, layer: int, unit: int):
    idx = ae.top_activating(images, layer, unit)
    imgs = images[idx]
    if ae.linear_output:  # whitened photo patches: 0 as mid-grey
        imgs = aes.display_whitened(imgs)
    return layer, unit, imgs[..., 0] if imgs.shape[-1] == 1 else imgs


def held_out_job(key: str, shape):
    return aes.held_out_examples(key, shape)


def inputs_word(dataset_key: str) -> str:
    """What the inputs of a run are called in the views."""
    if dataset_key == "photos":
        return "patches"
    return "digits" if dataset_key.startswith("mnist") else "images"


class FeaturesView(QScrollArea):
    """A feature grid per layer; clicking a feature shows its strongest held-out inputs."""

    def __init__(self, on_click, parent=None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        inner = QWidget()
        self.box = QVBoxLayout(inner)
        self.top = ImageGrid(note="Click a feature to see the held-out inputs that excite "
                                  "it most.")
        self.top.setMinimumHeight(120)
        self.box.addWidget(self.top)
        self.box.addStretch(1)
        self.setWidget(inner)
        self.grids: list[ImageGrid] = []
        self.notes: dict[int, str] = {}  # what the run said about each layer's units
        self.on_click = on_click

    def show_layer(self, layer: int, images: np.ndarray, note: str | None = None) -> None:
        """Show a layer's features; `note` (e.g. the units' average activation) stays
        until a new one comes."""
        while len(self.grids) <= layer:
            grid = ImageGrid()
            grid.setMinimumHeight(380)
            grid.tile_clicked.connect(self._clicked_in(len(self.grids)))
            self.box.insertWidget(len(self.grids), grid)
            self.grids.append(grid)
        head = ("Layer 1: each image is one hidden unit's unit-norm preferred input (grey "
                "is 0)." if layer == 0 else
                f"Layer {layer + 1}: each unit's weights multiplied through the layers "
                "below, an approximation (the sigmoids and biases between are ignored).")
        if note is not None:
            self.notes[layer] = note
        self.grids[layer].set_images(images, note=f"{head} {self.notes.get(layer, '')}".strip())

    def trim(self, layers: int) -> None:
        for grid in self.grids[layers:]:
            grid.setParent(None)
            grid.deleteLater()
        del self.grids[layers:]
        self.notes = {k: v for k, v in self.notes.items() if k < layers}

    def _clicked_in(self, layer: int):
        def clicked(unit: int):
            self.on_click(layer, unit)
        return clicked


class RepairView(QWidget):
    """Draw a digit, damage it, and see the autoencoder repair it."""

    def __init__(self, parent=None):
        super().__init__(parent)
        grid = QGridLayout(self)
        self.canvas = DrawingCanvas()
        grid.addWidget(self.canvas, 0, 0, 3, 1, Qt.AlignmentFlag.AlignTop)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.canvas.clear)
        grid.addWidget(clear, 3, 0)
        self.kind = QComboBox()
        self.kind.addItems(list(aes.CORRUPTIONS))
        self.kind.setToolTip("How to damage your digit")
        self.level = QDoubleSpinBox()
        self.level.setRange(0, 1)
        self.level.setSingleStep(0.05)
        self.level.setValue(0.3)
        self.level.setToolTip("Fraction of pixels damaged (noise strength for gaussian)")
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Corruption"))
        controls.addWidget(self.kind)
        controls.addWidget(self.level)
        controls.addStretch(1)
        grid.addLayout(controls, 0, 1)
        self.triple = ImageGrid(note=REPAIR_NOTE)
        self.triple.setMinimumSize(420, 200)
        grid.addWidget(self.triple, 1, 1)
        grid.setColumnStretch(1, 1)


class FewLabelsView(QWidget):
    """Held-out accuracy of the pretrained network and of the same one from random
    weights, with what the benchmark measured about the gap."""

    def __init__(self, parent=None):
        super().__init__(parent)
        v = QVBoxLayout(self)
        self.text = QLabel("After unsupervised training, a softmax is put on the code and "
                           "trained alone with few labels (set 'Labels for the classifier'), "
                           "then the whole network is fine-tuned; the same network from "
                           "random weights is trained the same way. Results appear here.")
        self.text.setWordWrap(True)
        v.addWidget(self.text)
        self.plot = pg.PlotWidget(title="Held-out accuracy with few labels")
        self.plot.setYRange(0, 1)
        self.plot.setMouseEnabled(False, False)
        self.plot.getAxis("bottom").setTicks([[(0, "pretrained encoder"),
                                               (1, "random weights")]])
        self.bars = pg.BarGraphItem(x=[0, 1], height=[0, 0], width=0.6,
                                    brushes=[pg.mkBrush(255, 160, 40), pg.mkBrush(90, 130, 220)])
        self.plot.addItem(self.bars)
        v.addWidget(self.plot, 1)
        self.gap = QLabel(GAP_NOTE)
        self.gap.setWordWrap(True)
        self.gap.setTextFormat(Qt.TextFormat.RichText)
        v.addWidget(self.gap)
        self.scores: dict | None = None

    def show_scores(self, scores: dict, word: str = "digits") -> None:
        self.scores = scores
        self.bars.setOpts(height=[scores["pretrained"], scores["scratch"]])
        if "finetune_epochs" in scores:
            how = (f"a softmax on the code trained alone ({scores['probe_epochs']} epochs), "
                   f"then the whole network fine-tuned ({scores['finetune_epochs']} epochs)")
        else:  # saved by an older version: the whole network was fine-tuned at once
            how = "a softmax on the code, the whole network fine-tuned"
        gap = scores["pretrained"] - scores["scratch"]
        self.text.setText(f"With {scores['labels']} labelled {word}, {how}: starting from "
                          f"the <b>pretrained</b> encoder {scores['pretrained']:.1%} held-out "
                          f"accuracy, from <b>random weights</b> {scores['scratch']:.1%} "
                          f"(a gap of {100 * gap:+.1f} points in this run).")

    def show_skipped(self, why: str) -> None:
        self.scores = None
        self.bars.setOpts(height=[0, 0])
        self.text.setText(why)


class PhotoSettingsNote(QWidget):
    """Under the settings when the photos are chosen: they need other settings than the
    digits, and one click applies them."""

    def __init__(self, apply, parent=None):
        super().__init__(parent)
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        settings = ", ".join(f"{k.replace('_', ' ')} {v:g}"
                             for k, v in aes.PHOTO_SETTINGS.items())
        text = QLabel("Photo patches want other settings than the digits: the sparse "
                      "autoencoder of the UFLDL notes for natural images (there with a "
                      f"linear decoder, as here): {settings}. With the digits' settings "
                      "the features stay noisy.")
        text.setWordWrap(True)
        v.addWidget(text)
        button = QPushButton("Use the settings for photos")
        button.clicked.connect(apply)
        v.addWidget(button)


class AutoencoderTab(FamilyTab):
    def __init__(self, parent=None):
        super().__init__("autoencoder", parent)

        self.recon = ImageGrid(note="Held-out inputs and their reconstructions appear here "
                                    "while it trains.")
        self.panel.add_view(self.recon, "Reconstructions", "Held-out inputs, rebuilt live")
        self.features = FeaturesView(self.request_top)
        self.panel.add_view(self.features, "Features", "What each hidden unit responds to")
        self.repair = RepairView()
        self.panel.add_view(self.repair, "Denoise your digit", "Draw, corrupt, repair")
        self.few = FewLabelsView()
        self.panel.add_view(self.few, "Few labels", "Pretrained code vs random weights")
        self.add_about(ABOUT)

        self.ae = None
        self.held_out: np.ndarray | None = None
        self.word = "digits"  # what the inputs of the model shown are called
        self.background = self.runner("autoencoder-background", self._background_done)
        self.repairer = self.runner("autoencoder-repair", self._show_repair)

        self.panel.events.connect(self._on_events)
        self.panel.finished.connect(self._on_finished)
        self.panel.loaded.connect(self._on_loaded)
        self.repair.canvas.changed.connect(self.request_repair)
        self.repair.kind.currentIndexChanged.connect(self.request_repair)
        self.repair.level.valueChanged.connect(self.request_repair)
        self.photo_note = PhotoSettingsNote(self.use_photo_settings)
        self.panel.add_form_note(self.photo_note)
        self.panel.dataset_combo.currentIndexChanged.connect(self._dataset_changed)
        self._dataset_changed()

    def _dataset_changed(self, *_) -> None:
        """The patch size, and the note about settings for photos, only concern photos."""
        photos = self.panel.dataset_key() == "photos"
        self.panel.form.editors["patch_size"].setEnabled(photos)
        self.photo_note.setVisible(photos)

    def use_photo_settings(self) -> None:
        self.panel.form.set_values({**self.panel.form.values(), **aes.PHOTO_SETTINGS})

    # ------------------------------------------------------------ training events
    def _on_events(self, batch: list) -> None:
        latest = {}
        for event in batch:
            if isinstance(event, Artifact) and event.name == "stage":
                name, step = event.value
                self.panel.loss_plot.mark(step, name)
            elif isinstance(event, (ImageEvent, Artifact)):
                latest[event.name] = event
        if "autoencoder" in latest:  # a run begins
            self.word = inputs_word(self.panel.dataset_key())
            self._set_autoencoder(latest["autoencoder"].value)
        if "held_out" in latest:
            self.held_out = latest["held_out"].value[0]
        for name, event in latest.items():
            if name.startswith("features"):
                self.features.show_layer(int(name.removeprefix("features")) - 1, event.images,
                                         event.note)
        if "reconstructions" in latest:
            e = latest["reconstructions"]
            triples = "triple" in e.note
            self.recon.set_images(e.images, note=e.note, columns=12 if triples else 8)
        if "few_labels" in latest:
            self.few.show_scores(latest["few_labels"].value, self.word)
        if "few_labels_skipped" in latest:
            self.few.show_skipped(latest["few_labels_skipped"].value)

    def _set_autoencoder(self, ae) -> None:
        self.ae = ae
        layers = len(ae.encoders) if ae.config.kind == "stacked" else 1
        self.features.trim(layers)
        self.request_repair()

    def _on_finished(self, done) -> None:
        if done.result is not None and done.result.extra is not None:
            self._set_autoencoder(done.result.extra)
            self._show_features()

    def _on_loaded(self, trained) -> None:
        if isinstance(trained.meta.get("dataset"), str):
            self.word = inputs_word(trained.meta["dataset"])
        self._set_autoencoder(trained.extra)
        self._show_features()
        if "few_labels" in trained.meta:
            self.few.show_scores(trained.meta["few_labels"], self.word)
        if isinstance(trained.meta.get("dataset"), str):
            self.background.submit(held_out_job, trained.meta["dataset"],
                                   trained.extra.input_shape, tag="held_out")

    def _show_features(self) -> None:
        layers = len(self.ae.encoders) if self.ae.config.kind == "stacked" else 1
        for k in range(layers):
            self.features.show_layer(k, aes.display_features(self.ae.features(k),
                                                             self.word == "patches"))

    # ------------------------------------------------------------ background work
    def request_top(self, layer: int, unit: int) -> None:
        if self.ae is None or self.held_out is None:
            self.features.top.note.setText("Train or load a model first.")
            return
        self.background.submit(top_job, self.ae, self.held_out, layer, unit, tag="top")

    def request_repair(self, *_):
        self.repairer.submit(repair_job, self.ae, self.repair.canvas.array(),
                             self.repair.kind.currentText(), self.repair.level.value())

    def _show_repair(self, _tag, value) -> None:
        if value is None:
            photos = self.ae is not None and self.ae.linear_output
            self.repair.triple.set_images(
                np.zeros((0, 28, 28)), note=REPAIR_NOTE if not photos else
                "This autoencoder learnt from photo patches, not 28x28 digits: train one on "
                "digits to repair a drawing.")
            return
        self.repair.triple.set_images(np.stack(value), columns=3, note=REPAIR_NOTE)

    def _background_done(self, tag, value) -> None:
        if tag == "top":
            layer, unit, images = value
            self.features.top.set_images(images, note=f"Held-out {self.word} that excite "
                                                      f"layer {layer + 1}, unit {unit + 1} "
                                                      "most:", columns=8)
        elif tag == "held_out":
            self.held_out = value[0]


if __name__ == "__main__":
    from app.main_window import run_standalone

    run_standalone(AutoencoderTab)
