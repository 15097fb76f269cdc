"""The recurrent-net tab's views: the samples written while it learns, the writing desk
(prompt, temperature, streamed text with each character's probability), and a look inside
(one unit's activation over a text, and the units that follow simple features)."""
from __future__ import annotations

import bisect
from html import escape

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QFont, QKeySequence, QShortcut, QTextCursor
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QHeaderView, QLabel, QPlainTextEdit,
                               QPushButton, QSlider, QSpinBox, QSplitter, QTableWidget,
                               QTableWidgetItem, QTextEdit, QToolTip, QVBoxLayout,
                               QWidget)

from app.widgets.plots import COLOURS

TOP = 10  # candidates shown for the next character


def shown(c: str) -> str:
    """A character as a label: spaces and newlines made visible."""
    return {" ": "␣", "\n": "↵", "\t": "⇥"}.get(c, c)


def monospace() -> QFont:
    font = QFont("monospace")
    font.setStyleHint(QFont.StyleHint.Monospace)
    return font


def activation_colour(v: float) -> str:
    """-1 deep blue, 0 white, +1 deep red (as in Karpathy et al. 2015's figures)."""
    v = float(np.clip(v, -1.0, 1.0))
    fade = int(255 * (1 - abs(v)))
    return f"#ff{fade:02x}{fade:02x}" if v > 0 else f"#{fade:02x}{fade:02x}ff"


def plain_html(text: str, newline: str = "") -> str:
    """`text` as HTML that keeps its spaces and line breaks (a newline shown as `newline`
    before the break)."""
    return escape(text).replace(" ", "&nbsp;").replace("\n", newline + "<br>")


def coloured_html(text: str, values, colour, newline: str = "↵") -> str:
    """HTML of `text` with each character's background coloured by colour(value)."""
    return "".join(f'<span style="background:{colour(v)}">{plain_html(c, newline)}</span>'
                   for c, v in zip(text, values))


class TippedText(QTextEdit):
    """Read-only text whose characters each have a tooltip (the ones added with `tip`)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setFont(monospace())
        self.starts: list[int] = []  # where each tipped character begins in the document
        self.tips: list[str] = []

    def forget_tips(self) -> None:
        self.starts, self.tips = [], []

    def tip(self, start: int, text: str, tips: list[str], newline: str = "↵") -> None:
        """`text` (shown by coloured_html with `newline`) begins at document position
        `start`."""
        for c, words in zip(text, tips):
            self.starts.append(start)
            self.tips.append(words)
            start += 1 + len(newline) if c == "\n" else 1

    def viewportEvent(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip and self.tips:
            at = self.cursorForPosition(event.pos()).position()
            i = bisect.bisect_right(self.starts, at) - 1
            if i >= 0:
                QToolTip.showText(event.globalPos(), self.tips[i], self.viewport())
                return True
        return super().viewportEvent(event)


def surprise_colour(p: float) -> str:
    """White where the model gave the character it wrote half a chance or more, then more
    and more orange towards the characters it thought unlikely."""
    if not np.isfinite(p):
        return "#ffffff"
    strength = float(np.clip(1.0 - p / 0.5, 0.0, 1.0))
    r, g, b = (int(255 + (c - 255) * strength) for c in (255, 170, 80))
    return f"#{r:02x}{g:02x}{b:02x}"


class CandidatesPlot(pg.PlotWidget):
    """The likeliest next characters and their probabilities, as bars."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setTitle("Next character: the model's top 10")
        self.setLabel("left", "probability")
        self.setYRange(0, 1)
        self.setMouseEnabled(False, False)
        self.bars = pg.BarGraphItem(x=np.arange(TOP), height=np.zeros(TOP), width=0.7,
                                    brush=COLOURS["train"])
        self.addItem(self.bars)
        self.setToolTip("The model's probabilities for the character after the last one "
                        "written. The temperature reshapes them before one is drawn (0: "
                        "always the tallest bar).")

    def show_distribution(self, probs: np.ndarray, chars: str) -> None:
        order = np.argsort(probs)[::-1][:TOP]
        self.bars.setOpts(height=probs[order], x=np.arange(len(order)))
        self.getAxis("bottom").setTicks([[(i, shown(chars[j])) for i, j in
                                          enumerate(order)]])


