"""The VAE tab driven as a person would: train, explore the map, interpolate, sample, load."""
import warnings

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.tabs.vae import LatentMap, VAETab
from app.widgets.plots import class_colour


@pytest.fixture
def tab(open_tab):
    return open_tab(VAETab)


def train(qtbot, tab, **values):
    for name, v in {"epochs": 3, "hidden": 64, **values}.items():
        tab.panel.form.editors[name].setValue(v)
    tab.panel.select_dataset("mnist-5k")
    with qtbot.waitSignal(tab.panel.finished, timeout=120000) as blocker:
        tab.panel.start()
    assert blocker.args[0].status == "finished", blocker.args[0].message


def press_on_map(qtbot, tab, x, y):
    """Press the mouse at latent point (x, y) of the map."""
    m = tab.explorer.map
    scene = m.plotItem.vb.mapViewToScene(__import__("pyqtgraph").Point(x, y))
    pos = m.mapFromScene(scene)
    QTest.mousePress(m.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pos.x(), pos.y()))
    QTest.mouseRelease(m.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pos.x(), pos.y()))


def test_train_then_explore_the_latent_plane(qtbot, tab):
    tab.explorer.map.resize(600, 600)
    train(qtbot, tab)
    assert set(tab.panel.epoch_plots.plots) == {"loss", "reconstruction", "kl"}
    assert tab.manifold.count == 225
    assert len(tab.explorer.map.dots.data) == 1000
    qtbot.waitUntil(lambda: tab.samples.grid.count == 64, timeout=10000)

    with qtbot.waitSignal(tab.decoded_shown, timeout=10000):
        press_on_map(qtbot, tab, 1.5, -1.0)
    z = tab.explorer.z()
    assert z == pytest.approx([1.5, -1.0], abs=0.1)  # the press landed where aimed
    first = tab.explorer.decoded.mosaic().copy()
    with qtbot.waitSignal(tab.decoded_shown, timeout=10000):
        press_on_map(qtbot, tab, -2.0, 2.0)
    assert not np.allclose(first, tab.explorer.decoded.mosaic())  # another point, another image

    tab.interp.a.pick.click()
    assert tab.interp.a.preview.count == 1 and tab.interp.strip.count == 0  # needs both ends
    with qtbot.waitSignal(tab.background.result, timeout=10000):
        tab.interp.b.pick.click()
    assert tab.interp.strip.count == 10
    # drawing on an end replaces its digit and redoes the morph
    c = tab.interp.b.canvas
    with qtbot.waitSignal(tab.background.result, timeout=10000):
        QTest.mousePress(c, Qt.MouseButton.LeftButton, pos=QPoint(70, 20))
        QTest.mouseMove(c, QPoint(70, 120))
        QTest.mouseRelease(c, Qt.MouseButton.LeftButton, pos=QPoint(70, 120))
    assert tab.interp.b.preview.mosaic() is not None


def test_more_than_two_dimensions_get_sliders(qtbot, tab):
    train(qtbot, tab, latent_dim=4, epochs=1)
    assert len(tab.explorer.sliders) == 4 and tab.explorer.slider_area.isVisibleTo(tab)
    with qtbot.waitSignal(tab.decoded_shown, timeout=10000):
        tab.explorer.sliders[3].setValue(250)
    assert tab.explorer.z()[3] == pytest.approx(2.5)


def test_a_saved_vae_opens_into_the_explorer(qtbot, tab, open_tab, tmp_path):
    train(qtbot, tab, epochs=1)
    path = tmp_path / "v.keras"
    assert tab.panel.save_model_to(path)
    fresh = open_tab(VAETab)
    with qtbot.waitSignal(fresh.background.result, timeout=30000):
        assert fresh.panel.load_model_from(path)
    qtbot.waitUntil(lambda: len(fresh.explorer.map.dots.data) == 1000, timeout=10000)
    assert fresh.manifold.count == 225
    with qtbot.waitSignal(fresh.decoded_shown, timeout=10000):
        fresh.pick_point(0.5, 0.5)


