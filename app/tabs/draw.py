"""The DRAW tab: train a VAE that draws in T steps, then watch it draw, step by step, with
its attention windows on the image it reads and on the canvas it writes: for held-out
digits (reconstructions) and for samples from the prior.

Run alone with `python -m app.tabs.draw`.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider,
                               QVBoxLayout, QWidget)

from app.tabs.base import FamilyTab
from app.widgets.images import ImageGrid
from nets import data as datasets
from nets.families import draw

ABOUT = """<h3>DRAW: a VAE that draws</h3>
<p>A variational autoencoder (see the VAE tab) turns an image into a code z and back in
one go. DRAW (Gregor, Danihelka, Graves, Rezende &amp; Wierstra 2015) makes both halves
recurrent and lets the decoder <i>draw</i>: over T steps, a decoder LSTM adds strokes to a
canvas c, and the image is sigmoid(c<sub>T</sub>). At every step an encoder LSTM looks at
the image <i>and at the error still left on the canvas</i>, x &minus; sigmoid(c<sub>t-1</sub>),
and proposes a Gaussian Q(z<sub>t</sub> | h<sup>enc</sup><sub>t</sub>) for that step's
latent sample z<sub>t</sub>; the decoder turns z<sub>t</sub> into the next stroke. To make
a new image, the decoder alone runs on samples z<sub>t</sub> drawn from N(0, I).</p>
<p><b>Attention.</b> With attention on, the network does not see or paint the whole image
at once. It chooses, from its decoder state, a grid of N &times; N Gaussian filters: where
the grid's centre lies (g<sub>X</sub>, g<sub>Y</sub>), how far apart the filters are (the
stride &delta;), how blurred each one is (&sigma;) and how strongly it reads (&gamma;).
Reading multiplies the image by the filters, F<sub>Y</sub> x F<sub>X</sub><sup>T</sup>: a
small glimpse, zoomed in or out. Writing does the reverse, F<sub>Y</sub><sup>T</sup> w
F<sub>X</sub>, spreading an N &times; N patch w over the window. Every part of it is
differentiable, so backpropagation learns where to look. The <b>Drawing</b> view shows the
read window (green) on the image and the write window (red) on the canvas; the dots are
the centres of the filters.</p>
<p><b>What the loss plots show</b> (per image, in nats when the pixels are binarised):
<b>reconstruction</b> = &minus;log D(x | c<sub>T</sub>), the binary cross-entropy of the
final canvas against the image, and <b>KL</b> = &Sigma;<sub>t</sub>
KL(Q(z<sub>t</sub> | h<sup>enc</sup><sub>t</sub>) || N(0, I)), each step's KL in closed
form, summed over the T steps. Their sum, the loss, is minus the ELBO (Kingma &amp;
Welling 2014): a bound on &minus;log p(x), so lower is better and it can be compared
with other models of the same pixels.</p>
<p><b>Two changes from the paper</b>, both to how training starts: the canvas starts at
c<sub>0</sub> = the log-odds of the mean digit (the paper starts from 0), so the steps only
draw what makes a digit differ from the average one; and the write window starts wide
with its patch strong enough to show (&gamma; = 1/&delta;<sup>2</sup>). Without them, on
these 4,000 digits, the attentive model spent its first epochs painting the background
black or drawing nothing at all.</p>
<p><b>How well it does here</b> (the bundled digits, binarised, the form's defaults:
T = 10, 128 LSTM units, 30 epochs, about 2.5 s an epoch on a 2-core laptop CPU; one
run): about 102 nats per held-out digit with attention, 110 without (its 1.1 million
weights start to learn the training digits by heart), against 170 for the VAE tab's model
with its 2-D code and 112 with a 20-D code, trained on the same digits. The paper reached
80.97 on all of binarised MNIST with T = 64 (<code>benchmarks/draw.py</code>).</p>
<p><b>Try this</b>: step through a held-out digit with the slider and follow the write
window over it (a default run tends to draw from the bottom of the digit up); look at which steps spend the KL (the bars); untick
Attention and see the whole canvas sharpen at once instead of stroke by stroke; set Steps
to 1: DRAW becomes a plain VAE with an LSTM in it; press New samples.</p>
<p><b>Papers</b>: Gregor, Danihelka, Graves, Rezende &amp; Wierstra 2015, <i>DRAW: a
recurrent neural network for image generation</i> (ICML); Kingma &amp; Welling 2014,
<i>Auto-encoding variational Bayes</i> (ICLR); Hochreiter &amp; Schmidhuber 1997, <i>Long
short-term memory</i>; Graves 2013, <i>Generating sequences with recurrent neural
networks</i> (the differentiable attention DRAW's grew from).</p>"""

READ_COLOUR, WRITE_COLOUR = (80, 220, 120), (255, 80, 80)
SOURCES = ("Held-out digits", "Samples from the prior")
SAMPLES = draw.VIEW_SAMPLES  # prior samples in the Samples view (6 x 6)
FRAME_MS = 400  # one step of the animation
HOLD_FRAMES = 4  # the finished drawing stays this many frames before it starts again


def drawings_job(model, dataset_key: str, pixels: str, seed: int):
    """Runs in the background: a model's drawings of held-out digits and of samples."""
    ds = datasets.load(dataset_key)
    x = draw.pixels_of(ds.x_val[:draw.VIEW_DIGITS], pixels)
    return draw.draw_images(model, x), draw.draw_samples(model, SAMPLES, seed=seed)


def samples_job(model, seed: int):
    return draw.draw_samples(model, SAMPLES, seed=seed)


class WindowPane(pg.GraphicsLayoutWidget):
    """An image with an attention window on it: the grid's outline (about N * stride a
    side) and the centres of its N x N filters."""

    def __init__(self, title: str, colour, parent=None):
        super().__init__(parent)
        self.setMinimumSize(220, 240)
        self.title = self.addLabel(title, row=0, col=0)
        self.view = self.addViewBox(row=1, col=0, lockAspect=True, invertY=True,
                                    enableMouse=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        pen = pg.mkPen(colour, width=2)
        self.outline = pg.PlotCurveItem(pen=pen)
        self.centres = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(*colour))
        self.frame = pg.PlotCurveItem(pen=pg.mkPen((110, 110, 110), width=1))
        self.view.addItem(self.frame)  # where the image ends: its background is black too
        self.view.addItem(self.outline)
        self.view.addItem(self.centres)
        self._shape = None

    def show_image(self, image: np.ndarray | None) -> None:
        if image is None:
            self.image.clear()
            self.frame.setData([], [])
            self._shape = None
            return
        self.image.setImage(np.asarray(image, np.float32), levels=(0.0, 1.0),
                            autoLevels=False)
        if image.shape != self._shape:
            self._shape = image.shape
            h, w = image.shape
            self.frame.setData([0, w, w, 0, 0], [0, 0, h, h, 0])
            self.view.setRange(xRange=(0, w), yRange=(0, h), padding=0.02)

    def show_window(self, window: np.ndarray | None, n: int) -> None:
        """window: cx, cy, delta, sigma, gamma in image coordinates (None: hide it)."""
        if window is None or n < 1:
            self.outline.setData([], [])
            self.centres.setData([], [])
            return
        cx, cy, delta = (float(v) for v in window[:3])
        half = n * delta / 2
        xs = [cx - half, cx + half, cx + half, cx - half, cx - half]
        ys = [cy - half, cy - half, cy + half, cy + half, cy - half]
        self.outline.setData(xs, ys)
        offsets = (np.arange(1, n + 1) - n / 2 - 0.5) * delta
        gx, gy = np.meshgrid(cx + offsets, cy + offsets)
        self.centres.setData(gx.ravel(), gy.ravel())


class KLBars(pg.PlotWidget):
    """The KL of each step of one drawing: where the encoder spent its information."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setTitle("KL per step (nats)", size="9pt")
        self.setLabel("bottom", "step")
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.setMinimumHeight(140)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush=(120, 160, 255))
        self.now = pg.BarGraphItem(x=[], height=[], width=0.7, brush=(255, 200, 80))
        self.addItem(self.bars)
        self.addItem(self.now)
        self.setToolTip("How many nats of information about the image each step's sample "
                        "z_t carries: KL(Q(z_t | h_enc) || N(0, I)). Their sum is the KL "
                        "term of the loss. The highlighted bar is the step shown.")

    def set_values(self, kl: np.ndarray | None, step: int) -> None:
        if kl is None:
            self.setTitle("KL per step: for held-out digits only", size="9pt")
            self.bars.setOpts(x=[], height=[])
            self.now.setOpts(x=[], height=[])
            return
        self.setTitle("KL per step (nats)", size="9pt")
        steps = np.arange(1, len(kl) + 1)
        self.bars.setOpts(x=steps, height=kl)
        self.now.setOpts(x=[step], height=[kl[step - 1]])
        self.setXRange(0.4, len(kl) + 0.6, padding=0)
        self.setYRange(0, float(max(kl.max(), 1e-3)) * 1.1, padding=0)


class DrawingView(QWidget):
    """The animation: the image read and the canvas written at one step, a step slider,
    Play/Pause, and the chooser of which drawing to follow."""

    def __init__(self, parent=None):
        super().__init__(parent)
        outer = QHBoxLayout(self)
        left = QVBoxLayout()
        panes = QHBoxLayout()
        self.source_pane = WindowPane("The image (read window in green)", READ_COLOUR)
        self.source_pane.setToolTip("The digit the encoder reads. With attention, the green "
                                    "grid is where this step's glimpse was taken: N x N "
                                    "Gaussian filters, their centres as dots.")
        self.canvas_pane = WindowPane("The canvas (write window in red)", WRITE_COLOUR)
        self.canvas_pane.setToolTip("sigmoid(c_t), the canvas after this step. With "
                                    "attention, the red grid is where this step painted its "
                                    "N x N patch.")
        panes.addWidget(self.source_pane)
        panes.addWidget(self.canvas_pane)
        left.addLayout(panes, 1)
        controls = QHBoxLayout()
        self.play = QPushButton("Play")
        self.play.setCheckable(True)
        self.play.setToolTip("Play the drawing step by step, again and again")
        controls.addWidget(self.play)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(1, 1)
        self.slider.setToolTip("The step shown: the canvas after it, and its windows")
        controls.addWidget(self.slider, 1)
        self.source = QComboBox()
        self.source.addItems(SOURCES)
        self.source.setToolTip("Watch held-out digits being reconstructed (encoder and "
                               "decoder), or new digits drawn from z_t ~ N(0, I) (decoder "
                               "alone: nothing to read)")
        controls.addWidget(self.source)
        left.addLayout(controls)
        self.caption = QLabel("Train or open a DRAW model to watch it draw.")
        self.caption.setWordWrap(True)
        left.addWidget(self.caption)
        self.strip = ImageGrid(note="The canvas after every step:")
        self.strip.setFixedHeight(110)
        self.strip.setToolTip("sigmoid(c_t) for t = 1 .. T, left to right")
        left.addWidget(self.strip)
        outer.addLayout(left, 3)
        right = QVBoxLayout()
        self.chooser = ImageGrid(note="Click a drawing to follow it:")
        self.chooser.setMinimumWidth(220)
        self.chooser.setToolTip("The finished drawings; the one followed is marked ▶")
        right.addWidget(self.chooser, 3)
        self.kl = KLBars()
        right.addWidget(self.kl, 2)
        outer.addLayout(right, 2)


class SamplesView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        v = QVBoxLayout(self)
        self.refresh = QPushButton("New samples")
        self.refresh.setToolTip(f"Draw {SAMPLES} new digits: at every step a new z_t from "
                                "N(0, I), given to the decoder alone")
        v.addWidget(self.refresh, 0, Qt.AlignmentFlag.AlignLeft)
        self.grid = ImageGrid(note="New digits drawn from the prior: T samples z_t ~ N(0, I) "
                                   "each, written onto the canvas by the decoder. None of "
                                   "them is in the data.")
        v.addWidget(self.grid, 1)


class DRAWTab(FamilyTab):
    frame_shown = Signal(int)  # the step now shown (for tests and the curious)

    def __init__(self, parent=None):
        super().__init__("draw", parent)
        self.drawing = DrawingView()
        self.panel.add_view(self.drawing, "Drawing", "Watch it draw, step by step, with "
                                                     "its attention windows")
        self.reconstructions = ImageGrid(note="Held-out digits (odd rows) and how the model "
                                              "draws them (even rows): the final canvas "
                                              "sigmoid(c_T), each z_t at its mean.")
        self.panel.add_view(self.reconstructions, "Reconstructions",
                            "Held-out digits beside their drawings")
        self.samples = SamplesView()
        self.panel.add_view(self.samples, "Samples", "New digits from the prior")
        self.add_about(ABOUT)

        self.background = self.runner("draw-background", self._background_done)
        self.model = None
        self.held: draw.Drawing | None = None
        self.prior: draw.Drawing | None = None
        self.index = 0
        self._hold = 0
        self._sample_seed = 0
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self.advance)

        self.panel.model_changed.connect(self._on_model)
        self.panel.events.connect(self._on_events)
        self.panel.finished.connect(self._on_finished)
        self.panel.loaded.connect(self._on_loaded)
        self.drawing.play.toggled.connect(self.set_playing)
        self.drawing.slider.valueChanged.connect(self.show_step)
        self.drawing.source.currentIndexChanged.connect(self._source_changed)
        self.drawing.chooser.tile_clicked.connect(self.choose)
        self.samples.refresh.clicked.connect(self.request_samples)

    # ------------------------------------------------------------ model and events
    def _on_model(self, model) -> None:
        self.model = model

    def _on_events(self, batch: list) -> None:
        for event in reversed(batch):
            if getattr(event, "name", None) == "drawings":
                self.set_drawings(*event.value)
                break

    def _on_finished(self, done) -> None:
        if done.result is not None:
            self._redraw(done.result)

    def _on_loaded(self, trained) -> None:
        self._redraw(trained)

    def _redraw(self, trained) -> None:
        """The drawings of a finished or loaded model, made in the background."""
        key = trained.meta.get("dataset")
        pixels = trained.meta.get("config", {}).get("pixels", "binarised")
        if isinstance(key, str) and pixels in draw.PIXELS:
            self._sample_seed += 1
            self.background.submit(drawings_job, trained.model, key, pixels,
                                   self._sample_seed, tag="drawings")

    def _background_done(self, tag, value) -> None:
        if tag == "drawings":
            self.set_drawings(*value)
        elif tag == "samples":
            self.set_drawings(self.held, value)

    def request_samples(self) -> None:
        if self.model is None:
            return
        self._sample_seed += 1
        self.background.submit(samples_job, self.model, self._sample_seed, tag="samples")

    # ------------------------------------------------------------ the views
    def set_drawings(self, held: draw.Drawing | None, prior: draw.Drawing | None) -> None:
        first = self.held is None and self.prior is None
        self.held, self.prior = held, prior
        if held is not None and held.images is not None:
            pairs = []
            for start in range(0, len(held.images), 8):
                pairs += [*held.images[start:start + 8], *held.finals[start:start + 8]]
            self.reconstructions.set_images(np.stack(pairs), columns=8)
        if prior is not None:
            self.samples.grid.set_images(prior.finals, columns=6)
        self._show_chosen()
        if first:
            self.drawing.play.setChecked(True)

    def current(self) -> draw.Drawing | None:
        return self.prior if self.drawing.source.currentIndex() == 1 else self.held

    def _source_changed(self, *_) -> None:
        self.index = 0
        self._show_chosen()

    def choose(self, index: int) -> None:
        self.index = index
        self._show_chosen()
        self.drawing.slider.setValue(1)

    def _show_chosen(self) -> None:
        d = self.current()
        view = self.drawing
        if d is None:
            view.chooser.set_images(np.zeros((0, 1, 1)))
            return
        shown = d.finals[:draw.VIEW_DIGITS]
        self.index = min(self.index, len(shown) - 1)
        view.chooser.set_images(shown, columns=4,
                                captions=[("▶" if i == self.index else "")
                                          for i in range(len(shown))])
        view.strip.set_images(d.canvases[self.index], columns=min(d.steps, 10))
        view.slider.blockSignals(True)
        view.slider.setRange(1, d.steps)
        view.slider.blockSignals(False)
        self.show_step(view.slider.value())

    def show_step(self, step: int) -> None:
        d = self.current()
        if d is None:
            return
        view, i = self.drawing, self.index
        step = int(np.clip(step, 1, d.steps))
        if step < d.steps:
            self._hold = 0  # the finished drawing stays its full time whenever reached
        t = step - 1
        view.canvas_pane.show_image(d.canvases[i, t])
        view.source_pane.show_image(d.images[i] if d.images is not None else None)
        view.source_pane.title.setText("The image (read window in green)"
                                       if d.images is not None else
                                       "No image: a sample from the prior")
        view.canvas_pane.show_window(None if d.write is None else d.write[i, t],
                                     d.write_size)
        view.source_pane.show_window(None if d.read is None else d.read[i, t], d.read_size)
        view.kl.set_values(None if d.kl_steps is None else d.kl_steps[i], step)
        view.caption.setText(self._describe(d, i, t))
        self.frame_shown.emit(step)

    @staticmethod
    def _describe(d: draw.Drawing, i: int, t: int) -> str:
        what = ("a new digit from the prior (the decoder alone)" if d.images is None
                else "a held-out digit")
        text = f"Step {t + 1} of {d.steps}, drawing {what}."
        if d.write is not None:
            cx, cy, delta, sigma, _ = d.write[i, t]
            text += (f" Write window: centre ({cx:.1f}, {cy:.1f}), {d.write_size} x "
                     f"{d.write_size} filters {delta:.1f} px apart, sigma {sigma:.1f} px.")
        if d.read is not None:
            cx, cy, delta, sigma, _ = d.read[i, t]
            text += (f" Read window: centre ({cx:.1f}, {cy:.1f}), {d.read_size} x "
                     f"{d.read_size} filters {delta:.1f} px apart.")
        if d.kl_steps is not None:
            text += f" This step's z carries {d.kl_steps[i, t]:.1f} nats (KL)."
        return text

    # ------------------------------------------------------------ the animation
    def set_playing(self, playing: bool) -> None:
        self.drawing.play.setText("Pause" if playing else "Play")
        if playing:
            self.timer.start()
        else:
            self.timer.stop()

    def advance(self) -> None:
        d = self.current()
        if d is None:
            return
        slider = self.drawing.slider
        if slider.value() < d.steps:
            slider.setValue(slider.value() + 1)
        elif self._hold < HOLD_FRAMES:
            self._hold += 1
        else:
            self._hold = 0
            slider.setValue(1)

    def shutdown(self) -> bool:
        self.timer.stop()
        return super().shutdown()


if __name__ == "__main__":
    from app.main_window import run_standalone

    run_standalone(DRAWTab)
