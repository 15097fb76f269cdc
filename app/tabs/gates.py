"""The "Why gates" tab: a plain RNN, an LSTM and a GRU learn the same long-memory task at
several lengths; their held-out accuracy against the length (the plain RNN falls to
chance as the memory grows), the gradient carried back through time, untrained and
trained, and the learning curves of the length being trained.

Run alone with `python -m app.tabs.gates`.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QHeaderView, QLabel, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from app.tabs.base import FamilyTab
from app.widgets.plots import DASHED, LINE, add_key, class_colour, key_entry, set_key
from nets.families import gates
from nets.families.gates.model import CELLS
from nets.progress import Artifact

ABOUT = """<h3>Why gates: long memories</h3>
<p>A recurrent net reads a sequence one step at a time and carries what it has seen in its
hidden state. To learn to remember something from many steps back, training must tell
the early steps how they should have changed, and backpropagation through time does so by
passing the gradient back one step at a time. In a plain recurrent net each step
multiplies it by the recurrent weights and by the slope of the units. Bengio, Simard &amp;
Frasconi (1994) showed the bind this creates: a net that stores a bit robustly against
noise must shrink small changes of its state from step to step, and that same shrinking
makes the gradient from far back vanish, exponentially in the distance. The plain net
learns short dependencies and not long ones.</p>
<p><b>Gates.</b> The LSTM (Hochreiter &amp; Schmidhuber 1997) keeps a separate cell state
that is carried from step to step by addition, not through a squashing unit, and
multiplicative gates decide what is written into it, what is kept (the forget gate, added
by Gers, Schmidhuber &amp; Cummins 2000) and what is read out. When the forget gate is open
near 1 the memory, and the gradient through it, travels many steps almost unchanged. The
GRU (Cho et al. 2014) does the same with two gates and no separate cell: an update gate
mixes the old state with a new candidate. Gates are not a free pass: an untrained LSTM or
GRU forgets quickly too (the gradient view shows it). What they have is a knob training
can turn: the short dependencies in the data teach the gates to hold the flagged symbol,
and once they hold it the gradient reaches far back.</p>
<p><b>The task.</b> <i>Flagged recall</i>: a sequence of random symbols, one of them marked
by a flag on a second input; at the end the net must name the marked symbol. The flag may
be anywhere, so a sequence of length T holds dependencies of every length up to T. Each
cell learns afresh at each length, on fresh random sequences every step, and is scored on
2,048 other fresh sequences. Each kind of cell gets the learning rate that served it best
here (0.01 for the gated cells; 0.001 for the plain RNN, which at length 25 gets about 95%
with it and stays at chance with 0.01). <i>The adding problem</i> (from the 1997 paper): two
marked numbers among random ones, to be added; right within 0.04. It tells the same story
(one seed): the plain RNN gets 52, 25, 19 and 7% at lengths 10 to 100, the gated cells 98
to 100%.</p>
<p><b>What the views show.</b> <i>Accuracy by length</i>: held-out accuracy of each cell at
each length, with chance as a dashed line. <i>Gradient through time</i>: for sequences
whose flag is at step 1, the size of the gradient of the final loss with respect to the
hidden state at each step, ||&part;loss/&part;h<sub>t</sub>||, relative to the last step's,
on a log scale: dashed untrained, solid trained. <i>Learning curves</i> (beside the loss):
accuracy of the length being trained, every 100 steps.</p>
<p><b>Measured here</b> (2 CPU cores, the defaults, 3 seeds;
<code>benchmarks/gates.py</code>): MEASURED</p>
<p><b>Try this</b>: run the defaults and watch the plain RNN's line fall to chance after
length 25 while the gated cells stay at 100%. Give the plain RNN ten times the steps
(cells <code>rnn</code>, length 50, 20000 steps): its gradient is tiny, not zero, and it
creeps up (72% after 20,000 steps in one run, where the LSTM needed about 350). Set its
learning rate to 0.01 like the others': it fails at 25 too. Add lengths 150 and 200: the
LSTM sits at chance for longer before it finds how to hold the symbol (2,600 steps at 200
in one run). Try 8 units instead of 64, and the adding problem.</p>
<p><b>Papers</b>: Bengio, Simard &amp; Frasconi 1994, <i>Learning long-term dependencies
with gradient descent is difficult</i> (IEEE Transactions on Neural Networks);
Hochreiter &amp; Schmidhuber 1997, <i>Long short-term memory</i> (Neural Computation);
Gers, Schmidhuber &amp; Cummins 2000, <i>Learning to forget: continual prediction with
LSTM</i> (Neural Computation); Cho et al. 2014, <i>Learning phrase representations using
RNN encoder-decoder for statistical machine translation</i> (EMNLP); Pascanu, Mikolov
&amp; Bengio 2013, <i>On the difficulty of training recurrent neural networks</i> (ICML),
whose gradient clipping every run here uses.</p>"""

MEASURED = ("the plain RNN gets 99% at length 10 and 95% at 25, and stays near chance "
            "(12 to 17%) at 50 and 100; the LSTM and the GRU get 99 to 100% at every "
            "length, with every seed. Trained at length 100, the gated cells pass about "
            "30% (LSTM) and 130% (GRU) of the last step's gradient back to step 1, the "
            "plain RNN 10<sup>-13</sup> of it. A sweep takes about 85 s; the difference "
            "shows at length 50, about 35 s in.")
ABOUT = ABOUT.replace("MEASURED", MEASURED)

COLOUR = {"rnn": class_colour(2), "lstm": class_colour(0), "gru": class_colour(1)}
SYMBOL = {"rnn": "o", "lstm": "s", "gru": "t"}
CHANCE_PEN = pg.mkPen((160, 160, 160), width=1, style=Qt.PenStyle.DashLine)


def _plot(title: str, x: str, y: str, tip: str) -> pg.PlotWidget:
    w = pg.PlotWidget()
    p = w.getPlotItem()
    p.setTitle(title, size="10pt")
    p.setLabel("bottom", x)
    p.setLabel("left", y)
    p.getAxis("left").enableAutoSIPrefix(False)
    w.setToolTip(tip)
    return w


def _cell_key(cells, extra=()) -> list[str]:
    return [key_entry(CELLS[c], COLOUR[c], LINE) for c in cells] + list(extra)


class AccuracyByLength(QWidget):
    """Held-out accuracy against the sequence length, a line per cell, chance dashed; a
    table of the same numbers below."""

    def __init__(self, parent=None):
        super().__init__(parent)
        v = QVBoxLayout(self)
        self.plot = _plot("Held-out accuracy by sequence length", "sequence length "
                          "(the longest dependency; log scale)", "right on fresh sequences",
                          "Each cell's accuracy on 2,048 fresh sequences it never trained "
                          "on, after training at that length. Dashed: guessing. A gated "
                          "cell stays up as the length grows; the plain RNN falls.")
        self.plot.setLogMode(True, False)
        self.plot.setYRange(0, 1.02, padding=0)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.curves = {c: self.plot.plot(pen=pg.mkPen(COLOUR[c], width=2),
                                         symbol=SYMBOL[c], symbolSize=9,
                                         symbolBrush=COLOUR[c], symbolPen=None)
                       for c in CELLS}
        self.chance = pg.InfiniteLine(pos=0.125, angle=0, pen=CHANCE_PEN)
        self.plot.addItem(self.chance)
        self.key = add_key(self.plot.getPlotItem())
        v.addWidget(self.plot, 3)
        self.table = QTableWidget(0, 0)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setToolTip("Held-out accuracy of each cell at each length; hover a "
                              "number for the steps and seconds it took.")
        v.addWidget(self.table, 1)
        self.note = QLabel("What to look for: the plain RNN (red) learns the short "
                           "sequences and falls to chance (dashed) as they grow; the LSTM "
                           "and GRU stay near 100%.")
        self.note.setWordWrap(True)
        v.addWidget(self.note)
        self.cells: list[str] = []
        self.lengths: list[int] = []
        self.results: dict[tuple[str, int], dict] = {}

    def begin(self, cells: list[str], lengths: list[int], chance: float) -> None:
        self.cells, self.lengths, self.results = list(cells), list(lengths), {}
        self.chance.setValue(chance)
        self.plot.setXRange(np.log10(min(lengths)) - 0.1, np.log10(max(lengths)) + 0.1,
                            padding=0)
        axis = self.plot.getAxis("bottom")
        axis.setTicks([[(float(np.log10(n)), str(n)) for n in lengths]])
        set_key(self.key, _cell_key(cells, [key_entry("chance", (160, 160, 160), DASHED)]))
        self.table.clear()
        self.table.setRowCount(len(cells))
        self.table.setColumnCount(len(lengths))
        self.table.setVerticalHeaderLabels([CELLS[c] for c in cells])
        self.table.setHorizontalHeaderLabels([f"length {n}" for n in lengths])
        for c in CELLS:
            self.curves[c].setData([], [])

    def add(self, r: dict) -> None:
        cell, length = r["cell"], int(r["length"])
        if cell not in self.cells or length not in self.lengths:
            return
        self.results[(cell, length)] = r
        done = sorted(n for (c, n) in self.results if c == cell)
        self.curves[cell].setData(np.array(done, float), np.array(
            [self.results[(cell, n)]["accuracy"] for n in done], float))
        item = QTableWidgetItem(f"{r['accuracy']:.0%}")
        item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        how = (f"solved after {r['solved']:,} steps" if r.get("solved")
               else f"not solved in {r['steps']:,} steps")
        item.setToolTip(f"{CELLS[cell]} at length {length}: {how}, {r['seconds']:.1f} s.")
        good = float(np.clip(r["accuracy"], 0, 1))
        item.setBackground(QColor(int(200 - 120 * good), int(80 + 100 * good), 90, 110))
        self.table.setItem(self.cells.index(cell), self.lengths.index(length), item)
        self._say()

    def _say(self) -> None:
        lengths = [n for n in self.lengths if all((c, n) in self.results
                                                   for c in self.cells)]
        if not lengths:
            return
        n = lengths[-1]
        parts = ", ".join(f"{CELLS[c]} {self.results[(c, n)]['accuracy']:.0%}"
                          for c in self.cells)
        self.note.setText(f"At length {n}: {parts} (chance {self.chance.value():.0%}). "
                          "What to look for: the plain RNN falls to chance as the "
                          "sequences grow; the gated cells stay up.")


class GradientThroughTime(QWidget):
    """||dLoss/dh_t|| / ||dLoss/dh_T|| against t for each cell at one length (chosen
    above the plot), dashed untrained, solid trained, log scale."""

    def __init__(self, parent=None):
        super().__init__(parent)
        v = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Length:"))
        self.choice = QComboBox()
        self.choice.setToolTip("Which length's nets to show (the one training now, by "
                               "default).")
        self.choice.currentIndexChanged.connect(self._draw)
        row.addWidget(self.choice)
        row.addStretch(1)
        v.addLayout(row)
        self.plot = _plot("How much the final loss feels each step", "step t (the flag "
                          "is at step 1; the loss comes after the last)",
                          "||dLoss/dh_t|| relative to the last step",
                          "The size of the gradient of the loss at the end with respect "
                          "to the hidden state at each step (mean over 64 sequences whose "
                          "flag is at step 1), divided by the last step's, on a log scale: "
                          "one grid step is 10 times. Dashed: untrained; solid: trained. A "
                          "line falling to the left is the vanishing gradient: what "
                          "happened that long ago hardly changes the loss, so the net "
                          "cannot learn to remember it.")
        self.plot.setLogMode(False, True)
        self.plot.showGrid(x=False, y=True, alpha=0.2)
        self.curves = {}
        for c in CELLS:
            faint = pg.mkColor(COLOUR[c])
            faint.setAlpha(150)
            self.curves[(c, "start")] = self.plot.plot(pen=pg.mkPen(
                faint, width=1.5, style=Qt.PenStyle.DashLine))
            self.curves[(c, "end")] = self.plot.plot(pen=pg.mkPen(COLOUR[c], width=2.5))
        self.key = add_key(self.plot.getPlotItem())
        v.addWidget(self.plot, 1)
        self.note = QLabel("Start a run: each cell's lines appear as it trains.")
        self.note.setWordWrap(True)
        v.addWidget(self.note)
        self.norms: dict[tuple[str, int, str], np.ndarray] = {}
        self.cells: list[str] = list(CELLS)

    def begin(self, cells: list[str]) -> None:
        self.cells, self.norms = list(cells), {}
        self.choice.blockSignals(True)
        self.choice.clear()
        self.choice.blockSignals(False)
        set_key(self.key, _cell_key(cells, [key_entry("untrained", (200, 200, 200),
                                                      DASHED)]))
        self._draw()

    def add(self, cell: str, length: int, phase: str, norms) -> None:
        self.norms[(cell, int(length), phase)] = np.asarray(norms, np.float64)
        if self.choice.findData(int(length)) < 0:
            self.choice.addItem(str(length), int(length))
            self.choice.setCurrentIndex(self.choice.count() - 1)  # draws
        elif self.choice.currentData() == int(length):
            self._draw()

    def _draw(self, *_) -> None:
        length = self.choice.currentData()
        said = []
        for (c, phase), curve in self.curves.items():
            norms = self.norms.get((c, length, phase))
            if norms is None or c not in self.cells:
                curve.setData([], [])
                continue
            rel = np.maximum(norms / max(norms[-1], 1e-38), 1e-30)
            curve.setData(np.arange(1, len(rel) + 1, dtype=float), rel)
            if phase == "end":
                said.append(f"{CELLS[c]} {rel[0]:.1g}")
        if said:
            self.note.setText(f"Trained at length {length}, the share of the last "
                              f"step's gradient that reaches step 1: {', '.join(said)}. "
                              "What to look for: the plain RNN's line falls steeply to "
                              "the left; a trained gated cell's stays up.")
        elif length is not None:
            self.note.setText(f"Length {length}: the dashed lines are the untrained nets; "
                              "the solid ones come when a cell has trained.")


class LearningCurves(pg.PlotWidget):
    """Accuracy on the check set against the step, each cell of the length being trained
    (shown beside the per-batch loss, where Keras families show their epoch plots)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        p = self.getPlotItem()
        p.setTitle("Learning curves at this length", size="10pt")
        p.setLabel("bottom", "step")
        p.setLabel("left", "right on 512 fresh sequences")
        self.setYRange(0, 1.02, padding=0)
        self.setToolTip("Each cell's accuracy on 512 fresh sequences every 100 steps, at "
                        "the length training now. Gated cells often sit at chance for a "
                        "while, then jump once their gates learn to hold the flagged "
                        "symbol; a pair moves on once it gets 99%.")
        self.curves = {c: self.plot(pen=pg.mkPen(COLOUR[c], width=2), symbol=SYMBOL[c],
                                    symbolSize=6, symbolBrush=COLOUR[c], symbolPen=None)
                       for c in CELLS}
        self.chance = pg.InfiniteLine(pos=0.125, angle=0, pen=CHANCE_PEN)
        self.addItem(self.chance)
        self.key = add_key(p)
        self.length = None
        self.points: dict[str, list[tuple[int, float]]] = {}

    def begin(self, chance: float, steps: int) -> None:
        self.chance.setValue(chance)
        self.setXRange(0, steps, padding=0.02)
        self.show_length(None)

    def show_length(self, length) -> None:
        self.length, self.points = length, {}
        for curve in self.curves.values():
            curve.setData([], [])
        self.setTitle("Learning curves" + (f" at length {length}" if length else ""))
        set_key(self.key, [])

    def add(self, cell: str, length: int, step: int, acc: float) -> None:
        if length != self.length:
            self.show_length(length)
        pts = self.points.setdefault(cell, [])
        pts.append((step, acc))
        xs, ys = zip(*pts)
        self.curves[cell].setData(np.array(xs, float), np.array(ys, float))
        set_key(self.key, _cell_key(list(self.points)))


