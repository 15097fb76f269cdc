"""The playground: its data, the hand-worked network against Keras, the perceptron rule,
and runs that train, stop, refuse bad settings in words and load back."""
import dataclasses

import keras
import numpy as np
import pytest

from nets import runner
from nets.errors import DataError, SettingsError
from nets.families import neurons
from nets.families.neurons import Config, by_hand, planar
from nets.progress import Artifact, Controls, ListReporter


def run(config: Config, seed: int = 0, reporter=None):
    reporter = reporter or ListReporter()
    done = runner.execute(runner.RunRequest("neurons", config, "", seed=seed,
                                            autosave=False), reporter)
    return done, reporter


@pytest.mark.parametrize("shape", planar.SHAPES)
def test_generated_sets_have_both_classes_on_the_plane(shape):
    xy, labels = planar.make(shape, 200, 0.2, seed=3)
    assert xy.shape == (200, 2) and np.abs(xy).max() <= planar.EXTENT
    assert set(labels) == {0, 1} and abs(labels.mean() - 0.5) < 0.05
    again, _ = planar.make(shape, 200, 0.2, seed=3)
    np.testing.assert_array_equal(xy, again)


def test_split_keeps_both_classes_on_both_sides_and_features_follow_names():
    labels = np.array([0] * 10 + [1] * 3)
    train, test = planar.split(labels, 0.5, seed=0)
    assert set(labels[train]) == {0, 1} and set(labels[test]) == {0, 1}
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == 13
    names = planar.parse_features("sin y, x, x²")
    assert names == ("x", "x2", "siny")
    np.testing.assert_allclose(planar.features(np.array([[2.0, 3.0]]), names),
                               [[2.0, 4.0, np.sin(3.0)]], rtol=1e-6)
    with pytest.raises(SettingsError, match="Unknown input feature"):
        planar.parse_features("x, z")
    with pytest.raises(SettingsError, match="at least one"):
        planar.parse_features(" , ")


def test_hand_worked_gradients_equal_keras_automatic_ones():
    config = Config(hidden="3, 2 relu", activation="tanh", regularisation="L2")
    rng = np.random.default_rng(0)
    weights = by_hand.initial_weights([2, 3, 2, 1], "glorot", seed=1)
    weights = [w + rng.normal(0, 0.1, w.shape).astype(np.float32) for w in weights]
    x = rng.normal(0, 2, (5, 2)).astype(np.float32)
    y = np.array([0, 1, 1, 0, 1], np.float32)
    hand = by_hand.backward(weights, neurons.activations(config), x, y, l1=0.0, l2=0.01)
    loss, auto = neurons.KerasGradients(config, 2)(weights, x, y, 0.0, 0.01)
    assert hand.loss == pytest.approx(loss, rel=1e-5)
    for mine, theirs in zip(hand.grads, auto, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6)
    # the forward pass equals the model's output
    model = neurons.build_model(config, 2)
    model.set_weights(weights)
    np.testing.assert_allclose(hand.a[-1][:, 0], keras.ops.convert_to_numpy(model(x))[:, 0], rtol=1e-5)
    # and the update is W - rate * dC/dW
    new = by_hand.update(weights, hand.grads, 0.5)
    np.testing.assert_allclose(new[0], weights[0] - 0.5 * hand.grads[0], rtol=1e-6)


def test_perceptron_rule_separates_a_separable_set():
    rng = np.random.default_rng(2)
    x = rng.uniform(-5, 5, (200, 2)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0]) + 0.5 > 0).astype(np.float32)
    x = x[np.abs(x @ np.array([1.0, -2.0]) + 0.5) > 0.3]  # a margin
    y = (x @ np.array([1.0, -2.0]) + 0.5 > 0).astype(np.float32)
    w, b = np.zeros((2, 1), np.float32), np.zeros(1, np.float32)
    mistakes = [by_hand.perceptron_epoch(w, b, x, y, 1.0, rng) for _ in range(100)]
    assert mistakes[0] > 0 and mistakes[-1] == 0
    assert np.all(((x @ w[:, 0] + b[0]) > 0) == (y > 0))


