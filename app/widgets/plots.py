"""Live training plots: per-batch loss (raw and smoothed) and per-epoch metrics.

Items are built once and updated in place with setData; long histories are downsampled
and clipped to the view, so a redraw stays cheap however long training runs.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

SMOOTHING = 0.9  # weight of the past in the exponential moving average

COLOURS = {"train": (80, 140, 255), "val": (255, 140, 40)}


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
        self.addLegend(offset=(-10, 10))
        self.raw = _curve(self.getPlotItem(), pen=pg.mkPen((120, 120, 160, 90)), name="batch")
        self.smooth = _curve(self.getPlotItem(), pen=pg.mkPen(COLOURS["train"], width=2),
                             name="smoothed")
        self.setToolTip("The training loss of every batch (faint) and its moving average "
                        "(bold). It should fall; a jagged faint line is normal.")
        self.steps, self.values, self.smoothed = GrowingArray(), GrowingArray(), GrowingArray()
        self.marks: list[pg.InfiniteLine] = []
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
        self.enableAutoRange(x=True)
        self.refresh()

    def mark(self, step: float, text: str) -> None:
        """A labelled vertical line: where a stage of a staged run began."""
        line = pg.InfiniteLine(step, angle=90, pen=pg.mkPen((200, 200, 200), dash=[4, 4]),
                               label=text, labelOpts={"position": 0.9, "color": (220, 220, 220)})
        self.addItem(line)
        self.marks.append(line)

    def set_extent(self, first_step: int, total_steps: int) -> None:
        """Show the whole run's steps from the start: the x axis then never changes."""
        self.setXRange(first_step, max(total_steps, first_step + 1), padding=0.02)

    def add(self, step: int, loss: float) -> None:
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


class EpochPlots(QWidget):
    """One plot per metric (loss, accuracy, ...), train and validation curves in each.

    A plot is created the first time its metric appears, then only updated.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.glw = pg.GraphicsLayoutWidget()
        self.layout_.addWidget(self.glw)
        self.glw.setToolTip("Per-epoch metrics on the training data (blue) and on held-out "
                            "validation data (orange). A widening gap means overfitting.")
        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.data: dict[str, list[tuple[int, float]]] = {}

    def clear_data(self) -> None:
        self.data.clear()
        for c in self.curves.values():
            c.setData([], [])

    def set_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            points = self.data.setdefault(key, [])
            points[:] = [p for p in points if p[0] != epoch + 1]
            points.append((epoch + 1, value))
            points.sort()
            self._curve(key).setData(*map(np.asarray, zip(*points)))

    def _curve(self, key: str) -> pg.PlotDataItem:
        if key not in self.curves:
            base = key.removeprefix("val_")
            if base not in self.plots:
                p = self.glw.addPlot(row=len(self.plots), col=0,
                                     title=f"{base.replace('_', ' ')} per epoch")
                p.addLegend(offset=(-10, 10))
                p.setLabel("bottom", "epoch")
                self.plots[base] = p
            kind = "val" if key.startswith("val_") else "train"
            self.curves[key] = self.plots[base].plot(
                pen=pg.mkPen(COLOURS[kind], width=2), symbol="o", symbolSize=5,
                symbolBrush=COLOURS[kind], name="validation" if kind == "val" else "train")
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
        self.setAspectLocked(True)
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
