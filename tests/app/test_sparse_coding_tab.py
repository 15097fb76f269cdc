"""The sparse coding tab driven as a person would: learn atoms, pick, draw, move lambda."""
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.tabs import sparse_coding as tabmod
from app.tabs.sparse_coding import SparseCodingTab


@pytest.fixture
def tab(open_tab):
    return open_tab(SparseCodingTab)


def test_slider_maps_both_ways():
    assert tabmod.slider_to_lambda(0) == 0
    for lam in (0.001, 0.1, 3.0, 10.0):
        assert tabmod.slider_to_lambda(tabmod.lambda_to_slider(lam)) == pytest.approx(
            lam, rel=0.03)


def test_learn_then_code_a_picked_and_a_drawn_image(qtbot, tab, tmp_path):
    form = tab.panel.form
    form.set_values({**form.values(), "atoms": 32, "patches": 800, "epochs": 2,
                     "coding_iterations": 30})
    tab.panel.select_dataset("mnist-5k")
    with qtbot.waitSignal(tab.panel.finished, timeout=120000) as blocker:
        tab.panel.start()
    assert blocker.args[0].status == "finished", blocker.args[0].message
    assert tab.atoms.count == 32
    assert tab.code.samples.count == 64
    # the first sample is coded at once, with the sweep and the timing
    qtbot.waitUntil(lambda: tab.coded is not None and tab.sweep is not None, timeout=20000)
    qtbot.waitUntil(lambda: "faster" in tab.code.timing.text(), timeout=20000)
    assert tab.code.pair.count == 2 and tab.code.top.count == min(8, tab.coded.active)

    # a larger lambda re-codes the image with fewer active atoms
    few_before = tab.coded.active
    with qtbot.waitSignal(tab.coder.result, timeout=10000):
        tab.code.slider.setValue(tabmod.lambda_to_slider(3.0))
    qtbot.waitUntil(lambda: tab.coded.active < few_before, timeout=10000)
    assert f"{tab.coded.active}</b> of 32" in tab.code.status.text()

    with qtbot.waitSignal(tab.coder.result, timeout=10000):
        tab.code.samples.tile_clicked.emit(5)
    picked = tab.coded.image.copy()
    c = tab.code.canvas
    with qtbot.waitSignal(tab.coder.result, timeout=10000):
        QTest.mousePress(c, Qt.MouseButton.LeftButton, pos=QPoint(75, 20))
        QTest.mouseMove(c, QPoint(75, 130))
        QTest.mouseRelease(c, Qt.MouseButton.LeftButton, pos=QPoint(75, 130))
    qtbot.waitUntil(lambda: not np.array_equal(tab.coded.image, picked), timeout=10000)

    assert tab.panel.save_model_to(tmp_path / "d.keras")
    fresh = SparseCodingTab()
    qtbot.addWidget(fresh)
    try:
        assert fresh.panel.load_model_from(tmp_path / "d.keras")
        assert fresh.atoms.count == 32
        qtbot.waitUntil(lambda: fresh.coded is not None, timeout=20000)
    finally:
        assert fresh.shutdown()  # waits for background jobs


def test_the_form_says_why_whole_images_give_fewer_patches(tab):
    # the defaults code whole 28x28 digits: one patch per image, not 20,000
    assert tab.patches_note.isVisibleTo(tab)
    assert "each training image is one patch" in tab.patches_note.text()
    tab.panel.form.editors["patch_size"].setValue(8)
    assert not tab.patches_note.isVisibleTo(tab)
    tab.panel.form.editors["patch_size"].setValue(28)
    tab.panel.select_dataset("photos")
    assert not tab.patches_note.isVisibleTo(tab)
