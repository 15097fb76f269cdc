"""The CNN tab's Adversarial page: attacking a drawing and a held-out digit, the ε slider
re-attacking, and robustness curves of successive models kept side by side."""
import keras
import numpy as np
import pytest

from app.tabs.cnn import CNNTab
from nets import data
from nets.families import cnn
from tests.app.test_cnn_tab import draw_one


@pytest.fixture(scope="module")
def model():
    """A small convnet fitted for one epoch (about a second): it reads digits well enough."""
    keras.utils.set_random_seed(0)
    ds = data.load("mnist-5k")
    m = cnn.build_model(cnn.Config(filters=4, conv_blocks=1, augment=False), ds.input_shape,
                        10)
    m.fit(ds.x_train, ds.y_train, batch_size=64, epochs=1, verbose=0)
    return m


@pytest.fixture
def tab(open_tab, model):
    tab = open_tab(CNNTab)
    tab.panel.model_changed.emit(model)  # as a finished run or a loaded file does
    return tab


def show_page(tab):
    tab.panel.views.setCurrentWidget(tab.adversarial)


def test_an_attack_on_the_drawn_digit_updates_the_images_and_bars(qtbot, tab):
    view = tab.adversarial
    with qtbot.waitSignal(tab.prediction_shown, timeout=10000):
        draw_one(qtbot, tab.draw.canvas)
    show_page(tab)
    view.source.setCurrentIndex(1)  # your drawing
    qtbot.waitUntil(lambda: view.summary.text().startswith("Your drawing"), timeout=20000)
    qtbot.wait(300)  # the last strokes' predictions and attacks have come
    drawn = tab.draw.preview.mosaic()[..., 0]
    original = view.original.mosaic()[..., 0]
    np.testing.assert_allclose(original, drawn, atol=1e-6)  # the drawing, as drawn
    adv = view.adversarial.mosaic()[..., 0]
    assert np.abs(adv - original).max() == pytest.approx(view.epsilon, abs=1e-5)
    assert view.before.probabilities.sum() == pytest.approx(1, abs=1e-3)
    assert view.after.probabilities.sum() == pytest.approx(1, abs=1e-3)
    assert not np.allclose(view.before.probabilities, view.after.probabilities)
    assert view.summary.text().startswith("Your drawing: the network says")
    assert "±0.10 of the 0..1 pixel range" in view.perturbation.note.text()


def test_the_slider_re_attacks_and_the_targeted_attack_says_what_it_did(qtbot, tab):
    view = tab.adversarial
    show_page(tab)
    qtbot.waitUntil(lambda: view.original.count == 1, timeout=20000)
    first = view.adversarial.mosaic().copy()
    with qtbot.waitSignal(view.attack_shown, timeout=10000):
        view.eps.setValue(30)
    assert view.eps_label.text() == "0.30"
    assert "±0.30" in view.perturbation.note.text()
    assert not np.array_equal(first, view.adversarial.mosaic())
    assert not view.target.isEnabled()
    with qtbot.waitSignal(view.attack_shown, timeout=20000):
        view.kind.setCurrentIndex(2)  # targeted
    assert view.target.isEnabled() and "Asked to say 3" in view.summary.text()
    index = view.index.value()
    with qtbot.waitSignal(view.attack_shown, timeout=10000):
        view.another.click()
    assert view.index.value() != index or "#" in view.summary.text()


def test_robustness_curves_of_two_models_stay_side_by_side(qtbot, tab, model):
    view = tab.adversarial
    show_page(tab)
    with qtbot.waitSignal(view.curve_shown, timeout=60000):
        view.curve_button.click()
    xs, ys = view.lines[0].getData()
    assert list(xs) == pytest.approx([0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3])
    assert ys[0] > 0.5 and ys[-1] < ys[0]
    assert view.curves[0].model.startswith("model 1: plain training")
    assert "1,000 held-out images" in view.curve_note.text()

    other = keras.models.clone_model(model)  # a second model: untrained, about chance
    other.set_weights(model.get_weights())
    tab.panel.model_changed.emit(other)
    with qtbot.waitSignal(view.curve_shown, timeout=60000):
        view.curve_button.click()
    assert [c.model.split(":")[0] for c in view.curves] == ["model 1", "model 2"]
    assert len(view.lines[1].getData()[0]) == 7
    assert "model 2" in view.key.text


def test_a_refused_attack_is_said_in_words(qtbot, open_tab):
    tab = open_tab(CNNTab)
    flat = keras.Sequential([keras.Input((784,)),
                             keras.layers.Dense(10, activation="softmax")])
    show_page(tab)
    with qtbot.waitSignal(tab.adversarial.attack_runner.failed, timeout=10000):
        tab.adversarial.set_model(flat, "flat")
    assert "does not take images" in tab.adversarial.summary.text()
    assert "Error" not in tab.adversarial.summary.text()
