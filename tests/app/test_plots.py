"""The shared plots: per-epoch metrics with a chooser, keys that stay off the data, the
class palette, and no numpy overflow warnings from pyqtgraph."""
import itertools
import warnings

import numpy as np
import pyqtgraph as pg
import pytest

from app.widgets.plots import CLASS_COLOURS, BatchLossPlot, EpochPlots, class_colour


@pytest.fixture
def epoch_plots(qtbot):
    w = EpochPlots()
    qtbot.addWidget(w)
    w.resize(420, 340)
    w.show()
    return w


def vae_epoch(i):
    return {"kl": 30.0 - i, "loss": 400.0 / (i + 1), "reconstruction": 370.0 / (i + 1),
            "val_kl": 28.0 - i, "val_loss": 300.0 / (i + 1),
            "val_reconstruction": 290.0 / (i + 1)}


def outside(item: pg.GraphicsObject, plot: pg.PlotItem) -> bool:
    """The item is drawn and does not overlap the plot's view box (the data)."""
    box = item.sceneBoundingRect()
    data = plot.vb.sceneBoundingRect().adjusted(1, 1, -1, -1)  # edges may touch
    return box.width() > 0 and not box.intersects(data)


def test_each_metric_gets_a_full_size_plot_and_loss_comes_first(qtbot, epoch_plots):
    assert epoch_plots.placeholder.isVisible() and not epoch_plots.tabs.isVisible()
    for i in range(3):
        epoch_plots.set_epoch(i, vae_epoch(i))
    assert epoch_plots.metrics() == ["loss", "kl", "reconstruction"]
    assert epoch_plots.shown() == "loss"
    assert set(epoch_plots.plots) == {"loss", "kl", "reconstruction"}
    qtbot.wait(10)
    for base, plot in epoch_plots.plots.items():
        epoch_plots.show_metric(base)
        qtbot.wait(10)
        # stacked, three plots had about 80 px each; one at a time gets the room
        assert plot.vb.sceneBoundingRect().height() > 150
        xs, ys = epoch_plots.curves[f"val_{base}"].getData()
        assert list(xs) == [1, 2, 3] and len(ys) == 3
        assert plot.legend is None  # no legend inside the view box
        key = epoch_plots.keys[base]
        assert "train" in key.text and "validation" in key.text
        assert outside(key, plot)


def test_one_metric_needs_no_chooser(qtbot, epoch_plots):
    epoch_plots.set_epoch(0, {"objective": 0.3, "val_objective": 0.31})
    qtbot.wait(10)
    assert epoch_plots.metrics() == ["objective"]
    assert not epoch_plots.tabs.tabBar().isVisible()
    assert epoch_plots.plots["objective"].vb.sceneBoundingRect().height() > 180


def test_a_new_stage_brings_its_metrics_to_the_front(epoch_plots):
    for i in range(3):  # K-means: clustering, then the classifier's epochs
        epoch_plots.set_epoch(i, {"inertia": 10.0 - i, "val_inertia": 11.0 - i})
    assert epoch_plots.shown() == "inertia"
    epoch_plots.set_epoch(0, {"accuracy": 0.8, "loss": 0.5, "val_accuracy": 0.79,
                              "val_loss": 0.55})
    assert epoch_plots.shown() == "loss"
    epoch_plots.show_metric("inertia")  # the person's choice stays while epochs come in
    epoch_plots.set_epoch(1, {"accuracy": 0.9, "loss": 0.3, "val_accuracy": 0.88,
                              "val_loss": 0.35})
    assert epoch_plots.shown() == "inertia"


def test_clearing_forgets_the_metrics_of_the_last_run(epoch_plots):
    epoch_plots.set_epoch(0, vae_epoch(0))
    epoch_plots.clear_data()
    assert epoch_plots.metrics() == [] and not epoch_plots.curves
    assert not epoch_plots.placeholder.isHidden()
    epoch_plots.set_epoch(0, {"loss": 1.0, "accuracy": 0.5})
    assert epoch_plots.metrics() == ["loss", "accuracy"]


def test_a_diverged_epoch_is_left_off_the_plot(epoch_plots):
    epoch_plots.set_epoch(0, {"loss": 1.0})
    epoch_plots.set_epoch(1, {"loss": float("nan")})
    epoch_plots.set_epoch(2, {"loss": float("inf")})
    xs, ys = epoch_plots.curves["loss"].getData()
    assert list(xs) == [1] and list(ys) == [1.0]


def test_batch_plot_key_is_off_the_data_and_bad_losses_are_skipped(qtbot):
    plot = BatchLossPlot()
    qtbot.addWidget(plot)
    plot.resize(420, 260)
    plot.show()
    for step, loss in enumerate([3.0, 2.0, float("nan"), float("inf"), 1.0]):
        plot.add(step, loss)
    plot.refresh()
    qtbot.wait(10)
    assert plot.steps.n == 3 and np.isfinite(plot.smoothed.view()).all()
    assert plot.getPlotItem().legend is None
    assert outside(plot.key, plot.getPlotItem())
    assert "moving average" in plot.key.text


