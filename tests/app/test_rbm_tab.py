"""The RBM tab driven as a person would: a tiny run fills the filters, the likelihood plot
and the comparison; the dreams step chains and clamp a drawing; a deep belief net runs."""
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.tabs.rbm import CHAINS, RBMTab, digit_for


@pytest.fixture
def tab(open_tab):
    return open_tab(RBMTab)


def train(qtbot, tab, **values):
    form = tab.panel.form
    form.set_values({**form.values(), "hidden": "16", "epochs": 2, "fine_tune": "none",
                     "fine_tune_epochs": 2, "batch_size": 20, **values})
    tab.panel.select_dataset("digits-8x8")
    with qtbot.waitSignal(tab.panel.finished, timeout=60000) as blocker:
        tab.panel.start()
    done = blocker.args[0]
    assert done.status == "finished", done.message
    return done


def frame(tab) -> np.ndarray:
    """The chains' pixels as shown: (n, 8, 8) out of the grid's mosaic."""
    mosaic = tab.dreams.grid.mosaic()[..., 0]
    return np.stack([mosaic[r * 9:r * 9 + 8, c * 9:c * 9 + 8]
                     for r in range(6) for c in range(6)])


def wait_for_steps(qtbot, tab, at_least: int) -> None:
    qtbot.waitUntil(lambda: tab._steps >= at_least, timeout=10000)


def test_a_small_rbm_fills_filters_likelihood_and_comparison_and_dreams(qtbot, tab, open_tab,
                                                                        tmp_path):
    tab.panel.views.setCurrentWidget(tab.dreams)  # the chains step only while in view
    train(qtbot, tab, fine_tune="100")
    qtbot.waitUntil(lambda: "trained model" in tab.filters.grids[0].note.text(), timeout=5000)
    assert len(tab.filters.grids) == 1 and tab.filters.grids[0].count == 16
    lv = tab.likelihood
    assert lv.exact and lv.plot.isVisibleTo(lv)
    assert len(lv.points["val_"]) == 2 and lv.baseline is not None
    assert lv.line.isVisible() and "independent pixels" in lv.line.label.format
    assert "nats" in lv.note.text()
    assert lv.line.label.toPlainText().startswith("independent pixels")
    scores = tab.comparison.scores
    assert scores is not None and scores["labels"] == 100
    assert 0 <= scores["pretrained"] <= 1 and 0 <= scores["random"] <= 1
    assert "100" in tab.comparison.text.text()

    # dreams from noise start by themselves when the model arrives, and move
    wait_for_steps(qtbot, tab, 2)
    a = frame(tab)
    wait_for_steps(qtbot, tab, tab._steps + 2)
    b = frame(tab)
    assert a.shape == (CHAINS, 8, 8) and not np.allclose(a, b)
    assert 0 <= b.min() and b.max() <= 1
    assert "Gibbs steps so far" in tab.dreams.status.text()

    tab.dreams.play.click()  # pause: no more steps
    assert tab.dreams.play.text() == "Play"
    qtbot.waitUntil(lambda: not tab.chain_runner.is_busy(), timeout=5000)
    paused_at = tab._steps
    qtbot.wait(150)
    assert tab._steps == paused_at
    tab.dreams.play.click()
    wait_for_steps(qtbot, tab, paused_at + 1)

    tab.dreams.steps.setValue(5)
    tab.dreams.from_held_out.click()
    wait_for_steps(qtbot, tab, 10)
    assert 0 <= frame(tab).min() and frame(tab).max() <= 1

    # draw a vertical stroke; its top half is held in every chain
    c = tab.dreams.canvas
    QTest.mousePress(c, Qt.MouseButton.LeftButton, pos=QPoint(84, 20))
    QTest.mouseMove(c, QPoint(84, 150))
    QTest.mouseRelease(c, Qt.MouseButton.LeftButton, pos=QPoint(84, 150))
    digit = (digit_for(c.array(), (8, 8)) > 0.5).astype(np.float32)
    assert digit[:4].any()
    tab.dreams.clamp.click()
    wait_for_steps(qtbot, tab, 10)
    shown = frame(tab)
    assert np.allclose(shown[:, :4], digit[:4][None], atol=1e-6)  # the clamped top half
    assert not np.allclose(shown[:, 4:], shown[:1, 4:])  # the chains fill the rest apart

    # saved and opened again: the same views fill from the file
    path = tmp_path / "rbm.keras"
    assert tab.panel.save_model_to(path)
    fresh = open_tab(RBMTab)
    assert fresh.panel.load_model_from(path)
    qtbot.waitUntil(lambda: fresh.likelihood.baseline is not None, timeout=10000)
    assert fresh.likelihood.baseline == pytest.approx(lv.baseline, abs=1e-6)
    assert fresh.likelihood.exact and len(fresh.likelihood.points["val_"]) == 2
    assert fresh.comparison.scores == scores
    qtbot.waitUntil(lambda: fresh.filters.grids[0].count == 16, timeout=5000)


def test_a_deep_belief_net_trains_and_dreams(qtbot, tab):
    tab.panel.views.setCurrentWidget(tab.dreams)
    train(qtbot, tab, hidden="16, 16", epochs=1)
    qtbot.waitUntil(lambda: "trained model" in tab.filters.grids[-1].note.text(),
                    timeout=5000)
    assert [g.count for g in tab.filters.grids] == [16, 16]  # one grid per RBM
    assert not tab.likelihood.exact and not tab.likelihood.plot.isVisibleTo(tab.likelihood)
    assert "deep belief net" in tab.likelihood.note.text()
    assert tab.comparison.scores is None
    assert len(tab.panel.loss_plot.marks) == 1  # where the second RBM began
    wait_for_steps(qtbot, tab, 3)
    pixels = frame(tab)
    assert 0 <= pixels.min() and pixels.max() <= 1


def test_a_big_rbm_shows_its_likelihood_estimated_by_ais(qtbot, tab):
    train(qtbot, tab, hidden="30", epochs=1)
    lv = tab.likelihood
    assert lv.exact is False and lv.ais is not None
    assert "30 hidden units" in lv.note.text() and "annealed importance" in lv.note.text()
    qtbot.waitUntil(lambda: lv.baseline is not None, timeout=10000)
    assert "against independent pixels" in lv.note.text()


def test_before_a_model_the_dreams_say_what_to_do(tab):
    assert "Train an RBM" in tab.dreams.grid.note.text()
    tab.dreams.from_noise.click()
    assert "first" in tab.dreams.status.text()
    assert "Fine-tune with labels" in tab.comparison.text.text()
    assert not tab.likelihood.plot.isVisibleTo(tab.likelihood)
