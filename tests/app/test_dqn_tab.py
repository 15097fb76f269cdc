"""The deep Q-learning tab driven as a person would: train briefly, watch, play."""
import shutil

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel

from app.tabs import dqn as tabmod
from app.tabs.dqn import DQNTab


@pytest.fixture
def tab(open_tab):
    return open_tab(DQNTab)


def test_keys_map_to_the_games_actions():
    pong = ["noop", "fire", "right", "left", "right fire", "left fire"]
    assert tabmod.action_for(set(), pong) == 0
    assert tabmod.action_for({"left"}, pong) == 3
    assert tabmod.action_for({"right", "fire"}, pong) == 4
    assert tabmod.action_for({"up"}, pong) is None
    cartpole = ["push left", "push right"]
    assert tabmod.action_for({"right"}, cartpole) == 1
    assert tabmod.action_for(set(), cartpole) is None


def test_short_run_updates_game_view_and_curves_then_watch_and_play(qtbot, tab, tmp_path):
    form = tab.panel.form
    form.set_values({**form.values(), "total_steps": 600, "learning_starts": 100,
                     "batch_size": 16, "game": "CartPole-v1"})
    with qtbot.waitSignal(tab.panel.finished, timeout=120000) as blocker:
        tab.panel.start()
    assert blocker.args[0].status == "finished", blocker.args[0].message
    assert tab.play.game.image.image is not None
    assert len(tab.play.q.values) == 2 and tab.curves.returns
    assert tab.curves.avg_q and "steps/s" in tab.play.stats.text()
    assert tab.panel.loss_plot.steps.n > 0

    assert tab.play.watch.isEnabled()
    tab.play.speed.setCurrentIndex(1)  # 60 steps/s
    tab.play.watch.click()
    assert tab.watcher.is_running()
    tab.play.human.setChecked(True)
    QTest.keyPress(tab.play.game, Qt.Key.Key_Right)
    assert tab.watch_display.human_action == 1
    QTest.keyRelease(tab.play.game, Qt.Key.Key_Right)
    with qtbot.waitSignal(tab.watcher.finished, timeout=10000):
        tab.play.watch.click()  # stop watching
    assert tab.play.watch.text() == "Watch agent"

    assert tab.panel.save_model_to(tmp_path / "agent.keras")
    fresh = DQNTab()
    qtbot.addWidget(fresh)
    try:
        assert fresh.panel.load_model_from(tmp_path / "agent.keras")
        assert fresh.play.watch.isEnabled() and fresh.curves.returns
        assert fresh.panel.resume_box.isEnabled()  # the loaded agent can train on
        assert "(step 600)" in fresh.panel.resume_box.text()
    finally:
        fresh.shutdown()


def test_form_shows_the_replay_memory_before_the_run(tab):
    form = tab.panel.form
    form.editors["game"].setCurrentText("Pong")
    form.editors["replay_capacity"].setValue(100_000)
    assert "about 674 MB" in tab.memory_note.text()  # 100,000 x (84 x 84 + 11) bytes
    form.editors["replay_capacity"].setValue(10_000_000)
    assert "about 67,396 MB" in tab.memory_note.text()


def test_choosing_an_atari_game_switches_to_the_atari_settings(tab):
    combo = tab.panel.form.editors["game"]
    combo.setCurrentText("Breakout")
    combo.activated.emit(combo.currentIndex())
    assert tab.panel.form.config().train_every == 4
    assert tab.panel.form.config().learning_rate == pytest.approx(1e-4)
    combo.setCurrentText("CartPole-v1")
    combo.activated.emit(combo.currentIndex())
    assert tab.panel.form.config().train_every == 1


def test_the_pretrained_agent_loads_and_a_damaged_copy_is_refused(qtbot, tab, tmp_path,
                                                                  monkeypatch):
    from nets import pretrained

    from nets import storage

    assert tab.panel.load_pretrained("dqn-cartpole")
    assert tab.play.watch.isEnabled() and "average return" in tab.panel.now_label.text()
    assert storage.AutosaveSlot("dqn", "CartPole-v1").paths() == []  # the person's Resume is left alone
    agent = tab.agent

    folder = tmp_path / "pretrained"  # the same files, one of them damaged
    shutil.copytree(pretrained.FOLDER, folder)
    monkeypatch.setattr(pretrained, "FOLDER", folder)
    (folder / "dqn-cartpole.keras").write_bytes(b"truncated")
    assert not tab.panel.load_pretrained("dqn-cartpole")
    assert "damaged" in tab.panel.error_banner.text() and tab.agent is agent


def test_the_watch_speed_never_slows_training_and_resume_follows_the_game(qtbot, tab):
    form = tab.panel.form
    form.set_values({**form.values(), "total_steps": 300, "learning_starts": 100,
                     "batch_size": 16, "game": "CartPole-v1", "autosave_every": 100})
    tab.play.speed.setCurrentIndex(len(tabmod.SPEEDS) - 1)  # 5 steps/s, for watching
    with qtbot.waitSignal(tab.panel.finished, timeout=120000) as blocker:
        tab.panel.start()
        qtbot.waitUntil(lambda: tab.train_display is not None, timeout=60000)
        assert tab.train_display.training_pace == 0  # full speed
    assert blocker.args[0].status == "finished"
    assert "slowed" not in tab.play.stats.text()
    assert "CartPole-v1 (step 300)" in tab.panel.resume_box.text()
    combo = form.editors["game"]
    combo.setCurrentText("Pong")
    combo.activated.emit(combo.currentIndex())
    assert "Pong (none yet)" in tab.panel.resume_box.text()
    assert not tab.panel.resume_box.isEnabled()
    combo.setCurrentText("CartPole-v1")
    combo.activated.emit(combo.currentIndex())
    assert tab.panel.resume_box.isEnabled()


def test_q_value_labels_are_short_enough_to_sit_under_their_bars():
    pong = ["noop", "fire", "right", "left", "right fire", "left fire"]
    assert [tabmod.short_action_label(n) for n in pong] == ["·", "F", "→", "←", "→F", "←F"]
    assert [tabmod.short_action_label(n) for n in ["push left", "push right"]] == ["←", "→"]
    assert tabmod.short_action_label("mystery") == "mystery"


def test_without_ale_py_the_tab_says_how_to_get_the_atari_games(open_tab, monkeypatch):
    from nets import addons

    monkeypatch.setattr(addons, "ale_available", lambda: False)
    tab = open_tab(DQNTab)
    notes = [w.text() for w in tab.findChildren(QLabel) if "Atari games…" in w.text()]
    assert notes and "leave out the Arcade Learning Environment" in notes[0]
