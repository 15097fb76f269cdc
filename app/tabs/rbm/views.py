"""The RBM tab's views: the filters, the likelihood against a baseline, the Gibbs
chains that dream, and what pretraining was worth after fine-tuning."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QGridLayout, QHBoxLayout, QLabel, QPushButton, QSpinBox,
                               QVBoxLayout, QWidget)

from app.widgets.canvas import DrawingCanvas
from app.widgets.images import ImageGrid
from app.widgets.plots import COLOURS, DASHED, EpochAxis, add_key, key_entry, set_key
from nets.families.rbm import likelihood as lik

FILTERS_NOTE = ("Each image is scaled on its own: white pixels excite the unit, black ones "
                "inhibit it. The Autoencoders tab's Features view draws the same kind of grid: "
                "compare what the two learn from the same digits.")

FILTERS_TIP = ("Clean, local strokes and blobs are a sign of a well-trained RBM; noisy "
               "filters want more epochs or weight decay; many identical ones, a smaller "
               "learning rate.")

FREE_ENERGY_TIP = (
    "Overfitting, as the practical guide (Hinton 2010, section 6) watches for it: log p(v) "
    "= -F(v) - log Z, and log Z is the same for every digit, so the mean free energy of "
    "held-out digits minus that of training digits is how much more log-probability the "
    "model gives the digits it trained on, without ever computing Z. While that gap "
    "stays small the model generalises; when it starts to grow, it is learning the "
    "training digits themselves: stop, or add weight decay. Compare the two curves of the "
    "'free energy' plot of the training monitor.")

DREAMS_NOTE = ("36 Gibbs chains: hidden units sampled from the pixels, pixels from the "
               "hidden units, again and again. Where they wander is what the model believes "
               "digits look like.")
DREAMS_TIP = ("Shown: each chain's pixel probabilities after its last step. Nearby frames "
              "look alike because a chain moves slowly between modes (digits); more steps "
              "per frame show it jump further. For a deep belief net the chains run in the "
              "top RBM and each state is carried down to the pixels.")

COMPARISON_NOTE = (
    "<b>The 2006 lesson.</b> Hinton, Osindero &amp; Teh showed that a deep net started from "
    "greedily pretrained RBMs can be fine-tuned to a better classifier than the same net "
    "from random weights. Pretraining learns from every digit without labels; the labels "
    "only have to say which features mean which class, so it helps most when labels are "
    "few (try 100) and least when there are many (try 'all'). One run is one draw: the "
    "gap varies from seed to seed.")


CHAINS = 36


class FiltersView(QWidget):
    """One grid of filters per RBM of the stack: layer 1 on the pixels, deeper layers
    drawn through the ones below."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.box = QVBoxLayout(self)
        self.box.setContentsMargins(0, 0, 0, 0)
        self.grids: list[ImageGrid] = []
        self.grid(0).note.setText("The hidden units' filters appear here after the first "
                                  "epoch. " + FILTERS_NOTE)

    def grid(self, layer: int) -> ImageGrid:
        while len(self.grids) <= layer:
            g = ImageGrid()
            g.setToolTip(FILTERS_TIP)
            self.box.addWidget(g, 1)
            self.grids.append(g)
        return self.grids[layer]

    def show_layer(self, layer: int, images: np.ndarray, note: str = "") -> None:
        if layer == 0:
            head = "Layer 1: each image is one hidden unit's weights to the pixels."
        else:
            head = (f"Layer {layer + 1}: each unit's weights multiplied through the layers "
                    "below (an approximation: the sigmoids between are ignored).")
        extra = f" {FILTERS_NOTE}" if layer == 0 else ""
        self.grid(layer).set_images(images, note=f"{head} {note}{extra}".replace("  ", " "))

    def trim(self, layers: int) -> None:
        for g in self.grids[max(layers, 1):]:
            g.setParent(None)
            g.deleteLater()
        del self.grids[max(layers, 1):]


