"""The scene a person composes in Make a scene: objects drawn from scenes.py, enlarged,
selected and dragged with the mouse, nudged with the arrow keys; and the dialog in which
they draw a digit of their own."""
from __future__ import annotations

import dataclasses

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QPushButton,
                               QVBoxLayout, QWidget)

from app.tabs.captions.player import pixmap_of
from app.widgets.canvas import DrawingCanvas
from nets.families.captions import scenes as sc

SCALE = 4  # screen pixels per scene pixel


class SceneCanvas(QWidget):
    """The scene, SCALE times enlarged: click an object to select it, drag it, Delete
    removes it, arrow keys nudge it a pixel. The numbers are the grammar's order."""

    changed = Signal()  # objects added, moved or removed

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFixedSize(sc.SIZE * SCALE, sc.SIZE * SCALE)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setToolTip("Drag an object to move it; click one to select it; Delete removes "
                        "it; arrow keys nudge it. The small numbers are the order in which "
                        "the grammar names the objects.")
        self.things: list[sc.Thing] = []
        self.glyphs: list[np.ndarray | None] = []
        self.selected = -1
        self.image = sc.render(sc.Scene((), "x"))
        self._pixmap = pixmap_of(self.image, sc.SIZE * SCALE)
        self._grab: QPointF | None = None

    # ------------------------------------------------------------ editing
    def set_things(self, things, glyphs) -> None:
        self.things, self.glyphs = list(things), list(glyphs)
        self.selected = len(self.things) - 1
        self._changed()

    def add(self, thing: sc.Thing, glyph) -> None:
        self.set_things([*self.things, thing], [*self.glyphs, glyph])

    def remove_selected(self) -> None:
        if 0 <= self.selected < len(self.things):
            del self.things[self.selected], self.glyphs[self.selected]
            self.selected = len(self.things) - 1
            self._changed()

    def move(self, index: int, x0: float, y0: float) -> None:
        """Puts an object's top-left corner at (x0, y0), kept inside the image."""
        t = self.things[index]
        w, h = t.box[2] - t.box[0], t.box[3] - t.box[1]
        x0 = int(np.clip(round(x0), 0, sc.SIZE - w))
        y0 = int(np.clip(round(y0), 0, sc.SIZE - h))
        if (x0, y0) != t.box[:2]:
            self.things[index] = dataclasses.replace(t, box=(x0, y0, x0 + w, y0 + h))
            self._changed()

    def free_spot(self, extent: int) -> tuple[int, int]:
        """Where a new object of this extent overlaps none: in line with the first
        object if it can, else anywhere; the middle when the scene is full."""
        middle = (sc.SIZE - extent) // 2
        want = (self.things[0].centre[1] - extent / 2) if self.things else middle
        spots = [(x, y) for y in range(sc.MARGIN, sc.SIZE - extent - sc.MARGIN + 1)
                 for x in range(sc.MARGIN, sc.SIZE - extent - sc.MARGIN + 1)]
        spots.sort(key=lambda s: (abs(s[1] - want) > 2, s[0], abs(s[1] - want)))
        for x, y in spots:
            if all(x + extent + sc.MARGIN <= t.box[0] or t.box[2] + sc.MARGIN <= x or
                   y + extent + sc.MARGIN <= t.box[1] or t.box[3] + sc.MARGIN <= y
                   for t in self.things):
                return x, y
        return middle, middle

    def _glyph(self, i: int, _thing) -> np.ndarray:
        return self.glyphs[i]

    def render(self, things=None) -> np.ndarray:
        return sc.render(sc.Scene(tuple(self.things if things is None else things), "x"),
                         self._glyph)

    def _changed(self) -> None:
        self.image = self.render()
        self._pixmap = pixmap_of(self.image, sc.SIZE * SCALE)
        self.update()
        self.changed.emit()

    # ------------------------------------------------------------ painting
    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._pixmap)
        scene = sc.arrange(self.things) if len(self.things) > 1 else None
        order = {id(t): k for k, t in enumerate(scene.things)} if scene else {}
        for i, t in enumerate(self.things):
            x0, y0, x1, y1 = (v * SCALE for v in t.box)
            rect = QRectF(x0, y0, x1 - x0, y1 - y0)
            if i == self.selected:
                painter.setPen(QPen(QColor(255, 255, 255), 1, Qt.PenStyle.DashLine))
                painter.drawRect(rect.adjusted(-2, -2, 2, 2))
            if id(t) in order:
                painter.setPen(QColor(200, 200, 200))
                painter.drawText(QPointF(x0 - 2, y0 - 4), str(order[id(t)] + 1))
        if not self.things:
            painter.setPen(QColor(150, 150, 150))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                             "Add objects with the buttons above")
        painter.end()

    # ------------------------------------------------------------ mouse and keys
    def _at(self, pos: QPointF) -> int:
        x, y = pos.x() / SCALE, pos.y() / SCALE
        for i in reversed(range(len(self.things))):
            x0, y0, x1, y1 = self.things[i].box
            if x0 - 1 <= x <= x1 + 1 and y0 - 1 <= y <= y1 + 1:
                return i
        return -1

    def mousePressEvent(self, event) -> None:
        self.selected = self._at(event.position())
        if self.selected >= 0:
            x0, y0 = self.things[self.selected].box[:2]
            self._grab = QPointF(event.position().x() / SCALE - x0,
                                 event.position().y() / SCALE - y0)
        self.update()

    def mouseMoveEvent(self, event) -> None:
        if self._grab is not None and 0 <= self.selected < len(self.things):
            self.move(self.selected, event.position().x() / SCALE - self._grab.x(),
                      event.position().y() / SCALE - self._grab.y())

    def mouseReleaseEvent(self, event) -> None:
        self._grab = None

    NUDGE = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, -1),
             Qt.Key.Key_Down: (0, 1)}

    def event(self, event) -> bool:
        # arrow keys nudge the selected object here, rather than step the words
        if (event.type() == QEvent.Type.ShortcutOverride and event.key() in self.NUDGE
                and self.selected >= 0):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.remove_selected()
        elif event.key() in self.NUDGE and 0 <= self.selected < len(self.things):
            dx, dy = self.NUDGE[event.key()]
            x0, y0 = self.things[self.selected].box[:2]
            self.move(self.selected, x0 + dx, y0 + dy)
        else:
            super().keyPressEvent(event)


class DigitDialog(QDialog):
    """The drawing canvas of the CNN tab, for a digit in the person's own hand."""

    def __init__(self, digit: str, replacing: bool, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Draw a {digit}")
        self.canvas = DrawingCanvas(224, 16.0)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.canvas.clear)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok |
                                   QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Draw a {digit} with the mouse; it "
                                + ("replaces the selected one's ink." if replacing else
                                   "goes into the scene.")))
        layout.addWidget(self.canvas)
        row = QHBoxLayout()
        row.addWidget(clear)
        row.addWidget(buttons)
        layout.addLayout(row)
