"""Backpropagation one example at a time: the forward pass layer by layer (each neuron's
weighted sum and activation), the loss, the backward pass (each weight's gradient by the
chain rule) and the update W <- W - rate * dC/dW, as numbers on the network and in words.
The hand-worked gradients are checked against Keras' automatic ones."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPushButton, QSpinBox, QSplitter,
                               QTextBrowser, QVBoxLayout, QWidget)

from app.tabs.neurons.network import NetworkView, Picture
from nets.families.neurons import by_hand

MAX_EDGE_NOTES = 40  # more numbers than this on one picture is a blur: the text lists them
MAX_TERMS = 8  # a weighted sum written out term by term up to this many inputs


def fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.1e}"


@dataclass
class Example:
    """What is stepped through: a network and one training point."""

    feature_names: list  # how the inputs are written
    activations: list  # each layer's f, the output's last
    weights: list  # Keras' order [W1, b1, ...]
    x: np.ndarray  # (inputs,) the point's features
    y: int  # its class
    where: str  # "point 12 at (1.2, -3.4)"
    learning_rate: float
    l1: float = 0.0
    l2: float = 0.0


class BackpropView(QWidget):
    update_applied = Signal(object)  # the weights after the update (a list of arrays)
    point_chosen = Signal(int)  # the index of the training point to step through
    check_wanted = Signal(object)  # an Example whose gradients Keras should compute

    def __init__(self, parent=None):
        super().__init__(parent)
        self.example: Example | None = None
        self.trace: by_hand.Trace | None = None
        self.stages: list[tuple] = []
        self.stage = 0
        self.diagram = NetworkView()
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        self.point = QSpinBox()
        self.point.setToolTip("Which training point to follow through the network (or pick "
                              "one on the plane with Alt-click or the middle button).")
        self.point.valueChanged.connect(self.point_chosen)
        self.back = QPushButton("◀ Back")
        self.next = QPushButton("Next ▶")
        self.first = QPushButton("From the start")
        self.apply = QPushButton("Apply the update")
        self.back.setToolTip("The step before (Left arrow).")
        self.next.setToolTip("The next step: forward layer by layer, the loss, backward "
                             "layer by layer, the update (Right arrow or Space).")
        self.apply.setToolTip("Make the update for real: the network's weights become the "
                              "new ones (not while a run trains it).")
        self.back.clicked.connect(self.step_back)
        self.next.clicked.connect(self.step_on)
        self.first.clicked.connect(self.restart)
        self.apply.clicked.connect(self._apply)
        self.check = QLabel("")
        self.check.setObjectName("gradient_check")
        self.check.setWordWrap(True)
        self.check.setToolTip("Keras works out the same gradients by automatic "
                              "differentiation; the tick says the hand-worked ones agree.")
        row = QHBoxLayout()
        row.addWidget(QLabel("Training point"))
        row.addWidget(self.point)
        for b in (self.first, self.back, self.next, self.apply):
            row.addWidget(b)
        row.addStretch(1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.diagram)
        split.addWidget(self.text)
        split.setSizes([380, 260])
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.check)
        layout.addWidget(split, 1)
        for keys, slot in (("Right", self.step_on), ("Space", self.step_on),
                           ("Left", self.step_back)):
            sc = QShortcut(QKeySequence(keys), self)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(slot)
        self.show_nothing("Start a run, open a model, or choose a generated data set to "
                          "have a network and points to step through.")

    # ------------------------------------------------------------ input
    def show_nothing(self, why: str) -> None:
        self.example = self.trace = None
        self.stages = []
        self.diagram.show_picture(Picture())
        self.text.setHtml(f"<p>{why}</p>")
        self.check.setText("")
        for b in (self.back, self.next, self.first, self.apply):
            b.setEnabled(False)

    def set_points(self, count: int, chosen: int) -> None:
        self.point.blockSignals(True)
        self.point.setRange(0, max(count - 1, 0))
        self.point.setValue(min(chosen, max(count - 1, 0)))
        self.point.blockSignals(False)

    def set_example(self, example: Example, can_apply: bool) -> None:
        """A network and a point to step through; stays at the same step where it can."""
        if example.activations[-1] == "threshold":
            self.show_nothing("A threshold neuron has no slope, so backpropagation has "
                              "nothing to send back: this one learns by the perceptron rule "
                              "(for each mistake, w ← w + α (y − ŷ) x). Choose the sigmoid "
                              "output to step through backpropagation.")
            return
        self.example = example
        self.trace = by_hand.backward(example.weights, example.activations,
                                      example.x[None, :], [example.y], example.l1,
                                      example.l2)
        layers = len(example.activations)
        self.stages = ([("forward", k) for k in range(layers)] + [("loss",)] +
                       [("backward", k) for k in range(layers - 1, -1, -1)] + [("update",)])
        self.stage = min(self.stage, len(self.stages) - 1)
        self._can_apply = can_apply
        self.check.setText("Checking the hand-worked gradients against Keras …")
        self.check_wanted.emit(example)
        self._show()

    def show_check(self, largest_difference: float) -> None:
        ok = largest_difference <= 1e-4
        self.check.setText(
            f"<span style='color:{'#2a8a2a' if ok else '#b00020'}; font-weight:bold'>"
            f"{'✓' if ok else '✗'}</span> Keras' automatic gradients "
            f"{'agree with' if ok else 'DIFFER from'} the hand-worked ones: the largest "
            f"difference is {largest_difference:.1e}.")

    # ------------------------------------------------------------ stepping
    def step_on(self) -> None:
        if self.stages and self.stage < len(self.stages) - 1:
            self.stage += 1
            self._show()

    def step_back(self) -> None:
        if self.stages and self.stage > 0:
            self.stage -= 1
            self._show()

    def restart(self) -> None:
        if self.stages:
            self.stage = 0
            self._show()

    def _apply(self) -> None:
        if self.example is not None:
            self.update_applied.emit(self._updated())

    def _updated(self) -> list:
        return by_hand.update(self.example.weights, self.trace.grads,
                              self.example.learning_rate)

    def _show(self) -> None:
        kind = self.stages[self.stage]
        self.back.setEnabled(self.stage > 0)
        self.first.setEnabled(self.stage > 0)
        self.next.setEnabled(self.stage < len(self.stages) - 1)
        self.apply.setEnabled(kind[0] == "update" and self._can_apply)
        picture, html = getattr(self, "_" + kind[0])(*kind[1:])
        head = (f"<p><b>Step {self.stage + 1} of {len(self.stages)}</b> · "
                f"{self.example.where}, class {self.example.y}</p>")
        self.diagram.show_picture(picture)
        self.text.setHtml(head + html)

    def _picture(self, focus=None, weights=None) -> Picture:
        ex = self.example
        ws = by_hand.layers_of(weights or ex.weights)
        columns = [("inputs", list(ex.feature_names))]
        for k, f in enumerate(ex.activations[:-1]):
            columns.append((f"layer {k + 1}: {f}", [""] * ws[k][0].shape[1]))
        columns.append(("output", [""]))
        return Picture(columns=columns, maps=[None] * len(columns),
                       weights=[w for w, _ in ws], focus=focus, numbers=True)

    def _name(self, k: int) -> str:
        return "the output" if k == len(self.example.activations) - 1 else f"layer {k + 1}"

    def _forward(self, k: int):
        ex, t = self.example, self.trace
        pic = self._picture(focus=k + 1)
        for u, v in enumerate(ex.x):
            pic.node_notes[(0, u)] = fmt(v)
        for layer in range(k + 1):
            for u in range(t.z[layer].shape[1]):
                pic.node_notes[(layer + 1, u)] = (f"z={fmt(t.z[layer][0, u])}\n"
                                                  f"a={fmt(t.a[layer][0, u])}")
        w, b = by_hand.layers_of(ex.weights)[k]
        below = ex.x if k == 0 else t.a[k - 1][0]
        f = ex.activations[k]
        rows = []
        for u in range(w.shape[1]):
            terms = " + ".join(f"({fmt(w[i, u])})({fmt(below[i])})"
                               for i in range(min(len(below), MAX_TERMS)))
            if len(below) > MAX_TERMS:
                terms += f" + … ({len(below) - MAX_TERMS} more)"
            rows.append(f"<li>neuron {u + 1}: z = {terms} + ({fmt(b[u])}) = "
                        f"<b>{fmt(t.z[k][0, u])}</b>; a = {f}(z) = "
                        f"<b>{fmt(t.a[k][0, u])}</b></li>")
        html = (f"<p><b>Forward, {self._name(k)}.</b> Each neuron takes the weighted sum of "
                f"what comes in, z = Σ w·a + b, and passes it through its activation: "
                f"a = f(z).</p><ul>{''.join(rows)}</ul>")
        return pic, html

    def _loss(self):
        ex, t = self.example, self.trace
        pic = self._picture(focus=len(ex.activations))
        a = float(t.a[-1][0, 0])
        pic.node_notes[(len(ex.activations), 0)] = f"a={fmt(a)}\nC={fmt(t.loss)}"
        term = f"−ln({fmt(a)})" if ex.y == 1 else f"−ln(1 − {fmt(a)})"
        html = (f"<p><b>The loss.</b> The output a = {fmt(a)} is the network's probability "
                f"that the point is class 1; it is class {ex.y}. The cross-entropy "
                f"C = −(y ln a + (1 − y) ln(1 − a)) = {term} = <b>{fmt(t.data_loss)}</b>.")
        if t.loss != t.data_loss:
            html += (f" The penalty on the weights adds {fmt(t.loss - t.data_loss)}: "
                     f"C = <b>{fmt(t.loss)}</b>.")
        html += " It is small when the network is confidently right.</p>"
        return pic, html

    def _backward(self, k: int):
        ex, t = self.example, self.trace
        layers = len(ex.activations)
        pic = self._picture(focus=k + 1)
        for layer in range(k, layers):
            for u in range(t.deltas[layer].shape[1]):
                pic.node_notes[(layer + 1, u)] = f"δ={fmt(t.deltas[layer][0, u])}"
        dw = t.grads[2 * k]
        if dw.size <= MAX_EDGE_NOTES:
            for i in range(dw.shape[0]):
                for j in range(dw.shape[1]):
                    pic.edge_notes[(k, i, j)] = fmt(dw[i, j])
        f = ex.activations[k]
        slope = {"tanh": "1 − a²", "sigmoid": "a(1 − a)", "relu": "1 if z > 0, else 0",
                 "linear": "1"}[f]
        if k == layers - 1:
            a = float(t.a[-1][0, 0])
            why = (f"<p><b>Backward, the output.</b> By the chain rule, δ = dC/dz = "
                   f"dC/da · f′(z). dC/da = −y/a + (1 − y)/(1 − a) = "
                   f"{fmt(float(t.dc_da[0, 0]))}; f′(z) = {slope} = "
                   f"{fmt(float(t.deltas[k][0, 0] / t.dc_da[0, 0]))} (a = {fmt(a)}); so "
                   f"δ = <b>{fmt(float(t.deltas[k][0, 0]))}</b> (for a sigmoid output "
                   f"this is just a − y).</p>")
        else:
            w_above = by_hand.layers_of(ex.weights)[k + 1][0]
            rows = []
            for u in range(t.deltas[k].shape[1]):
                back = float(w_above[u] @ t.deltas[k + 1][0])
                rows.append(f"<li>neuron {u + 1}: Σ w·δ = {fmt(back)}, f′(z) = "
                            f"{fmt(float(t.deltas[k][0, u] / back) if back else 0.0)}, "
                            f"δ = <b>{fmt(float(t.deltas[k][0, u]))}</b></li>")
            why = (f"<p><b>Backward, {self._name(k)}.</b> A neuron's error δ = dC/dz is "
                   f"the errors of the layer above, weighted by the weights that carry its "
                   f"output there, times its own slope: δ = (Σ w·δ<sub>above</sub>) · "
                   f"f′(z), with f′ = {slope}.</p><ul>{''.join(rows)}</ul>")
        below = ex.x if k == 0 else t.a[k - 1][0]
        names = list(ex.feature_names) if k == 0 else [
            f"a{i + 1}" for i in range(len(below))]
        grads = []
        for j in range(dw.shape[1]):
            for i in range(min(dw.shape[0], MAX_TERMS)):
                grads.append(f"dC/dw[{names[i]}→{j + 1}] = {fmt(below[i])} × "
                             f"{fmt(float(t.deltas[k][0, j]))} = <b>{fmt(dw[i, j])}</b>")
        penalty = (" (plus the penalty's share, l1·sign(w) + 2·l2·w)"
                   if ex.l1 or ex.l2 else "")
        why += (f"<p>Each weight's gradient is what flows into it times the error where it "
                f"arrives: dC/dw = a<sub>below</sub> · δ{penalty}; each bias's is δ."
                f"</p><p>{'<br>'.join(grads)}</p>")
        return pic, why

    def _update(self):
        ex = self.example
        new = self._updated()
        pic = self._picture(focus=None, weights=new)
        for g, (w, _) in enumerate(by_hand.layers_of(new)):
            if w.size <= MAX_EDGE_NOTES:
                for i in range(w.shape[0]):
                    for j in range(w.shape[1]):
                        pic.edge_notes[(g, i, j)] = fmt(w[i, j])
        after = by_hand.backward(new, ex.activations, ex.x[None, :], [ex.y], ex.l1, ex.l2)
        w0, g0 = np.asarray(ex.weights[0]), self.trace.grads[0]
        html = (f"<p><b>The update.</b> Every weight and bias moves against its gradient: "
                f"W ← W − α dC/dW, with the learning rate α = {fmt(ex.learning_rate)}. "
                f"For instance the first weight: {fmt(w0.flat[0])} − {fmt(ex.learning_rate)}"
                f" × {fmt(g0.flat[0])} = <b>{fmt(new[0].flat[0])}</b>.</p>"
                f"<p>On this point the loss goes from {fmt(self.trace.loss)} to "
                f"<b>{fmt(after.loss)}</b>. Training does this for every batch of points "
                f"(the gradient averaged over the batch), many times over.</p>")
        if not self._can_apply:
            html += "<p><i>A run is training this network: Apply waits until it ends.</i></p>"
        return pic, html
