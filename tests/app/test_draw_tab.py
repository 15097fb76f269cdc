"""The DRAW tab driven as a person would: train briefly, watch it draw step by step with its
windows, switch to samples from the prior, ask for new ones, open a saved model."""
import numpy as np
import pytest

from app.tabs.draw import DRAWTab

TINY = dict(epochs=1, steps=3, units=8, latent_dim=2, read_size=2, write_size=3,
            batch_size=500)


@pytest.fixture
def tab(open_tab):
    return open_tab(DRAWTab)


def train(qtbot, tab, **values):
    for name, v in {**TINY, **values}.items():
        editor = tab.panel.form.editors[name]
        editor.setChecked(v) if isinstance(v, bool) else editor.setValue(v)
    tab.panel.select_dataset("mnist-5k")
    with qtbot.waitSignal(tab.panel.finished, timeout=120000) as blocker:
        tab.panel.start()
    assert blocker.args[0].status == "finished", blocker.args[0].message


def test_a_short_run_fills_the_views_and_the_drawing_animates(qtbot, tab, tmp_path):
    assert tab.current() is None and not tab.timer.isActive()
    train(qtbot, tab)
    assert set(tab.panel.epoch_plots.plots) == {"loss", "reconstruction", "kl"}
    qtbot.waitUntil(lambda: tab.held is not None and not tab.background.is_busy(),
                    timeout=20000)
    assert tab.reconstructions.count == 32  # 16 digits, each above its drawing
    assert tab.samples.grid.count == 36
    assert tab.timer.isActive() and tab.drawing.play.text() == "Pause"
    view = tab.drawing
    assert view.slider.maximum() == 3 and view.strip.count == 3 and view.chooser.count == 16

    # the animation steps on and starts again after the finished drawing has stayed a while
    tab.drawing.play.setChecked(False)
    view.slider.setValue(1)
    shown = []
    tab.frame_shown.connect(shown.append)
    for _ in range(2 + 4 + 1):  # to step 3, stay 4 frames, back to 1
        tab.advance()
    assert shown == [2, 3, 1]
    # each step shows its canvas and the write window on it, the read window on the image
    view.slider.setValue(2)
    np.testing.assert_allclose(view.canvas_pane.image.image, tab.held.canvases[0, 1])
    xs, _ = view.canvas_pane.outline.getData()
    assert len(xs) == 5 and len(view.canvas_pane.centres.data) == 9  # 3 x 3 filters
    assert len(view.source_pane.centres.data) == 4
    assert "Step 2 of 3" in view.caption.text() and "nats" in view.caption.text()
    tab.choose(5)
    np.testing.assert_allclose(view.source_pane.image.image, tab.held.images[5])

    # samples from the prior: nothing to read, only the write window
    view.source.setCurrentIndex(1)
    assert tab.current() is tab.prior and view.source_pane.image.image is None
    assert len(view.source_pane.centres.data) == 0 and len(view.canvas_pane.centres.data) == 9
    before = tab.prior.finals.copy()
    with qtbot.waitSignal(tab.background.result, timeout=20000):
        tab.samples.refresh.click()
    assert not np.allclose(before, tab.prior.finals)  # new noise, new digits

    # a saved model opens into the views
    path = tmp_path / "d.keras"
    assert tab.panel.save_model_to(path)
    tab.held = tab.prior = None
    with qtbot.waitSignal(tab.background.result, timeout=30000):
        assert tab.panel.load_model_from(path)
    assert tab.held.canvases.shape == (16, 3, 28, 28)


def test_without_attention_no_window_is_drawn(tab):
    from nets.families.draw import Drawing

    canvases = np.random.default_rng(0).random((4, 3, 28, 28)).astype(np.float32)
    held = Drawing(canvases, write=None, read=None, images=canvases[:, -1],
                   kl_steps=np.ones((4, 3)))
    tab.set_drawings(held, Drawing(canvases[:2], write=None))
    view = tab.drawing
    view.slider.setValue(3)
    xs, _ = view.canvas_pane.outline.getData()
    assert xs is None or len(xs) == 0
    assert "window" not in view.caption.text() and "Step 3 of 3" in view.caption.text()
    view.source.setCurrentIndex(1)
    assert view.chooser.count == 2 and "held-out digits only" in view.kl.getPlotItem().titleLabel.text