class SamplesView(QWidget):
    """Held-out bits per character against time, and the samples as they come."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        self.plot.setTitle("Held-out bits per character (live)")
        self.plot.setLabel("bottom", "seconds of training")
        self.plot.setLabel("left", "bits / character")
        self.curve = self.plot.plot([], [], pen=pg.mkPen(COLOURS["val"], width=2), symbol="o",
                                    symbolSize=5, symbolBrush=COLOURS["val"])
        self.plot.setToolTip("How many bits the model needs per character of text it never "
                             "trained on: log2 of the alphabet for a blind guess, about 2 "
                             "for a model that has learnt words, lower as it learns more.")
        self.text = QPlainTextEdit(readOnly=True)
        self.text.setFont(monospace())
        self.text.setMaximumBlockCount(4000)
        self.text.setPlaceholderText("Start training: every few seconds the model writes "
                                     "from the same prompt, and you watch spelling, words "
                                     "and structure appear.")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.plot)
        split.addWidget(self.text)
        split.setSizes([200, 400])
        layout = QVBoxLayout(self)
        layout.addWidget(split)
        self.times: list[float] = []
        self.bits: list[float] = []

    def clear(self) -> None:
        self.times, self.bits = [], []
        self.curve.setData([], [])
        self.text.clear()

    def add(self, sample) -> None:
        self.times.append(sample.seconds)
        self.bits.append(sample.bits)
        self.curve.setData(self.times, self.bits)
        self.text.appendPlainText(f"── after {sample.seconds:.0f} s, step {sample.step:,}, "
                                  f"held out {sample.bits:.2f} bits/char ──\n"
                                  f"{sample.prompt}{sample.text}\n")


class WriteView(QWidget):
    """The writing desk: prompt, temperature, length, Write/Stop, the streamed text."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.prompt = QPlainTextEdit()
        self.prompt.setFont(monospace())
        self.prompt.setMaximumHeight(70)
        self.prompt.setPlaceholderText("The text to go on from (empty: a new line).")
        self.prompt.setToolTip("The model reads this, character by character, then writes "
                               "on. Ctrl+Return writes.")
        self.temperature = QSlider(Qt.Orientation.Horizontal)
        self.temperature.setRange(0, 200)
        self.temperature.setValue(80)
        self.temperature.setToolTip("Divides the logits before the softmax. 1: the model's "
                                    "own probabilities; below 1: safer, more repetitive; "
                                    "above 1: bolder, more misspelt; 0: always the likeliest "
                                    "character (it often loops).")
        self.temperature_label = QLabel()
        self.length = QSpinBox(minimum=10, maximum=20000, value=600, singleStep=100,
                               suffix=" characters")
        self.length.setToolTip("How much to write.")
        self.write = QPushButton("Write")
        self.write.setToolTip("Write from the prompt (Ctrl+Return).")
        self.stop = QPushButton("Stop")
        self.stop.setEnabled(False)
        self.output = TippedText()
        self.output.setToolTip("What the model wrote, after the prompt (grey). Orange "
                               "marks characters the model thought unlikely when it drew "
                               "them; hover a character for its probability.")
        self.status = QLabel("Train a model or open one, then write with it.")
        self.status.setWordWrap(True)
        self.candidates = CandidatesPlot()

        self.temperature.setMinimumWidth(160)
        settings, buttons = QHBoxLayout(), QHBoxLayout()
        settings.addWidget(QLabel("Temperature"))
        settings.addWidget(self.temperature, 1)
        settings.addWidget(self.temperature_label)
        for w in (self.length, self.write, self.stop):
            buttons.addWidget(w)
        buttons.addStretch(1)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.prompt)
        column.addLayout(settings)
        column.addLayout(buttons)
        column.addWidget(self.output, 1)
        column.addWidget(self.status)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(left)
        split.addWidget(self.candidates)
        split.setSizes([520, 180])
        layout = QVBoxLayout(self)
        layout.addWidget(split)
        shortcut = QShortcut(QKeySequence("Ctrl+Return"), self)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(self.write.click)
        self.temperature.valueChanged.connect(self._show_temperature)
        self._show_temperature()

    def temperature_value(self) -> float:
        return self.temperature.value() / 100.0

    def _show_temperature(self, *_) -> None:
        t = self.temperature_value()
        self.temperature_label.setText(f"{t:.2f}" + (" (greedy)" if t == 0 else ""))

    def begin(self, prompt: str) -> None:
        self.output.forget_tips()
        self.output.setHtml(f'<span style="color:#888">{plain_html(prompt)}</span>')
        self.output.moveCursor(QTextCursor.MoveOperation.End)

    def append(self, text: str, probs) -> None:
        cursor = self.output.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        self.output.tip(cursor.position(), text, [
            f"{shown(c)!r}: the model gave it p = {p:.3f}" for c, p in zip(text, probs)],
            newline="")
        cursor.insertHtml(coloured_html(text, probs, surprise_colour, newline=""))
        self.output.setTextCursor(cursor)
        self.output.ensureCursorVisible()

    def set_writing(self, writing: bool) -> None:
        self.write.setEnabled(not writing)
        self.stop.setEnabled(writing)


