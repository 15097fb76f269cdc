"""The GAN tab driven as a person would: a short run fills the samples, the game's curves
and the scores; a sample is explored (sliders, nearest training digit, interpolation); the
mode-collapse preset sets the form; a saved GAN loads back into every view."""
import numpy as np
import pytest

from app.tabs.gan import GANTab
from nets.families import gan


@pytest.fixture
def tab(open_tab):
    from nets import backend

    backend.start()  # as the app does at start-up: TensorFlow is imported in the GUI thread
    return open_tab(GANTab)


def train(qtbot, tab, **values):
    for name, v in {"steps": 40, "score_every": 20, "g_width": 8, "d_width": 8,
                    "latent_size": 16, "batch_size": 32, **values}.items():
        editor = tab.panel.form.editors[name]
        editor.setChecked(v) if isinstance(v, bool) else editor.setValue(v)
    tab.panel.select_dataset("mnist-5k")
    with qtbot.waitSignal(tab.panel.finished, timeout=120000) as blocker:
        tab.panel.start()
    done = blocker.args[0]
    assert done.status == "finished", done.message
    return done


def test_the_2d_game_is_the_first_view(tab):
    assert tab.panel.views.tabText(0) == "2-D game"
    assert [tab.panel.views.tabText(i) for i in range(1, 5)] == ["Samples", "Scores",
                                                                 "Explore", "About"]


def test_a_short_run_fills_samples_curves_and_scores_then_explores(qtbot, tab):
    done = train(qtbot, tab)
    assert tab.samples.grid.count == gan.SAMPLES
    # the last grid is the trained generator's on the fixed noise of the run's seed
    expected = gan.sample_grid(done.result.model, tab.panel.seed.value())
    from app.widgets.images import tile
    np.testing.assert_allclose(tab.samples.grid.mosaic(), tile(expected, 10)[0], atol=1e-5)
    for key in ("g_loss", "d_loss", "d_real", "d_fake"):
        assert tab.game.series[key].x.n >= 1, key
    d_real = tab.game.series["d_real"].y.view()
    assert ((0 <= d_real) & (d_real <= 1)).all()
    assert tab.scores.coverage.x.n == 2 and tab.scores.latest.step == 40
    assert sum(tab.scores.histogram.values) == 500
    assert "of 10 classes" in tab.scores.now.text()
    assert "digit reader" in tab.scores.judge_note.text()

    # click the 4th sample: it is explored, beside its nearest training digit
    with qtbot.waitSignal(tab.renderer.result, timeout=20000):
        tab.samples.grid.tile_clicked.emit(3)
    qtbot.waitUntil(lambda: tab.explore.near.count == 1, timeout=20000)
    np.testing.assert_allclose(tab.explore.sample.mosaic()[..., 0],
                               expected[3], atol=1e-5)
    assert "Distance to the nearest training image" in tab.explore.distance.text()
    qtbot.waitUntil(lambda: tab.directions is not None, timeout=20000)
    before = tab.explore.sample.mosaic().copy()
    with qtbot.waitSignal(tab.renderer.result, timeout=20000):
        tab.explore.sliders[0].setValue(250)
    assert not np.allclose(before, tab.explore.sample.mosaic())

    tab.explore.set_a.click()
    assert tab.explore.strip.count == 0  # needs both ends
    with qtbot.waitSignal(tab.renderer.result, timeout=20000):
        tab.explore.new_sample.click()
    with qtbot.waitSignal(tab.background["interpolate"].result, timeout=20000):
        tab.explore.set_b.click()
    qtbot.waitUntil(lambda: tab.explore.strip.count == 10, timeout=20000)


def test_mode_collapse_preset_sets_the_form(tab):
    tab.mode_collapse_preset()
    config = tab.panel.form.config()
    for key, value in gan.MODE_COLLAPSE.items():
        assert getattr(config, key) == value
    assert config.steps == gan.Config().steps  # the rest stays


def test_a_saved_gan_loads_into_the_views(qtbot, tab, tmp_path):
    done = train(qtbot, tab, conditional=True, steps=20, score_every=10)
    path = done.result.save(tmp_path / "g.keras")
    tab.samples.grid.set_images(np.zeros((0,)))
    tab.scores.clear_data()
    with qtbot.waitSignal(tab.background["loaded"].result, timeout=60000):
        assert tab.panel.load_model_from(path)
    qtbot.waitUntil(lambda: tab.samples.grid.count == gan.SAMPLES, timeout=20000)
    assert tab.scores.latest is not None and tab.scores.latest.agree is not None
    assert tab.scores.coverage.x.n == 3  # its two scorings and the fresh one
    assert tab.explore.label_box.isEnabled()  # conditional: the class can be chosen
    # the loaded model's directions come too: its scoring job does not displace them
    qtbot.waitUntil(lambda: tab.directions is not None, timeout=20000)
