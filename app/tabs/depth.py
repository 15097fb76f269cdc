"""The "Why deep nets stalled" tab: a deep classifier's gradient, layer by layer, live
while it trains (the vanishing gradient), how much each layer's weights move per epoch,
and one-click fixes whose held-out accuracy curves are laid over each other.

Run alone with `python -m app.tabs.depth`.
"""
from __future__ import annotations

import math
from functools import partial

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from app.tabs.base import FamilyTab
from app.widgets.plots import (COLOURS, LINE, EpochAxis, add_key, class_colour, key_entry,
                               set_key)
from nets.families import depth
from nets.progress import Artifact, EpochMetrics, Started

ABOUT = """<h3>Why deep nets stalled</h3>
<p>For years, networks with many layers of sigmoid units did not do better than those with
one or two. They were not too weak: they did not learn. Backpropagation hands each layer
the gradient of the layer above, multiplied by that layer's weights and by the slope of its
units. A sigmoid's slope is at most 1/4, and with small random weights each layer passes
on only a fraction of what it gets. Over five layers the fractions multiply: the layers
near the input get a gradient hundreds or thousands of times smaller than the output
layer, and with one learning rate for all of them they barely move. This is the
<b>vanishing gradient</b> (Nielsen, ch. 5; Glorot &amp; Bengio 2010).</p>
<p><b>What the views show.</b> <i>Gradients</i>: the size of each layer's gradient,
||&part;loss/&part;W||, on a fixed batch of 256 training digits, input layer on the left, on
a log scale: the faint bars are the untrained net, the bright bars now. <i>Weight
change</i>: how far each layer's weights moved in each epoch, relative to their size.
<i>Compare fixes</i>: the held-out accuracy of every run of this session.</p>
<p><b>The fixes</b>, each one click:</p>
<ul>
<li><b>Greedy pretraining</b> (Hinton et al. 2006 with restricted Boltzmann machines;
Bengio et al. 2007 with autoencoders): train each layer in turn, without labels, to
rebuild the layer below it, then fine-tune the whole net. The layers start where their
signal carries information, and the gradient reaches them. This is what restarted deep
learning in 2006.</li>
<li><b>Rectified linear units</b> (Glorot, Bordes &amp; Bengio 2011): max(0, x) has slope
1 wherever it is active, so it does not shrink the gradient it passes on.</li>
<li><b>Careful initialisation</b> (Glorot &amp; Bengio 2010): weights scaled to the
number of inputs and outputs of each layer, so a signal keeps its size going up and the
gradient coming down. Their rule is derived for units with slope 1 at 0, like tanh; for
sigmoid units the weights here are 4 times larger (its slope at 0 is 1/4). Without that
factor the 5-layer sigmoid net still does not learn in 30 epochs.</li>
<li><b>Batch normalisation</b> (Ioffe &amp; Szegedy 2015): each layer's inputs are
normalised over the batch, which keeps the units where their slope is large.</li>
</ul>
<p>Measured on the 8x8 digits with the defaults (5 hidden layers of 30 sigmoid units,
plain SGD, 30 epochs, 3 seeds; <code>benchmarks/depth.py</code>): the untrained baseline's
gradient falls about 6 times per layer towards the input, and it stays at chance (10%)
held out. Each fix reaches about 90 to 96%.</p>
<p><b>Try this</b>: press <i>Baseline</i> and watch the bars on the left stay tiny and
the accuracy stay at 10%; then <i>Pretraining</i> and see the bars even out after phase 1.
Set hidden layers to 1: a shallow sigmoid net learns fine. Try tanh with small weights,
and ReLU with 10 layers.</p>
<p><b>Papers</b>: Glorot &amp; Bengio 2010, <i>Understanding the difficulty of training
deep feedforward neural networks</i> (AISTATS); Hinton, Osindero &amp; Teh 2006, <i>A fast
learning algorithm for deep belief nets</i> (Neural Computation); Bengio et al. 2007,
<i>Greedy layer-wise training of deep networks</i> (NIPS); Glorot, Bordes &amp; Bengio
2011, <i>Deep sparse rectifier neural networks</i> (AISTATS); Ioffe &amp; Szegedy 2015,
<i>Batch normalization: accelerating deep network training by reducing internal covariate
shift</i> (ICML); Nielsen 2015, <i>Neural networks and deep learning</i>, chapter 5, "Why
are deep neural networks hard to train?" (online book).</p>"""

FAINT = (170, 170, 200, 120)  # the untrained net's bars
NOW = COLOURS["train"]


