"""The variational-autoencoder tab: train a VAE, then explore its latent space: the map of
held-out digits, decoding any point you click or drag to, a grid over the plane,
interpolation between two digits, and samples from the prior.

Run alone with `python -m app.tabs.vae`.
"""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QGridLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea,
                               QSlider, QVBoxLayout, QWidget)

from app.widgets.canvas import DrawingCanvas
from app.tabs.base import FamilyTab
from app.widgets.images import ImageGrid
from app.widgets.plots import add_key, class_colour, key_entry, set_key
from nets.families import vae
from nets.images import mnist_style
from nets import data as datasets
from nets.progress import Artifact, ImageEvent

ABOUT = """<h3>Variational autoencoders</h3>
<p>An autoencoder squeezes each image through a small code and rebuilds it. A
<i>variational</i> autoencoder (Kingma &amp; Welling 2014) makes the code a probability
distribution: the encoder gives a mean &mu; and a variance &sigma;<sup>2</sup> for every
latent dimension, a code z is drawn from that Gaussian (as z = &mu; + &sigma;&middot;&epsilon;
with &epsilon; drawn from N(0, 1), so that gradients can flow through &mu; and &sigma;),
and the decoder rebuilds the image from z.</p>
<p><b>What the loss plots show.</b> Training maximises the ELBO, a lower bound on
log p(x); the plots show what is minimised, per image, in two parts:</p>
<ul>
<li><b>reconstruction</b> = &minus;log p(x | z): the binary cross-entropy between each
pixel and the decoder's output, summed over the image;</li>
<li><b>KL</b> = KL(q(z | x) || N(0, I)) = &minus;&frac12; &Sigma;<sub>j</sub> (1 + log
&sigma;<sub>j</sub><sup>2</sup> &minus; &mu;<sub>j</sub><sup>2</sup> &minus;
&sigma;<sub>j</sub><sup>2</sup>).</li>
</ul>
<p>The slide writes the ELBO as &frac12; &Sigma;<sub>j</sub> (1 + log
&sigma;<sub>j</sub><sup>2</sup> &minus; &mu;<sub>j</sub><sup>2</sup> &minus;
&sigma;<sub>j</sub><sup>2</sup>) + (1/L) &Sigma;<sub>l</sub> log p(x | z<sup>(l)</sup>):
its first term is &minus;KL, its second is &minus;reconstruction (here with L = 1 sample
of z per image). So <b>loss = reconstruction + &beta; &middot; KL</b>, which for
&beta; = 1 is exactly &minus;ELBO. With any other &beta; it is the objective of the
&beta;-VAE (Higgins et al. 2017), not the ELBO. The pixels are grey values, not 0 or 1, so
the reconstruction term never reaches 0: read it as a cost that falls, not as a length in
bits or nats.</p>
<p>The KL term pulls every code distribution towards N(0, I), so the codes of all digits
tend to fill one round cloud around 0 with few empty gaps. That is why most points of the
latent plane decode to something digit-like, and why codes drawn from N(0, I) give new
digits. It encourages this; it does not guarantee it: some places still decode to a blur
between two digits.</p>
<p><b>Try this</b>: press and drag on the latent map; raise &beta; to 4 and see the map
become rounder and the digits blurrier; set &beta; to 0 and see what the map and the
samples become when nothing pulls the codes together; a latent size of 10 reconstructs
better but can no longer be drawn as one map (use the sliders).</p>
<p><b>Papers</b>: Kingma &amp; Welling 2014, <i>Auto-encoding variational Bayes</i>
(ICLR); Higgins et al. 2017, <i>&beta;-VAE: learning basic visual concepts with a
constrained variational framework</i> (ICLR).</p>"""

EXTENT = 3.0  # the latent plane shown and gridded: +-3 standard deviations of the prior


def decode_point(codecs: dict, model, z: np.ndarray) -> np.ndarray:
    """Runs in the decoder thread. One compiled codec per model, built on first use."""
    return _codec(codecs, model).decode(z[None])[0]


def _codec(codecs: dict, model) -> vae.Codec:
    codec = codecs.get("codec")
    if codec is None or codec.model is not model:
        codec = codecs["codec"] = vae.Codec(model)
    return codec


def explore_loaded(codecs: dict, model, dataset_key: str):
    """Runs in the background: a loaded model's map, grid and held-out digits."""
    codec = _codec(codecs, model)
    h, w, c = model.encoder.inputs[0].shape[1:]
    ds = datasets.load(dataset_key, image_size=(h, w), channels=c)
    x, y = ds.x_val[:2000], ds.y_val[:2000]
    means, _ = codec.encode(x)
    grid = vae.latent_grid(codec, 15, EXTENT) if codec.latent_dim >= 2 else None
    return means, y, x, ds.class_names, grid


