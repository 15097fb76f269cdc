"""The sparse coding tab: the learnt atoms, and any image (picked or drawn) taken apart into
a sparse sum of them, with a lambda slider and the cost of coding by optimisation.

Run alone with `python -m app.tabs.sparse_coding`.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QGridLayout, QHBoxLayout, QLabel, QPushButton, QSlider,
                               QVBoxLayout, QWidget)

from app.tabs.base import FamilyTab
from app.widgets.canvas import DrawingCanvas
from app.widgets.images import ImageGrid
from nets.images import mnist_style
from nets import data as datasets
from nets.families import sparse_coding as sc
from nets.patches import form_note
from nets.progress import Artifact, ImageEvent

ABOUT = """<h3>Sparse coding</h3>
<p>The idea (Olshausen &amp; Field 1996): every image (or image patch) x is a sum of a few
<b>atoms</b> from a learnt dictionary, x = a<sub>1</sub>&phi;<sub>1</sub> + ... +
a<sub>k</sub>&phi;<sub>k</sub>, where most coefficients a<sub>i</sub> are exactly zero.
Learning alternates two steps: with the atoms fixed, find each input's coefficients by
minimising ||x - &Sigma; a<sub>i</sub>&phi;<sub>i</sub>||<sup>2</sup> + &lambda; &Sigma;
|a<sub>i</sub>|; with the coefficients fixed, move the atoms to fit better.</p>
<p><b>Finding the codes</b> (FISTA, Beck &amp; Teboulle 2009). Each iteration takes a
gradient step of size 1/L on the squared error (L bounds how fast that gradient can
change), then <i>soft-thresholds</i>: every coefficient is shrunk towards zero by
&lambda;/L, and those smaller than &lambda;/L become exactly zero. That alone is ISTA.
FISTA adds momentum: each step starts from a point pushed further along the last move,
which reaches the minimum in far fewer iterations.</p>
<p><b>Learning the atoms</b> (Mairal et al. 2009): each atom in turn moves to its
least-squares best, given the others and the codes seen so far, then is rescaled to unit
length. Why unit length? Without a limit the penalty could be dodged: an atom twice as long
with half the coefficient draws the same picture at half the penalty, so atoms would grow
without end while the codes shrink towards zero. Mairal et al. keep atoms inside the unit
ball (length at most 1); this tab puts them on its surface (length exactly 1). Atoms in
use end up there either way, since a longer atom lets its coefficient, and the penalty,
be smaller.</p>
<p><b>K-means is the special case</b> of one atom per input: each x is drawn as a single
centroid with coefficient 1 (and centroids are not rescaled to unit length). Sparse coding
lets a few atoms, each with its own weight, share the work.</p>
<p>&lambda; trades accuracy for sparsity: larger &lambda;, fewer atoms, rougher picture.
Move the slider in <b>Code an image</b> to feel it.</p>
<p>The catch the course points out: coding a <i>new</i> image is itself an optimisation,
run for every image, while an autoencoder's encoder is one matrix product. The timing
under the slider measures both on this computer.</p>
<p><b>Try this</b>: move the &lambda; slider and watch atoms drop out of the code and the
picture coarsen; slide it to the far left (&lambda; = 0, plain least squares) and see the
code fill up; draw a digit and see which atoms it is made of; choose the sample photos
with a patch size of 8 and compare their atoms with the digits'.</p>
<p><b>Papers</b>: Olshausen &amp; Field 1996, <i>Emergence of simple-cell receptive field
properties by learning a sparse code for natural images</i> (Nature); Beck &amp; Teboulle
2009, <i>A fast iterative shrinkage-thresholding algorithm for linear inverse problems</i>
(SIAM J. Imaging Sciences); Mairal, Bach, Ponce &amp; Sapiro 2009, <i>Online dictionary
learning for sparse coding</i> (ICML), and Mairal et al. 2010, <i>Online learning for
matrix factorization and sparse coding</i> (JMLR).</p>"""

LAMBDA_MIN, LAMBDA_MAX, STEPS = 1e-3, 10.0, 400


def slider_to_lambda(v: int) -> float:
    """0 -> lambda = 0 (least squares); 1..STEPS -> log scale from LAMBDA_MIN to LAMBDA_MAX."""
    if v <= 0:
        return 0.0
    span = math.log10(LAMBDA_MAX / LAMBDA_MIN)
    return LAMBDA_MIN * 10 ** (span * (v - 1) / (STEPS - 1))


def lambda_to_slider(lam: float) -> int:
    if lam <= 0:
        return 0
    span = math.log10(LAMBDA_MAX / LAMBDA_MIN)
    v = 1 + (STEPS - 1) * math.log10(max(lam, LAMBDA_MIN) / LAMBDA_MIN) / span
    return int(round(min(max(v, 1), STEPS)))


SWEEP = np.array([0.0] + list(np.geomspace(LAMBDA_MIN, LAMBDA_MAX, 25)), np.float32)


# Background jobs return the dictionary they used: a result that arrives after the
# dictionary changed is dropped.
def code_job(model, config, patch: np.ndarray, lam: float):
    return model, sc.code_image(model, config, patch, lam)


def sweep_job(model, config, patch: np.ndarray):
    return model, sc.sparsity_sweep(model, config, patch, SWEEP)


def timing_job(model, config):
    return model, sc.encoding_times(model, config)


def samples_job(key: str, size: int):
    ds = datasets.load(key)
    source = ds.x_val if len(ds.x_val) else ds.x_train
    return sc.training_patches(source, size, 64, np.random.default_rng(1)).reshape(
        -1, size, size)


class StemPlot(pg.PlotWidget):
    """The code a_i as stems: one vertical line per atom, from 0 to its coefficient."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setTitle("The code: a_i per atom")
        self.setLabel("bottom", "atom i")
        self.setLabel("left", "a_i")
        self.getAxis("left").enableAutoSIPrefix(False)  # "a_i (x0.001)" reads as a typo
        self.setMouseEnabled(False, False)
        self.stems = self.plot(pen=pg.mkPen((90, 130, 220), width=1.5), connect="pairs")
        self.heads = pg.ScatterPlotItem(size=5, brush=pg.mkBrush(255, 160, 40), pen=None)
        self.addItem(self.heads)
        self.setToolTip("Most coefficients are exactly zero: that is what sparse means.")

    def set_code(self, code: np.ndarray) -> None:
        i = np.arange(len(code))
        self.stems.setData(np.repeat(i, 2), np.stack([np.zeros_like(code), code], 1).ravel())
        on = np.abs(code) > sc.ACTIVE
        self.heads.setData(i[on], code[on])
        self.setXRange(-1, len(code), padding=0)


