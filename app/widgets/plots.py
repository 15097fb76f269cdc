"""Live training plots: per-batch loss (raw and smoothed), per-epoch metrics, and the
colours and keys every plot of the app shares.

Items are built once and updated in place with setData; long histories are downsampled
and clipped to the view, so a redraw stays cheap however long training runs. Keys
(legends) sit outside the data: a row under the x axis or a column beside the plot.
"""
from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

SMOOTHING = 0.9  # weight of the past in the exponential moving average

# Training blue and validation orange: a pair that stays apart in every common kind of
# colour-vision deficiency; validation also differs in symbol and dash.
COLOURS = {"train": (80, 140, 255), "val": (255, 140, 40)}
BATCH_COLOUR = (150, 150, 190)  # the faint per-batch line, as its key shows it

# One colour per class: Matthew Petroff's ten-colour sequence, chosen by a survey to stay
# distinguishable with colour-vision deficiency (M. A. Petroff, "Accessible Color
# Sequences for Data Visualization", arXiv:2107.02270, 2021; matplotlib's "petroff10").
CLASS_COLOURS = ("#3f90da", "#ffa90e", "#bd1f01", "#94a4a2", "#832db6", "#a96b59",
                 "#e76300", "#b9ac70", "#717581", "#92dadd")


def class_colour(index: int, classes: int = len(CLASS_COLOURS)):
    """The colour of class `index`: the palette above for up to ten classes; beyond ten
    no palette stays distinguishable, so evenly spaced hues (the key names them)."""
    if classes <= len(CLASS_COLOURS):
        return pg.mkColor(CLASS_COLOURS[index % len(CLASS_COLOURS)])
    return pg.intColor(index, hues=classes)


LINE = "━━"  # a key's mark for a line
DASHED = "╍╍"  # ... and for a dashed one


def key_entry(text: str, colour, mark: str = "●") -> str:
    """One entry of a key: a coloured mark (●, ■, LINE ...) and its text, as HTML."""
    c = pg.mkColor(colour)
    return (f"<span style='color:{c.name()}'>{mark}</span>&nbsp;"
            f"<span style='color:#c8c8c8'>{html.escape(text)}</span>")


def add_key(plot: pg.PlotItem, side: str = "bottom") -> pg.LabelItem:
    """A key (legend) outside the data: under the x axis ("bottom") or right of the plot
    ("right"), in cells of the plot's own layout that pyqtgraph leaves empty. Fill it
    with set_key. A legend inside the view box would cover the curves."""
    key = pg.LabelItem("", size="9pt", justify="center" if side == "bottom" else "left")
    if side == "bottom":
        plot.layout.addItem(key, 4, 1)
    else:
        plot.layout.addItem(key, 2, 3)
    return key


def set_key(key: pg.LabelItem, entries: list[str], columns: int | None = None) -> None:
    """Entries from key_entry: on one row (columns=None) or `columns` to a row."""
    if columns is None:
        text = "&nbsp;&nbsp;&nbsp;".join(entries)
    else:
        rows = [entries[i:i + columns] for i in range(0, len(entries), columns)]
        text = "<br>".join("&nbsp;&nbsp;&nbsp;".join(r) for r in rows)
    key.setText(text)


def _curve(plot: pg.PlotItem, **kwargs) -> pg.PlotDataItem:
    c = plot.plot(**kwargs)
    c.setDownsampling(auto=True, method="peak")
    c.setClipToView(True)
    return c


class GrowingArray:
    """Amortised O(1) append for plot data (numpy arrays, no list-to-array per redraw)."""

    def __init__(self):
        self._a = np.zeros(1024)
        self.n = 0

    def append(self, v: float) -> None:
        if self.n == len(self._a):
            self._a = np.resize(self._a, 2 * len(self._a))
        self._a[self.n] = v
        self.n += 1

    def view(self) -> np.ndarray:
        return self._a[:self.n]

    def clear(self) -> None:
        self.n = 0


