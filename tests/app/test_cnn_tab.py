"""The CNN tab driven as a person would: train, watch, draw, stop, save, load, close."""
import time

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.tabs.cnn import CNNTab
from nets import storage

FAST = {"conv_blocks": 1, "filters": 4, "augment": False, "batch_size": 128}


@pytest.fixture
def tab(open_tab):
    return open_tab(CNNTab)


def configure(tab, **values):
    editors = tab.panel.form.editors
    for name, v in {**FAST, **values}.items():
        w = editors[name]
        if hasattr(w, "setChecked"):
            w.setChecked(v)
        else:
            w.setValue(v)
    tab.panel.select_dataset("mnist-5k")


def draw_one(qtbot, canvas):
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(140, 40))
    for y in range(40, 241, 10):
        QTest.mouseMove(canvas, QPoint(140 + (y - 40) // 20, y))
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(150, 240))


def test_a_short_training_runs_to_done_and_updates_every_view(qtbot, tab):
    configure(tab, epochs=2)
    with qtbot.waitSignal(tab.panel.finished, timeout=120000) as blocker:
        qtbot.mouseClick(tab.panel.start_button, Qt.MouseButton.LeftButton)
        assert tab.panel.state == "running" and not tab.panel.start_button.isEnabled()
    done = blocker.args[0]
    assert done.status == "finished", done.message
    assert tab.panel.loss_plot.steps.n == 2 * 32  # a point per batch
    xs, ys = tab.panel.epoch_plots.curves["val_accuracy"].getData()
    assert list(xs) == [1, 2] and ys[-1] > 0.5  # chance is 0.1
    assert tab.filters.count == 4
    assert tab.mistakes.count > 0 and "held-out" in tab.mistakes.note.text()
    assert tab.panel.progress.value() == 1000
    assert tab.panel.start_button.isEnabled() and tab.panel.save_button.isEnabled()
    assert tab.panel.now_label.text().startswith("Held-out accuracy: ")  # the headline

    # drawing with the mouse gives a prediction: probabilities for 10 digits
    with qtbot.waitSignal(tab.prediction_shown, timeout=10000):
        draw_one(qtbot, tab.draw.canvas)
    probs = tab.draw.bars.probabilities
    assert probs.shape == (10,) and probs.sum() == pytest.approx(1, abs=1e-3)
    assert tab.draw.guess.text().startswith("Guess:")
    preview = tab.draw.preview.mosaic()
    assert preview.shape[:2] == (28, 28) and preview.max() > 0.5
    assert len(tab.maps.grids) == 1  # one conv layer's feature maps

    tab.draw.undo.click()
    assert tab.draw.canvas.is_empty()


def test_stop_mid_epoch_ends_within_a_second(qtbot, tab):
    configure(tab, epochs=200, batch_size=32)
    tab.panel.start()
    qtbot.waitUntil(lambda: tab.panel.loss_plot.steps.n > 3, timeout=60000)
    # the live model classifies a drawing while it trains, from another thread
    with qtbot.waitSignal(tab.prediction_shown, timeout=10000):
        draw_one(qtbot, tab.draw.canvas)
    assert "still training" in tab.draw.guess.text()
    t0 = time.monotonic()
    with qtbot.waitSignal(tab.panel.finished, timeout=5000) as blocker:
        qtbot.mouseClick(tab.panel.stop_button, Qt.MouseButton.LeftButton)
    assert time.monotonic() - t0 < 1.0
    assert blocker.args[0].status == "stopped"
    assert tab.panel.trained is not None  # the model reached so far is kept
    assert tab.panel.start_button.isEnabled()


def test_pause_holds_training_and_resume_continues(qtbot, tab):
    configure(tab, epochs=200, batch_size=32)
    tab.panel.start()
    qtbot.waitUntil(lambda: tab.panel.loss_plot.steps.n > 2, timeout=60000)
    tab.panel.toggle_pause()
    assert tab.panel.pause_button.text() == "Resume"
    qtbot.wait(300)
    held = tab.panel.loss_plot.steps.n
    qtbot.wait(500)
    assert tab.panel.loss_plot.steps.n == held
    tab.panel.toggle_pause()
    qtbot.waitUntil(lambda: tab.panel.loss_plot.steps.n > held, timeout=10000)
    with qtbot.waitSignal(tab.panel.finished, timeout=5000):
        tab.panel.stop()


def test_a_training_error_is_shown_in_words_and_the_panel_recovers(qtbot, tab, tmp_path):
    configure(tab, epochs=1)
    tab.panel.select_dataset(f"folder:{tmp_path / 'gone'}")
    with qtbot.waitSignal(tab.panel.finished, timeout=60000) as blocker:
        tab.panel.start()
    assert blocker.args[0].status == "failed"
    assert tab.panel.error_banner.isVisible()
    assert "does not exist" in tab.panel.error_banner.text()
    assert tab.panel.start_button.isEnabled() and tab.panel.form.isEnabled()


def test_save_then_load_and_bad_files_leave_the_model_alone(qtbot, tab, tmp_path):
    configure(tab, epochs=1)
    with qtbot.waitSignal(tab.panel.finished, timeout=120000):
        tab.panel.start()
    path = tmp_path / "digits.keras"
    assert tab.panel.save_model_to(path) and path.is_file()
    model = tab.panel.model

    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"\x00" * 50)
    assert not tab.panel.load_model_from(junk)
    assert "not a model file" in tab.panel.error_banner.text()
    assert tab.panel.model is model

    configure(tab, filters=9)
    assert tab.panel.load_model_from(path)
    assert tab.panel.model is not model
    assert tab.panel.form.config().filters == 4  # the form shows the loaded model's config
    assert tab.filters.count == 4
    qtbot.waitUntil(lambda: tab.mistakes.count > 0, timeout=30000)  # computed off-thread


