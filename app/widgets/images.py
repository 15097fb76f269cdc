"""Image views: a grid of small images (filters, digits) and a bar chart of probabilities."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


GAP_COLOUR = (0.12, 0.2, 0.38)  # dark blue: never mistaken for a grey pixel value


def tile(images: np.ndarray, columns: int | None = None, gap: int = 1
         ) -> tuple[np.ndarray, int]:
    """Lay (n, h, w[, 3]) images out in an RGB mosaic. Returns (mosaic, columns)."""
    if images.ndim == 3:
        images = np.repeat(images[..., None], 3, axis=-1)
    n, h, w = images.shape[:3]
    columns = columns or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / columns))
    shape = (rows * (h + gap) - gap, columns * (w + gap) - gap, 3)
    out = np.empty(shape, np.float32)
    out[:] = GAP_COLOUR
    for i in range(n):
        r, c = divmod(i, columns)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = images[i]
    return out, columns


class ImageGrid(QWidget):
    """Shows a stack of images as one mosaic; clicking a tile emits its index."""

    tile_clicked = Signal(int)

    def __init__(self, title: str = "", note: str = "", parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.note = QLabel(note)
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.glw = pg.GraphicsLayoutWidget()
        layout.addWidget(self.glw, 1)
        self.view = self.glw.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.title = title
        self.labels: list[pg.TextItem] = []
        self._shape = None
        self._columns = 1
        self.count = 0
        self.image.mouseClickEvent = self._clicked

    def set_images(self, images: np.ndarray, captions=(), note: str | None = None,
                   columns: int | None = None) -> None:
        images = np.asarray(images, np.float32)
        if images.ndim < 3 or len(images) == 0:
            self.image.clear()
            self.count = 0
            self._set_captions(())
            if note is not None:
                self.note.setText(note)
            return
        mosaic, self._columns = tile(images, columns)
        self._shape = images.shape[1:3]
        self.count = len(images)
        refit = self.image.image is None or self.image.image.shape != mosaic.shape
        self.image.setImage(mosaic, levels=(0.0, 1.0), autoLevels=False)
        if refit:  # only when the layout changed: live updates keep the view still
            self.view.autoRange(padding=0.01)
        self._set_captions(captions)
        if note is not None:
            self.note.setText(note)

    def _set_captions(self, captions) -> None:
        for item in self.labels:
            self.view.removeItem(item)
        self.labels = []
        if not captions or self._shape is None:
            return
        h, w = self._shape
        for i, text in enumerate(captions):
            r, c = divmod(i, self._columns)
            item = pg.TextItem(text, color=(255, 230, 80), anchor=(0, 0))
            item.setPos(c * (w + 1), r * (h + 1))
            self.view.addItem(item)
            self.labels.append(item)

    def mosaic(self) -> np.ndarray | None:
        return self.image.image

    def _clicked(self, ev) -> None:
        if self._shape is None or ev.button() != Qt.MouseButton.LeftButton:
            return
        h, w = self._shape
        pos = ev.pos()
        r, c = int(pos.y() // (h + 1)), int(pos.x() // (w + 1))
        index = r * self._columns + c
        if 0 <= c < self._columns and 0 <= index < self.count:
            self.tile_clicked.emit(index)
        ev.accept()


class BarChart(pg.PlotWidget):
    """A bar per named item (class, action); one bar highlighted."""

    def __init__(self, title: str, tooltip: str, parent=None):
        super().__init__(parent)
        self.setTitle(title)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7)
        self.addItem(self.bars)
        self.setToolTip(tooltip)
        self.names: list[str] = []
        self.values = np.zeros(0)

    def set_names(self, names: list[str], labels: list[str] | None = None) -> None:
        """The items, and optionally shorter labels to print under the bars."""
        self.names = list(names)
        self.getAxis("bottom").setTicks([list(enumerate(labels or self.names))])
        self.setXRange(-0.6, len(self.names) - 0.4, padding=0)
        self.set_values(np.zeros(len(self.names)), -1)

    def set_values(self, values: np.ndarray, highlight: int) -> None:
        self.values = np.asarray(values, float)
        brushes = [pg.mkBrush(255, 160, 40) if i == highlight else pg.mkBrush(90, 130, 220)
                   for i in range(len(self.values))]
        self.bars.setOpts(x=np.arange(len(self.values)), height=self.values,
                          brushes=brushes)


class ProbabilityBars(BarChart):
    """A probability per class; the most probable one highlighted."""

    def __init__(self, names: list[str], parent=None):
        super().__init__("What the network thinks", "The network's output: a probability "
                         "for each class (softmax). The highlighted bar is its guess.",
                         parent)
        self.setYRange(0, 1, padding=0)
        self.set_names(names)

    @property
    def probabilities(self) -> np.ndarray:
        return self.values

    def set_probabilities(self, probs: np.ndarray) -> None:
        probs = np.asarray(probs, float)
        self.set_values(probs, int(probs.argmax()) if probs.any() else -1)
