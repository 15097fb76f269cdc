"""The digit GAN: a discriminator step changes only D and a generator step only G; the
sample grid comes from the same noise every time; the judge's scores on constructed cases;
save and load; resume; a NaN ends the run in words with the last good weights; the explore
functions on a tiny model."""
import dataclasses
import math

import keras
import numpy as np
import pytest

from nets import data as datasets
from nets import runner
from nets.families import gan
from nets.families.gan import explore, judge, losses
from nets.families.gan.images import Game, build_gan, fixed_noise
from nets.progress import ImageEvent, ListReporter

TINY = dict(latent_size=8, g_width=4, d_width=4, batch_size=16)
TF_ONLY = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                             reason="training runs of every family are checked on every "
                                    "backend by test_every_backend")


def tiny(**kw):
    return gan.Config(**{**TINY, **kw})


def weights(model):
    return [np.array(w) for w in model.get_weights()]


def same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def digits():
    return datasets.load("mnist-5k")


@pytest.mark.parametrize("conditional", [False, True])
def test_a_d_step_changes_only_d_and_a_g_step_only_g(conditional, digits):
    model = build_gan(tiny(conditional=conditional), (28, 28, 1), 10)
    game = Game(model, 10, np.random.default_rng(0))
    for kind in losses.LOSSES:
        g0, d0 = weights(model.generator), weights(model.discriminator)
        loss = game.d_step(kind, digits.x_train[:16], digits.y_train[:16], 0.1)
        assert math.isfinite(loss)
        g1, d1 = weights(model.generator), weights(model.discriminator)
        assert same(g0, g1) and not same(d0, d1), kind
        if kind == "wasserstein":  # the critic's weights are clipped after its step
            assert max(np.abs(w).max() for w in d1) <= losses.CLIP + 1e-7
        loss = game.g_step(kind, 16)
        assert math.isfinite(loss)
        g2, d2 = weights(model.generator), weights(model.discriminator)
        assert same(d1, d2) and not same(g1, g2), kind


def test_the_steps_lower_their_own_loss(digits):
    """Several D steps against a fixed G make D better at its job; then G steps against
    that D make G better at fooling it."""
    model = build_gan(tiny(d_learning_rate=2e-3, g_learning_rate=2e-3), (28, 28, 1), 10)
    game = Game(model, 10, np.random.default_rng(0))
    real = digits.x_train[:64]
    d_losses = [game.d_step("non-saturating", real, None, 0.0) for _ in range(30)]
    assert np.mean(d_losses[-5:]) < np.mean(d_losses[:5])
    look = game.look("non-saturating", real, None)
    assert look["d_real"] > look["d_fake"]
    g_losses = [game.g_step("non-saturating", 64) for _ in range(30)]
    assert np.mean(g_losses[-5:]) < np.mean(g_losses[:5])


def test_fixed_noise_is_the_same_every_time_and_differs_by_seed():
    z1, l1 = fixed_noise(16, 10, seed=3)
    z2, l2 = fixed_noise(16, 10, seed=3)
    np.testing.assert_array_equal(z1, z2)
    np.testing.assert_array_equal(l1, l2)
    assert not np.array_equal(z1, fixed_noise(16, 10, seed=4)[0])
    assert (l1.argmax(1) == np.arange(len(l1)) % 10).all()  # a class a column


@TF_ONLY
def test_the_sample_grid_comes_from_fixed_noise(monkeypatch):
    """Two grids sent at unchanged weights are identical; the generator is always asked
    for the same noise."""
    asked = []
    real_generate = Game.generate

    def spy(self, z, label, batch=500):
        if len(z) == gan.SAMPLES:
            asked.append(np.array(z))
        return real_generate(self, z, label, batch)

    monkeypatch.setattr(Game, "generate", spy)
    reporter = ListReporter()
    request = runner.RunRequest("gan", tiny(steps=3, score_every=10), "mnist-5k", seed=2,
                                autosave=False)
    done = runner.execute(request, reporter)
    assert done.status == "finished", done.message
    grids = [e.images for e in reporter.of(ImageEvent) if e.name == "samples"]
    assert len(grids) >= 2 and len(asked) == len(grids)
    assert all(np.array_equal(a, asked[0]) for a in asked)
    np.testing.assert_array_equal(asked[0], fixed_noise(8, 10, 2)[0])
    # the last grid (after training) and one made now from the same weights are the same
    np.testing.assert_allclose(grids[-1], gan.sample_grid(done.result.model, 2), atol=1e-6)
    assert grids[0].shape == (gan.SAMPLES, 28, 28)


def test_scores_of_constructed_cases():
    p = np.full((20, 10), 0.01)
    p[np.arange(20), np.arange(20) % 10] = 0.91
    s = judge.score(p, step=5)
    assert (s.coverage, s.classes, s.confident, s.step) == (10, 10, 1.0, 5)
    assert s.histogram == (2,) * 10
    p[:10] = 0.1  # unsure about half: argmax 0, below 0.9
    s = judge.score(p)
    assert s.confident == 0.5 and s.histogram[0] == 11
    one = np.zeros((30, 10))
    one[:, 7] = 1.0
    s = judge.score(one, asked=np.arange(30) % 10)
    assert s.coverage == 1 and s.histogram[7] == 30 and s.agree == pytest.approx(0.1)


