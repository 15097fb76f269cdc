"""The 2-D GAN game's pictures: the plane with its layers (the discriminator's heat map, real
and fake points, the generator's pushes as arrows, the warped noise grid, the modes) on
which a person may draw a target, and the live score plots beside it."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from app.widgets.plots import GrowingArray, key_entry

# GAN Lab's pair: green for real, purple for fake (heat map and points alike)
REAL, FAKE = (27, 158, 119), (117, 80, 170)
ARROW, GRID_PEN, DRAWN = (40, 40, 40), (230, 120, 20), (200, 60, 60)
ARROW_LENGTH = 0.3  # plane units of a typical (90th-percentile) push


def _lut() -> np.ndarray:
    """256 colours from likely fake (purple, 0) through unsure (white, 0.5) to likely
    real (green, 1)."""
    t = np.linspace(-1, 1, 256)[:, None]
    white = np.array([250, 250, 250], float)
    lut = np.where(t < 0, white + (-t) * (np.array(FAKE) * 1.15 - white) * 0.55,
                   white + t * (np.array(REAL) * 1.1 - white) * 0.55)
    return np.clip(lut, 0, 255).astype(np.uint8)


LAYERS = {  # name -> its tooltip: what the layer means
    "heat map": "The discriminator's verdict on every spot of the plane: green where it "
                "says 'real', purple where it says 'fake', white where it cannot tell. "
                "The generator wins when the fakes sit in green.",
    "real points": "Samples of the target distribution: what the generator should learn "
                   "to imitate (green dots).",
    "fake points": "The generator's output for 512 fixed noise vectors (purple dots): they "
                   "move as the generator learns.",
    "arrows": "Where the generator's loss pushes each fake: minus the gradient of its "
              "loss term with respect to the point, scaled so a typical push is short. "
              "They point uphill on the heat map, towards 'real'; the generator can only "
              "follow them through its weights.",
    "noise grid": "The generator as a map: a square lattice of lines in its 2-D noise "
                  "space, drawn where the generator sends it. Stretched cells make few "
                  "fakes; folded, crowded ones make many.",
    "modes": "The target's modes (for the mixture its eight Gaussians; otherwise eight "
             "k-means cells of it): a filled ring is covered by fakes, an empty one "
             "is missed.",
}


class PlanePlot(pg.PlotWidget):
    """The plane. In drawing mode a drag adds points to the drawn target."""

    drawn = Signal(float, float)  # a point the person drew

    def __init__(self, extent: float, parent=None):
        super().__init__(parent)
        self.extent = extent
        self.drawing = False
        self._last = None
        self._real = self._modes = None  # what those layers show now
        self.setBackground("w")
        self.setAspectLocked(True)
        self.setRange(xRange=(-extent, extent), yRange=(-extent, extent), padding=0)
        self.setMouseEnabled(False, False)
        self.setMenuEnabled(False)
        self.hideButtons()
        self.layers: dict[str, pg.GraphicsObject] = {}
        heat = pg.ImageItem(axisOrder="row-major")
        heat.setLookupTable(_lut())
        heat.setLevels((0, 1))
        self.layers["heat map"] = heat
        self.layers["noise grid"] = pg.PlotDataItem(
            pen=pg.mkPen(*GRID_PEN, 140, width=1), connect="finite")
        self.layers["real points"] = pg.ScatterPlotItem(
            size=5, pen=None, brush=pg.mkBrush(*REAL, 200))
        self.layers["fake points"] = pg.ScatterPlotItem(
            size=5, pen=None, brush=pg.mkBrush(*FAKE, 220))
        self.layers["arrows"] = pg.PlotDataItem(pen=pg.mkPen(*ARROW, 170, width=1),
                                                connect="pairs")
        self.layers["modes"] = pg.ScatterPlotItem(size=22, symbol="o")
        self.drawing_item = pg.ScatterPlotItem(size=4, pen=None,
                                               brush=pg.mkBrush(*DRAWN, 160))
        for item in (*self.layers.values(), self.drawing_item):
            self.addItem(item)
        for name, item in self.layers.items():
            item.setToolTip(LAYERS[name])
        self.setToolTip("The plane of the game. Green and purple underneath: the "
                        "discriminator's verdict; dots: real (green) and fake (purple); "
                        "lines from the fakes: where the generator will push them. With "
                        "'Draw' on, drag here to draw your own target.")

    def show_layer(self, name: str, on: bool) -> None:
        self.layers[name].setVisible(on)

    def update_layers(self, snap: dict) -> None:
        e = snap["extent"]
        heat = snap["heat"]
        levels = (0.0, 1.0)
        if snap.get("loss") == "wasserstein":
            # a clipped critic's scores are small, so sigmoid(score) stays near 0.5:
            # stretch the colours over what it says now (the status line says so)
            r = max(float(np.abs(heat - 0.5).max()), 1e-6)
            levels = (0.5 - r, 0.5 + r)
        self.layers["heat map"].setImage(heat, levels=levels,
                                         rect=QRectF(-e, -e, 2 * e, 2 * e))
        # a diverging generator's points may be huge or not finite: keep them drawable
        fake = np.nan_to_num(np.clip(snap["fake"], -1e3, 1e3))
        push = np.nan_to_num(snap["push"])
        # the reals and the modes change only with the target: redraw them only then
        # (a scatter's setData is the costliest part of a frame)
        if self._real is None or not np.array_equal(self._real, snap["real"]):
            self._real = snap["real"]
            self.layers["real points"].setData(pos=snap["real"])
        self.layers["fake points"].setData(pos=fake)
        size = np.linalg.norm(push, axis=1)
        typical = np.percentile(size, 90) if len(size) else 0.0
        scale = ARROW_LENGTH / typical if typical > 0 else 0.0
        tips = fake + np.clip(push * scale, -2 * ARROW_LENGTH, 2 * ARROW_LENGTH)
        pairs = np.empty((2 * len(fake), 2), np.float32)
        pairs[0::2], pairs[1::2] = fake, tips
        self.layers["arrows"].setData(pairs[:, 0], pairs[:, 1])
        warped = np.clip(snap["warped"], -1e3, 1e3)  # (lines, points, 2): a NaN after each line breaks it
        gap = np.full((warped.shape[0], 1, 2), np.nan, np.float32)
        lines = np.concatenate([warped, gap], 1).reshape(-1, 2)
        self.layers["noise grid"].setData(lines[:, 0], lines[:, 1])
        covered = snap["covered_each"]
        key = (snap["mode_centres"].tobytes(), covered.tobytes())
        if key == self._modes:
            return
        self._modes = key
        self.layers["modes"].setData(
            pos=snap["mode_centres"],
            pen=[pg.mkPen(*(FAKE if c else (150, 150, 150)), width=2) for c in covered],
            brush=[pg.mkBrush(*FAKE, 60) if c else None for c in covered])

    def show_drawing(self, points: np.ndarray) -> None:
        if len(points):
            self.drawing_item.setData(pos=points)
        else:
            self.drawing_item.clear()

    # ------------------------------------------------------------ drawing
    def _add(self, event) -> None:
        p = self.plotItem.vb.mapSceneToView(self.mapToScene(event.position().toPoint()))
        x, y = p.x(), p.y()
        if abs(x) > self.extent or abs(y) > self.extent:
            return
        if self._last is not None and np.hypot(x - self._last[0], y - self._last[1]) < 0.04:
            return  # a slow drag would pile points on one spot
        self._last = (x, y)
        self.drawn.emit(float(x), float(y))

    def mousePressEvent(self, event) -> None:
        if self.drawing and event.button() == Qt.MouseButton.LeftButton:
            self._last = None
            self._add(event)
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self.drawing and event.buttons() & Qt.MouseButton.LeftButton:
            self._add(event)
        else:
            super().mouseMoveEvent(event)


class ScorePlots(QWidget):
    """Four small live plots against generator steps: the losses, D(real) and D(fake),
    the share of modes covered, the distance between the clouds."""

    SPECS = (  # title, [(key, colour, name)], tooltip
        ("Losses", [("d_loss", FAKE, "D"), ("g_loss", (230, 120, 20), "G")],
         "Mean discriminator and generator loss over the steps since the last redraw. "
         "In a GAN neither falls to zero for long: each player's loss is the other's aim."),
        ("D(real), D(fake)", [("d_real", REAL, "D(real)"), ("d_fake", FAKE, "D(fake)")],
         "The discriminator's mean realness for the shown real and fake points. At the "
         "game's equilibrium both sit at 0.5: it cannot tell them apart."),
        ("Modes covered", [("modes covered", (60, 60, 60), "share")],
         "The share of the target's modes that hold at least a quarter of their fair "
         "share of fakes (fakes within 2 sigma of a Gaussian, or near the target, count "
         "for the nearest mode). Mode collapse shows as a low share."),
        ("Distance", [("distance", (60, 60, 60), "sliced W1")],
         "Sliced Wasserstein distance between fakes and reals: the mean, over 64 "
         "directions, of how far the projected points must move to match (plane units; "
         "0 is a perfect match)."),
    )

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QGridLayout(self)  # two by two, under the plane: the plane keeps the width
        layout.setContentsMargins(0, 0, 0, 0)
        self.x = GrowingArray()
        self.series: dict[str, GrowingArray] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        for i, (title, lines, tip) in enumerate(self.SPECS):
            cell = QVBoxLayout()
            cell.setSpacing(0)
            layout.addLayout(cell, i // 2, i % 2)
            plot = pg.PlotWidget()
            plot.setBackground("w")
            plot.setMinimumHeight(110)
            plot.setMenuEnabled(False)
            plot.setToolTip(tip)
            plot.plotItem.setTitle(title, size="9pt", color="k")
            plot.plotItem.getAxis("bottom").setLabel("generator steps")
            for key, colour, _name in lines:
                c = plot.plot(pen=pg.mkPen(*colour, width=1.5))
                c.setDownsampling(auto=True, method="peak")
                c.setClipToView(True)
                self.curves[key] = c
                self.series[key] = GrowingArray()
            if title.startswith("Modes"):
                plot.setYRange(0, 1.05)
            if title == "Distance":  # a diverging start would flatten the rest
                plot.setLogMode(y=True)
            cell.addWidget(plot, 1)
            if len(lines) > 1:
                key = QLabel("&nbsp;&nbsp;".join(key_entry(n, c, "━━") for _k, c, n in lines))
                key.setStyleSheet("background: #303030; padding: 1px;")
                cell.addWidget(key)

    def add(self, snap: dict) -> None:
        """Record a snapshot; redraw one of the four plots, in turn (the scores move
        slowly, and four plots repainting in one frame cost more than the plane)."""
        self.x.append(snap["g_steps"])
        for key, series in self.series.items():
            v = snap.get(key, np.nan)
            series.append(float(v) if v is not None else np.nan)
        self.redraw(self.SPECS[self.x.n % len(self.SPECS)][1])

    def redraw(self, lines=None) -> None:
        """Redraw the given plot's lines (all plots when None)."""
        x = self.x.view()
        keys = [k for k, _c, _n in lines] if lines else list(self.curves)
        for key in keys:
            curve = self.curves[key]
            y = self.series[key].view()
            ok = np.isfinite(y)
            curve.setData(x[ok], y[ok])

    def clear(self) -> None:
        self.x.clear()
        for key, series in self.series.items():
            series.clear()
            self.curves[key].setData([], [])
