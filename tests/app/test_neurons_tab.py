"""The neurons tab driven as a person would: train and see the surface change, click
points, add neurons, drag a single neuron's line, step through backpropagation."""
import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.tabs.neurons import NeuronsTab
from nets.families.neurons import planar


@pytest.fixture
def tab(open_tab):
    return open_tab(NeuronsTab)


def set_form(tab, **values):
    for name, v in values.items():
        w = tab.panel.form.editors[name]
        if hasattr(w, "setValue"):
            w.setValue(v)
        elif hasattr(w, "setCurrentText"):
            w.setCurrentText(str(v))
        else:
            w.setText(str(v))


def train(qtbot, tab, **values):
    set_form(tab, **{"epochs": 30, "data": "xor", "hidden": "4", "learning_rate": 0.1,
                     **values})
    with qtbot.waitSignal(tab.panel.finished, timeout=60000) as blocker:
        tab.panel.start()
    done = blocker.args[0]
    assert done.status == "finished", done.message
    return done


def click_plane(qtbot, tab, x, y, button=Qt.MouseButton.LeftButton,
                modifier=Qt.KeyboardModifier.NoModifier):
    plane = tab.plane
    scene = plane.plotItem.vb.mapViewToScene(pg.Point(x, y))
    pos = plane.mapFromScene(scene)
    QTest.mouseClick(plane.viewport(), button, modifier, QPoint(pos.x(), pos.y()))


