"""The K-means tab: a dictionary of image patches learnt by clustering, images described by
it and classified, your own digit classified, and the study grid of the paper.

Run alone with `python -m app.tabs.kmeans`.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QGridLayout, QHeaderView, QLabel, QPushButton,
                               QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from app.tabs.base import FamilyTab
from app.widgets.canvas import DrawingCanvas
from app.widgets.images import ImageGrid, ProbabilityBars
from app.widgets.plots import (DASHED, LINE, ConfusionMatrix, add_key, key_entry,
                               set_key)
from nets.images import mnist_style
from nets.families import kmeans as km
from nets.patches import form_note
from nets.progress import Artifact, ImageEvent

ABOUT = """<h3>Dictionary learning with K-means</h3>
<p>Before any neural network: cut thousands of small W x W patches out of the training
images, normalise each one's brightness and contrast, optionally <b>whiten</b> them (ZCA:
decorrelate neighbouring pixels so that K-means cannot just model how smooth images
are), and cluster them with K-means. The K centroids are the <b>dictionary</b>: the
patch shapes that keep coming back. Whitened, they look like oriented edges and bars.</p>
<p><b>Inertia</b>, the curve drawn while K-means runs, is the mean squared distance from
each patch to its nearest centroid: how badly the dictionary explains the patches. It
falls as K-means runs. It also always falls as K grows (with one centroid per patch it
would be 0), so it cannot tell you which K to use. Choose K by what the dictionary is for:
the held-out accuracy of the classifier built on it, which the <b>Study</b> view measures
for every K you list.</p>
<p>To describe an image, every patch (a step of S pixels apart) is compared with every
centroid. <b>Hard</b> encoding marks only the nearest one; <b>triangle</b> encoding gives
f<sub>k</sub> = max(0, mean(z) - z<sub>k</sub>), where z<sub>k</sub> is the distance to
centroid k: every centroid closer than average counts, by how much. Summing these over the
four quadrants of the image gives 4K numbers, and a plain linear classifier learns the
classes from them.</p>
<p>Coates, Lee and Ng (2011) ran this pipeline on CIFAR-10 photos: with K&nbsp;=&nbsp;4,000
centroids (16,000 pooled features per image) and triangle encoding it reached 79.6%, the
best result then; on those photos more centroids helped, triangle beat hard and whitening
helped. They clustered with full-batch K-means from random starting centroids. This tab
uses mini-batch K-means (Sculley 2010), quicker on 100,000 patches, started by default with
k-means++ (Arthur &amp; Vassilvitskii 2007); a <i>K-means batch</i> at least as large as the
number of patches gives full-batch passes.</p>
<p>The <b>study</b> mode runs their comparison on your data. On the bundled digits, one
run with the default settings (4,000 training and 1,000 held-out digits) found: more
centroids help up to about K&nbsp;=&nbsp;200 (hard encoding, no whitening: 97.0% at
K&nbsp;=&nbsp;50, 98.5% at 200, 98.7% at 800); hard encoding did as well as triangle or
better (98.7% against 97.2% at K&nbsp;=&nbsp;800); whitening changed little, and at
K&nbsp;=&nbsp;50 it cost hard encoding more than a point. With 1,000 held-out digits,
differences under about a point can be chance. Strokes on a blank page are not natural
photos.</p>
<p><b>Try this</b>: set Mode to <i>study</i> and compare the four curves; train with
K&nbsp;=&nbsp;50 and with K&nbsp;=&nbsp;800 and compare their inertia and their held-out
accuracy; untick ZCA whitening and look at the centroids; choose the sample photos and see
edge-like centroids appear; draw a digit in the Classify view.</p>
<p><b>Papers</b>: Coates, Lee &amp; Ng 2011, <i>An analysis of single-layer networks in
unsupervised feature learning</i> (AISTATS); Sculley 2010, <i>Web-scale k-means
clustering</i> (WWW); Arthur &amp; Vassilvitskii 2007, <i>k-means++: the advantages of
careful seeding</i> (SODA).</p>"""


def classify_job(model, drawing: np.ndarray):
    """Runs in the background: drawing -> (digit, class probabilities)."""
    digit = mnist_style(drawing)
    if digit is None:
        return None
    return digit, np.asarray(model(digit[None, ..., None]))[0]


class DictionaryView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        v = QVBoxLayout(self)
        self.whitened = QCheckBox("Show as K-means sees them (whitened)")
        self.whitened.setToolTip("Centroids live in the whitened space. Un-whitened they "
                                 "look like image patches; whitened, edges stand out.")
        v.addWidget(self.whitened)
        self.grid = ImageGrid(note="The centroids appear here while K-means runs.")
        v.addWidget(self.grid, 1)
        self.images: dict[str, ImageEvent] = {}
        self.whitened.toggled.connect(self.refresh)

    def set_event(self, event: ImageEvent) -> None:
        self.images[event.name] = event
        self.refresh()

    def refresh(self, *_):
        name = "centroids_whitened" if (self.whitened.isChecked() and
                                        "centroids_whitened" in self.images) else "centroids"
        if name in self.images:
            e = self.images[name]
            self.grid.set_images(e.images, note=e.note)


class ClassifyView(QWidget):
    """Held-out accuracy and confusion matrix; your own digit classified."""

    def __init__(self, parent=None):
        super().__init__(parent)
        grid = QGridLayout(self)
        self.summary = QLabel("Train a model: its held-out accuracy and confusion matrix "
                              "appear here.")
        self.summary.setWordWrap(True)
        grid.addWidget(self.summary, 0, 0, 1, 2)
        self.confusion = ConfusionMatrix()
        grid.addWidget(self.confusion, 1, 0, 2, 1)
        draw_box = QVBoxLayout()
        self.canvas_note = QLabel("Draw a digit: the K-means features and the linear "
                                  "classifier guess it.")
        self.canvas_note.setWordWrap(True)
        draw_box.addWidget(self.canvas_note)
        self.canvas = DrawingCanvas(size=200, pen_width=14)
        draw_box.addWidget(self.canvas, 0, Qt.AlignmentFlag.AlignHCenter)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.canvas.clear)
        draw_box.addWidget(clear)
        self.bars = ProbabilityBars([str(d) for d in range(10)])
        self.bars.setMinimumHeight(160)
        draw_box.addWidget(self.bars, 1)
        grid.addLayout(draw_box, 1, 1)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)


class StudyView(QWidget):
    COLUMNS = [(e, w) for w in (False, True) for e in km.ENCODINGS]
    COLOURS = {("triangle", True): (255, 140, 40), ("hard", True): (80, 140, 255),
               ("triangle", False): (255, 200, 120), ("hard", False): (150, 190, 255)}

    def __init__(self, parent=None):
        super().__init__(parent)
        v = QVBoxLayout(self)
        self.note = QLabel("Set Mode to <b>study</b> and press Start: every K you list is "
                           "tried with hard and triangle encoding, with and without "
                           "whitening, each scored on held-out images. This is how to choose "
                           "K: the inertia always falls as K grows, while the held-out "
                           "accuracy levels off.")
        self.note.setWordWrap(True)
        v.addWidget(self.note)
        split = QSplitter(Qt.Orientation.Vertical)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(
            [f"{e}{', whitened' if w else ''}" for e, w in self.COLUMNS])
        self.table.setToolTip("Held-out accuracy of each combination.")
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        split.addWidget(self.table)
        self.plot = pg.PlotWidget(title="Held-out accuracy against K")
        self.plot.setLogMode(x=True)
        self.plot.setLabel("bottom", "K (clusters)")
        self.plot.setLabel("left", "held-out accuracy (%)")
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.curves = {}
        entries = []
        for e, w in self.COLUMNS:
            colour = self.COLOURS[(e, w)]
            self.curves[(e, w)] = self.plot.plot(
                pen=pg.mkPen(colour, width=2, style=Qt.PenStyle.SolidLine if w
                             else Qt.PenStyle.DashLine),
                symbol="o", symbolBrush=colour)
            entries.append(key_entry(f"{e}{' + ZCA' if w else ''}", colour,
                                     LINE if w else DASHED))
        # under the plot: a legend on it would sit on the small-K points
        self.key = add_key(self.plot.getPlotItem())
        set_key(self.key, entries, columns=2)
        split.addWidget(self.plot)
        v.addWidget(split, 1)
        self.rows: list[dict] = []

    def add_row(self, row: dict) -> None:
        self.set_rows(self.rows + [row])

    def set_rows(self, rows: list[dict]) -> None:
        self.rows = list(rows)
        ks = sorted({r["K"] for r in self.rows})
        self.table.setRowCount(len(ks))
        self.table.setVerticalHeaderLabels([f"K = {k}" for k in ks])
        for i, k in enumerate(ks):
            for j, (e, w) in enumerate(self.COLUMNS):
                hit = [r for r in self.rows if (r["K"], r["encoding"], r["whiten"]) == (k, e, w)]
                item = QTableWidgetItem(f"{hit[0]['accuracy']:.1%}" if hit else "")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(i, j, item)
        for (e, w), curve in self.curves.items():
            pts = sorted((r["K"], r["accuracy"]) for r in self.rows
                         if r["encoding"] == e and r["whiten"] == w)
            curve.setData([p[0] for p in pts], [100 * p[1] for p in pts])
        # a tick at each K tried (in log mode tick positions are log10 K): the automatic
        # ones crowd into "5·10 6·10 7·10" between the powers of ten
        self.plot.getAxis("bottom").setTicks(
            [[(math.log10(k), str(k)) for k in ks]] if ks else None)


class KMeansTab(FamilyTab):
    def __init__(self, parent=None):
        super().__init__("kmeans", parent)
        self.dictionary = DictionaryView()
        self.panel.add_view(self.dictionary, "Dictionary", "The learnt centroids, live")
        self.classify = ClassifyView()
        self.panel.add_view(self.classify, "Classify", "Held-out results; draw a digit")
        self.study = StudyView()
        self.panel.add_view(self.study, "Study", "Accuracy for each K, encoding and "
                                                 "whitening")
        self.add_about(ABOUT)
        self.model = None  # a finished or loaded model with a trained classifier
        self.classifier = self.runner("kmeans-classify", self._show_guess)
        self.panel.events.connect(self._on_events)
        self.panel.finished.connect(self._on_finished)
        self.panel.loaded.connect(self._on_loaded)
        self.classify.canvas.changed.connect(self.request_guess)
        # when the patch size caps the number of patches
        self.patches_note = self.panel.add_live_note(
            lambda config, key: form_note(config.patch_size, config.patches, key))

    def _on_events(self, batch: list) -> None:
        for event in batch:
            if isinstance(event, ImageEvent) and event.name.startswith("centroids"):
                self.dictionary.set_event(event)
            elif isinstance(event, Artifact):
                if event.name == "confusion":
                    self._show_confusion(*event.value)
                elif event.name == "study_row":
                    if not self.study.rows:
                        self.panel.views.setCurrentWidget(self.study)
                    self.study.add_row(event.value)
                elif event.name == "study":
                    self.study.set_rows(event.value)

    def _show_confusion(self, matrix, names, accuracy) -> None:
        self.classify.confusion.set_matrix(matrix, names)
        self.classify.summary.setText(
            f"Held-out accuracy <b>{accuracy:.1%}</b> on {int(matrix.sum()):,} images the "
            "classifier never saw.")

    def _on_finished(self, done) -> None:
        if done.result is not None:
            self._use(done.result)

    def _on_loaded(self, trained) -> None:
        model = trained.model
        self.dictionary.set_event(ImageEvent("centroids", km.dictionary_images(model),
                                             note="Centroids of the loaded model."))
        self.dictionary.set_event(ImageEvent("centroids_whitened",
                                             km.dictionary_images(model, whitened=True),
                                             note="Centroids of the loaded model, whitened."))
        accuracy = trained.meta.get("accuracy")
        self.classify.summary.setText(
            f"Loaded model: held-out accuracy {accuracy:.1%} when it was trained."
            if isinstance(accuracy, float) else "Loaded model.")
        self._use(trained)

    def _use(self, trained) -> None:
        """Make a finished or loaded model the one that classifies drawings."""
        meta = trained.meta
        usable = (meta.get("classifier_trained") and tuple(meta.get("input_shape", ())) ==
                  (28, 28, 1) and trained.model.classifier is not None)
        self.model = trained.model if usable else None
        if usable:
            self.classify.bars.set_names([str(c) for c in meta.get("classes", [])])
            self.classify.canvas_note.setText("Draw a digit: the K-means features and the "
                                              "linear classifier guess it.")
            self.request_guess()
        else:
            self.classify.canvas_note.setText(
                "Drawing works with a model trained to the end on 28x28 greyscale digits; "
                "this one is not (different data, or stopped before the classifier).")

    def request_guess(self, *_):
        if self.model is None or self.classify.canvas.is_empty():
            self.classify.bars.set_probabilities(np.zeros(len(self.classify.bars.names)))
            return
        self.classifier.submit(classify_job, self.model, self.classify.canvas.array())

    def _show_guess(self, _tag, value) -> None:
        if value is not None:
            self.classify.bars.set_probabilities(value[1])


if __name__ == "__main__":
    from app.main_window import run_standalone

    run_standalone(KMeansTab)
