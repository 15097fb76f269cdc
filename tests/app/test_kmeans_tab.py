"""The K-means tab driven as a person would: train, look at the dictionary, draw, study."""
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.tabs.kmeans import KMeansTab


@pytest.fixture
def tab(open_tab):
    return open_tab(KMeansTab)


def run(qtbot, tab, **values):
    form = tab.panel.form
    form.set_values({**form.values(), "patches": 5000, "clusters": 24, "kmeans_epochs": 2,
                     "classifier_epochs": 3, **values})
    tab.panel.select_dataset("mnist-5k")
    with qtbot.waitSignal(tab.panel.finished, timeout=180000) as blocker:
        tab.panel.start()
    return blocker.args[0]


def test_single_run_fills_dictionary_confusion_and_classifies_a_drawing(qtbot, tab, tmp_path):
    done = run(qtbot, tab)
    assert done.status == "finished", done.message
    assert tab.dictionary.grid.count == 24
    before = tab.dictionary.grid.mosaic().copy()
    tab.dictionary.whitened.setChecked(True)  # the same centroids, as K-means sees them
    assert tab.dictionary.grid.count == 24
    assert (tab.dictionary.grid.mosaic() != before).any()
    assert tab.classify.confusion.matrix.sum() == 1000
    assert "Held-out accuracy" in tab.classify.summary.text()

    c = tab.classify.canvas
    with qtbot.waitSignal(tab.classifier.result, timeout=10000):
        QTest.mousePress(c, Qt.MouseButton.LeftButton, pos=QPoint(100, 30))
        QTest.mouseMove(c, QPoint(100, 170))
        QTest.mouseRelease(c, Qt.MouseButton.LeftButton, pos=QPoint(100, 170))
    qtbot.waitUntil(lambda: tab.classify.bars.probabilities.sum() > 0.99, timeout=5000)

    assert tab.panel.save_model_to(tmp_path / "k.keras")
    fresh = KMeansTab()
    qtbot.addWidget(fresh)
    try:
        assert fresh.panel.load_model_from(tmp_path / "k.keras")
        assert fresh.dictionary.grid.count == 24 and fresh.model is not None
    finally:
        fresh.shutdown()


def test_study_mode_fills_the_table_and_plot(qtbot, tab):
    done = run(qtbot, tab, mode="study", study_clusters="8,16", classifier_epochs=2,
               stride=3)  # the images described every 3 pixels: an eighth of the work
    assert done.status == "finished", done.message
    assert len(tab.study.rows) == 8
    assert tab.study.table.rowCount() == 2
    assert all(tab.study.table.item(r, c).text().endswith("%")
               for r in range(2) for c in range(4))
    xs, ys = tab.study.curves[("triangle", True)].getData()
    assert len(xs) == 2


def test_the_form_says_when_the_patch_size_caps_the_patches(tab):
    tab.panel.select_dataset("mnist-5k")
    tab.panel.form.editors["patch_size"].setValue(6)
    assert not tab.patches_note.isVisibleTo(tab)
    tab.panel.form.editors["patch_size"].setValue(28)
    assert tab.patches_note.isVisibleTo(tab)
    assert "each training image is one patch" in tab.patches_note.text()


def test_the_study_key_sits_under_the_plot(qtbot, tab):
    tab.panel.views.setCurrentWidget(tab.study)
    tab.study.set_rows([{"K": k, "whiten": w, "encoding": e, "accuracy": 0.5 + k / 1000}
                        for k in (8, 50) for w in (False, True) for e in ("triangle", "hard")])
    qtbot.wait(20)
    plot = tab.study.plot.getPlotItem()
    assert plot.legend is None
    key = tab.study.key
    assert "triangle + ZCA" in key.text
    assert key.sceneBoundingRect().top() >= plot.vb.sceneBoundingRect().bottom() - 1
    xs, ys = tab.study.curves[("hard", True)].getData()
    assert max(ys) == pytest.approx(55.0)  # in percent
