"""RBMs and deep belief nets: the free energy and partition function against brute force,
CD's update on a known case, AIS against the exact value, Gibbs chains, the stack's
shapes, and short runs that learn, refuse bad input and end in words."""
import itertools

import keras
import numpy as np
import pytest

from nets import runner
from nets.errors import DataError, SettingsError
from nets.families import rbm
from nets.families.rbm import Config, gibbs
from nets.families.rbm import likelihood as lik
from nets.progress import Artifact, ImageEvent, ListReporter

# The stack's runs (pretraining layer by layer, fine-tuning, resuming in a layer) are the
# same code on every backend; test_every_backend.py trains a deep belief net, fine-tuned,
# on each. CD, AIS and the Gibbs chains are checked on every backend.
ON_TENSORFLOW = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the stack's runs are the same code on "
    "every backend; test_every_backend.py trains a deep belief net on each")


def tiny(visible=6, hidden=4, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(0, scale, (visible, hidden)), rng.normal(0, 0.5, visible),
            rng.normal(0, 0.5, hidden))


def states(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def energy(v, h, W, b, c):
    return -(v @ b) - (h @ c) - v @ W @ h


def test_free_energy_is_the_energy_summed_over_hidden_states():
    W, b, c = tiny()
    for v in states(6)[::7]:
        brute = -np.log(sum(np.exp(-energy(v, h, W, b, c)) for h in states(4)))
        assert lik.free_energy(v[None], W, b, c)[0] == pytest.approx(brute, rel=1e-10)


def test_exact_log_z_matches_a_sum_over_every_visible_state():
    W, b, c = tiny()
    brute = np.log(np.sum(np.exp(-lik.free_energy(states(6), W, b, c))))
    assert lik.exact_log_z(W, b, c, chunk=3) == pytest.approx(brute, rel=1e-10)
    # and the likelihood of all states sums to one
    log_p = -lik.free_energy(states(6), W, b, c) - lik.exact_log_z(W, b, c)
    assert np.exp(log_p).sum() == pytest.approx(1.0)


def test_ais_agrees_with_the_exact_log_z_within_its_error_bar():
    W, b, c = tiny(visible=12, hidden=8, scale=0.7, seed=3)
    exact = lik.exact_log_z(W, b, c)
    est = lik.ais_log_z(W, b, c, base_bias=b, runs=200, steps=400,
                        rng=np.random.default_rng(1))
    assert est.low - 0.05 <= exact <= est.high + 0.05, (est, exact)
    assert abs(est.log_z - exact) < 0.3


def test_a_cd_step_raises_the_bias_of_a_pixel_that_is_always_on():
    steps = rbm.make_cd_steps(1, persistent=False)
    D, H, n = 5, 3, 64
    W = np.zeros((D, H), np.float32)
    b, c = np.zeros(D, np.float32), np.zeros(H, np.float32)
    v0 = np.zeros((n, D), np.float32)
    v0[:, 0] = 1.0  # pixel 0 always on in the data, the others always off
    rng = np.random.default_rng(0)
    out = steps(W, b, c, np.zeros_like(W), np.zeros_like(b), np.zeros_like(c), v0[None],
                v0, rng.random((1, 1, n, H), dtype=np.float32),
                rng.random((1, 1, n, D), dtype=np.float32),
                np.float32(0.1), np.float32(0.0), np.float32(0.0))
    new_b = rbm.backend_numpy(out[1])
    assert new_b[0] > 0 and np.all(new_b[1:] < 0)  # the model's samples are ~half on
    assert np.isfinite(rbm.backend_numpy(out[-1]))


def test_chunks_cover_an_epoch_once_with_the_short_batch_alone():
    order = np.random.default_rng(0).permutation(1437)
    parts = list(rbm.chunks(order, 20, size=20))
    assert [p.shape for p in parts] == [(20, 20)] * 3 + [(11, 20), (1, 17)]
    np.testing.assert_array_equal(np.sort(np.concatenate([p.ravel() for p in parts])),
                                  np.arange(1437))


def test_persistent_chains_survive_an_epoch_that_does_not_divide_into_batches():
    done, _ = run(Config(hidden="16", method="PCD", epochs=2, fine_tune="none",
                         batch_size=20))  # 1,437 digits: a short last batch each epoch
    assert done.status == "finished", done.message + done.detail


def test_gibbs_chains_keep_shapes_and_probabilities_and_hold_clamped_pixels():
    layers = [tuple(a.astype(np.float32) for a in tiny(visible=16, hidden=5))]
    rng = np.random.default_rng(0)
    start = (rng.random((3, 16)) < 0.5).astype(float)
    clamp = np.zeros(16, bool)
    clamp[:8] = True
    chains = gibbs.Chains(layers, 3, rng, start=start, clamp=clamp)
    for _ in range(5):
        pixels = chains.step(2)
        assert pixels.shape == (3, 16) and np.all((pixels >= 0) & (pixels <= 1))
        np.testing.assert_array_equal(pixels[:, :8], start[:, :8])
    deep = layers + [tuple(a.astype(np.float32) for a in tiny(visible=5, hidden=3))]
    dreams = gibbs.Chains(deep, 4, rng)
    assert dreams.step(3).shape == (4, 16) and dreams.steps == 3


def test_a_deep_belief_net_stacks_the_right_shapes():
    model = rbm.build_model(Config(hidden="16, 8, 4"), (8, 8, 1), 10)
    shapes = [(W.shape, b.shape, c.shape) for W, b, c in rbm.layers_of(model)]
    assert shapes == [((64, 16), (64,), (16,)), ((16, 8), (16,), (8,)),
                      ((8, 4), (8,), (4,))]
    assert model.output_shape == (None, 10)
    for bad, words in (("0", "at least one"), ("16, x", "numbers"), ("8,8,8,8", "At most")):
        with pytest.raises(SettingsError, match=words):
            rbm.hidden_sizes(Config(hidden=bad))


def run(config, dataset="digits-8x8"):
    reporter = ListReporter()
    done = runner.execute(runner.RunRequest("rbm", config, dataset, seed=0,
                                            autosave=False), reporter)
    return done, reporter


def test_a_small_rbm_beats_independent_pixels_and_shows_its_filters():
    done, reporter = run(Config(hidden="16", epochs=4, fine_tune="none"))
    assert done.status == "finished", done.message + done.detail
    baseline = [e.value for e in reporter.of(Artifact) if e.name == "baseline"][0]
    last = done.result.history[-1]
    assert last["val_log_likelihood"] > baseline + 1.0, (last, baseline)
    assert done.result.history[0]["val_log_likelihood"] < last["val_log_likelihood"]
    shown = [e for e in reporter.of(ImageEvent) if e.name == "filters"]
    assert len(shown) == 4 and shown[-1].images.shape == (16, 8, 8)
    assert "Held-out log-likelihood" in done.headline


@ON_TENSORFLOW
def test_a_deep_belief_net_pretrains_layer_by_layer_and_fine_tunes():
    done, reporter = run(Config(hidden="16, 16", epochs=1, fine_tune="100",
                                fine_tune_epochs=2))
    assert done.status == "finished", done.message + done.detail
    stages = [e.value["layer"] for e in reporter.of(Artifact) if e.name == "stage"]
    assert stages == [0, 1] and len(done.result.history) == 2
    comparison = done.result.meta["comparison"]
    assert comparison["labels"] == 100 and 0 <= comparison["random"] <= 1
    assert 0 <= comparison["relu"] <= 1  # the ReLU net of the same sizes
    assert len(comparison["pretrained_gradient_norms"]) == 3  # two RBMs and the softmax
    assert all(g >= 0 for g in comparison["random_gradient_norms"])


def test_bad_settings_and_data_end_in_words(monkeypatch):
    done, _ = run(Config(hidden="16", epochs=2, fine_tune="none", learning_rate=10.0))
    assert done.status == "finished" and "smaller learning rate" in done.message
    done, _ = run(Config(hidden="0"))
    assert done.status == "failed" and "at least one hidden unit" in done.message

    with pytest.raises(DataError, match="black"):
        rbm.check_pixels(np.zeros((10, 64), np.float32))


@ON_TENSORFLOW
def test_a_deep_belief_net_resumes_in_the_layer_it_stopped_in_with_more_epochs():
    config = Config(hidden="8, 8", epochs=1, fine_tune="none")
    first = runner.execute(runner.RunRequest("rbm", config, "digits-8x8", seed=0),
                           ListReporter())
    assert first.status == "finished" and len(first.result.history) == 2
    reporter = ListReporter()
    again = runner.execute(runner.RunRequest("rbm", config, "digits-8x8", seed=0,
                                             resume=True, length=2), reporter)
    assert again.status == "finished", again.message + again.detail
    # the first RBM is not trained again under the second: the second goes on to 2 epochs
    stages = [e.value["layer"] for e in reporter.of(Artifact) if e.name == "stage"]
    assert stages == [1] and len(again.result.history) == 3
    np.testing.assert_array_equal(rbm.layers_of(again.result.model)[0][0],
                                  rbm.layers_of(first.result.model)[0][0])
