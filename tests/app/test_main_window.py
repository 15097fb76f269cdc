"""The main window: tabs from the registry, TensorFlow info, closing mid-training."""
import time

import pytest

from app.main_window import TABS, MainWindow
from app.tabs.cnn import CNNTab


@pytest.fixture
def window(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.tabs_ready, timeout=60000):
        pass
    yield w
    w.close()


def test_every_registered_tab_is_built_and_the_device_is_named(window):
    assert window.tab_widget.count() == len(TABS) and not window.load_errors
    text = window.device_label.text()
    assert text.startswith("TensorFlow 2.") and "Keras 3." in text
    assert "CPU" in text or "GPU" in text


def test_a_tab_that_fails_to_import_is_left_out_with_a_message(qtbot):
    w = MainWindow(["app.tabs.cnn:CNNTab", "app.tabs.nowhere:Nothing"])
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.tabs_ready, timeout=60000):
        pass
    assert w.tab_widget.count() == 1 and isinstance(w.tabs[0], CNNTab)
    assert any("app.tabs.nowhere" in e for e in w.load_errors)
    w.close()


def test_closing_mid_training_ends_the_worker_cleanly(qtbot, window):
    tab = next(t for t in window.tabs if isinstance(t, CNNTab))
    tab.panel.form.editors["epochs"].setValue(100)
    tab.panel.select_dataset("mnist-5k")
    tab.panel.start()
    qtbot.waitUntil(lambda: tab.panel.loss_plot.steps.n > 2, timeout=60000)
    t0 = time.monotonic()
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)
    assert time.monotonic() - t0 < 2
    assert not tab.panel.is_running()
    # the no_thread_left fixture then checks that nothing is still running


def test_window_geometry_persists(qtbot):
    w = MainWindow([])
    qtbot.addWidget(w)
    w.resize(640, 470)  # inside the offscreen screen, so nothing is clamped
    w.show()
    qtbot.waitUntil(lambda: not w.loader.isRunning(), timeout=60000)
    w.close()
    w2 = MainWindow([])
    qtbot.addWidget(w2)
    assert (w2.width(), w2.height()) == (640, 470)
    qtbot.waitUntil(lambda: not w2.loader.isRunning(), timeout=60000)
    w2.close()