def test_a_short_run_changes_the_surface_and_every_neuron_map(qtbot, tab):
    before = tab.plane.surface.image.copy()
    assert "untrained" in tab.plane_title.text()
    done = train(qtbot, tab)
    after = tab.plane.surface.image
    assert not np.allclose(before, after)
    assert tab.trained_weights and "untrained" not in tab.plane_title.text()
    # the surface separates XOR: orange where x*y > 0 (top right), blue top left
    side = after.shape[0]  # row 0 is the bottom of the plane, y = -6
    shown = tab.plane.surface.mapRectToParent(tab.plane.surface.boundingRect())
    assert (shown.left(), shown.top(), shown.width()) == pytest.approx((-6, -6, 12))
    assert after[side * 3 // 4, side * 3 // 4] > 0 > after[side * 3 // 4, side // 4]
    pic = tab.network.picture
    assert [len(labels) for _, labels in pic.columns] == [2, 4, 1]
    assert [m.shape for m in pic.maps] == [(2, 24, 24), (4, 24, 24), (1, 24, 24)]
    assert done.headline.startswith("Held-out accuracy")


def test_clicking_adds_and_removes_points_of_your_own(qtbot, tab):
    set_form(tab, data="circle", points=40)
    assert len(tab.points.xy) == 40
    click_plane(qtbot, tab, 1.0, 2.0)
    assert tab.panel.form.config().data == planar.OWN
    assert len(tab.points.xy) == 41 and tab.points.labels[-1] == 1
    np.testing.assert_allclose(tab.points.xy[-1], [1.0, 2.0], atol=0.1)
    click_plane(qtbot, tab, -3.0, 0.5, Qt.MouseButton.RightButton)
    assert len(tab.points.xy) == 42 and tab.points.labels[-1] == 0
    click_plane(qtbot, tab, -3.0, 0.5, modifier=Qt.KeyboardModifier.ControlModifier)
    assert len(tab.points.xy) == 41
    # they are kept in the file the run reads
    xy, labels = planar.read_points(tab.panel.form.config().points_file)
    assert len(xy) == 41 and labels[-1] == 1


def test_one_class_only_is_refused_in_words(qtbot, tab):
    tab._clear_points()
    for x in (1.0, 2.0, 3.0):
        click_plane(qtbot, tab, x, x)
    with qtbot.waitSignal(tab.panel.finished, timeout=30000) as blocker:
        tab.panel.start()
    assert blocker.args[0].status == "failed"
    assert "one class" in tab.panel.error_banner.text()


def test_neuron_buttons_change_the_layers(tab):
    set_form(tab, hidden="3, 2")
    tab._change_units(0, +1)
    assert tab.panel.form.config().hidden == "4, 2"
    tab._change_units(1, -1)
    tab._change_units(1, -1)  # a layer keeps one neuron
    assert tab.panel.form.config().hidden == "4, 1" and "at least one" in tab.note.text()
    tab._cycle_activation(1)
    assert tab.panel.form.config().hidden == "4, 1 sigmoid"  # relu is the default
    tab._add_layer()
    tab._remove_layer()
    tab._remove_layer()
    assert tab.panel.form.config().hidden == "4"
    assert [len(labels) for _, labels in tab.network.picture.columns] == [2, 4, 1]


def test_a_single_neuron_shows_its_line_which_dragging_moves(qtbot, tab):
    set_form(tab, hidden="", data="gauss")
    assert tab.plane.line.isVisible() and "w = (" in tab.line_note.text()
    tab.plane.line_moved.emit(0.0, 2.0, -1.0)  # what a drag ends in: the line y = 0.5
    np.testing.assert_allclose(tab.weights[0][:, 0], [0.0, 2.0])
    assert "w = (0.000, 2.000), b = -1.000" in tab.line_note.text()
    x1, x2 = (tab.plane.line.mapToParent(h.pos()) for h in tab.plane.line.getHandles())
    assert x1.y() == pytest.approx(0.5, abs=1e-3) and x2.y() == pytest.approx(0.5, abs=1e-3)


def test_backprop_steps_and_keras_agrees(qtbot, tab):
    train(qtbot, tab, epochs=5)
    tab.panel.views.setCurrentWidget(tab.stepper)
    qtbot.waitUntil(lambda: "✓" in tab.stepper.check.text(), timeout=30000)
    steps = len(tab.stepper.stages)
    assert steps == 2 + 1 + 2 + 1  # forward 2 layers, loss, backward 2, update
    while tab.stepper.next.isEnabled():
        tab.stepper.next.click()
    assert "The update" in tab.stepper.text.toPlainText()
    before = [w.copy() for w in tab.weights]
    tab.stepper.apply.click()
    assert not np.allclose(before[0], tab.weights[0])
    np.testing.assert_allclose(tab.panel.model.get_weights()[0], tab.weights[0])


def test_while_it_trains_only_live_settings_edit_and_they_apply_at_once(qtbot, tab):
    set_form(tab, data="circle", epochs=1000, hidden="4")
    editors = tab.panel.form.editors
    tab.panel.start()
    qtbot.waitUntil(lambda: tab.trained_weights, timeout=30000)
    assert editors["learning_rate"].isEnabled() and editors["batch_size"].isEnabled()
    assert not editors["hidden"].isEnabled() and not editors["data"].isEnabled()

    def movement() -> float:
        """How far the weights move in half a second."""
        start = [w.copy() for w in tab.weights]
        qtbot.wait(500)
        return sum(float(np.abs(a - b).sum()) for a, b in zip(start, tab.weights))

    before = movement()
    editors["learning_rate"].setValue(0.00001)  # the least: the net all but stops
    qtbot.wait(300)
    after = movement()
    assert tab.panel.is_running() and before > 0 and after < before / 100, (before, after)
    with qtbot.waitSignal(tab.panel.finished, timeout=30000):
        tab.panel.stop()
    assert editors["hidden"].isEnabled()


def test_dragging_the_line_gives_the_weights_of_where_it_now_lies(qtbot, tab):
    set_form(tab, hidden="", data="gauss")
    w_before = tab.weights[0][:, 0].copy()
    first, second = tab.plane.line.getHandles()
    with qtbot.waitSignal(tab.plane.line_moved) as moved:
        tab.plane.line.movePoint(first, pg.Point(-3.0, 1.0), finish=False)
        tab.plane.line.movePoint(second, pg.Point(3.0, 2.0))
    w1, w2, b = moved.args
    for x, y in ((-3.0, 1.0), (3.0, 2.0)):  # both ends lie on w . (x, y) + b = 0
        assert abs(w1 * x + w2 * y + b) < 1e-4
    assert np.hypot(w1, w2) == pytest.approx(np.linalg.norm(w_before), rel=1e-4)
    np.testing.assert_allclose(tab.weights[0][:, 0], [w1, w2], rtol=1e-5)