def test_the_map_keeps_every_code_in_view(tab):
    means = np.array([[-7.0, 0.5], [1.0, 9.0], [0.0, 0.0]], np.float32)
    tab.explorer.map.set_points(means, np.array([0, 1, 2]), ["a", "b", "c"])
    (x0, x1), (y0, y1) = tab.explorer.map.viewRange()
    assert x0 <= -7 and y1 >= 9 and x1 >= 3 and y0 <= -3


def test_a_narrow_map_shows_every_point_its_title_and_key_without_warnings(qtbot):
    """Float32 codes (what the encoder gives) and a map narrower than its title: the
    title once pushed the plot past the right edge (points beyond z1 = 2.3 cut off), and
    float32 ranges made pyqtgraph warn 'overflow encountered in cast' on every redraw."""
    m = LatentMap()
    qtbot.addWidget(m)
    m.resize(330, 380)
    m.show()
    rng = np.random.default_rng(0)
    means = rng.normal(0, 1.2, (500, 2)).astype(np.float32)
    means[:2] = [[2.9, 0.0], [-3.5, 3.4]]
    labels = np.arange(500) % 10
    names = [str(d) for d in range(10)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.set_points(means, labels, names)
        qtbot.wait(20)
        m.grab()
    plot, vb = m.getPlotItem(), m.getPlotItem().vb
    assert plot.sceneBoundingRect().right() <= m.viewport().width() + 1  # nothing pushed out
    title = plot.titleLabel
    assert title.sceneBoundingRect().left() >= 0
    assert title.mapRectToScene(title.itemRect()).right() <= m.viewport().width() + 1
    (x0, x1), (y0, y1) = m.viewRange()
    assert x0 <= means[:, 0].min() and x1 >= means[:, 0].max()
    assert y0 <= means[:, 1].min() and y1 >= means[:, 1].max()
    # the key names every class, beside the map, not on it
    assert all(f"> {n}<" in m.key.text or f">{n}<" in m.key.text for n in names)
    assert m.key.sceneBoundingRect().left() >= vb.sceneBoundingRect().right() - 1
    assert plot.legend is None
    brushes = m.dots.data["brush"]
    assert brushes[3].color().name() == class_colour(3).name()
    assert brushes[4].color().name() == class_colour(4).name()


def test_presses_on_the_key_pick_nothing(qtbot):
    m = LatentMap()
    qtbot.addWidget(m)
    m.resize(500, 400)
    m.show()
    m.set_points(np.zeros((10, 2), np.float32), np.arange(10), [str(d) for d in range(10)])
    qtbot.wait(20)
    picked = []
    m.point_picked.connect(lambda x, y: picked.append((x, y)))
    centre = m.mapFromScene(m.key.sceneBoundingRect().center())
    QTest.mousePress(m.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    QTest.mouseRelease(m.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert picked == []
    inside = m.mapFromScene(m.getPlotItem().vb.sceneBoundingRect().center())
    QTest.mousePress(m.viewport(), Qt.MouseButton.LeftButton, pos=inside)
    QTest.mouseRelease(m.viewport(), Qt.MouseButton.LeftButton, pos=inside)
    assert len(picked) == 1


def test_the_pretrained_vae_opens_from_its_button(qtbot, tab):
    assert tab.panel.pretrained_button.isEnabled()
    titles = [a.text() for a in tab.panel.pretrained_button.menu().actions()]
    assert titles == ["VAE with a 2-D map of the digits"]
    with qtbot.waitSignal(tab.background.result, timeout=30000):
        assert tab.panel.load_pretrained("vae-digits")
    qtbot.waitUntil(lambda: len(tab.explorer.map.dots.data) == 1000, timeout=10000)
    assert "held-out loss" in tab.panel.now_label.text()
