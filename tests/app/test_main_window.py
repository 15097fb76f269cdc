"""The main window: tabs from the registry, backend info, closing mid-training."""
import os
import time

import pytest

from app.main_window import BACKEND_SETTING, MainWindow
from app import settings
from nets import backend, registry
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
    assert len(window.tabs) == len(registry.ENTRIES) and not window.load_errors
    assert window.tab_widget.count() == len(registry.ENTRIES) + 1  # and the welcome page
    for tab, key in zip(window.tabs, registry.keys()):  # in the registry's order, titled
        assert tab.panel.family_key == key
        title = window.tab_widget.tabText(window.tab_widget.indexOf(tab))
        assert title == registry.family(key).title
    text = window.device_label.text()
    assert text.startswith("TensorFlow 2.") and "Keras 3." in text
    assert "CPU" in text or "GPU" in text


def test_the_backend_is_a_setting_for_the_next_start(window):
    jax = window.backend_actions["jax"]
    assert jax.isEnabled() == backend.installed("jax")
    assert window.backend_actions["tensorflow"].isChecked()  # nothing stored: the default
    window.backend_actions["tensorflow"].trigger()
    assert "now in use" in window.statusBar().currentMessage()
    if jax.isEnabled():
        jax.trigger()
        assert settings.load_json(BACKEND_SETTING) == "jax"
        assert "JAX is used from the next start" in window.statusBar().currentMessage()
    else:
        assert "not installed" in jax.text() and ".[jax]" in jax.toolTip()


def test_a_tab_that_fails_to_import_is_left_out_with_a_message(qtbot, monkeypatch):
    monkeypatch.setattr(registry, "ENTRIES", registry.ENTRIES + (
        ("nowhere", "nets.families.nowhere", "app.tabs.nowhere:Nothing"),))
    w = MainWindow(["cnn", "nowhere"], backend_note="PyTorch is not installed, so ...")
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.tabs_ready, timeout=60000):
        pass
    assert len(w.tabs) == 1 and isinstance(w.tabs[0], CNNTab)
    assert any("app.tabs.nowhere" in e for e in w.load_errors)
    assert w.load_errors[0].startswith("PyTorch is not installed")  # said first
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


def test_first_run_opens_on_the_welcome_page_whose_links_open_tabs(window):
    assert window.tab_widget.currentWidget() is window.welcome
    text = window.welcome.toPlainText()
    for tab in window.tabs:
        assert window.tab_widget.tabText(window.tab_widget.indexOf(tab)) in text
    assert "Train a convnet on digits" in text  # the family's own summary
    assert "Ready to try without training: CartPole agent" in text  # a shipped model
    window.welcome.open_tab.emit(2)
    assert window.tab_widget.currentWidget() is window.tabs[2]


def test_the_app_has_its_icon(qapp):
    from app.main_window import ICON, make_application

    assert ICON.is_file()
    assert not make_application().windowIcon().isNull()


def test_an_offline_data_folder_is_used_and_remembered(qtbot, tmp_path, monkeypatch):
    from nets import kit

    monkeypatch.delenv(kit.ENV, raising=False)
    w = MainWindow([])
    qtbot.addWidget(w)
    w.use_data_folder(str(tmp_path))
    assert os.environ[kit.ENV] == str(tmp_path)
    assert "no kit datasets found there" in w.statusBar().currentMessage()
    monkeypatch.delenv(kit.ENV)
    w2 = MainWindow([])
    qtbot.addWidget(w2)
    assert os.environ[kit.ENV] == str(tmp_path)  # restored on the next start
    for win in (w, w2):
        qtbot.waitUntil(lambda: not win.loader.isRunning(), timeout=60000)
        win.close()


def test_the_welcome_page_starts_a_newcomer_where_something_happens_at_once(qtbot, window):
    text = window.welcome.toPlainText()
    assert "Explore a variational autoencoder that is already trained" in text
    vae = window.family_tab("vae")
    window.welcome.quick_start.emit(0)
    assert window.tab_widget.currentWidget() is vae
    assert vae.panel.trained is not None  # the shipped model, loaded at once
    assert vae.panel.views.tabText(vae.panel.views.currentIndex()) == "Latent explorer"
    cnn = window.family_tab("cnn")
    window.welcome.quick_start.emit(1)
    assert window.tab_widget.currentWidget() is cnn and cnn.panel.is_running()
    assert cnn.panel.views.tabText(cnn.panel.views.currentIndex()) == "Draw"
    cnn.panel.stop()
    qtbot.waitUntil(lambda: not cnn.panel.is_running(), timeout=30000)