class GatesTab(FamilyTab):
    def __init__(self, parent=None):
        super().__init__("gates", parent)
        self.accuracy = AccuracyByLength()
        self.panel.add_view(self.accuracy, "Accuracy by length",
                            "Each cell's held-out accuracy against the sequence length")
        self.gradients = GradientThroughTime()
        self.panel.add_view(self.gradients, "Gradient through time",
                            "How much the final loss feels each earlier step")
        self.curves = LearningCurves()
        self.panel.replace_epoch_plots(self.curves)
        self.add_about(ABOUT)
        self.panel.events.connect(self._on_events)
        self.panel.loaded.connect(self._show_loaded)

    def _on_events(self, batch: list) -> None:
        for event in batch:
            if not isinstance(event, Artifact):
                continue
            v = event.value
            if event.name == "sweep":
                self._begin(v["cells"], v["lengths"], v["chance"], v["steps"])
            elif event.name == "pair_started":
                if self.curves.length != v["length"]:
                    self.curves.show_length(v["length"])
                    # where each length begins, on the loss plot (short labels: the
                    # first lengths' runs are short)
                    self.panel.loss_plot.mark(v["first_step"], f"length {v['length']}"
                                              if v["index"] == 0 else str(v["length"]))
            elif event.name == "pair_progress":
                self.curves.add(v["cell"], v["length"], v["step"], v["accuracy"])
            elif event.name == "gradient_through_time":
                self.gradients.add(v["cell"], v["length"], v["phase"], v["norms"])
            elif event.name == "pair_result":
                self.accuracy.add(v)

    def _begin(self, cells, lengths, chance, steps) -> None:
        self.accuracy.begin(cells, lengths, chance)
        self.gradients.begin(cells)
        self.curves.begin(chance, steps)

    def _show_loaded(self, trained) -> None:
        """A saved sweep: its results and gradients in the views."""
        meta = trained.meta
        results = meta.get("results", [])
        if not results:
            return
        cells = [c for c in CELLS if any(r["cell"] == c for r in results)]
        lengths = sorted({int(r["length"]) for r in results})
        steps = int(meta.get("config", {}).get("steps", 2000))
        self._begin(cells, lengths, float(meta.get("chance", 0.125)), steps)
        for r in results:
            self.accuracy.add(r)
        for r in results:  # the learning curves of the longest length
            if int(r["length"]) == lengths[-1]:
                for step, acc in r.get("curve", []):
                    self.curves.add(r["cell"], lengths[-1], step, acc)
        for g in meta.get("gradients", []):
            for phase in ("start", "end"):
                if phase in g:
                    self.gradients.add(g["cell"], g["length"], phase, g[phase])
        self.panel.now_label.setText(f"Opened a sweep of {len(results)} runs. "
                                     f"{gates.headline(results)}.")


if __name__ == "__main__":
    from app.main_window import run_standalone

    run_standalone(GatesTab)