class BatchLossPlot(pg.PlotWidget):
    """Loss of each batch (faint) and its exponential moving average (bold)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setTitle("Loss per batch")
        self.setLabel("bottom", "step")
        # No grid: grid lines belong to the axes, so with a grid every curve update also
        # repaints both axes' text (about 3 ms each on a 2-core machine without a GPU).
        self.raw = _curve(self.getPlotItem(), pen=pg.mkPen((*BATCH_COLOUR, 90)))
        self.smooth = _curve(self.getPlotItem(), pen=pg.mkPen(COLOURS["train"], width=2))
        self.key = add_key(self.getPlotItem())
        set_key(self.key, [key_entry("each batch", BATCH_COLOUR, LINE),
                           key_entry("moving average", COLOURS["train"], LINE)])
        self.setToolTip("The training loss of every batch (faint) and its moving average "
                        "(bold). For most models it falls as they learn, and a jagged faint "
                        "line is normal. Not for all: a stacked autoencoder's loss jumps at "
                        "each new stage (the dashed lines), and a Q-learner's loss can rise "
                        "while it gets better.")
        self.steps, self.values, self.smoothed = GrowingArray(), GrowingArray(), GrowingArray()
        self.marks: list[pg.InfiniteLine] = []
        self._extent: list[int] | None = None  # [first step, window end, last step]
        self._ema = 0.0
        self._count = 0

    def clear_data(self, marks: bool = True) -> None:
        for a in (self.steps, self.values, self.smoothed):
            a.clear()
        self._ema, self._count = 0.0, 0
        if marks:
            for line in self.marks:
                self.removeItem(line)
            self.marks = []
        self._extent = None
        self.setXRange(0, 1, padding=0)  # no axes left over from the last run or model
        self.enableAutoRange(y=True)
        self.refresh()

    def mark(self, step: float, text: str) -> None:
        """A labelled vertical line: where a stage of a staged run began."""
        line = pg.InfiniteLine(step, angle=90, pen=pg.mkPen((200, 200, 200), dash=[4, 4]),
                               label=text, labelOpts={"position": 0.9, "color": (220, 220, 220)})
        self.addItem(line)
        self.marks.append(line)

    # The x axis follows the data, not the planned run (a 10M-step run would leave 50k
    # steps of curve invisible), yet changes rarely: its window doubles when the data
    # nears its end, so the axis text is redrawn a few times per run, not every update.
    FIRST_WINDOW = 2000

    def set_extent(self, first_step: int, total_steps: int) -> None:
        """A run from first_step to total_steps begins: show its first steps."""
        # plain ints: a numpy float32 here makes pyqtgraph's range checks overflow
        first, total = int(first_step), max(int(total_steps), int(first_step) + 1)
        self._extent = [first, min(total, first + self.FIRST_WINDOW), total]
        self.setXRange(first, self._extent[1], padding=0.02)

    def _follow(self, step: float) -> None:
        first, end, total = self._extent
        if step <= first + 0.95 * (end - first) or end >= total:
            return
        while step > first + 0.95 * (end - first) and end < total:
            end = min(total, first + 2 * (end - first))
        self._extent[1] = end
        self.setXRange(first, end, padding=0.02)

    def add(self, step: int, loss: float) -> None:
        loss = float(loss)
        if not math.isfinite(loss):  # would poison the moving average for good
            return
        # bias-corrected moving average: the start is not dragged towards zero
        self._count += 1
        self._ema = SMOOTHING * self._ema + (1 - SMOOTHING) * loss
        self.steps.append(step)
        self.values.append(loss)
        self.smoothed.append(self._ema / (1 - SMOOTHING ** self._count))

    def refresh(self) -> None:
        x = self.steps.view()
        self.raw.setData(x, self.values.view())
        self.smooth.setData(x, self.smoothed.view())
        if self._extent is not None and len(x):
            self._follow(float(x[-1]))


class EpochAxis(pg.AxisItem):
    """An epoch axis: ticks on whole epochs only (no 1.5th epoch)."""

    def tickSpacing(self, minVal, maxVal, size):
        levels = [(s, o) for s, o in super().tickSpacing(minVal, maxVal, size) if s >= 1]
        return levels or [(1.0, 0.0)]


def metric_name(key: str) -> str:
    return key.removeprefix("val_").replace("_", " ")


class EpochPlots(QWidget):
    """Per-epoch metrics (loss, accuracy, ...): one plot per metric, with its training and
    held-out validation curves and their key under the plot.

    One metric fills the space. With more, a tab per metric chooses which one is shown:
    every plot keeps the full height (stacked, three of them were about 80 px tall each).
    A plot is created the first time its metric appears, then only updated; a run that
    starts new metrics (the next stage of a staged run) brings their plot to the front.
    """

    TOOLTIP = ("Per-epoch metrics on the training data (blue, circles) and on held-out "
               "validation data (orange, squares, dashed). A widening gap means "
               "overfitting.")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.setTabBarAutoHide(True)  # a single metric needs no chooser
        self.tabs.setToolTip(self.TOOLTIP)
        self.layout_.addWidget(self.tabs, 1)
        self.placeholder = QLabel("Per-epoch metrics appear here after the first epoch.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setStyleSheet("background: black; color: gray")
        self.layout_.addWidget(self.placeholder, 1)
        self.tabs.hide()
        self.widgets: dict[str, pg.PlotWidget] = {}
        self.plots: dict[str, pg.PlotItem] = {}
        self.keys: dict[str, pg.LabelItem] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.data: dict[str, list[tuple[int, float]]] = {}

    def metrics(self) -> list[str]:
        """The metrics with a plot, in tab order."""
        return [self.tabs.tabText(i) for i in range(self.tabs.count())]

    def shown(self) -> str | None:
        """The metric whose plot is in front."""
        i = self.tabs.currentIndex()
        return self.tabs.tabText(i) if i >= 0 else None

    def show_metric(self, name: str) -> None:
        name = name.replace("_", " ")
        for i in range(self.tabs.count()):
            if self.tabs.tabText(i) == name:
                self.tabs.setCurrentIndex(i)

    def clear_data(self) -> None:
        """Forget every metric: the next run (or loaded model) brings its own plots."""
        self.data.clear()
        self.curves.clear()
        self.plots.clear()
        self.keys.clear()
        while self.tabs.count():
            self.tabs.removeTab(0)
        for w in self.widgets.values():
            w.deleteLater()
        self.widgets.clear()
        self.tabs.hide()
        self.placeholder.show()

    def set_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        # loss first: its plot gets the first tab and is shown first
        keys = sorted(metrics, key=lambda k: metric_name(k) != "loss")
        new = [k for k in keys if k.removeprefix("val_") not in self.plots]
        for key in keys:
            value = float(metrics[key])
            points = self.data.setdefault(key, [])
            points[:] = [p for p in points if p[0] != epoch + 1]
            if math.isfinite(value):  # a diverged epoch is in the log, not on the plot
                points.append((epoch + 1, value))
            points.sort()
            x = np.array([p[0] for p in points], float)
            y = np.array([p[1] for p in points], float)
            self._curve(key).setData(x, y)
        if new and self.shown() not in {metric_name(k) for k in keys}:
            self.show_metric(metric_name(new[0]))

    def _plot(self, base: str) -> pg.PlotItem:
        if base not in self.plots:
            name = base.replace("_", " ")
            w = pg.PlotWidget(axisItems={"bottom": EpochAxis("bottom")})
            w.setToolTip(self.TOOLTIP)
            p = w.getPlotItem()
            p.setTitle(f"{name} per epoch", size="10pt")
            p.setLabel("bottom", "epoch")
            self.keys[base] = add_key(p)
            self.widgets[base], self.plots[base] = w, p
            self.tabs.addTab(w, name)
            self.tabs.setTabToolTip(self.tabs.count() - 1, f"{name} after each epoch")
            self.placeholder.hide()
            self.tabs.show()
        return self.plots[base]

    def _curve(self, key: str) -> pg.PlotDataItem:
        if key not in self.curves:
            base = key.removeprefix("val_")
            plot = self._plot(base)
            val = key.startswith("val_")
            colour = COLOURS["val" if val else "train"]
            self.curves[key] = plot.plot(
                pen=pg.mkPen(colour, width=2, style=Qt.PenStyle.DashLine if val
                             else Qt.PenStyle.SolidLine),
                symbol="s" if val else "o", symbolSize=6, symbolPen=None,
                symbolBrush=colour)
            entries = []
            if base in self.curves:
                entries.append(key_entry("train", COLOURS["train"], "●"))
            if f"val_{base}" in self.curves:
                entries.append(key_entry("validation (held out)", COLOURS["val"], "■"))
            set_key(self.keys[base], entries)
        return self.curves[key]


class ConfusionMatrix(pg.PlotWidget):
    """Held-out results as a table of counts: rows are the true class, columns the guess.

    Colour is the share of the row, so a dark off-diagonal cell is a common confusion.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setTitle("Confusion matrix (held out)")
        self.setLabel("left", "true class")
        self.setLabel("bottom", "guessed class")
        self.invertY(True)
        # No locked aspect: square cells in a tall view left the axes' class labels far
        # from the matrix, with empty bands above and below it.
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(pg.colormap.get("viridis").getLookupTable(nPts=256))
        self.addItem(self.image)
        self.labels: list[pg.TextItem] = []
        self.matrix: np.ndarray | None = None
        self.setToolTip("Each cell counts held-out images of the row's class that the model "
                        "called the column's class. The diagonal is right; the brightest "
                        "cells off it are the model's favourite mistakes.")

    def set_matrix(self, matrix: np.ndarray, names: list[str]) -> None:
        self.matrix = m = np.asarray(matrix)
        share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
        self.image.setImage(share, levels=(0.0, 1.0), autoLevels=False)
        self.image.setRect(-0.5, -0.5, m.shape[1], m.shape[0])
        for item in self.labels:
            self.removeItem(item)
        self.labels = []
        if len(m) <= 20:  # numbers stay readable
            for (r, c), v in np.ndenumerate(m):
                item = pg.TextItem(str(v), anchor=(0.5, 0.5),
                                   color=(0, 0, 0) if share[r, c] > 0.6 else (230, 230, 230))
                item.setPos(c, r)
                self.addItem(item)
                self.labels.append(item)
        ticks = [list(enumerate(names))]
        self.getAxis("bottom").setTicks(ticks)
        self.getAxis("left").setTicks(ticks)
        self.autoRange(padding=0.02)