def layer_label(name: str, index: int, count: int) -> str:
    if name == "output":
        return "output"
    return f"{index + 1} (input)" if index == 0 else str(index + 1)


class GradientBars(QWidget):
    """Each layer's gradient norm as a bar, on a log scale, input layer on the left: the
    untrained net's bars faint behind, the current ones bright."""

    def __init__(self, parent=None):
        super().__init__(parent)
        v = QVBoxLayout(self)
        self.plot = pg.PlotWidget()
        p = self.plot.getPlotItem()
        p.setTitle("Gradient norm of each layer", size="10pt")
        p.setLabel("bottom", "layer (input on the left)")
        p.setLabel("left", "||dLoss/dW||")
        p.getAxis("left").enableAutoSIPrefix(False)  # "(x0.001)" on a log axis misleads
        # the bars are drawn at log10 of the norm; the axis in log mode labels them 10^k
        p.setLogMode(False, True)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.start_bars = pg.BarGraphItem(x=[], height=[], width=0.38, brush=FAINT,
                                          pen=None)
        self.now_bars = pg.BarGraphItem(x=[], height=[], width=0.38, brush=NOW, pen=None)
        self.plot.addItem(self.start_bars)
        self.plot.addItem(self.now_bars)
        self.key = add_key(p)
        set_key(self.key, [key_entry("untrained", FAINT, "■"),
                           key_entry("now", NOW, "■")])
        self.plot.setToolTip(
            "The size of the gradient each layer's weights get from backpropagation, on a "
            "fixed batch of 256 training digits (log scale: one grid step is 10 times). "
            "Faint: the untrained net; bright: now. Bars falling to the left are the "
            "vanishing gradient: the layers near the input learn that much more slowly.")
        v.addWidget(self.plot, 1)
        self.note = QLabel("Start a run: the bars fill as it trains.")
        self.note.setWordWrap(True)
        v.addWidget(self.note)
        self.start: np.ndarray | None = None
        self.now: np.ndarray | None = None
        self.layers: list[str] = []

    def clear(self) -> None:
        self.start = self.now = None
        self.start_bars.setOpts(x=[], height=[])
        self.now_bars.setOpts(x=[], height=[])

    def set_norms(self, layers: list[str], norms, phase: str, epoch: int) -> None:
        norms = np.maximum(np.asarray(norms, np.float64), 1e-30)
        if phase == "start" or self.start is None or len(self.start) != len(norms):
            self.start = norms
            self.layers = list(layers)
        self.now = norms
        self._draw()
        first, last = self.now[0], self.now[-1]
        where = {"start": "Untrained", "pretrained": "After pretraining"}.get(
            phase, f"Epoch {epoch + 1}")
        self.note.setText(f"{where}: the first layer gets {first:.2g}, the output layer "
                          f"{last:.2g}: {self._ratio(last, first)}.")

    @staticmethod
    def _ratio(last: float, first: float) -> str:
        r = last / first
        if r >= 2:
            return f"{r:,.0f} times less at the input"
        if r <= 0.5:
            return f"{1 / r:,.0f} times more at the input"
        return "about even"

    def _draw(self) -> None:
        n = len(self.now)
        logs = np.log10(np.concatenate([self.start, self.now]))
        bottom = math.floor(float(logs.min())) - 0.3
        top = math.ceil(float(logs.max())) + 0.2
        x = np.arange(n, dtype=float)
        self.start_bars.setOpts(x=x - 0.2, y0=bottom,
                                height=np.log10(self.start) - bottom)
        self.now_bars.setOpts(x=x + 0.2, y0=bottom, height=np.log10(self.now) - bottom)
        axis = self.plot.getAxis("bottom")
        axis.setTicks([[(i, layer_label(name, i, n)) for i, name in enumerate(self.layers)]])
        self.plot.setXRange(-0.6, n - 0.4, padding=0)
        self.plot.setYRange(bottom, top, padding=0)