def interpolate_job(codecs: dict, model, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return vae.interpolate(_codec(codecs, model), a, b, steps=10)


def samples_job(codecs: dict, model, seed: int) -> np.ndarray:
    return vae.prior_samples(_codec(codecs, model), 64, seed=seed)


class LatentMap(pg.PlotWidget):
    """Held-out digits' latent means as coloured dots; press or drag to pick a point."""

    point_picked = Signal(float, float)
    KEY_LIMIT = 20  # classes named in the key; more would not fit beside the map

    def __init__(self, parent=None):
        super().__init__(parent)
        # Short: a pyqtgraph title wider than the plot pushes the whole plot, points and
        # all, past the widget's right edge.
        self.setTitle("Latent map of held-out images", size="10pt")
        self.setLabel("bottom", "z1")
        self.setLabel("left", "z2")
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.setAspectLocked(True)
        self.setRange(xRange=(-EXTENT, EXTENT), yRange=(-EXTENT, EXTENT))
        self.dots = pg.ScatterPlotItem(size=5, pen=None)
        self.addItem(self.dots)
        self.marker = pg.ScatterPlotItem(size=16, symbol="+", pen=pg.mkPen("w", width=2),
                                         brush=None)
        self.addItem(self.marker)
        self.setToolTip("Each dot is a held-out image, placed at the mean of its code "
                        "distribution q(z|x) and coloured by its class (the key on the "
                        "right). Press or drag anywhere to decode that point.")
        self.key = add_key(self.getPlotItem(), side="right")  # beside the map, never on it
        self._key_names: list[str] = []

    def set_points(self, means: np.ndarray, labels: np.ndarray, names: list[str]) -> None:
        means = np.asarray(means, np.float64)
        labels = np.asarray(labels).astype(int)
        xy = means[:, :2] if means.shape[1] >= 2 else \
            np.stack([means[:, 0], labels * 0.3 - 1.5], 1)
        classes = max(len(names), int(labels.max(initial=-1)) + 1, 1)
        palette = [pg.mkBrush(class_colour(i, classes)) for i in range(classes)]
        self.dots.setData(pos=xy, brush=[palette[c] for c in labels])
        # The prior's +-3 and every held-out code in view (early in training the cloud
        # sits off-centre). Plain floats: numpy float32 bounds make pyqtgraph's checks
        # against its +-1e307 limits overflow (a RuntimeWarning on every redraw).
        finite = xy[np.isfinite(xy).all(axis=1)]
        lo = np.minimum(finite.min(0, initial=-EXTENT), -EXTENT)
        hi = np.maximum(finite.max(0, initial=EXTENT), EXTENT)
        self.setRange(xRange=(float(lo[0]), float(hi[0])),
                      yRange=(float(lo[1]), float(hi[1])), padding=0.03)
        if list(names) != self._key_names:
            entries = [key_entry(str(n), class_colour(i, classes))
                       for i, n in enumerate(names[:self.KEY_LIMIT])]
            if len(names) > self.KEY_LIMIT:
                entries.append(key_entry(f"{len(names) - self.KEY_LIMIT} more", "#c8c8c8",
                                         "…"))
            set_key(self.key, entries, columns=1)
            self._key_names = list(names)

    def set_marker(self, x: float, y: float) -> None:
        self.marker.setData([x], [y])

    def _pick(self, event) -> None:
        scene = self.mapToScene(event.position().toPoint())
        vb = self.plotItem.vb
        if not vb.sceneBoundingRect().contains(scene):
            return  # on the axes, the title or the key
        p = vb.mapSceneToView(scene)
        self.point_picked.emit(p.x(), p.y())

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._pick(event)
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._pick(event)
        else:
            super().mouseMoveEvent(event)


class ExplorerView(QWidget):
    """The latent map, the decoded image at the picked point, and a slider per dimension."""

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        self.map = LatentMap()
        layout.addWidget(self.map, 3)
        right = QVBoxLayout()
        self.decoded = ImageGrid(note="Decoded from the picked point:")
        self.decoded.setMinimumSize(200, 220)
        right.addWidget(self.decoded, 2)
        self.where = QLabel("Train or load a VAE, then press on the map.")
        self.where.setWordWrap(True)
        right.addWidget(self.where)
        self.slider_area = QScrollArea()
        self.slider_area.setWidgetResizable(True)
        self.slider_area.setToolTip("One slider per latent dimension, from -3 to 3. The map "
                                    "sets the first two.")
        right.addWidget(self.slider_area, 2)
        layout.addLayout(right, 1)  # the map gets the room: its aspect ratio is locked
        self.sliders: list[QSlider] = []

    def build_sliders(self, latent_dim: int, on_change) -> None:
        if len(self.sliders) == latent_dim:
            return
        inner = QWidget()
        grid = QGridLayout(inner)
        self.sliders = []
        for i in range(latent_dim):
            s = QSlider(Qt.Orientation.Horizontal)
            s.setRange(-300, 300)
            s.valueChanged.connect(on_change)
            grid.addWidget(QLabel(f"z{i + 1}"), i, 0)
            grid.addWidget(s, i, 1)
            self.sliders.append(s)
        self.slider_area.setWidget(inner)
        self.slider_area.setVisible(latent_dim > 2)

    def z(self) -> np.ndarray:
        return np.array([s.value() / 100 for s in self.sliders], np.float32)

    def set_z(self, values) -> None:
        for s, v in zip(self.sliders, values):
            s.blockSignals(True)
            s.setValue(int(round(float(np.clip(v, -3, 3)) * 100)))
            s.blockSignals(False)


class EndPoint(QWidget):
    """One end of an interpolation: a drawing, or a held-out digit picked at random."""

    changed = Signal()

    def __init__(self, name: str, parent=None):
        super().__init__(parent)
        v = QVBoxLayout(self)
        v.addWidget(QLabel(f"<b>{name}</b>: draw a digit, or pick one"))
        self.canvas = DrawingCanvas(size=140, pen_width=10)
        self.canvas.changed.connect(self._drawn)
        v.addWidget(self.canvas)
        buttons = QHBoxLayout()
        self.pick = QPushButton("Held-out digit")
        self.pick.setToolTip("Use a random digit the model did not train on")
        self.clear = QPushButton("Clear")
        self.clear.clicked.connect(self.canvas.clear)
        buttons.addWidget(self.pick)
        buttons.addWidget(self.clear)
        v.addLayout(buttons)
        self.preview = ImageGrid()
        self.preview.setFixedSize(140, 140)
        v.addWidget(self.preview)
        self.image: np.ndarray | None = None

    def _drawn(self) -> None:
        digit = mnist_style(self.canvas.array())
        if digit is not None:
            self.set_image(digit)

    def set_image(self, image: np.ndarray) -> None:
        self.image = image
        self.preview.set_images(image[None])
        self.changed.emit()


class InterpolationView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        v = QVBoxLayout(self)
        ends = QHBoxLayout()
        self.a, self.b = EndPoint("From"), EndPoint("To")
        ends.addWidget(self.a)
        ends.addWidget(self.b)
        ends.addStretch(1)
        v.addLayout(ends)
        self.strip = ImageGrid(note="The straight line between the two codes, decoded in 10 "
                                    "steps: a smooth morph shows that the codes between "
                                    "them decode to digit-like images too.")
        self.strip.setMinimumHeight(140)
        v.addWidget(self.strip, 1)


class SamplesView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        v = QVBoxLayout(self)
        self.refresh = QPushButton("New samples")
        self.refresh.setToolTip("Draw 64 new codes z from N(0, I) and decode them")
        v.addWidget(self.refresh, 0, Qt.AlignmentFlag.AlignLeft)
        self.grid = ImageGrid(note="New digits: random codes from the prior N(0, I), "
                                   "decoded. None of them is in the data.")
        v.addWidget(self.grid, 1)


class VAETab(FamilyTab):
    decoded_shown = Signal(float)  # seconds from a press/drag on the map to the new image

    def __init__(self, parent=None):
        super().__init__("vae", parent)

        self.explorer = ExplorerView()
        self.panel.add_view(self.explorer, "Latent explorer",
                            "The map of codes; press or drag to decode any point")
        self.manifold = ImageGrid(note="Decodings over a 15 x 15 grid of the latent plane "
                                       "(z1 left to right, z2 bottom to top, from -3 to 3); "
                                       "other dimensions at 0.")
        self.panel.add_view(self.manifold, "Latent grid", "What every region of the plane "
                                                          "decodes to")
        self.interp = InterpolationView()
        self.panel.add_view(self.interp, "Interpolate", "Morph between two digits")
        self.samples = SamplesView()
        self.panel.add_view(self.samples, "Samples", "New digits from the prior")
        self.add_about(ABOUT)

        # one compiled codec per model, used by both runners' threads (one job at a time
        # each; a codec's compiled functions may be called from either)
        self._codecs: dict = {}
        self.decoder = self.runner("vae-decode", self._show_decoded)
        self.background = self.runner("vae-background", self._background_done)
        self.model = None
        self.names = datasets.DIGIT_NAMES
        self.held_out: np.ndarray | None = None
        self._sample_seed = 0

        self.panel.model_changed.connect(self._on_model)
        self.panel.events.connect(self._on_events)
        self.panel.loaded.connect(self._on_loaded)
        self.explorer.map.point_picked.connect(self.pick_point)
        self.interp.a.changed.connect(self.request_interpolation)
        self.interp.b.changed.connect(self.request_interpolation)
        self.interp.a.pick.clicked.connect(self._pick_a)
        self.interp.b.pick.clicked.connect(self._pick_b)
        self.samples.refresh.clicked.connect(self.request_samples)

    # ------------------------------------------------------------ model and events
    def _on_model(self, model) -> None:
        self.model = model
        if model is None:
            return
        latent = model.encoder.outputs[0].shape[-1]
        self.explorer.build_sliders(latent, self._sliders_moved)
        self.request_decode(time.perf_counter())
        self.request_samples()

    def _on_loaded(self, trained) -> None:
        if isinstance(trained.meta.get("dataset"), str):
            self.explorer.where.setText("Placing the held-out digits on the map …")
            self.background.submit(explore_loaded, self._codecs, trained.model,
                                   trained.meta["dataset"], tag="explore")

    def _on_events(self, batch: list) -> None:
        latest = {}
        for event in batch:
            if isinstance(event, (ImageEvent, Artifact)):
                latest[event.name] = event
        if "classes" in latest:
            self.names = [str(n) for n in latest["classes"].value]
        if "latent_grid" in latest:
            self.manifold.set_images(latest["latent_grid"].images, columns=15)
        if "samples" in latest:
            self.samples.grid.set_images(latest["samples"].images, columns=8)
        if "latent_means" in latest:
            means, labels = latest["latent_means"].value
            self.explorer.map.set_points(means, labels, self.names)

    def _background_done(self, tag, value) -> None:
        if tag == "explore":
            means, labels, images, names, grid = value
            self.names, self.held_out = names, images
            self.explorer.map.set_points(means, labels, names)
            if grid is not None:
                self.manifold.set_images(grid, columns=15)
            self.explorer.where.setText("Press or drag on the map to decode a point.")
        elif tag == "interpolate":
            self.interp.strip.set_images(value, columns=10)
        elif tag == "samples":
            self.samples.grid.set_images(value, columns=8)

    # ------------------------------------------------------------ latent explorer
    def pick_point(self, x: float, y: float) -> None:
        z = self.explorer.z()
        if len(z) == 0:
            return
        z[0] = x
        if len(z) > 1:
            z[1] = y
        self.explorer.set_z(z)
        self.request_decode(time.perf_counter())

    def _sliders_moved(self, *_):
        self.request_decode(time.perf_counter())

    def request_decode(self, requested_at: float) -> None:
        if self.model is None or not self.explorer.sliders:
            return
        z = self.explorer.z()
        self.explorer.map.set_marker(z[0], z[1] if len(z) > 1 else 0.0)
        self.decoder.submit(decode_point, self._codecs, self.model, z,
                            tag=(requested_at, tuple(np.round(z, 2))))

    def _show_decoded(self, tag, image) -> None:
        requested_at, z = tag
        self.explorer.decoded.set_images(image[None])
        shown = ", ".join(f"{v:+.2f}" for v in z[:6]) + (" …" if len(z) > 6 else "")
        self.explorer.where.setText(f"z = ({shown})")
        self.decoded_shown.emit(time.perf_counter() - requested_at)

    # ------------------------------------------------------------ interpolation and samples
    def _held_out_digit(self) -> np.ndarray | None:
        if self.held_out is None:
            trained = self.panel.trained
            key = trained.meta.get("dataset") if trained else self.panel.dataset_key()
            try:
                self.held_out = datasets.load(key or "mnist-5k").x_val[:2000]
            except datasets.DataError as exc:
                self.panel.show_error(str(exc))
                return None
        img = self.held_out[np.random.default_rng().integers(len(self.held_out))]
        return img[..., 0] if img.shape[-1] == 1 else img

    def _pick_a(self) -> None:
        self._pick_end(self.interp.a)

    def _pick_b(self) -> None:
        self._pick_end(self.interp.b)

    def _pick_end(self, end: EndPoint) -> None:
        img = self._held_out_digit()
        if img is not None:
            end.canvas.clear()
            end.set_image(img)

    def request_interpolation(self) -> None:
        a, b = self.interp.a.image, self.interp.b.image
        if self.model is None or a is None or b is None:
            return
        shape = self.model.encoder.inputs[0].shape[1:]
        self.background.submit(interpolate_job, self._codecs, self.model,
                               a.reshape(shape), b.reshape(shape), tag="interpolate")

    def request_samples(self) -> None:
        if self.model is None:
            return
        self._sample_seed += 1
        self.background.submit(samples_job, self._codecs, self.model, self._sample_seed,
                               tag="samples")

if __name__ == "__main__":
    from app.main_window import run_standalone

    run_standalone(VAETab)