class LikelihoodView(QWidget):
    """Held-out (and training) log-likelihood per epoch against independent pixels; for a
    model too big for the exact sum, what annealed importance sampling estimated."""

    NEEDS = ("The exact log-likelihood needs one RBM of at most "
             f"{lik.EXACT_MAX_HIDDEN} hidden units on binarised pixels: log Z is then a "
             "sum over every hidden state. While this one trains, the monitors are the "
             "pseudo-log-likelihood and the free energy of training and held-out digits "
             "(the plots under the run controls). Hover here for how the free-energy gap "
             "shows overfitting.")

    def __init__(self, parent=None):
        super().__init__(parent)
        v = QVBoxLayout(self)
        self.note = QLabel("Train an RBM of 20 hidden units or fewer (one layer, binarised "
                           "pixels) to see its exact log-likelihood here. " + self.NEEDS)
        self.note.setWordWrap(True)
        self.note.setTextFormat(Qt.TextFormat.RichText)
        self.note.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.note.setToolTip(FREE_ENERGY_TIP)
        v.addWidget(self.note)
        self.plot = pg.PlotWidget(axisItems={"bottom": EpochAxis("bottom")})
        p = self.plot.getPlotItem()
        p.setTitle("Log-likelihood per digit (nats)", size="10pt")
        p.setLabel("bottom", "epoch")
        p.setLabel("left", "mean log p(v), nats")
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.setToolTip(
            "log p(v) = -F(v) - log Z with Z summed exactly over every hidden state, "
            "averaged over the digits, in nats (natural logs). Higher is better. The dashed "
            "line is a model of independent pixels (each on with its own frequency): an RBM "
            "above it has learnt how pixels go together. Held-out close to training: it "
            "generalises; held-out falling while training rises: it overfits.")
        self.val = p.plot(pen=pg.mkPen(COLOURS["val"], width=2, style=Qt.PenStyle.DashLine),
                          symbol="s", symbolSize=7, symbolPen=None,
                          symbolBrush=COLOURS["val"])
        self.train = p.plot(pen=pg.mkPen(COLOURS["train"], width=2), symbol="o",
                            symbolSize=6, symbolPen=None, symbolBrush=COLOURS["train"])
        self.line = pg.InfiniteLine(angle=0, pen=pg.mkPen((200, 200, 200), dash=[6, 4]),
                                    label="", labelOpts={"position": 0.03, "anchors":
                                                         [(0, 1), (0, 1)],
                                                         "color": (220, 220, 220)})
        self.line.setVisible(False)
        p.addItem(self.line, ignoreBounds=False)
        self.key = add_key(p)
        set_key(self.key, [key_entry("held out", COLOURS["val"], "■"),
                           key_entry("training (1,000 digits)", COLOURS["train"], "●"),
                           key_entry("independent pixels (held out)", (200, 200, 200),
                                     DASHED)])
        v.addWidget(self.plot, 1)
        self.points: dict[str, dict[int, float]] = {"": {}, "val_": {}}
        self.baseline: float | None = None
        self.exact: bool | None = None  # None: not known yet for this run
        self.why = ""
        self.ais: dict | None = None
        self.plot.hide()

    def clear(self) -> None:
        self.points = {"": {}, "val_": {}}
        self.baseline, self.exact, self.why, self.ais = None, None, "", None
        self.line.setVisible(False)
        self.val.setData([], [])
        self.train.setData([], [])
        self.note.setText("Waiting for the first epoch …")
        self.plot.hide()

    def set_baseline(self, value: float) -> None:
        if not np.isfinite(value):
            return
        self.baseline = float(value)
        self.line.setVisible(True)  # first: a hidden line's label ignores new text
        self.line.setValue(self.baseline)
        self.line.label.setFormat(f"independent pixels: {self.baseline:.2f} nats")
        self._refresh()

    def set_ais(self, estimate: dict) -> None:
        self.ais = estimate
        self._refresh()

    def add_epoch(self, epoch: int, metrics: dict) -> None:
        found = False
        for prefix in ("", "val_"):
            value = metrics.get(prefix + "log_likelihood")
            if isinstance(value, (int, float)) and np.isfinite(value):
                self.points[prefix][epoch + 1] = float(value)
                found = True
        if found:
            self.exact = True
            for prefix, curve in (("", self.train), ("val_", self.val)):
                pts = sorted(self.points[prefix].items())
                curve.setData([e for e, _ in pts], [y for _, y in pts])
        elif self.exact is None:
            self.exact = False
        self._refresh()

    def set_not_exact(self, why: str) -> None:
        self.exact, self.why = False, why
        self._refresh()

    def _versus_baseline(self, value: float) -> str:
        if self.baseline is None:
            return ""
        return (f", {value - self.baseline:+.2f} against independent pixels "
                f"({self.baseline:.2f})")

    def _refresh(self) -> None:
        self.plot.setVisible(bool(self.exact))
        if self.exact is None:
            return
        if not self.exact:
            text = f"{self.why} {self.NEEDS}".strip()
            if self.ais:
                a = self.ais
                text = (f"<b>After training</b>, annealed importance sampling (Salakhutdinov "
                        f"&amp; Murray 2008; {a['runs']} chains of {a['steps']:,} steps from "
                        f"independent pixels to the RBM) estimated log Z, giving a held-out "
                        f"log-likelihood of <b>{a['val_log_likelihood']:.2f} nats</b> per "
                        f"digit{self._versus_baseline(a['val_log_likelihood'])} (between "
                        f"{a['low']:.2f} and {a['high']:.2f}). AIS tends to overestimate "
                        f"it when its chains mix badly.<br><br>{text}")
            self.note.setText(text)
            return
        last = self.points["val_"]
        text = "Held-out log-likelihood, exact: higher is better."
        if last:
            value = last[max(last)]
            text = (f"Held-out log-likelihood after epoch {max(last)}: <b>{value:.2f} nats</b> "
                    f"per digit{self._versus_baseline(value)}.")
        self.note.setText(text + " Hover here for how to watch overfitting when the exact "
                                 "value is out of reach.")