class WeightChangePlot(pg.PlotWidget):
    """Each layer's relative weight change per epoch, one curve per layer, log scale."""

    def __init__(self, parent=None):
        super().__init__(axisItems={"bottom": EpochAxis("bottom")}, parent=parent)
        p = self.getPlotItem()
        p.setTitle("How far each layer's weights moved per epoch", size="10pt")
        p.setLabel("bottom", "epoch")
        p.setLabel("left", "||W_t - W_t-1|| / ||W_t-1||")
        p.getAxis("left").enableAutoSIPrefix(False)
        p.setLogMode(False, True)
        self.key = add_key(p, side="right")
        self.setToolTip("How much each layer's weights changed in each epoch, relative to "
                        "their size (log scale). With a vanishing gradient the layers near "
                        "the input (red, orange) hardly move while the output layer does: they "
                        "stay the random features they started as.")
        self.curves: list[pg.PlotDataItem] = []
        self.data: list[list[tuple[int, float]]] = []

    def clear_data(self) -> None:
        for c in self.curves:
            self.removeItem(c)
        self.curves, self.data = [], []
        set_key(self.key, [])

    def add_epoch(self, epoch: int, layers: list[str], change) -> None:
        if len(self.curves) != len(layers):
            self.clear_data()
            n = len(layers)
            for i, name in enumerate(layers):
                colour = class_colour(i, max(n, 11))
                self.curves.append(self.plot(pen=pg.mkPen(colour, width=2), symbol="o",
                                             symbolSize=5, symbolBrush=colour,
                                             symbolPen=None))
                self.data.append([])
            set_key(self.key, [key_entry(layer_label(name, i, n), class_colour(i, max(n, 11)),
                                         LINE) for i, name in enumerate(layers)], columns=1)
        for i, value in enumerate(change):
            if value > 0 and math.isfinite(value):
                self.data[i].append((epoch + 1, float(value)))
            xs = np.array([d[0] for d in self.data[i]], float)
            ys = np.array([d[1] for d in self.data[i]], float)
            self.curves[i].setData(xs, ys)


class CompareView(QWidget):
    """A button per fix, the held-out accuracy curves of this session's runs, and a table
    of their final accuracy."""

    COLUMNS = ("Run", "Held-out accuracy", "Epochs", "Seconds")

    def __init__(self, parent=None):
        super().__init__(parent)
        v = QVBoxLayout(self)
        row = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        tips = {
            "Baseline": "The deep sigmoid net with small random weights: what stalled.",
            "ReLU": "The baseline with rectified linear units, max(0, x): slope 1 where "
                    "active, so the gradient is not shrunk on its way down.",
            "Glorot init": "The baseline with Glorot & Bengio's initialisation (x4 for "
                           "sigmoid units): a signal keeps its size from layer to layer.",
            "Batch norm": "The baseline with batch normalisation before each sigmoid: the "
                          "units stay where their slope is large.",
            "Pretraining": "The baseline, first pretrained greedily, one layer at a time, "
                           "as autoencoders, then fine-tuned (2006's way out).",
        }
        for fix in depth.FIXES:
            b = QPushButton(fix)
            b.setToolTip(tips[fix] + " Sets the form (depth, width, epochs and learning "
                         "rate stay as they are) and starts a run.")
            row.addWidget(b)
            self.buttons[fix] = b
        self.run_all = QPushButton("Run all")
        self.run_all.setToolTip("Run the baseline and every fix, one after another, with "
                                "the same depth, epochs and seed: the fairest comparison.")
        row.addWidget(self.run_all)
        row.addStretch(1)
        v.addLayout(row)
        self.plot = pg.PlotWidget(axisItems={"bottom": EpochAxis("bottom")})
        p = self.plot.getPlotItem()
        p.setTitle("Held-out accuracy of this session's runs", size="10pt")
        p.setLabel("bottom", "epoch")
        p.setLabel("left", "held-out accuracy")
        self.plot.setYRange(0, 1)
        self.key = add_key(p, side="right")
        self.plot.setToolTip("Held-out accuracy after each epoch, one curve per run of this "
                             "session (digits the nets never trained on). Chance is 10%.")
        v.addWidget(self.plot, 3)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setToolTip("Each run's final held-out accuracy. Runs with the same "
                              "epochs and seed compare fairly.")
        v.addWidget(self.table, 1)
        self.runs: list[dict] = []

    def begin(self, name: str, epochs: int) -> dict:
        colour = class_colour(len(self.runs) % 10)
        curve = self.plot.plot(pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=5,
                               symbolBrush=colour, symbolPen=None)
        run = {"name": name, "colour": colour, "curve": curve, "points": [],
               "epochs": epochs, "row": self.table.rowCount()}
        self.runs.append(run)
        self.table.insertRow(run["row"])
        self._cells(run, "running …", "")
        set_key(self.key, [key_entry(r["name"], r["colour"], LINE) for r in self.runs],
                columns=1)
        return run

    def add_point(self, run: dict, epoch: int, accuracy: float) -> None:
        run["points"] = [p for p in run["points"] if p[0] != epoch + 1]
        run["points"].append((epoch + 1, accuracy))
        xs, ys = zip(*sorted(run["points"]))
        run["curve"].setData(np.array(xs, float), np.array(ys, float))
        self._cells(run, f"{accuracy:.1%} so far", "")

    def end(self, run: dict, status: str, seconds: float) -> None:
        last = sorted(run["points"])[-1][1] if run["points"] else None
        text = f"{last:.1%}" if last is not None else "—"
        if status != "finished":
            text += f" ({status})"
        self._cells(run, text, f"{seconds:.1f}")

    def _cells(self, run: dict, accuracy: str, seconds: str) -> None:
        done = len(run["points"])
        for col, value in enumerate((run["name"], accuracy, f"{done}/{run['epochs']}",
                                     seconds)):
            self.table.setItem(run["row"], col, QTableWidgetItem(value))


