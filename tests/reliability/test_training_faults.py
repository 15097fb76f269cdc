"""Training that goes wrong or is pushed around: a diverging run stops in words and keeps
good weights; Start/Pause/Stop in any order leaves a consistent panel; closing the window
mid-training ends the process cleanly."""
import os
import random
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from nets import runner
from nets.families import dqn
from nets.progress import ListReporter

ROOT = Path(__file__).resolve().parents[2]


def test_a_vae_whose_learning_rate_explodes_stops_in_words_in_the_tab(qtbot, open_tab):
    from app.tabs.vae import VAETab

    tab = open_tab(VAETab)
    form = tab.panel.form
    form.set_values({**form.values(), "optimizer": "sgd", "learning_rate": 10.0,
                     "epochs": 3})
    tab.panel.select_dataset("mnist-5k")
    with qtbot.waitSignal(tab.panel.finished, timeout=60000) as blocker:
        tab.panel.start()
    done = blocker.args[0]
    assert done.status == "failed"
    assert "became nan" in tab.panel.error_banner.text()
    assert "lower learning rate" in tab.panel.error_banner.text()
    assert tab.panel.state == "idle" and tab.panel.start_button.isEnabled()
    weights = tab.panel.trained.model.get_weights()
    assert all(np.isfinite(w).all() for w in weights)


def test_a_q_learner_whose_loss_becomes_nan_keeps_its_last_copied_weights(monkeypatch):
    real_step = dqn.ClassicGame.step
    count = {"n": 0}

    def poisoned(self, action):  # after a while the game reports infinite positions
        obs, *rest = real_step(self, action)
        count["n"] += 1  # (the first 500 steps pick the fixed states for average max-Q)
        return (obs * np.inf if count["n"] >= 1200 else obs), *rest

    monkeypatch.setattr(dqn.ClassicGame, "step", poisoned)
    cfg = dqn.Config(total_steps=2_000, learning_starts=100, target_update=150,
                     batch_size=16)
    done = runner.execute(runner.RunRequest("dqn", cfg, "", 0, autosave=False),
                          ListReporter())
    assert done.status == "failed", done.message
    assert "became NaN or infinite" in done.message
    kept = int(re.search(r"weights of step ([\d,]+)", done.message)[1].replace(",", ""))
    assert kept > 0 and kept % cfg.target_update == 0  # the last copy into Q^
    q = done.result.model.get_weights()
    assert all(np.isfinite(w).all() for w in q)
    state = np.zeros((1, 4), np.float32)
    assert np.isfinite(np.asarray(done.result.model(state))).all()


def test_an_update_that_breaks_q_on_a_copy_step_reaches_neither_q_hat_nor_an_autosave(
        monkeypatch):
    from nets import storage

    real_init = dqn.Learner.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        step, calls = self.train_step, {"n": 0}

        def breaking(*batch):  # the 500th update leaves Q NaN, its loss looked fine
            loss = step(*batch)
            calls["n"] += 1
            if calls["n"] == 500:
                self.q.set_weights([w * np.nan for w in self.q.get_weights()])
            return loss

        self.train_step = breaking

    monkeypatch.setattr(dqn.Learner, "__init__", init)
    cfg = dqn.Config(total_steps=2_000, learning_starts=100, target_update=150,
                     autosave_every=150, batch_size=16)
    done = runner.execute(runner.RunRequest("dqn", cfg, "", 0), ListReporter())
    assert done.status == "failed" and "weights of step 450" in done.message, done.message
    assert done.result.meta["step"] == 450
    assert all(np.isfinite(w).all() for w in done.result.model.get_weights())
    found = storage.AutosaveSlot("dqn", "CartPole-v1").latest()
    path, meta = found.path, found.meta
    assert meta["step"] == 450  # the broken state of step 600 was never saved
    assert all(np.isfinite(w).all() for w in dqn.load(path).model.get_weights())


def test_start_pause_stop_pressed_200_times_at_random_leaves_a_consistent_panel(qtbot,
                                                                                 open_tab):
    from app.tabs.cnn import CNNTab

    tab = open_tab(CNNTab)
    panel = tab.panel
    form = panel.form
    form.set_values({**form.values(), "filters": 4, "conv_blocks": 1, "augment": False,
                     "epochs": 50})
    panel.select_dataset("mnist-5k")
    ends = []
    panel.finished.connect(ends.append)
    rng = random.Random(0)
    buttons = [panel.start_button, panel.pause_button, panel.stop_button]
    starts = 0
    for _ in range(200):
        button = rng.choice(buttons)
        was_idle = panel.state == "idle"
        button.click()  # a disabled button ignores the click, as for a person
        starts += button is panel.start_button and was_idle
        qtbot.wait(rng.choice([0, 0, 1, 5, 20, 60]))
        state = panel.state
        assert panel.start_button.isEnabled() == (state == "idle")
        assert panel.pause_button.isEnabled() == panel.stop_button.isEnabled() == (
            state in ("running", "paused"))
        assert (panel.pause_button.text() == "Resume") == (state == "paused")
        if state == "paused":
            assert panel.worker.controls.paused
        if state in ("running", "paused"):
            assert panel.is_running() or len(ends) < starts  # its Done is on its way
    panel.stop()
    qtbot.waitUntil(lambda: panel.state == "idle", timeout=30000)
    assert starts > 10 and len(ends) == starts  # every run ended exactly once
    assert all(d.status in ("finished", "stopped") for d in ends), \
        [d.message for d in ends if d.status == "failed"]
    assert not panel.is_running() and panel.start_button.isEnabled()


CLOSE_MID_TRAINING = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from PySide6.QtCore import QTimer
    from app.main_window import MainWindow, make_application
    from app.tabs.cnn import CNNTab
    from app.tabs.dqn import DQNTab

    app = make_application([])
    window = MainWindow()
    window.show()

    def begin():
        if not window.tabs:
            return QTimer.singleShot(50, begin)
        for tab in window.tabs:
            if isinstance(tab, CNNTab):
                tab.panel.form.editors["epochs"].setValue(100)
                tab.panel.select_dataset("mnist-5k")
                tab.panel.start()
            if isinstance(tab, DQNTab):
                tab.panel.start()
        wait_for_steps()

    def wait_for_steps():
        cnn = next(t for t in window.tabs if isinstance(t, CNNTab))
        if cnn.panel.loss_plot.steps.n < 3:
            return QTimer.singleShot(20, wait_for_steps)
        print("closing mid-training", flush=True)
        window.close()

    QTimer.singleShot(0, begin)
    code = app.exec()
    print("event loop ended", code, flush=True)
""")


def test_closing_the_window_mid_training_ends_the_process_cleanly(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "DLE_HOME": str(tmp_path / "home"),
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    r = subprocess.run([sys.executable, "-c", CLOSE_MID_TRAINING.format(root=str(ROOT))],
                       env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert "closing mid-training" in r.stdout, r.stderr[-3000:]
    assert r.returncode == 0, f"exit status {r.returncode}: {r.stderr[-3000:]}"
    assert "event loop ended 0" in r.stdout
    assert list((tmp_path / "home" / "autosave" / "dqn").rglob("*.keras"))  # nothing lost
