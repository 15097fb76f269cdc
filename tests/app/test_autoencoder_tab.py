"""The autoencoder tab driven as a person would: train, inspect features, repair a digit,
learn edges from photo patches."""
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.tabs.autoencoder import AutoencoderTab
from nets.families import autoencoder as aes


@pytest.fixture
def tab(open_tab):
    return open_tab(AutoencoderTab)


def train(qtbot, tab, dataset="mnist-5k", **values):
    form = tab.panel.form
    tab.panel.select_dataset(dataset)
    for name, v in {"epochs": 1, "hidden": 36, "few_labels": 30, **values}.items():
        w = form.editors[name]
        if hasattr(w, "setCurrentText"):
            w.setCurrentText(v)
        else:
            w.setValue(v)
    with qtbot.waitSignal(tab.panel.finished, timeout=120000) as blocker:
        tab.panel.start()
    assert blocker.args[0].status == "finished", blocker.args[0].message


@pytest.fixture(autouse=True)
def short_few_labels(monkeypatch):
    monkeypatch.setattr(aes, "FEW_LABEL_PROBE_EPOCHS", 10)
    monkeypatch.setattr(aes, "FEW_LABEL_FINETUNE_EPOCHS", 10)


def test_denoising_run_then_features_repair_and_few_labels(qtbot, tab):
    train(qtbot, tab, kind="denoising")
    assert tab.recon.count == 48 and "triple" in tab.recon.note.text()
    assert len(tab.features.grids) == 1 and tab.features.grids[0].count == 36
    assert tab.few.scores["labels"] == 30 and "pretrained" in tab.few.text.text()
    assert "fine-tuned" in tab.few.text.text() and "points" in tab.few.gap.text()
    assert "Average activation" in tab.features.grids[0].note.text()

    with qtbot.waitSignal(tab.background.result, timeout=10000):
        tab.features.grids[0].tile_clicked.emit(5)  # a click on the 6th feature
    assert tab.features.top.count == 8 and "unit 6" in tab.features.top.note.text()

    c = tab.repair.canvas
    with qtbot.waitSignal(tab.repairer.result, timeout=10000):
        QTest.mousePress(c, Qt.MouseButton.LeftButton, pos=QPoint(140, 40))
        QTest.mouseMove(c, QPoint(140, 240))
        QTest.mouseRelease(c, Qt.MouseButton.LeftButton, pos=QPoint(140, 240))
    qtbot.waitUntil(lambda: tab.repair.triple.count == 3, timeout=10000)


def test_stacked_run_marks_its_stages_and_shows_each_layer(qtbot, tab):
    train(qtbot, tab, kind="stacked", few_labels=0)
    marks = [m.label.format for m in tab.panel.loss_plot.marks]
    assert marks == ["layer 1", "layer 2", "fine-tune"]
    assert [g.count for g in tab.features.grids] == [36, 18]


def test_a_saved_autoencoder_loads_with_its_features(qtbot, tab, open_tab, tmp_path):
    train(qtbot, tab, few_labels=0)
    path = tmp_path / "ae.keras"
    assert tab.panel.save_model_to(path)
    fresh = open_tab(AutoencoderTab)
    with qtbot.waitSignal(fresh.background.result, timeout=30000):
        assert fresh.panel.load_model_from(path)
    assert fresh.features.grids[0].count == 36 and fresh.held_out is not None


def test_fields_that_do_not_apply_are_greyed_out(tab):
    editors = tab.panel.form.editors
    editors["kind"].setCurrentText("plain")
    assert not editors["corruption"].isEnabled() and not editors["layers"].isEnabled()
    editors["kind"].setCurrentText("denoising")
    assert editors["corruption"].isEnabled() and editors["corruption_level"].isEnabled()
    assert not editors["layers"].isEnabled()
    editors["kind"].setCurrentText("stacked")
    assert editors["layers"].isEnabled() and not editors["corruption"].isEnabled()


def test_photo_patches_learn_in_the_tab_and_skip_the_few_labels(qtbot, tab, monkeypatch):
    monkeypatch.setattr(aes, "PHOTO_PATCHES", 2000)
    monkeypatch.setattr(aes, "PHOTO_HELD_OUT", 200)
    editors = tab.panel.form.editors
    assert not editors["patch_size"].isEnabled() and tab.photo_note.isHidden()
    tab.panel.select_dataset("photos")
    assert editors["patch_size"].isEnabled() and not tab.photo_note.isHidden()
    tab.use_photo_settings()
    assert editors["hidden"].value() == aes.PHOTO_SETTINGS["hidden"]
    train(qtbot, tab, dataset="photos", hidden=16, few_labels=100)
    assert tab.features.grids[0].count == 16 and tab.recon.count == 32
    assert "patch" in tab.recon.note.text()
    assert tab.few.scores is None and "no classes" in tab.few.text.text()
    with qtbot.waitSignal(tab.background.result, timeout=10000):
        tab.features.grids[0].tile_clicked.emit(0)
    assert tab.features.top.count == 8 and "patches" in tab.features.top.note.text()
    qtbot.waitUntil(lambda: "photo patches" in tab.repair.triple.note.text(), timeout=10000)