class CodeView(QWidget):
    """Pick or draw an image; see it coded, rebuilt, and the cost of sparsity."""

    def __init__(self, parent=None):
        super().__init__(parent)
        grid = QGridLayout(self)
        self.samples = ImageGrid(note="Pick an image:")
        self.samples.setToolTip("Click an image to code it.")
        grid.addWidget(self.samples, 0, 0)
        draw = QVBoxLayout()
        draw.addWidget(QLabel("… or draw one:"))
        self.canvas = DrawingCanvas(size=150, pen_width=11)
        draw.addWidget(self.canvas)
        clear = QPushButton("Clear drawing")
        clear.clicked.connect(self.canvas.clear)
        draw.addWidget(clear)
        draw.addStretch(1)
        grid.addLayout(draw, 0, 1)
        self.pair = ImageGrid(note="It and Σ a_i φ_i:")
        self.top = ImageGrid(note="Strongest atoms; a_i:\n")
        grid.addWidget(self.pair, 0, 2)
        grid.addWidget(self.top, 0, 3)
        for w in (self.samples, self.pair, self.top):
            w.setMinimumSize(150, 190)
            w.setMaximumHeight(240)

        slider_row = QHBoxLayout()
        slider_row.addWidget(QLabel("λ"))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, STEPS)
        self.slider.setToolTip("The sparsity penalty λ used to code this image (far left: "
                               "0, plain least squares). The image is re-coded as you "
                               "move it.")
        slider_row.addWidget(self.slider, 1)
        self.lam_label = QLabel()
        self.lam_label.setMinimumWidth(90)
        slider_row.addWidget(self.lam_label)
        grid.addLayout(slider_row, 1, 0, 1, 4)
        self.status = QLabel("Train or load a dictionary, then pick or draw an image.")
        self.status.setWordWrap(True)
        grid.addWidget(self.status, 2, 0, 1, 4)

        self.stems = StemPlot()
        self.tradeoff = pg.PlotWidget(title="Sparsity vs error")
        self.tradeoff.setLabel("bottom", "active atoms")
        self.tradeoff.setLabel("left", "error per pixel")
        self.tradeoff.getAxis("left").enableAutoSIPrefix(False)
        self.tradeoff.setMouseEnabled(False, False)
        self.tradeoff_curve = self.tradeoff.plot(pen=pg.mkPen((150, 150, 200), width=1),
                                                 symbol="o", symbolSize=4)
        self.tradeoff_here = pg.ScatterPlotItem(size=12, brush=pg.mkBrush(255, 160, 40))
        self.tradeoff.addItem(self.tradeoff_here)
        self.tradeoff.setToolTip("Each point is this image coded with a different λ: fewer "
                                 "active atoms cost reconstruction error. The orange dot is "
                                 "the slider's λ.")
        for plot in (self.stems, self.tradeoff):
            plot.setMinimumWidth(120)  # share the row evenly, whatever the titles ask
        grid.addWidget(self.stems, 3, 0, 1, 2)
        grid.addWidget(self.tradeoff, 3, 2, 1, 2)
        self.timing = QLabel()
        self.timing.setWordWrap(True)
        grid.addWidget(self.timing, 4, 0, 1, 4)
        for c in range(4):
            grid.setColumnStretch(c, 1)
        grid.setRowStretch(3, 1)