class DreamsView(QWidget):
    """Gibbs chains, animated: started from noise, from held-out digits, or from the top
    half of a drawing held fixed."""

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        self.grid = ImageGrid(note="Train an RBM or open a saved one (Open model, or the "
                                   "last one trained), then watch it dream here.")
        self.grid.setToolTip(DREAMS_TIP)
        layout.addWidget(self.grid, 1)
        side = QVBoxLayout()
        self.from_noise = QPushButton("From noise")
        self.from_noise.setToolTip("Start every chain from random pixels. Early on the "
                                   "chains wander; a good model soon shows digit-like "
                                   "shapes. A model trained with CD-1 may stay blotchy: "
                                   "CD only learns what happens near the data.")
        self.from_held_out = QPushButton("From held-out digits")
        self.from_held_out.setToolTip("Start each chain at a held-out digit (binarised) "
                                      "the model never trained on. Watch whether it stays "
                                      "that digit, morphs into another, or dissolves.")
        side.addWidget(self.from_noise)
        side.addWidget(self.from_held_out)
        side.addSpacing(8)
        side.addWidget(QLabel("<b>Clamp</b>: draw a digit"))
        row = QHBoxLayout()
        self.canvas = DrawingCanvas(size=140, pen_width=10)
        row.addWidget(self.canvas)
        self.clear = QPushButton("Clear")
        self.clear.clicked.connect(self.canvas.clear)
        row.addWidget(self.clear, 0, Qt.AlignmentFlag.AlignBottom)
        side.addLayout(row)
        self.clamp = QPushButton("Clamp the top half of my drawing")
        self.clamp.setToolTip("Hold the top half of your digit fixed in every chain and let "
                              "the chains fill in the bottom half: the RBM completes a "
                              "pattern. Different chains may finish it as different digits. "
                              "(Clamping uses the first RBM of a deep belief net.)")
        side.addWidget(self.clamp)
        side.addSpacing(8)
        controls = QGridLayout()
        self.play = QPushButton("Pause")
        self.play.setToolTip("Pause or play the chains")
        controls.addWidget(self.play, 0, 0, 1, 2)
        controls.addWidget(QLabel("Steps per frame"), 1, 0)
        self.steps = QSpinBox()
        self.steps.setRange(1, 1000)
        self.steps.setValue(1)
        self.steps.setToolTip("Gibbs steps between two frames. One step shows how a chain "
                              "moves; 100 shows where it goes. Nearby frames of a chain "
                              "look alike: a chain mixes slowly.")
        controls.addWidget(self.steps, 1, 1)
        side.addLayout(controls)
        self.status = QLabel("No chains yet.")
        self.status.setWordWrap(True)
        side.addWidget(self.status)
        side.addStretch(1)
        panel = QWidget()
        panel.setLayout(side)
        panel.setFixedWidth(240)  # the chains get the rest of the room
        layout.addWidget(panel)


