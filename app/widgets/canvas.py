"""A canvas to draw on with the mouse: white ink on black, as in MNIST.

Strokes are kept so that Undo can redraw all but the last; `array()` returns the ink as a
float image in [0, 1] for nets code to turn into model input.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget


class DrawingCanvas(QWidget):
    changed = Signal()  # the drawing changed (a stroke grew, was undone, or cleared)

    def __init__(self, size: int = 280, pen_width: float = 18.0, parent=None):
        super().__init__(parent)
        self.setFixedSize(QSize(size, size))
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Draw a digit with the mouse. Right-click or Ctrl+Z undoes a stroke.")
        self.pen_width = pen_width
        self.strokes: list[tuple[float, list[QPointF]]] = []
        self._image = QImage(size, size, QImage.Format.Format_Grayscale8)
        self._image.fill(0)
        self._drawing = False

    # ------------------------------------------------------------ editing
    def clear(self) -> None:
        self.strokes.clear()
        self._redraw()

    def undo(self) -> None:
        if self.strokes:
            self.strokes.pop()
            self._redraw()

    def set_pen_width(self, width: float) -> None:
        self.pen_width = float(width)

    def is_empty(self) -> bool:
        return not self.strokes

    def array(self) -> np.ndarray:
        """The drawing as float32 (h, w) in [0, 1], ink high."""
        img = self._image
        ptr = img.constBits()
        a = np.frombuffer(ptr, np.uint8, count=img.bytesPerLine() * img.height())
        a = a.reshape(img.height(), img.bytesPerLine())[:, :img.width()]
        return a.astype(np.float32) / 255.0

    # ------------------------------------------------------------ painting
    def _pen(self, width: float) -> QPen:
        return QPen(QColor(255, 255, 255), width, Qt.PenStyle.SolidLine,
                    Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)

    def _paint_stroke(self, painter: QPainter, width: float, points: list[QPointF],
                      start: int = 0) -> None:
        painter.setPen(self._pen(width))
        if len(points) == 1:
            painter.drawPoint(points[0])
        for a, b in zip(points[max(start - 1, 0):], points[max(start, 1):]):
            painter.drawLine(a, b)

    def _redraw(self) -> None:
        self._image.fill(0)
        painter = QPainter(self._image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for width, points in self.strokes:
            self._paint_stroke(painter, width, points)
        painter.end()
        self.update()
        self.changed.emit()

    def _extend(self, pos: QPointF) -> None:
        width, points = self.strokes[-1]
        points.append(pos)
        painter = QPainter(self._image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self._paint_stroke(painter, width, points, start=len(points) - 1)
        painter.end()
        self.update()
        self.changed.emit()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.drawImage(0, 0, self._image)
        if not self.strokes:
            painter.setPen(QColor(120, 120, 120))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "draw a digit here")
        painter.end()

    # ------------------------------------------------------------ mouse
    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._drawing = True
            self.strokes.append((self.pen_width, []))
            self._extend(event.position())
        elif event.button() == Qt.MouseButton.RightButton:
            self.undo()

    def mouseMoveEvent(self, event) -> None:
        if self._drawing and event.buttons() & Qt.MouseButton.LeftButton:
            self._extend(event.position())

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._drawing = False