class DepthTab(FamilyTab):
    def __init__(self, parent=None):
        super().__init__("depth", parent)
        self.gradients = GradientBars()
        self.panel.add_view(self.gradients, "Gradients",
                            "How big a gradient each layer gets, live")
        self.weight_change = WeightChangePlot()
        self.panel.add_view(self.weight_change, "Weight change",
                            "How far each layer's weights move per epoch")
        self.compare = CompareView()
        self.panel.add_view(self.compare, "Compare fixes",
                            "One click per fix; this session's runs side by side")
        self.add_about(ABOUT)
        self.queue: list[str] = []
        self.current: dict | None = None
        self.panel.events.connect(self._on_events)
        self.panel.finished.connect(self._on_finished)
        for fix, button in self.compare.buttons.items():
            button.clicked.connect(partial(self.run_fix, fix))
        self.compare.run_all.clicked.connect(self.run_all)

    # ------------------------------------------------------------ fixes
    def apply_fix(self, fix: str) -> None:
        """Put the baseline's units and weights and then one fix in the form."""
        self.panel.form.set_config(depth.with_fix(self.panel.form.config(), fix))

    def run_fix(self, fix: str) -> None:
        if self.panel.is_running():
            self.panel.log_message("A run is going on: stop it first, or wait.")
            return
        self.apply_fix(fix)
        self.panel.views.setCurrentWidget(self.compare)
        self.panel.start()

    def run_all(self) -> None:
        if self.panel.is_running():
            self.panel.log_message("A run is going on: stop it first, or wait.")
            return
        self.queue = list(depth.FIXES)[1:]
        self.run_fix("Baseline")

    def _next_in_queue(self) -> None:
        if self.queue and not self.panel.is_running():
            self.run_fix(self.queue.pop(0))

    # ------------------------------------------------------------ events
    def _on_events(self, batch: list) -> None:
        grads = changes = None
        for event in batch:
            if isinstance(event, Started) and self.current is None:
                config = self.panel.form.config()
                self.current = self.compare.begin(depth.variant_name(config), config.epochs)
                self.gradients.clear()
                self.weight_change.clear_data()
            elif isinstance(event, Artifact) and event.name == "config" \
                    and self.current is not None:  # a resumed run's settings
                self.current["name"] = depth.variant_name(event.value)
            elif isinstance(event, EpochMetrics) and self.current is not None:
                if "val_accuracy" in event.metrics:
                    self.compare.add_point(self.current, event.epoch,
                                           event.metrics["val_accuracy"])
            elif isinstance(event, Artifact) and event.name == "gradient_norms":
                if event.value["phase"] == "training":
                    grads = event.value  # only the latest of a batch is drawn
                else:  # the untrained (or just pretrained) net: always shown
                    self._show_gradients(event.value)
                    grads = None
            elif isinstance(event, Artifact) and event.name == "weight_change":
                changes = (changes or []) + [event.value]
        if grads is not None:
            self._show_gradients(grads)
        for c in changes or []:
            self.weight_change.add_epoch(c["epoch"], c["layers"], c["change"])

    def _show_gradients(self, g: dict) -> None:
        self.gradients.set_norms(g["layers"], g["norms"], g["phase"], g["epoch"])

    def _on_finished(self, done) -> None:
        if self.current is not None:
            seconds = getattr(done.result, "fit_seconds", 0.0) or 0.0
            self.compare.end(self.current, done.status, seconds)
            self.current = None
        if done.status != "finished":
            self.queue = []
        elif self.queue:
            QTimer.singleShot(0, self._next_in_queue)


if __name__ == "__main__":
    from app.main_window import run_standalone

    run_standalone(DepthTab)
