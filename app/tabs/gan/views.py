"""The digit GAN's views: the game's curves (both losses, D(real) and D(fake)), the judge's
scores over time with the class histogram, and the fixed-noise samples. Plot items are
built once and updated in place."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QPushButton, QHBoxLayout, QVBoxLayout, QWidget

from app.widgets.images import BarChart, ImageGrid
from app.widgets.plots import GrowingArray, LINE, add_key, key_entry, set_key

G_COLOUR, D_COLOUR = (80, 140, 255), (255, 140, 40)  # generator blue, discriminator orange


def _curve(plot: pg.PlotItem, colour, width: int = 2, style=None) -> pg.PlotDataItem:
    pen = pg.mkPen(colour, width=width)
    if style is not None:
        pen.setStyle(style)
    c = plot.plot(pen=pen)
    c.setDownsampling(auto=True, method="peak")
    c.setClipToView(True)
    return c


class Series:
    """Steps and values of one curve, growing."""

    def __init__(self):
        self.x, self.y = GrowingArray(), GrowingArray()

    def add(self, step: float, value: float) -> None:
        self.x.append(step)
        self.y.append(value)

    def clear(self) -> None:
        self.x.clear()
        self.y.clear()

    def show_on(self, curve: pg.PlotDataItem) -> None:
        curve.setData(self.x.view(), self.y.view())


class GamePlots(QWidget):
    """Where the monitor shows epochs elsewhere: the two players' losses, and what D says
    of real images and of fakes."""

    def __init__(self, parent=None):
        super().__init__(parent)
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = pg.PlotWidget(title="Losses")
        self.loss_plot.setLabel("bottom", "step")
        self.d_plot = pg.PlotWidget(title="What D says: probability of real")
        self.d_plot.setLabel("bottom", "step")
        self.d_plot.setYRange(0, 1, padding=0.02)
        for plot in (self.loss_plot, self.d_plot):
            plot.setMouseEnabled(False, False)
            plot.hideButtons()
            v.addWidget(plot)
        lp, dp = self.loss_plot.getPlotItem(), self.d_plot.getPlotItem()
        self.curves = {"g_loss": _curve(lp, G_COLOUR), "d_loss": _curve(lp, D_COLOUR),
                       "d_real": _curve(dp, (90, 200, 120)), "d_fake": _curve(dp, (220, 80, 80))}
        set_key(add_key(lp), [key_entry("generator", G_COLOUR, LINE),
                              key_entry("discriminator", D_COLOUR, LINE)])
        set_key(add_key(dp), [key_entry("D(real image)", (90, 200, 120), LINE),
                              key_entry("D(G(z)), a fake", (220, 80, 80), LINE)])
        self.loss_plot.setToolTip(
            "Each player's loss. They do not fall together as in other models: when one "
            "gains the other loses. A discriminator loss near 0 means D wins outright (the "
            "generator then learns little); wild swings that never settle are the game "
            "oscillating.")
        self.d_plot.setToolTip(
            "D's average verdict on a batch of real digits (green) and of fresh fakes "
            "(red). At the game's ideal end both sit at 0.5: D cannot tell them apart. "
            "For the Wasserstein critic this is the sigmoid of its score, which has no "
            "scale of its own.")
        self.series = {k: Series() for k in self.curves}

    def clear_data(self) -> None:
        for s in self.series.values():
            s.clear()
        self.refresh()

    def add(self, step: int, metrics: dict) -> None:
        for key, s in self.series.items():
            value = metrics.get(key)
            if value is not None and np.isfinite(value):
                s.add(step, value)

    def refresh(self) -> None:
        for key, s in self.series.items():
            s.show_on(self.curves[key])


class ScoresView(QWidget):
    """The judge's verdicts over training: classes covered, the share recognised with
    confidence, and the latest histogram of the classes it read."""

    def __init__(self, parent=None):
        super().__init__(parent)
        v = QVBoxLayout(self)
        self.judge_note = QLabel("The scores appear while a GAN trains (or after loading "
                                 "one): each scoring shows 500 new samples to a classifier.")
        self.judge_note.setWordWrap(True)
        v.addWidget(self.judge_note)
        self.now = QLabel("")
        self.now.setObjectName("scores_now")
        self.now.setWordWrap(True)
        v.addWidget(self.now)
        self.over_time = pg.PlotWidget(title="Scores while training")
        self.over_time.setLabel("bottom", "step")
        self.over_time.setMouseEnabled(False, False)
        self.over_time.hideButtons()
        self.over_time.setYRange(0, 1.0, padding=0.02)
        plot = self.over_time.getPlotItem()
        self.coverage_curve = _curve(plot, (80, 140, 255))
        self.confident_curve = _curve(plot, (255, 140, 40))
        self.agree_curve = _curve(plot, (150, 150, 190), 1)
        set_key(add_key(plot), [key_entry("classes covered (share of all)", (80, 140, 255),
                                          LINE),
                                key_entry("recognised with confidence", (255, 140, 40),
                                          LINE),
                                key_entry("the class asked for (conditional)",
                                          (150, 150, 190), LINE)])
        self.over_time.setToolTip(
            "Blue: the share of classes the judge found among the samples (1 = all ten "
            "digits appear). Orange: the share of samples it read with at least 90% "
            "confidence, a stand-in for 'looks like a real digit'. A blue line that drops "
            "while orange stays high is mode collapse: good digits, fewer kinds.")
        v.addWidget(self.over_time, 1)
        self.histogram = BarChart("Classes the judge read in the last 500 samples",
                                  "How many of the latest 500 samples the judge read as "
                                  "each class. Real data has about 50 of each; missing "
                                  "bars are classes the generator has dropped (mode "
                                  "collapse).")
        v.addWidget(self.histogram, 1)
        self.coverage, self.confident, self.agree = Series(), Series(), Series()
        self.latest = None

    def set_names(self, names) -> None:
        if list(names) != self.histogram.names:
            self.histogram.set_names([str(n) for n in names],
                                     [str(n)[:6] for n in names])

    def clear_data(self) -> None:
        for s in (self.coverage, self.confident, self.agree):
            s.clear()
        self.latest = None
        self._redraw()

    def add(self, scores) -> None:
        """A judge.Scores."""
        self.latest = scores
        self.coverage.add(scores.step, scores.coverage / max(scores.classes, 1))
        self.confident.add(scores.step, scores.confident)
        if scores.agree is not None:
            self.agree.add(scores.step, scores.agree)
        self._redraw()

    def _redraw(self) -> None:
        self.coverage.show_on(self.coverage_curve)
        self.confident.show_on(self.confident_curve)
        self.agree.show_on(self.agree_curve)
        s = self.latest
        if s is None:
            self.now.setText("")
            return
        if len(self.histogram.names) != len(s.histogram):
            self.set_names([str(i) for i in range(len(s.histogram))])
        h = np.asarray(s.histogram, float)
        self.histogram.set_values(h, -1)
        self.histogram.setYRange(0, max(h.max(), 1.0) * 1.1, padding=0)
        missing = [self.histogram.names[i] for i in np.flatnonzero(h == 0)]
        gone = f" Missing: {', '.join(missing)}." if missing else ""
        self.now.setText(f"<b>Step {s.step:,}</b>: {s.words()}.{gone}")

    def set_history(self, history: list) -> None:
        """A loaded GAN's scorings."""
        self.clear_data()
        for h in history:
            if isinstance(h, dict) and "coverage" in h and "step" in h:
                self.coverage.add(h["step"], h["coverage"] / max(len(self.histogram.names),
                                                                 1))
                self.confident.add(h["step"], h.get("confident", 0.0))
                if "agree" in h:
                    self.agree.add(h["step"], h["agree"])
        self._redraw()


class SamplesView(QWidget):
    """The grid of samples from fixed noise."""

    def __init__(self, parent=None):
        super().__init__(parent)
        v = QVBoxLayout(self)
        row = QHBoxLayout()
        self.explain = QLabel("The same 60 noise vectors z, drawn by the generator as it "
                              "learns: watch blobs become digits. Click one to explore it.")
        self.explain.setWordWrap(True)
        row.addWidget(self.explain, 1)
        self.new_noise = QPushButton("New noise")
        self.new_noise.setToolTip("Draw from 60 other noise vectors (after training; "
                                  "training keeps its own fixed ones)")
        row.addWidget(self.new_noise)
        v.addLayout(row)
        self.grid = ImageGrid(note="")
        self.grid.setToolTip("Samples G(z) from fixed noise. In a conditional GAN each "
                             "column is one class. Click a sample to explore it.")
        v.addWidget(self.grid, 1)