class SparseCodingTab(FamilyTab):
    def __init__(self, parent=None):
        super().__init__("sparse_coding", parent)
        self.atoms = ImageGrid(note="The atoms appear here while they are learnt.")
        self.panel.add_view(self.atoms, "Atoms", "The learnt dictionary, live")
        self.code = CodeView()
        self.panel.add_view(self.code, "Code an image", "x = Σ a_i φ_i for your image")
        self.add_about(ABOUT)

        self.model = None  # the finished or loaded dictionary
        self.config: sc.Config | None = None
        self.sample_images: np.ndarray | None = None
        self.patch: np.ndarray | None = None  # (1, d) pixels being coded
        self.sweep = None
        self.coded: sc.Coded | None = None
        self.coder = self.runner("sparse-code", self._show_code)
        self.sweeper = self.runner("sparse-sweep", self._show_sweep)
        self.timer = self.runner("sparse-timing", self._show_timing)
        self.sampler = self.runner("sparse-samples", self._show_samples)

        self.code.slider.setValue(lambda_to_slider(sc.Config().sparsity))
        self._show_lambda()
        self.code.slider.valueChanged.connect(self._lambda_moved)
        self.code.samples.tile_clicked.connect(self.pick_sample)
        self.code.canvas.changed.connect(self._drawn)
        self.panel.events.connect(self._on_events)
        self.panel.finished.connect(self._on_finished)
        self.panel.loaded.connect(self._on_loaded)
        # when the patch size caps the number of patches
        self.patches_note = self.panel.add_live_note(
            lambda config, key: form_note(config.patch_size, config.patches, key))

    # ------------------------------------------------------------ training events
    def _on_events(self, batch: list) -> None:
        latest = {}
        for event in batch:
            if isinstance(event, (ImageEvent, Artifact)):
                latest[event.name] = event
        if "atoms" in latest:
            self.atoms.set_images(latest["atoms"].images, note="Atoms φ_i, each scaled to "
                                  "its own range (grey is zero for centred data).")
        if "samples" in latest:
            self._set_samples(latest["samples"].value)

    def _set_samples(self, images: np.ndarray) -> None:
        self.sample_images = images
        self.code.samples.set_images(images)

    def _on_finished(self, done) -> None:
        if done.result is not None:
            self._use(done.result)

    def _on_loaded(self, trained) -> None:
        size = trained.model.atoms.shape[1]
        size = int(round(math.sqrt(size)))
        self.atoms.set_images(sc.atom_images(np.asarray(trained.model.atoms), size),
                              note="Atoms of the loaded dictionary.")
        key = trained.meta.get("dataset")
        if isinstance(key, str):
            self.sampler.submit(samples_job, key, size)
        self._use(trained)

    def _use(self, trained) -> None:
        from nets.config import from_dict

        self.model = trained.model
        self.config = from_dict(sc.Config, trained.meta.get("config", {}))
        if self.patch is not None and self.patch.shape[1] != self.config.patch_size ** 2:
            self.patch = None  # picked for another dictionary
        self.code.slider.blockSignals(True)  # one request below, with the new dictionary
        self.code.slider.setValue(lambda_to_slider(self.config.sparsity))
        self.code.slider.blockSignals(False)
        self._show_lambda()
        self.code.timing.setText("Timing the coding of one image …")
        self.timer.submit(timing_job, self.model, self.config)
        if self.patch is None and self.sample_images is not None and len(self.sample_images):
            self.pick_sample(0)
        else:
            self._patch_changed()

    # ------------------------------------------------------------ choosing an image
    def pick_sample(self, index: int) -> None:
        if self.sample_images is None or self.config is None:
            return
        image = self.sample_images[index]
        self.patch = sc.as_patch(image, self.config.patch_size)
        self._patch_changed()

    def _drawn(self) -> None:
        if self.config is None:
            return
        digit = mnist_style(self.code.canvas.array())
        if digit is None:
            return
        self.patch = sc.as_patch(digit, self.config.patch_size)
        self._patch_changed()

    def _patch_changed(self) -> None:
        if self.model is None or self.patch is None:
            return
        self.sweeper.submit(sweep_job, self.model, self.config, self.patch)
        self._request_code()

    # ------------------------------------------------------------ lambda
    def lam(self) -> float:
        return slider_to_lambda(self.code.slider.value())

    def _show_lambda(self) -> None:
        self.code.lam_label.setText(f"λ = {self.lam():.4g}")

    def _lambda_moved(self, *_):
        self._show_lambda()
        self._request_code()

    def _request_code(self) -> None:
        if self.model is not None and self.patch is not None:
            self.coder.submit(code_job, self.model, self.config, self.patch, self.lam())

    # ------------------------------------------------------------ results
    def _show_code(self, _tag, value) -> None:
        model, coded = value
        if model is not self.model:
            return
        self.coded = coded
        size = self.config.patch_size
        original = coded.image
        lo, hi = min(original.min(), coded.reconstruction.min()), \
            max(original.max(), coded.reconstruction.max(), 1e-6)
        pair = (np.stack([original, coded.reconstruction]) - lo) / max(hi - lo, 1e-6)
        roomy = size >= 20  # captions only fit on tiles that are not tiny
        self.code.pair.set_images(pair, captions=("image", "rebuilt") if roomy else (),
                                  columns=2)
        self.code.stems.set_code(coded.code)
        atoms = np.asarray(self.model.atoms)
        order = np.argsort(-np.abs(coded.code))[:min(8, coded.active)]
        weights = [f"{coded.code[i]:+.2f}" for i in order]
        # the weights go in the note: captions would overlap on tiles this small
        self.code.top.set_images(sc.atom_images(atoms[order], size) if len(order) else
                                 np.zeros((0, size, size)), columns=4,
                                 note="Strongest atoms; a_i:\n" + " ".join(weights))
        self.code.status.setText(
            f"λ = {self.lam():.4g}: <b>{coded.active}</b> of {len(coded.code)} atoms "
            f"active, reconstruction error {coded.error:.5f} per pixel. Coded in "
            f"{coded.seconds * 1000:.1f} ms ({self.config.coding_iterations} FISTA "
            "iterations).")
        self._mark_tradeoff()

    def _show_sweep(self, _tag, value) -> None:
        model, sweep = value
        if model is not self.model:
            return
        self.sweep = sweep
        active, error = sweep
        self.code.tradeoff_curve.setData(active, error)
        self._mark_tradeoff()

    def _mark_tradeoff(self) -> None:
        if self.coded is not None:
            self.code.tradeoff_here.setData([self.coded.active], [self.coded.error])

    def _show_timing(self, _tag, value) -> None:
        model, times = value
        if model is not self.model:
            return
        t_sc, t_ae = times["sparse_coding"], times["autoencoder"]
        self.code.timing.setText(
            f"<b>The cost of optimisation:</b> coding one image here takes "
            f"{t_sc * 1000:.2f} ms ({times['iterations']} FISTA iterations, median of "
            f"30); one forward pass of an autoencoder encoder with the same code size "
            f"({self.config.atoms} units) takes {t_ae * 1000:.2f} ms: "
            f"{t_sc / max(t_ae, 1e-9):.0f}x faster. (A forward pass costs the same "
            "whatever its weights are.)")

    def _show_samples(self, _tag, images) -> None:
        self._set_samples(images)
        if self.patch is None:
            self.pick_sample(0)


if __name__ == "__main__":
    from app.main_window import run_standalone

    run_standalone(SparseCodingTab)