class ComparisonView(QWidget):
    """Held-out accuracy after fine-tuning: from the pretrained stack and from random
    weights."""

    BEFORE = ("Set 'Fine-tune with labels' (100, 1000 or all) and train: after pretraining, "
              "the stack gets a softmax on top and is fine-tuned by backprop on that many "
              "labelled digits, beside the same net from random weights trained the same "
              "way. Their held-out accuracies appear here.")

    def __init__(self, parent=None):
        super().__init__(parent)
        v = QVBoxLayout(self)
        self.text = QLabel(self.BEFORE)
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        v.addWidget(self.text)
        self.plot = pg.PlotWidget(title="Held-out accuracy after fine-tuning")
        self.plot.setYRange(0, 1.08, padding=0)
        self.plot.setXRange(-0.6, 2.6, padding=0)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.setLabel("left", "held-out accuracy")
        self.plot.getAxis("bottom").setTicks([[(0, "pretrained (DBN)"),
                                               (1, "random weights"),
                                               (2, "ReLU, Glorot")]])
        self.plot.setToolTip("The same net, the same labelled digits, the same fine-tuning "
                             "(Adam, cross-entropy): only the starting weights differ. The "
                             "third bar is the same sizes of ReLU units from Glorot weights: "
                             "the later way round what pretraining solved.")
        self.bars = pg.BarGraphItem(x=[0, 1, 2], height=[0, 0, 0], width=0.6,
                                    brushes=[pg.mkBrush(255, 160, 40),
                                             pg.mkBrush(90, 130, 220),
                                             pg.mkBrush(120, 190, 120)])
        self.plot.addItem(self.bars)
        self.values = [pg.TextItem("", anchor=(0.5, 1.0), color=(230, 230, 230))
                       for _ in range(3)]
        for i, item in enumerate(self.values):
            item.setPos(i, 0)
            self.plot.addItem(item)
        v.addWidget(self.plot, 1)
        self.lesson = QLabel(COMPARISON_NOTE)
        self.lesson.setWordWrap(True)
        self.lesson.setTextFormat(Qt.TextFormat.RichText)
        v.addWidget(self.lesson)
        self.scores: dict | None = None

    def clear(self) -> None:
        self.scores = None
        self.bars.setOpts(height=[0, 0, 0])
        for item in self.values:
            item.setText("")
        self.text.setText(self.BEFORE)

    def show_scores(self, scores: dict) -> None:
        self.scores = scores
        pre, rnd = float(scores["pretrained"]), float(scores["random"])
        relu = float(scores.get("relu", 0.0))  # files saved before it was added lack it
        self.bars.setOpts(height=[pre, rnd, relu])
        for i, value in enumerate((pre, rnd, relu)):
            self.values[i].setText(f"{value:.1%}" if value else "")
            self.values[i].setPos(i, value)
        text = (f"Fine-tuned on <b>{int(scores['labels']):,}</b> labelled digits: from the "
                f"<b>pretrained</b> stack {pre:.1%} held-out accuracy, from <b>random "
                f"weights</b> {rnd:.1%} (a gap of {100 * (pre - rnd):+.1f} points in this "
                f"run); ReLU units from Glorot weights {relu:.1%}.")
        grads = [scores.get(f"{k}_gradient_norms") for k in ("pretrained", "random")]
        if all(grads):
            ratio = [g[-1] / max(g[0], 1e-30) for g in grads]
            text += (f"<br>Before fine-tuning, the first layer's gradient was "
                     f"{ratio[0]:,.0f} times smaller than the output layer's in the "
                     f"pretrained net and {ratio[1]:,.0f} times in the random one (the "
                     f"vanishing gradient of <i>Why deep nets stalled</i>).")
        self.text.setText(text)