class InsideView(QWidget):
    """One unit's activation over a text, and the units that follow simple features."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.state = QComboBox()
        self.state.setToolTip("Which vectors to look at: h, the hidden state each layer "
                              "shows the next one; c, an LSTM's cell, its long memory.")
        self.unit = QSpinBox(minimum=0, maximum=0)
        self.unit.setToolTip("The unit whose activation colours the text (PageUp/PageDown "
                             "to browse).")
        self.previous = QPushButton("◀")
        self.next = QPushButton("▶")
        self.read = QPushButton("Read this text")
        self.read.setToolTip("Run the model over the text below and colour it.")
        self.text = TippedText()
        self.text.setReadOnly(False)
        self.text.setAcceptRichText(False)
        self.text.setToolTip("Red: the unit is high (up to +1), blue: low (down to -1). "
                             "Type your own text here and press 'Read this text'.")
        self.matches = QTableWidget(0, 3)
        self.matches.setHorizontalHeaderLabels(["Feature of the text", "Unit", "r"])
        self.matches.verticalHeader().hide()
        header = self.matches.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.matches.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.matches.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.matches.setToolTip("For each feature, the units whose activation goes with it "
                                "most closely over this text (Pearson's r; negative: the "
                                "unit goes down where the feature is on). Click one to see "
                                "it.")
        self.status = QLabel("Train a model or open one to look inside it.")
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        for w in (QLabel("State"), self.state, QLabel("Unit"), self.previous, self.unit,
                  self.next, self.read):
            row.addWidget(w)
        row.addStretch(1)
        split = QSplitter()
        split.addWidget(self.text)
        split.addWidget(self.matches)
        split.setSizes([520, 400])
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(split, 1)
        layout.addWidget(self.status)
        for keys, step in (("PgDown", 1), ("PgUp", -1)):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(self.next.click if step > 0 else self.previous.click)
        self.previous.clicked.connect(self.unit.stepDown)
        self.next.clicked.connect(self.unit.stepUp)
        self.matches.cellClicked.connect(self._match_clicked)
        self.traced: dict[str, np.ndarray] = {}
        self.traced_text = ""
        self._matches: list = []
        self.state.currentIndexChanged.connect(self.show_unit)
        self.unit.valueChanged.connect(self.show_unit)

    def set_trace(self, text: str, traced: dict, matches: list) -> None:
        self.traced, self.traced_text, self._matches = traced, text, matches
        current = self.state.currentText()
        self.state.blockSignals(True)
        self.state.clear()
        self.state.addItems(list(traced))
        if current in traced:
            self.state.setCurrentText(current)
        self.state.blockSignals(False)
        units = next(iter(traced.values())).shape[1] if traced else 1
        self.unit.setMaximum(units - 1)
        self.matches.setRowCount(len(matches))
        for row, m in enumerate(matches):
            for col, value in enumerate((m.feature, f"{m.state}, {m.unit}", f"{m.r:+.2f}")):
                self.matches.setItem(row, col, QTableWidgetItem(value))
        self.show_unit()

    def _match_clicked(self, row: int, _column: int) -> None:
        m = self._matches[row]
        self.state.setCurrentText(m.state)
        self.unit.setValue(m.unit)

    def show_unit(self, *_) -> None:
        values = self.traced.get(self.state.currentText())
        if values is None:
            return
        a = values[:, self.unit.value()]
        scale = max(1.0, float(np.abs(a).max()))  # a cell state can pass 1
        self.text.setHtml(coloured_html(self.traced_text, a / scale, activation_colour))
        self.text.forget_tips()
        self.text.tip(0, self.traced_text, [f"{shown(c)!r}: {v:+.3f}"
                                            for c, v in zip(self.traced_text, a)])
        self.status.setText(f"{self.state.currentText()}, unit {self.unit.value()}: "
                            f"from {a.min():+.2f} to {a.max():+.2f} over "
                            f"{len(a):,} characters" +
                            (f" (colours scaled by {scale:.1f})" if scale > 1 else "") + ".")