def test_a_single_threshold_neuron_trains_by_the_perceptron_rule():
    done, _ = run(Config(data="gauss", hidden="", output="threshold", epochs=20,
                         learning_rate=0.1))
    assert done.status == "finished", done.message
    assert done.result.history[-1]["val_accuracy"] > 0.95


def test_backprop_through_thresholds_is_refused_in_words():
    done, _ = run(Config(hidden="4 threshold"))
    assert done.status == "failed" and "slope is zero" in done.message
    done, _ = run(Config(hidden="4", output="threshold"))
    assert done.status == "failed" and "perceptron rule" in done.message
    for hidden, words in (("4, 0", "at least one neuron"), ("four", "number of neurons"),
                          ("4 softmax", "after the number")):
        with pytest.raises(SettingsError, match=words):
            neurons.hidden_layers(Config(hidden=hidden))
    layers = neurons.hidden_layers(Config(hidden="4 relu, 2", activation="tanh"))
    assert layers == [(4, "relu"), (2, "tanh")]
    assert neurons.hidden_text(layers, "tanh") == "4 relu, 2"


def test_a_short_run_learns_xor_and_sends_weights_as_it_goes():
    done, reporter = run(Config(data="xor", hidden="4", epochs=60, learning_rate=0.1))
    assert done.status == "finished", done.message
    assert done.result.history[-1]["val_accuracy"] > 0.9, done.result.history[-1]
    snaps = [e.value for e in reporter.of(Artifact) if e.name == "snapshot"]
    assert snaps[0].epoch == 0 and snaps[-1].epoch == 60
    assert not np.allclose(snaps[0].weights[0], snaps[-1].weights[0])
    assert "Held-out accuracy" in done.headline


def test_live_changes_reach_the_running_loop():
    """A learning rate changed mid-run is used from the next epoch: 0 freezes the net."""

    class FreezeAfterFirstEpoch(ListReporter):
        def emit(self, event):
            super().emit(event)
            if isinstance(event, Artifact) and event.name == "snapshot" and event.value.epoch:
                self.controls.change(learning_rate=0.0)

    reporter = FreezeAfterFirstEpoch(Controls())
    done, _ = run(Config(data="circle", epochs=6), reporter=reporter)
    snaps = [e.value for e in reporter.of(Artifact) if e.name == "snapshot"]
    later = [s for s in snaps if s.epoch >= 2]
    assert done.status == "finished" and len(later) >= 2
    for a, b in zip(later[0].weights, later[-1].weights):
        np.testing.assert_array_equal(a, b)
    assert done.result.meta["config"]["learning_rate"] == 0.0  # kept as it ended


def test_one_class_and_missing_points_are_refused_in_words(tmp_path):
    path = planar.write_points(tmp_path / "pts.csv", np.array([[1, 1], [2, 2]]),
                               np.array([1, 1]))
    done, _ = run(Config(data=planar.OWN, points_file=str(path)))
    assert done.status == "failed" and "one class" in done.message
    done, _ = run(Config(data=planar.OWN, points_file=str(tmp_path / "gone.csv")))
    assert done.status == "failed" and "not there" in done.message
    (tmp_path / "junk.csv").write_text("x,y,label\n1,2,cat\n")
    with pytest.raises(DataError, match="Line 2"):
        planar.read_points(tmp_path / "junk.csv")


def test_a_huge_learning_rate_ends_in_words_with_finite_weights():
    done, _ = run(Config(data="circle", hidden="8, 8", learning_rate=10.0, epochs=50,
                         features="x, y, x2, y2"))
    assert done.status == "failed" and "learning rate" in done.message
    assert all(np.isfinite(w).all() for w in done.result.model.get_weights())


def test_your_points_train_save_and_load_back_with_them(tmp_path):
    xy, labels = planar.make("gauss", 40, 0.0, seed=1)
    path = planar.write_points(tmp_path / "mine.csv", xy, labels)
    done, _ = run(Config(data=planar.OWN, points_file=str(path), hidden="2", epochs=5))
    assert done.status == "finished", done.message
    saved = done.result.save(tmp_path / "net.keras")
    again = neurons.load(saved)
    np.testing.assert_allclose(again.extra.xy, xy, atol=1e-4)
    for a, b in zip(done.result.model.get_weights(), again.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert dataclasses.asdict(again.extra)["names"] == ("x", "y")
