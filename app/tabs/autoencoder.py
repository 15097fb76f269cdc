"""The autoencoder tab: plain, stacked and denoising autoencoders, their features, your own
digit corrupted and repaired, and what the learnt code is worth with few labels.

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
from nets import autoencoder as aes
from nets import cnn
from nets import data as datasets
from nets.progress import Artifact, ImageEvent

TITLE = "Autoencoders"
ABOUT = """<h3>Autoencoders</h3>
<p>An autoencoder learns without labels. It maps an input X through a hidden code Z and
back to a reconstruction X', and gradient descent lowers the cost C(X) = ||X' - X||<sup>2
</sup>. When the code is smaller than the input, or the input is damaged and the network
must undo the damage (<i>denoising</i>), it has to find the regularities of the data:
strokes, loops, pen pressure.</p>
<p><b>Features</b> shows each hidden unit as the input that excites it most under a
unit-norm constraint: x<sub>j</sub> = W<sub>ij</sub> / sqrt(sum<sub>j</sub> W<sub>ij</sub>
<sup>2</sup>). Click one to see the held-out digits that excite it most.</p>
<p>A <b>stacked</b> autoencoder trains one layer at a time on the codes of the layer below
(the dashed lines on the loss plot), then fine-tunes them all together. Its deeper
features are drawn through the layers below them.</p>
<p><b>Few labels</b>: after training, a softmax is put on the code and trained with only
a few labelled digits, next to the same network started from random weights. Features
learnt from unlabelled data are what make the difference.</p>"""


def repair_job(ae, drawing: np.ndarray, kind: str, level: float):
    """Runs in the background: drawing -> (digit, corrupted, reconstructed)."""
    digit = cnn.mnist_style(drawing)
    if digit is None or ae is None:
        return None
    x = digit.reshape(1, *ae.input_shape)
    noisy = np.asarray(aes.corrupt(x, kind, level))
    return digit, noisy.reshape(digit.shape), ae.reconstruct(noisy).reshape(digit.shape)


def top_job(ae, images: np.ndarray, layer: int, unit: int):
    idx = ae.top_activating(images, layer, unit)
    imgs = images[idx]
    return layer, unit, imgs[..., 0] if imgs.shape[-1] == 1 else imgs


def held_out_job(key: str, shape):
    h, w, c = shape
    ds = datasets.load(key, image_size=(h, w), channels=c)
    return ds.x_val[:1000], ds.y_val[:1000]


class FeaturesView(QScrollArea):
    """A feature grid per layer; clicking a feature shows its strongest held-out inputs."""

    def __init__(self, on_click, parent=None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        inner = QWidget()
        self.box = QVBoxLayout(inner)
        self.top = ImageGrid(note="Click a feature to see the held-out digits that excite "
                                  "it most.")
        self.top.setMinimumHeight(120)
        self.box.addWidget(self.top)
        self.box.addStretch(1)
        self.setWidget(inner)
        self.grids: list[ImageGrid] = []
        self.on_click = on_click

    def show_layer(self, layer: int, images: np.ndarray) -> None:
        while len(self.grids) <= layer:
            k = len(self.grids)
            note = ("Layer 1: each image is one hidden unit's unit-norm preferred input." if
                    k == 0 else f"Layer {k + 1}, drawn through the layers below it.")
            grid = ImageGrid(note=note)
            grid.setMinimumHeight(380)
            grid.tile_clicked.connect(self._clicked_in(k))
            self.box.insertWidget(len(self.grids), grid)
            self.grids.append(grid)
        self.grids[layer].set_images(images)

    def trim(self, layers: int) -> None:
        for grid in self.grids[layers:]:
            grid.setParent(None)
            grid.deleteLater()
        del self.grids[layers:]

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
        self.triple = ImageGrid(note="Your digit, corrupted, and the reconstruction. A "
                                     "denoising autoencoder trained on this corruption "
                                     "repairs it best.")
        self.triple.setMinimumSize(420, 200)
        grid.addWidget(self.triple, 1, 1)
        grid.setColumnStretch(1, 1)


class FewLabelsView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        v = QVBoxLayout(self)
        self.text = QLabel("After unsupervised training, a softmax is trained on the code "
                           "with few labels (set 'Labels for the classifier'), next to the "
                           "same network from random weights. Results appear here.")
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
        self.scores: dict | None = None

    def show_scores(self, scores: dict) -> None:
        self.scores = scores
        self.bars.setOpts(height=[scores["pretrained"], scores["scratch"]])
        self.text.setText(f"With {scores['labels']} labelled digits: softmax on the "
                          f"<b>pretrained</b> code {scores['pretrained']:.1%} held-out "
                          f"accuracy, same network from <b>random weights</b> "
                          f"{scores['scratch']:.1%}.")


class AutoencoderTab(FamilyTab):
    def __init__(self, parent=None):
        super().__init__("autoencoder", parent)

        self.recon = ImageGrid(note="Held-out digits and their reconstructions appear here "
                                    "while it trains.")
        self.panel.add_view(self.recon, "Reconstructions", "Held-out digits, rebuilt live")
        self.features = FeaturesView(self.request_top)
        self.panel.add_view(self.features, "Features", "What each hidden unit responds to")
        self.repair = RepairView()
        self.panel.add_view(self.repair, "Denoise your digit", "Draw, corrupt, repair")
        self.few = FewLabelsView()
        self.panel.add_view(self.few, "Few labels", "Pretrained code vs random weights")
        self.add_about(ABOUT)

        self.ae = None
        self.held_out: np.ndarray | None = None
        self.background = self.runner("autoencoder-background", self._background_done)
        self.repairer = self.runner("autoencoder-repair", self._show_repair)

        self.panel.events.connect(self._on_events)
        self.panel.finished.connect(self._on_finished)
        self.panel.loaded.connect(self._on_loaded)
        self.repair.canvas.changed.connect(self.request_repair)
        self.repair.kind.currentIndexChanged.connect(self.request_repair)
        self.repair.level.valueChanged.connect(self.request_repair)

    # ------------------------------------------------------------ training events
    def _on_events(self, batch: list) -> None:
        latest = {}
        for event in batch:
            if isinstance(event, Artifact) and event.name == "stage":
                name, step = event.value
                self.panel.loss_plot.mark(step, name)
            elif isinstance(event, (ImageEvent, Artifact)):
                latest[event.name] = event
        if "autoencoder" in latest:
            self._set_autoencoder(latest["autoencoder"].value)
        if "held_out" in latest:
            self.held_out = latest["held_out"].value[0]
        for name, event in latest.items():
            if name.startswith("features"):
                self.features.show_layer(int(name.removeprefix("features")) - 1, event.images)
        if "reconstructions" in latest:
            e = latest["reconstructions"]
            triples = "triple" in e.note
            self.recon.set_images(e.images, note=e.note, columns=12 if triples else 8)
        if "few_labels" in latest:
            self.few.show_scores(latest["few_labels"].value)

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
        self._set_autoencoder(trained.extra)
        self._show_features()
        if "few_labels" in trained.meta:
            self.few.show_scores(trained.meta["few_labels"])
        if isinstance(trained.meta.get("dataset"), str):
            self.background.submit(held_out_job, trained.meta["dataset"],
                                   trained.extra.input_shape, tag="held_out")

    def _show_features(self) -> None:
        layers = len(self.ae.encoders) if self.ae.config.kind == "stacked" else 1
        for k in range(layers):
            self.features.show_layer(k, aes.display_features(self.ae.features(k)))

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
            self.repair.triple.set_images(np.zeros((0, 28, 28)))
            return
        self.repair.triple.set_images(np.stack(value), columns=3)

    def _background_done(self, tag, value) -> None:
        if tag == "top":
            layer, unit, images = value
            self.features.top.set_images(images, note=f"Held-out digits that excite layer "
                                                      f"{layer + 1}, unit {unit + 1} most:",
                                         columns=8)
        elif tag == "held_out":
            self.held_out = value[0]


if __name__ == "__main__":
    from app.main_window import run_standalone

    run_standalone(AutoencoderTab)
