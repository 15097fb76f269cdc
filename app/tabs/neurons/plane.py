"""The plane of the playground: the network's decision surface under the points, points
added by clicking, and a single neuron's line, which the person may drag."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtWidgets import QWidget

from app.tabs.neurons.network import LUT
from nets.families.neurons.planar import EXTENT

PLANE = QRectF(-EXTENT, -EXTENT, 2 * EXTENT, 2 * EXTENT)
CLASS_BRUSH = {0: pg.mkBrush(8, 119, 189), 1: pg.mkBrush(245, 147, 34)}


class Square(QWidget):
    """Keeps its one child square and centred, whatever shape the window gives it (the
    plane is a square; locking the aspect alone would show empty space beyond it)."""

    def __init__(self, child: QWidget, parent=None):
        super().__init__(parent)
        self.child = child
        child.setParent(self)

    def resizeEvent(self, _event) -> None:
        side = min(self.width(), self.height())
        self.child.setGeometry((self.width() - side) // 2, (self.height() - side) // 2,
                               side, side)

    def sizeHint(self) -> QSize:
        return QSize(420, 420)


class PlaneView(pg.PlotWidget):
    """Left-click adds an orange point (class 1), right- or Shift-click a blue one (class 0),
    Ctrl-click removes the nearest point, Alt- or middle-click picks one."""

    clicked = Signal(float, float, int)  # x, y, class (1 orange, 0 blue; -1 remove, 2 pick)
    line_moved = Signal(float, float, float)  # w1, w2, b of the dragged line

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("w")
        self.setAspectLocked(True)
        self.setRange(xRange=(-EXTENT, EXTENT), yRange=(-EXTENT, EXTENT), padding=0)
        self.setMouseEnabled(False, False)
        self.setMenuEnabled(False)
        self.hideButtons()
        self.surface = pg.ImageItem(axisOrder="row-major")
        self.surface.setLookupTable(LUT)
        self.surface.setLevels((-1, 1))
        self.addItem(self.surface)
        self.train_points = pg.ScatterPlotItem(size=8, pen=pg.mkPen("w", width=1))
        self.test_points = pg.ScatterPlotItem(size=8, pen=pg.mkPen("k", width=1.5))
        self.picked = pg.ScatterPlotItem(size=20, pen=pg.mkPen("k", width=2.5),
                                         brush=None, symbol="o")
        for item in (self.train_points, self.test_points, self.picked):
            self.addItem(item)
        self.line = pg.LineSegmentROI([[-4, 0], [4, 0]], pen=pg.mkPen("k", width=3),
                                      movable=True)
        self.line.setToolTip("The neuron's line, where w·x + b = 0: drag it, or drag either "
                             "end to turn it. Orange side: the neuron says class 1.")
        self.line.sigRegionChangeFinished.connect(self._line_dragged)
        self.addItem(self.line)
        self.line.hide()
        self._w = np.array([1.0, 0.0])
        self._placing = False
        self.scene().sigMouseClicked.connect(self._scene_clicked)
        self.setToolTip("The plane: the colour under the points is the network's output "
                        "there (orange: class 1, blue: class 0, pale: unsure). Points with "
                        "a white rim are trained on, black rim held out.\nLeft-click adds "
                        "an orange point, right-click (or Shift) a blue one, Ctrl-click "
                        "removes the nearest; Alt-click (or the middle button) picks the point the\n"
                        "Backprop view follows.")

    def show_surface(self, values: np.ndarray | None) -> None:
        """(h, w) values in [-1, 1], row 0 the top of the plane (y = +EXTENT)."""
        if values is None:
            self.surface.clear()
        else:
            self.surface.setImage(np.ascontiguousarray(values[::-1]), levels=(-1, 1),
                                  rect=PLANE)

    def show_points(self, xy: np.ndarray, labels: np.ndarray, train: np.ndarray,
                    show_test: bool = True) -> None:
        is_train = np.zeros(len(xy), bool)
        is_train[train] = True
        for item, mask in ((self.train_points, is_train),
                           (self.test_points, ~is_train if show_test else np.zeros_like(
                               is_train))):
            idx = np.flatnonzero(mask)
            item.setData(x=xy[idx, 0], y=xy[idx, 1],
                         brush=[CLASS_BRUSH[int(c)] for c in labels[idx]])

    def pick(self, point: np.ndarray | None) -> None:
        if point is None:
            self.picked.clear()
        else:
            self.picked.setData(x=[point[0]], y=[point[1]])

    # ------------------------------------------------------------ the single neuron's line
    def show_line(self, w: np.ndarray | None, b: float = 0.0) -> None:
        """The line w1 x + w2 y + b = 0 (hidden when w is None or zero)."""
        if w is None or not np.any(w):
            self.line.hide()
            return
        w = np.asarray(w, float)
        self._w = w
        norm = np.linalg.norm(w)
        foot = -b * w / norm ** 2
        along = np.array([-w[1], w[0]]) / norm
        if np.abs(foot).max() > EXTENT:  # off the plane: show a stub at the edge
            foot = np.clip(foot, -EXTENT + 1, EXTENT - 1)
        ends = [foot - 4 * along, foot + 4 * along]
        self._placing = True
        self.line.setPos(0, 0)
        for handle, end in zip(self.line.getHandles(), ends):
            self.line.movePoint(handle, pg.Point(*end), finish=False)
        self._placing = False
        self.line.show()

    def _line_dragged(self) -> None:
        if self._placing:
            return
        p1, p2 = (np.array([q.x(), q.y()]) for q in
                  (self.line.mapToParent(h.pos()) for h in self.line.getHandles()))
        d = p2 - p1
        if not np.linalg.norm(d):
            return
        normal = np.array([-d[1], d[0]]) / np.linalg.norm(d)
        if normal @ self._w < 0:  # keep the orange side where it was
            normal = -normal
        w = normal * max(np.linalg.norm(self._w), 1e-3)
        self._w = w
        self.line_moved.emit(float(w[0]), float(w[1]), float(-w @ p1))

    # ------------------------------------------------------------ clicks
    def _scene_clicked(self, event) -> None:
        if self.line.isVisible() and self.line.shape().contains(
                self.line.mapFromScene(event.scenePos())):
            return  # a click on the line is the start of a drag, not a new point
        pos = self.plotItem.vb.mapSceneToView(event.scenePos())
        x, y = pos.x(), pos.y()
        if abs(x) > EXTENT or abs(y) > EXTENT:
            return
        mods = event.modifiers()
        if event.button() == Qt.MouseButton.MiddleButton or \
                mods & Qt.KeyboardModifier.AltModifier:
            label = 2
        elif mods & Qt.KeyboardModifier.ControlModifier:
            label = -1
        elif event.button() == Qt.MouseButton.RightButton or \
                mods & Qt.KeyboardModifier.ShiftModifier:
            label = 0
        elif event.button() == Qt.MouseButton.LeftButton:
            label = 1
        else:
            return
        self.clicked.emit(float(x), float(y), label)