def test_numpy_float32_values_raise_no_overflow_warnings(qtbot):
    """pyqtgraph compares ranges with its +-1e307 limits; a numpy float32 range makes that
    comparison overflow (235 'overflow encountered in cast' warnings in one sitting)."""
    plot, epochs = BatchLossPlot(), EpochPlots()
    for w in (plot, epochs):
        qtbot.addWidget(w)
        w.resize(400, 300)
        w.show()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot.set_extent(np.int64(0), np.float32(120.0))
        for step in range(1, 60):
            plot.add(np.int64(step), np.float32(1.0 / step))
        plot.refresh()
        for i in range(3):
            epochs.set_epoch(i, {"loss": np.float32(1.0 / (i + 1)),
                                 "val_loss": np.float32(1.2 / (i + 1))})
        plot.grab()
        epochs.grab()


# ------------------------------------------------------------------ the class palette
def _linear(rgb):
    c = np.asarray(rgb, float) / 255
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab(linear_rgb):
    """CIELAB (D65) of linear sRGB rows."""
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                  [0.0193, 0.1192, 0.9505]])
    xyz = np.clip(linear_rgb, 0, 1) @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]),
                     200 * (f[:, 1] - f[:, 2])], 1)


def ciede2000(lab1, lab2) -> float:
    """The CIEDE2000 colour difference (Sharma, Wu & Dalal 2005)."""
    (l1, a1, b1), (l2, a2, b2) = lab1, lab2
    cbar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(cbar ** 7 / (cbar ** 7 + 25 ** 7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p, h2p = np.degrees(np.arctan2(b1, a1p)) % 360, np.degrees(np.arctan2(b2, a2p)) % 360
    dh = h2p - h1p
    if c1p * c2p == 0:
        dh = 0
    elif dh > 180:
        dh -= 360
    elif dh < -180:
        dh += 360
    dl, dc = l2 - l1, c2p - c1p
    dhh = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    lbar, cbarp = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        hbar = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        hbar = (h1p + h2p) / 2
    else:
        hbar = (h1p + h2p + (360 if h1p + h2p < 360 else -360)) / 2
    t = (1 - 0.17 * np.cos(np.radians(hbar - 30)) + 0.24 * np.cos(np.radians(2 * hbar))
         + 0.32 * np.cos(np.radians(3 * hbar + 6)) - 0.20 * np.cos(np.radians(4 * hbar - 63)))
    rc = 2 * np.sqrt(cbarp ** 7 / (cbarp ** 7 + 25 ** 7))
    rt = -np.sin(np.radians(60 * np.exp(-((hbar - 275) / 25) ** 2))) * rc
    sl = 1 + 0.015 * (lbar - 50) ** 2 / np.sqrt(20 + (lbar - 50) ** 2)
    sc, sh = 1 + 0.045 * cbarp, 1 + 0.015 * cbarp * t
    return float(np.sqrt((dl / sl) ** 2 + (dc / sc) ** 2 + (dhh / sh) ** 2
                         + rt * (dc / sc) * (dhh / sh)))


# Full dichromacy as simulated by Machado, Oliveira & Fernandes (2009), severity 1.0, on
# linear RGB.
VISION = {
    "typical": np.eye(3),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                              [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}


def closest_pair(colours, vision: str) -> float:
    lab = _lab(_linear([c.getRgb()[:3] for c in colours]) @ VISION[vision].T)
    return min(ciede2000(lab[i], lab[j]) for i, j in itertools.combinations(range(len(lab)), 2))


def test_ciede2000_matches_a_published_pair():
    # Sharma, Wu & Dalal's test data, pair 1
    assert ciede2000((50, 2.6772, -79.7751), (50, 0, -82.7485)) == pytest.approx(2.0425,
                                                                                 abs=1e-4)


@pytest.mark.parametrize("vision", list(VISION))
def test_the_ten_class_colours_stay_apart_in_every_kind_of_colour_vision(vision):
    colours = [class_colour(i) for i in range(10)]
    assert len({c.name() for c in colours}) == 10 == len(CLASS_COLOURS)
    # CIEDE2000 of 10 or more is a clear difference at a glance; the hue wheel this
    # replaced had pairs at 6 (typical vision) and 1 (tritanopia)
    assert closest_pair(colours, vision) > (15 if vision == "typical" else 10)
    old = [pg.intColor(i, hues=10) for i in range(10)]
    assert closest_pair(old, vision) < 10  # the test tells the two apart


def test_every_class_colour_shows_on_the_black_plots():
    lab = _lab(_linear([class_colour(i).getRgb()[:3] for i in range(10)]))
    assert lab[:, 0].min() > 35  # lightness against a black background (L* = 0)


def test_more_than_ten_classes_still_get_distinct_colours():
    names = {class_colour(i, 14).name() for i in range(14)}
    assert len(names) == 14


def test_the_loss_plots_axis_follows_the_data_not_the_planned_run(qtbot):
    plot = BatchLossPlot()
    qtbot.addWidget(plot)
    plot.set_extent(0, 10_000_000)  # an Atari run's plan
    for step in range(0, 50_001, 500):
        plot.add(step, 1.0)
        plot.refresh()
    lo, hi = plot.getPlotItem().vb.viewRange()[0]
    assert 50_000 < hi < 200_000  # the 50k steps done fill the view, not 0.5% of it
    plot.clear_data()  # a loaded model, another game: nothing left of that range
    assert plot.getPlotItem().vb.viewRange()[0][1] <= 1.1
