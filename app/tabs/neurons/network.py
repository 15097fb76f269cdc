"""The playground's network drawn as TensorFlow Playground draws it: each neuron a small
map of its own output over the plane, each weight a line whose width grows with its size
(orange positive, blue negative), with buttons on the picture to add and remove neurons
and to change a layer's activation. The backprop view uses the same picture with numbers
written on its neurons and weights.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

BLUE, WHITE, ORANGE = np.array([8, 119, 189]), np.array([245, 245, 245]), \
    np.array([245, 147, 34])


def diverging_lut() -> np.ndarray:
    """256 colours from blue (-1, class 0) through near-white (0) to orange (+1, class 1)."""
    t = np.linspace(-1, 1, 256)[:, None]
    lut = np.where(t < 0, WHITE + (BLUE - WHITE) * -t, WHITE + (ORANGE - WHITE) * t)
    return lut.astype(np.uint8)


LUT = diverging_lut()


def to_image(values: np.ndarray) -> QImage:
    """A (h, w) array in [-1, 1] as a QImage through LUT (a copy: it owns its pixels)."""
    idx = np.clip(((np.asarray(values) + 1) * 127.5).astype(int), 0, 255)
    rgb = np.ascontiguousarray(LUT[idx])
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def weight_colour(w: float, alpha: int = 255) -> QColor:
    c = ORANGE if w > 0 else BLUE
    return QColor(int(c[0]), int(c[1]), int(c[2]), alpha)


@dataclass
class Picture:
    """What the view draws. Columns: the input features, each hidden layer, the output."""

    columns: list = field(default_factory=list)  # [(title, [node label, ...]), ...]
    maps: list = field(default_factory=list)  # per column (units, h, w) in [-1, 1] or None
    weights: list = field(default_factory=list)  # (units below, units above) per gap
    editable: bool = False  # the +/- and activation buttons of hidden layers
    node_notes: dict = field(default_factory=dict)  # (column, unit) -> text
    edge_notes: dict = field(default_factory=dict)  # (gap, i, j) -> text
    focus: int | None = None  # the column (or gap) the notes are about, highlighted
    numbers: bool = False  # neurons as wide boxes with their notes inside (no maps)


class NetworkView(QWidget):
    neurons_changed = Signal(int, int)  # hidden layer index, +1 or -1
    activation_clicked = Signal(int)  # hidden layer index
    neuron_clicked = Signal(int, int)  # column, unit

    def __init__(self, parent=None):
        super().__init__(parent)
        self.picture = Picture()
        self._images: list[list[QImage]] = []
        self._nodes: dict[tuple[int, int], QRectF] = {}
        self._buttons: list[tuple[QRectF, str, int]] = []  # rect, "+"/"-"/"f", layer
        self._lines_for = None  # the layout self._lines were made for
        self._lines: list[list[QLineF]] = []  # per gap, row-major like its weights
        self.setMinimumSize(360, 260)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.setToolTip("Each square is a neuron: its colour at each place of the plane is "
                        "its output there (orange high, blue low). Lines are weights: "
                        "thicker is larger, orange positive, blue negative.")

    def show_picture(self, picture: Picture) -> None:
        self.picture = picture
        self._images = [[to_image(m) for m in maps] if maps is not None else []
                        for maps in picture.maps]
        self.update()

    # ------------------------------------------------------------ geometry
    def _layout(self):
        cols = self.picture.columns
        n = len(cols)
        top = 46 if self.picture.editable else 26
        height = max(self.height() - top - 10, 40)
        most = max((len(nodes) for _, nodes in cols), default=1)
        size = max(14.0, min(48.0, height / max(most, 1) - 8, (self.width() - 80) /
                             max(n, 1) / 2.2))
        width = min(size * 2.2, 84.0) if self.picture.numbers else size
        xs = [60 + (self.width() - 120) * (i / max(n - 1, 1)) - width / 2 for i in range(n)]
        rects = {}
        for c, (_, nodes) in enumerate(cols):
            gap = size + 8
            y0 = top + (height - gap * len(nodes)) / 2
            for u in range(len(nodes)):
                rects[(c, u)] = QRectF(xs[c], y0 + u * gap, width, size)
        return xs, width, top, rects

    # ------------------------------------------------------------ painting
    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor(255, 255, 255))
        pic = self.picture
        if not pic.columns:
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No network yet.")
            return
        xs, size, top, rects = self._layout()
        self._nodes = rects
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, self.font().pointSizeF() - 1.5))
        # weights first, under the neurons: drawn in a few batches of like pens, from
        # lines made once per layout (one drawLine per weight took 13 ms a frame for 4
        # layers of 8)
        if self._lines_for != (tuple(rects.items()), len(pic.weights)):
            self._lines_for = (tuple(rects.items()), len(pic.weights))
            self._lines = [[QLineF(QPointF(rects[(g, i)].right(), rects[(g, i)].center().y()),
                                   QPointF(rects[(g + 1, j)].left(),
                                           rects[(g + 1, j)].center().y()))
                            for i in range(len(pic.columns[g][1]))
                            for j in range(len(pic.columns[g + 1][1]))]
                           for g in range(len(pic.weights))]
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)  # 4x faster, still clear
        for g, w in enumerate(pic.weights):
            if w is None or w.size != len(self._lines[g]):
                continue
            v = w.ravel()
            magnitude = np.abs(v)
            width = np.round(8 * np.minimum(magnitude / 3, 1)).astype(int)
            strength = np.round(4 * magnitude / max(float(magnitude.max()), 1e-9)).astype(int)
            key = (v > 0) * 100 + width * 10 + strength
            for k in np.unique(key):
                colour = weight_colour(1 if k >= 100 else -1, 90 + 41 * (k % 10))
                p.setPen(QPen(colour, 0.5 + 5.5 * (k // 10 % 10) / 8))
                p.drawLines([self._lines[g][n] for n in np.flatnonzero(key == k)])
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        # numbers on weights (backprop view)
        p.setFont(small)
        for (g, i, j), text in pic.edge_notes.items():
            a, b = rects.get((g, i)), rects.get((g + 1, j))
            if a is None or b is None:
                continue
            t = 0.3 + 0.4 * ((i + 1) / (pic.weights[g].shape[0] + 1))
            at = QPointF(a.right() + (b.left() - a.right()) * t,
                         a.center().y() + (b.center().y() - a.center().y()) * t)
            box = QRectF(at.x() - 30, at.y() - 8, 60, 16)
            p.fillRect(box, QColor(255, 255, 255, 220))
            p.setPen(QColor(40, 40, 40))
            p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        # neurons
        for c, (title, labels) in enumerate(pic.columns):
            focus = pic.focus == c
            p.setPen(QColor(20, 20, 20) if focus else QColor(90, 90, 90))
            p.setFont(self.font())
            p.drawText(QRectF(xs[c] - 40, top - 24, size + 80, 18),
                       Qt.AlignmentFlag.AlignCenter, title)
            for u, label in enumerate(labels):
                r = rects[(c, u)]
                images = self._images[c] if c < len(self._images) else []
                if u < len(images):
                    p.drawImage(r, images[u])
                else:
                    p.fillRect(r, QColor(230, 230, 230))
                p.setPen(QPen(QColor(20, 20, 20) if focus else QColor(120, 120, 120),
                              2 if focus else 1))
                p.drawRect(r)
                if label and c == 0:
                    p.setFont(small)
                    p.drawText(QRectF(r.left() - 58, r.top(), 54, r.height()),
                               Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                               label)
                note = pic.node_notes.get((c, u))
                if note:
                    p.setFont(small)
                    p.fillRect(r.adjusted(1, 1, -1, -1), QColor(255, 255, 225))
                    p.setPen(QColor(0, 0, 0))
                    p.drawText(r, Qt.AlignmentFlag.AlignCenter, note)
        self._buttons = []
        if pic.editable:
            self._paint_buttons(p, xs, size, top)
        p.end()

    def _paint_buttons(self, p: QPainter, xs, size, top) -> None:
        """[+] [−] and the activation's name above each hidden layer."""
        p.setFont(self.font())
        for layer in range(len(self.picture.columns) - 2):
            c = layer + 1
            x = xs[c] + size / 2
            for k, (sign, dx) in enumerate((("+", -22), ("−", 4))):
                r = QRectF(x + dx, top - 44, 18, 18)
                p.setPen(QColor(80, 80, 80))
                p.setBrush(QColor(240, 240, 240))
                p.drawRoundedRect(r, 3, 3)
                p.drawText(r, Qt.AlignmentFlag.AlignCenter, sign)
                self._buttons.append((r, "+" if k == 0 else "-", layer))
            title_rect = QRectF(xs[c] - 40, top - 24, size + 80, 18)
            self._buttons.append((title_rect, "f", layer))
        p.setBrush(Qt.BrushStyle.NoBrush)

    # ------------------------------------------------------------ clicks and tips
    def _hit(self, pos: QPointF):
        for rect, kind, layer in self._buttons:
            if rect.contains(pos):
                return kind, layer
        for key, rect in self._nodes.items():
            if rect.contains(pos):
                return "node", key
        return None, None

    def mousePressEvent(self, event) -> None:
        kind, what = self._hit(event.position())
        if kind == "+":
            self.neurons_changed.emit(what, 1)
        elif kind == "-":
            self.neurons_changed.emit(what, -1)
        elif kind == "f":
            self.activation_clicked.emit(what)
        elif kind == "node":
            self.neuron_clicked.emit(*what)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        kind, what = self._hit(event.position())
        tips = {"+": "Add a neuron to this layer (a run in progress restarts).",
                "-": "Remove a neuron from this layer (a run in progress restarts).",
                "f": "Click to change this layer's activation."}
        if kind in tips:
            QToolTip.showText(event.globalPosition().toPoint(), tips[kind], self)
        elif kind == "node":
            c, u = what
            title, labels = self.picture.columns[c]
            name = labels[u] or f"neuron {u + 1}"
            QToolTip.showText(event.globalPosition().toPoint(),
                              f"{title}: {name}. Click to show it large on the plane.", self)
        super().mouseMoveEvent(event)
