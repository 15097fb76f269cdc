"""Why deep nets stalled: the vanishing gradient is measured, not assumed (a deep sigmoid
net with small weights hands its first layers a gradient many times smaller than its last;
ReLU units, Glorot's initialisation and batch norm do not), and a run reports it."""
import keras
import numpy as np
import pytest

from nets import data, runner
from nets.families import depth
from nets.families.depth.model import GradientProbe, build_model, calibrate_batch_norm
from nets.progress import Artifact, BatchMetrics, EpochMetrics, ListReporter

# The gradient probe (code per backend) is checked on every backend by the tests of its
# norms; a run, its file and its resuming are the same code on each, and
# test_every_backend.py trains, saves and loads the family (batch norm, pretraining) on each.
ON_TENSORFLOW = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="runs, files and resuming are the same "
    "code on every backend; test_every_backend.py trains the family on each")


@pytest.fixture(scope="module")
def digits():
    return data.load("digits-8x8")


def norms_at_start(config, ds, seed=0):
    runner.seed_everything(seed)
    model = build_model(config, ds.input_shape, ds.num_classes)
    x, y = ds.x_train[:256], ds.y_train[:256]
    if config.batch_norm:
        calibrate_batch_norm(model, x)
    return GradientProbe(model, x, y).norms()


def test_a_deep_sigmoid_net_with_small_weights_hands_its_first_layers_a_vanishing_gradient(
        digits):
    norms = norms_at_start(depth.Config(), digits)
    assert len(norms) == 6  # five hidden layers and the softmax, input side first
    ratios = norms[:-1] / norms[1:]
    assert (ratios < 0.3).all(), ratios  # each layer gets < 30% of the next one's
    assert norms[-1] / norms[0] > 1000


@pytest.mark.parametrize("fix", ["ReLU", "Glorot init", "Batch norm"])
def test_the_fixes_keep_the_gradient_from_vanishing(digits, fix):
    norms = norms_at_start(depth.with_fix(depth.Config(), fix), digits)
    ratios = norms[:-1] / norms[1:]
    assert (ratios > 0.35).all(), (fix, ratios)
    assert norms[-1] / norms[0] < 20


def run(config, controls=None, seed=0, autosave=False):
    reporter = ListReporter(controls)
    done = runner.execute(runner.RunRequest("depth", config, "digits-8x8", seed,
                                            autosave=autosave), reporter)
    return done, reporter


@ON_TENSORFLOW
def test_a_short_run_reports_gradients_and_weight_changes_and_finishes():
    config = depth.Config(hidden_layers=3, width=16, epochs=2, pretraining=True,
                          pretrain_epochs=1, batch_size=128)
    done, reporter = run(config)
    assert done.status == "finished", done.message + done.detail
    grads = [e.value for e in reporter.of(Artifact) if e.name == "gradient_norms"]
    assert [g["phase"] for g in grads[:2]] == ["start", "pretrained"]
    assert grads[-1]["phase"] == "training" and len(grads) > 3
    assert all(len(g["norms"]) == 4 and np.isfinite(g["norms"]).all() for g in grads)
    assert grads[0]["layers"] == ["hidden1", "hidden2", "hidden3", "output"]
    changes = [e.value for e in reporter.of(Artifact) if e.name == "weight_change"]
    assert [c["epoch"] for c in changes] == [0, 1]
    assert all((c["change"] > 0).all() for c in changes)
    epochs = reporter.of(EpochMetrics)
    assert set(epochs[-1].metrics) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    batches = reporter.of(BatchMetrics)
    assert any("reconstruction" in b.metrics for b in batches)  # pretraining
    assert "loss" in batches[-1].metrics
    assert "Held-out accuracy" in done.headline and "Pretraining" in done.headline


@ON_TENSORFLOW
def test_a_saved_net_loads_back_with_the_same_weights(tmp_path):
    done, _ = run(depth.Config(hidden_layers=2, width=8, epochs=1, batch_norm=True))
    path = done.result.save(tmp_path / "deep.keras")
    again = depth.load(path)
    for a, b in zip(done.result.model.get_weights(), again.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert again.meta["variant"] == "Batch norm, 2 layers, width 8"


def test_a_huge_learning_rate_ends_in_plain_words():
    done, _ = run(depth.Config(hidden_layers=2, activation="relu", init="glorot",
                               learning_rate=100.0, epochs=3))
    assert done.status == "failed"
    assert "learning rate" in done.message and "Traceback" not in done.message
    assert not done.detail
    weights = done.result.model.get_weights()
    assert all(np.isfinite(w).all() for w in weights)  # the last good weights are kept


@ON_TENSORFLOW
def test_a_stopped_run_keeps_its_work_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("DLE_HOME", str(tmp_path))
    config = depth.Config(hidden_layers=2, width=8, epochs=3, batch_size=256)
    reporter = ListReporter()
    epochs_seen = []

    def stop_after_first_epoch(event):
        reporter.events.append(event)
        if isinstance(event, EpochMetrics):
            epochs_seen.append(event.epoch)
            reporter.controls.stop()

    reporter.emit = stop_after_first_epoch
    done = runner.execute(runner.RunRequest("depth", config, "digits-8x8", 0), reporter)
    assert done.status == "stopped" and len(done.result.history) == 1
    again = runner.execute(runner.RunRequest("depth", config, "digits-8x8", 0, resume=True),
                           ListReporter())
    assert again.status == "finished", again.message
    assert len(again.result.history) == 3


def test_fixes_change_one_thing_and_are_named():
    base = depth.Config(hidden_layers=4, activation="relu", batch_norm=True)
    assert depth.variant_name(depth.with_fix(base, "Baseline")) == "Baseline, 4 layers"
    fixed = depth.with_fix(base, "Glorot init")
    assert (fixed.activation, fixed.init, fixed.batch_norm) == ("sigmoid", "glorot", False)
    assert depth.variant_name(depth.Config(activation="relu", batch_norm=True)) == \
        "ReLU + Batch norm"
