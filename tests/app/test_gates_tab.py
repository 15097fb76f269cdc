"""The "Why gates" tab driven as a person would: a short sweep fills the accuracy-by-length
plot and table, the gradient through time and the learning curves; a saved sweep opened
from its file shows its results again."""
import os

import numpy as np
import pytest

from app.tabs.gates import GatesTab


@pytest.fixture
def tab(open_tab):
    return open_tab(GatesTab)


def small(tab, **values):
    form = tab.panel.form
    for name, v in {"units": 8, "steps": 100, "batch_size": 64, "symbols": 3,
                    **values}.items():
        form.editors[name].setValue(v)
    form.editors["lengths"].setText(values.get("lengths", "3, 6"))
    form.editors["cells"].setText(values.get("cells", "gru"))


def test_a_short_sweep_fills_the_views_and_a_saved_one_opens_again(qtbot, tab, tmp_path):
    titles = [tab.panel.views.tabText(i) for i in range(tab.panel.views.count())]
    assert titles == ["Accuracy by length", "Gradient through time", "About"]
    assert tab.accuracy.plot.toolTip() and tab.gradients.plot.toolTip()
    small(tab)
    with qtbot.waitSignal(tab.panel.finished, timeout=120000) as blocker:
        tab.panel.start()
    done = blocker.args[0]
    assert done.status == "finished", done.message
    table = tab.accuracy.table
    assert (table.rowCount(), table.columnCount()) == (1, 2)
    assert all(table.item(0, c).text().endswith("%") for c in range(2))
    xs, ys = tab.accuracy.curves["gru"].xData, tab.accuracy.curves["gru"].yData
    assert list(xs) == [3, 6] and ((0 <= ys) & (ys <= 1)).all()
    assert tab.accuracy.chance.value() == pytest.approx(1 / 3)
    assert "At length 6" in tab.accuracy.note.text()
    assert tab.gradients.choice.count() == 2 and tab.gradients.choice.currentData() == 6
    for phase in ("start", "end"):
        curve = tab.gradients.curves[("gru", phase)]
        xs, ys = curve.xData, curve.yData  # as given, before the log axis
        assert len(xs) == 6 and ys[-1] == pytest.approx(1.0)
    assert tab.gradients.curves[("lstm", "end")].xData is None  # no LSTM in this run
    assert "step 1" in tab.gradients.note.text()
    assert tab.curves.length == 6 and set(tab.curves.points) == {"gru"}
    assert [m.value() for m in tab.panel.loss_plot.marks] == [0, done.result.meta[
        "results"][0]["steps"]]  # where each length begins
    if os.environ.get("GATES_TAB_SCREENSHOT"):
        qtbot.wait(50)
        tab.grab().save(os.environ["GATES_TAB_SCREENSHOT"])
        tab.panel.views.setCurrentWidget(tab.gradients)
        qtbot.wait(50)
        tab.grab().save(os.environ["GATES_TAB_SCREENSHOT"].replace(".png", "-grad.png"))

    path = tmp_path / "sweep.keras"
    assert tab.panel.save_model_to(path)
    tab.accuracy.begin(["lstm"], [9], 0.5)  # something else on show
    assert tab.panel.load_model_from(path)
    assert tab.accuracy.table.rowCount() == 1
    assert np.allclose(tab.accuracy.curves["gru"].xData, [3, 6])
    assert tab.gradients.choice.count() == 2
    assert tab.curves.length == 6 and set(tab.curves.points) == {"gru"}
    assert "At length 6" in tab.panel.now_label.text()