def test_hyperparameters_persist_between_sessions(qtbot):
    first = CNNTab()
    qtbot.addWidget(first)
    first.panel.form.editors["epochs"].setValue(7)
    first.panel.seed.setValue(42)
    first.shutdown()
    second = CNNTab()
    qtbot.addWidget(second)
    assert second.panel.form.config().epochs == 7 and second.panel.seed.value() == 42
    second.shutdown()


def test_resume_is_offered_after_an_autosave(qtbot, tab):
    assert not tab.panel.resume_box.isEnabled()
    configure(tab, epochs=1)
    with qtbot.waitSignal(tab.panel.finished, timeout=120000):
        tab.panel.start()
    assert storage.AutosaveSlot("cnn").latest() is not None
    assert tab.panel.resume_box.isEnabled() and "epoch 1" in tab.panel.resume_box.text()


def test_a_new_run_clears_the_last_runs_mistakes(qtbot, tab):
    configure(tab, epochs=1)
    with qtbot.waitSignal(tab.panel.finished, timeout=120000):
        tab.panel.start()
    assert tab.mistakes.count > 0
    old_note = tab.mistakes.note.text()

    configure(tab, epochs=200, batch_size=32)
    tab.panel.start()
    qtbot.waitUntil(lambda: tab.mistakes.count == 0, timeout=10000)
    assert tab.mistakes.note.text() != old_note and "this run" in tab.mistakes.note.text()
    qtbot.waitUntil(lambda: tab.panel.loss_plot.steps.n > 2, timeout=60000)
    assert tab.mistakes.count == 0  # nothing stale comes back while it trains
    with qtbot.waitSignal(tab.panel.finished, timeout=5000):
        tab.panel.stop()
    assert tab.mistakes.count == 0 and "ended before its last epoch" in \
        tab.mistakes.note.text()


def test_a_loaded_models_late_mistakes_do_not_cover_a_newer_model(qtbot, tab):
    import numpy as np

    from nets.progress import ImageEvent

    stale = ImageEvent("mistakes", np.ones((3, 28, 28), np.float32), ("1→7",) * 3, note="old")
    tab._show_loaded_mistakes(tab._loads - 1, stale)  # answered for an earlier model
    assert tab.mistakes.count == 0
    tab._show_loaded_mistakes(tab._loads, stale)  # the current one's answer is shown
    assert tab.mistakes.count == 3
