"""The 2-D GAN game view: it builds its nets when first shown, Run updates every layer,
Pause stops the updates and keeps the layers, the step buttons step one player, settings
and drawing reach the running game, and layers hide."""
import numpy as np
import pytest
from PySide6.QtWidgets import QWidget

from app.tabs.gan.plane import PlaneGameView
from app.worker import LatestOnly


class Host(QWidget):
    """What the GAN tab gives the view: runner(name, on_result) and shutdown()."""

    def __init__(self):
        super().__init__()
        self.runners = []
        self.view = PlaneGameView(self.runner, self)
        self.errors = []

    def runner(self, name, on_result):
        r = LatestOnly(name, self)
        r.result.connect(on_result)
        r.failed.connect(self._failed)
        self.runners.append(r)
        return r

    def _failed(self, _tag, text):
        self.errors.append(text)

    def shutdown(self):
        self.view.shutdown()
        for r in self.runners:
            r.shutdown()


@pytest.fixture
def host(qtbot):
    from nets import backend

    backend.start()  # as the app does at start-up: TensorFlow is imported in the GUI thread
    h = Host()
    qtbot.addWidget(h)
    h.resize(1200, 700)
    h.show()
    qtbot.waitUntil(lambda: h.view.snapshots >= 1, timeout=30000)
    yield h
    h.shutdown()
    assert not h.errors


def idle(qtbot, view):
    qtbot.waitUntil(lambda: not view._runner.is_busy(), timeout=10000)


def test_run_updates_the_layers_and_pause_keeps_them(host, qtbot):
    v = host.view
    before = np.array(v.last["fake"])
    n = v.snapshots
    v.run_button.click()
    assert v.run_button.text() == "Pause"
    qtbot.waitUntil(lambda: v.snapshots >= n + 3, timeout=20000)
    assert v.last["g_steps"] > 0 and not np.allclose(v.last["fake"], before)
    x, _y = v.plane.layers["fake points"].getData()
    assert len(x) == 512
    assert v.scores.x.n >= 3
    v.run_button.click()  # pause
    idle(qtbot, v)
    shown = v.snapshots
    qtbot.wait(300)
    assert v.snapshots == shown  # nothing more after the pause
    assert v.plane.layers["heat map"].image is not None
    assert len(v.plane.layers["arrows"].getData()[0]) == 2 * 512
    warped = v.plane.layers["noise grid"].getData()[0]
    assert np.isfinite(warped).sum() == 22 * 33


def test_the_step_buttons_step_one_player(host, qtbot):
    v = host.view
    d, g = v.last["d_steps"], v.last["g_steps"]
    v.d_button.click()
    qtbot.waitUntil(lambda: v.last["d_steps"] == d + 1, timeout=10000)
    assert v.last["g_steps"] == g
    v.g_button.click()
    qtbot.waitUntil(lambda: v.last["g_steps"] == g + 1, timeout=10000)
    v.d_steps.setValue(3)
    idle(qtbot, v)
    v.e_button.click()
    qtbot.waitUntil(lambda: v.last["g_steps"] == g + 2, timeout=10000)
    assert v.last["d_steps"] == d + 4


def test_settings_and_a_drawing_reach_the_running_game(host, qtbot):
    v = host.view
    v.run_button.click()
    n = v.snapshots
    v.loss.setCurrentText("least squares")
    v.g_lr.setValue(0.005)
    qtbot.waitUntil(lambda: v.snapshots >= n + 2, timeout=20000)
    v.add_drawn([(1.0 + 0.05 * i, -1.0) for i in range(20)])
    v.target.setCurrentText("drawn")
    n = v.snapshots
    qtbot.waitUntil(lambda: v.snapshots >= n + 2, timeout=20000)
    v.run_button.click()
    idle(qtbot, v)
    game = v.box.game
    assert game.settings.loss == "least squares" and game.settings.g_lr == 0.005
    real = v.last["real"]
    assert np.abs(real[:, 1] + 1.0).max() < 0.4 and real[:, 0].min() > 0.7


def test_a_drawn_target_without_a_drawing_is_refused_in_words(host, qtbot):
    v = host.view
    v.target.setCurrentText("drawn")
    qtbot.waitUntil(lambda: "Draw the target first" in v.status.text(), timeout=10000)
    v.target.setCurrentText("ring")


def test_layers_hide_and_presets_set_the_controls(host, qtbot):
    v = host.view
    v.layer_boxes["arrows"].setChecked(False)
    assert not v.plane.layers["arrows"].isVisible()
    assert v.plane.layers["heat map"].isVisible()
    v.preset_buttons["mode collapse"].click()
    assert v.running and v.g_lr.value() == pytest.approx(0.02)
    v.run_button.click()
    idle(qtbot, v)