def test_the_shipped_judge_reads_real_digits_and_a_repeated_one(digits):
    reader = judge.shipped_judge()
    assert judge.fits(reader, (28, 28, 1), datasets.DIGIT_NAMES)
    s = judge.score(reader.probabilities(digits.x_val[:500]))
    assert s.coverage == 10 and s.confident > 0.9
    assert max(s.histogram) < 100  # about 50 of each
    one = judge.score(reader.probabilities(np.repeat(digits.x_val[:1], 200, axis=0)))
    assert one.coverage == 1 and one.histogram[digits.y_val[0]] == 200


@TF_ONLY
def test_other_images_get_a_quick_judge_said_so(digits):
    small = dataclasses.replace(digits, x_train=digits.x_train[:600],
                                y_train=digits.y_train[:600], x_val=digits.x_val[:200],
                                y_val=digits.y_val[:200],
                                class_names=[f"c{i}" for i in range(10)])
    reader, words = judge.judge_for(small)
    assert reader is not None and "trained on these training images" in words
    assert "% right on held-out images" in words
    nothing, words = judge.judge_for(dataclasses.replace(small, class_names=["all"]))
    assert nothing is None and "no classes" in words


@TF_ONLY
def test_save_load_round_trip_and_resume(tmp_path, monkeypatch):
    monkeypatch.setenv("DLE_HOME", str(tmp_path / "home"))
    request = runner.RunRequest("gan", tiny(steps=4, score_every=2, autosave_every=2,
                                            conditional=True), "mnist-5k", seed=1)
    done = runner.execute(request, ListReporter())
    assert done.status == "finished", done.message
    assert "classes" in done.headline and len(done.result.history) == 2
    path = done.result.save(tmp_path / "g.keras")
    again = gan.load(path)
    assert same(weights(done.result.model), weights(again.model))
    assert again.model.conditional
    np.testing.assert_allclose(gan.sample_grid(again.model, 1),
                               gan.sample_grid(done.result.model, 1), atol=1e-6)
    # resuming goes on from the autosave of step 4 to 6
    longer = dataclasses.replace(request, resume=True, length=6)
    reporter = ListReporter()
    done = runner.execute(longer, reporter)
    assert done.status == "finished", done.message
    assert "Trained 2 steps" in done.message
    assert [h["step"] for h in done.result.history] == [2, 4, 6]


@TF_ONLY
def test_a_nan_ends_the_run_in_words_with_good_weights(monkeypatch):
    calls = {"n": 0}
    real_step = Game.g_step

    def blows_up(self, kind, n):
        calls["n"] += 1
        return float("nan") if calls["n"] >= 3 else real_step(self, kind, n)

    monkeypatch.setattr(Game, "g_step", blows_up)
    request = runner.RunRequest("gan", tiny(steps=10, score_every=10), "mnist-5k",
                                autosave=False)
    done = runner.execute(request, ListReporter())
    assert done.status == "failed"
    assert "generator's loss became nan at step 3" in done.message
    assert "keeps the weights" in done.message
    assert all(np.isfinite(w).all() for w in weights(done.result.model))


@TF_ONLY
def test_live_settings_apply_while_it_runs():
    reporter = ListReporter()
    reporter.controls.change(g_learning_rate=1e-3, loss="least squares", d_steps=2)
    request = runner.RunRequest("gan", tiny(steps=2, score_every=10), "mnist-5k",
                                autosave=False)
    done = runner.execute(request, reporter)
    assert done.status == "finished", done.message
    model = done.result.model
    assert float(model.g_optimizer.learning_rate.numpy()) == pytest.approx(1e-3)
    config = done.result.meta["config"]
    assert config["loss"] == "least squares" and config["d_steps"] == 2
    # two D steps per G step: the discriminator's optimiser took twice the steps
    assert int(model.d_optimizer.iterations.numpy()) == 4
    assert int(model.g_optimizer.iterations.numpy()) == 2


def test_explore_on_a_tiny_model(digits):
    model = build_gan(tiny(), (28, 28, 1), 10)
    sampler = explore.Sampler(model)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 8)).astype(np.float32)
    way = explore.interpolate(a, b, steps=7)
    np.testing.assert_allclose(way[0], a, atol=1e-5)
    np.testing.assert_allclose(way[-1], b, atol=1e-5)
    norms = np.linalg.norm(way, axis=1)  # the great circle keeps the norm between
    assert norms.min() >= min(np.linalg.norm(a), np.linalg.norm(b)) - 1e-4
    images = sampler.images(way)
    assert images.shape == (7, 28, 28) and 0 <= images.min() and images.max() <= 1
    dirs = explore.principal_directions(sampler, k=3, n=200)
    np.testing.assert_allclose(np.linalg.norm(dirs, axis=1), 1.0, atol=1e-5)
    # moving along the first direction changes the image more than a random direction
    base = sampler.images(a[None])[0]
    moved = [np.abs(sampler.images((a + 2 * d)[None])[0] - base).mean()
             for d in (dirs[0], explore.random_directions(8, 1, seed=5)[0])]
    assert moved[0] > moved[1]
    training = digits.x_train[:300]
    idx, dist = explore.nearest(training[17], training, k=2)
    assert idx[0] == 17 and dist[0] == 0 and dist[1] > 0
    assert explore.typical_distance(training, n=20) > 0
