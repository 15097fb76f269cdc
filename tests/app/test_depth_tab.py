"""The "Why deep nets stalled" tab driven as a person would: a fix button sets the form and
starts a run, the gradient bars and weight-change curves fill, the comparison lists it."""
import os

import numpy as np
import pytest

from app.tabs.depth import DepthTab
from nets.families import depth


@pytest.fixture
def tab(open_tab):
    return open_tab(DepthTab)


def small(tab, **values):
    for name, v in {"hidden_layers": 3, "width": 8, "epochs": 2, "batch_size": 256,
                    "pretrain_epochs": 1, **values}.items():
        tab.panel.form.editors[name].setValue(v)


def test_the_tab_offers_its_views_and_the_small_digits_first(tab):
    titles = [tab.panel.views.tabText(i) for i in range(tab.panel.views.count())]
    assert titles == ["Gradients", "Weight change", "Compare fixes", "About"]
    assert tab.panel.dataset_key() == "digits-8x8"
    assert list(tab.compare.buttons) == list(depth.FIXES)
    assert all(b.toolTip() for b in tab.compare.buttons.values())


def test_a_fix_button_sets_the_form_and_a_short_run_fills_the_views(qtbot, tab):
    small(tab)
    tab.panel.form.editors["batch_norm"].setChecked(True)  # the fix resets the rest
    with qtbot.waitSignal(tab.panel.finished, timeout=120000) as blocker:
        tab.compare.buttons["Pretraining"].click()
    done = blocker.args[0]
    assert done.status == "finished", done.message
    config = tab.panel.form.config()
    assert (config.activation, config.init, config.batch_norm, config.pretraining) == \
        ("sigmoid", "small", False, True)
    assert config.hidden_layers == 3  # the depth stays the person's
    bars = tab.gradients
    assert bars.start is not None and len(bars.start) == 4 and len(bars.now) == 4
    assert not np.allclose(bars.start, bars.now)  # the untrained bars are kept apart
    assert len(bars.now_bars.opts["height"]) == 4
    assert "first layer" in bars.note.text()
    assert len(tab.weight_change.curves) == 4
    assert all(len(d) == 2 for d in tab.weight_change.data)
    table = tab.compare.table
    assert table.rowCount() == 1
    assert table.item(0, 0).text() == "Pretraining, 3 layers, width 8"
    assert table.item(0, 1).text().endswith("%") and table.item(0, 2).text() == "2/2"
    if os.environ.get("DEPTH_TAB_SCREENSHOT"):
        tab.panel.views.setCurrentWidget(tab.gradients)
        qtbot.wait(50)
        tab.grab().save(os.environ["DEPTH_TAB_SCREENSHOT"])


def test_run_all_runs_every_fix_in_turn(qtbot, tab):
    small(tab, epochs=1, hidden_layers=2)
    tab.run_all()
    qtbot.waitUntil(lambda: tab.compare.table.rowCount() == len(depth.FIXES)
                    and not tab.panel.is_running() and not tab.queue, timeout=180000)
    names = [tab.compare.table.item(r, 0).text() for r in range(len(depth.FIXES))]
    assert names == [f"{fix}, 2 layers, width 8" for fix in depth.FIXES]
