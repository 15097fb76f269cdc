"""DRAW: the attention filterbank and the loss against hand computations, the canvas as the
sum of its writes, the step-by-step drawings, training, saving, loading and resuming."""
import math
import os

import keras
import numpy as np
import pytest

from nets import data, runner, storage
from nets.families import draw
from nets.families.draw import attention as att
from nets.progress import Artifact, EpochMetrics, ListReporter

TINY = dict(steps=3, units=8, latent_dim=2, read_size=2, write_size=3, epochs=1,
            batch_size=500)


def numpy_of(t):
    return np.asarray(keras.ops.convert_to_numpy(t), np.float64)


def hand_filterbank(raw, A, B, N):
    """The paper's eqs. 19-26 with loops: F_X[i, a], F_Y[j, b] for one example."""
    gx_, gy_, log_s2, log_d, log_g = raw
    gx, gy = (A + 1) / 2 * (gx_ + 1), (B + 1) / 2 * (gy_ + 1)
    delta = (max(A, B) - 1) / (N - 1) * math.exp(log_d)
    s2, gamma = math.exp(log_s2), math.exp(log_g)
    fx, fy = np.zeros((N, A)), np.zeros((N, B))
    for i in range(1, N + 1):
        mu_x = gx + (i - N / 2 - 0.5) * delta
        mu_y = gy + (i - N / 2 - 0.5) * delta
        for a in range(1, A + 1):
            fx[i - 1, a - 1] = math.exp(-(a - mu_x) ** 2 / (2 * s2))
        for b in range(1, B + 1):
            fy[i - 1, b - 1] = math.exp(-(b - mu_y) ** 2 / (2 * s2))
        fx[i - 1] /= fx[i - 1].sum()
        fy[i - 1] /= fy[i - 1].sum()
    return fx, fy, gamma


def test_the_filterbank_read_and_write_match_a_hand_computation():
    A, B, N = 6, 5, 3  # a 5-row, 6-column image: A is the width, B the height
    rng = np.random.default_rng(0)
    raw = rng.normal(0, 0.5, (2, 5)).astype(np.float32)
    x = rng.random((2, B, A)).astype(np.float32)
    x_hat = rng.random((2, B, A)).astype(np.float32)
    patch = rng.normal(0, 1, (2, N, N)).astype(np.float32)
    gx, gy, s2, delta, gamma = att.window_params(raw, A, B, N)
    fx, fy = att.filterbank(gx, gy, s2, delta, N, A, B)
    got_read = numpy_of(att.read(x, x_hat, fx, fy, gamma))
    got_write = numpy_of(att.write(patch, fx, fy, gamma))
    for k in range(2):
        hx, hy, g = hand_filterbank(raw[k].astype(np.float64), A, B, N)
        np.testing.assert_allclose(numpy_of(fx)[k], hx, atol=1e-5)
        np.testing.assert_allclose(numpy_of(fy)[k], hy, atol=1e-5)
        # read: gamma [F_Y x F_X^T, F_Y x^ F_X^T]; write: (1/gamma) F_Y^T w F_X, by loops
        glimpse = np.zeros((2, N, N))
        for j in range(N):
            for i in range(N):
                for b in range(B):
                    for a in range(A):
                        glimpse[0, j, i] += hy[j, b] * x[k, b, a] * hx[i, a]
                        glimpse[1, j, i] += hy[j, b] * x_hat[k, b, a] * hx[i, a]
        np.testing.assert_allclose(got_read[k], g * glimpse.ravel(), rtol=1e-4, atol=1e-5)
        painted = np.zeros((B, A))
        for b in range(B):
            for a in range(A):
                painted[b, a] = sum(hy[j, b] * patch[k, j, i] * hx[i, a]
                                    for j in range(N) for i in range(N)) / g
        np.testing.assert_allclose(got_write[k], painted, rtol=1e-4, atol=1e-5)


def test_the_starting_window_is_centred_and_covers_the_digit():
    gx, gy, s2, delta, gamma = (numpy_of(v)[0, 0] for v in att.window_params(
        np.array([att.initial_bias(2, 28, 28)], np.float32), 28, 28, 2))
    assert (gx, gy) == pytest.approx((14.5, 14.5))  # the middle of pixels 1..28
    assert delta == pytest.approx(27 * att.COVER) and math.sqrt(s2) == pytest.approx(
        delta / 2) and gamma == pytest.approx(1)
    # the write starts with gamma = 1 / delta^2: a patch of ones paints about 1 per pixel
    raw = np.array([att.initial_bias(5, 28, 28, write=True)], np.float32)
    gx, gy, s2, delta, gamma = att.window_params(raw, 28, 28, 5)
    fx, fy = att.filterbank(gx, gy, s2, delta, 5, 28, 28)
    painted = numpy_of(att.write(np.ones((1, 5, 5), np.float32), fx, fy, gamma))[0]
    assert 0.7 < painted[12:17, 12:17].mean() < 1.3


def test_kl_matches_the_closed_form_by_hand():
    mean = np.array([[1.0, 0.0, -2.0]], np.float32)
    var = np.array([[2.0, 1.0, 0.5]], np.float32)
    by_hand = sum((s2 + m * m - 1 - math.log(s2)) / 2 for m, s2 in zip(mean[0], var[0]))
    assert float(numpy_of(draw.kl_divergence(mean, np.log(var)))[0]) == pytest.approx(
        by_hand, rel=1e-5)


@pytest.fixture(scope="module")
def tiny_models():
    return {attention: draw.build_model(draw.Config(**TINY, attention=attention),
                                        (28, 28, 1)) for attention in (True, False)}


@pytest.mark.parametrize("attention", [True, False])
def test_kl_summed_over_steps_and_the_canvas_summed_over_writes(tiny_models, attention):
    model = tiny_models[attention]
    digits = draw.pixels_of(data.load("mnist-5k").x_val, "binarised")
    model.start_canvas_at(digits)  # c_0: the log-odds of the mean digit
    c0 = numpy_of(model.canvas_bias)
    mean_digit = np.clip(digits.mean(0)[..., 0], 1e-3, 1 - 1e-3)
    np.testing.assert_allclose(1 / (1 + np.exp(-c0)), mean_digit, rtol=1e-4, atol=1e-6)
    x = digits[:4]
    noise = np.random.default_rng(1).standard_normal((3, 4, 2)).astype(np.float32)
    out = {k: numpy_of(v) for k, v in model.unroll(x, noise, record=True).items()}
    mean, log_var = out["means"], out["log_vars"]  # (T, n, latent)
    closed = (0.5 * (np.exp(log_var) + mean ** 2 - 1 - log_var)).sum(axis=(0, 2))
    np.testing.assert_allclose(out["kl"], closed, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["kl_steps"].sum(0), out["kl"], rtol=1e-5, atol=1e-6)
    # c_T = c_0 + the sum of the T writes; the frames are sigmoid(c_t)
    np.testing.assert_allclose(c0 + out["writes"].sum(0), out["canvas"], rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_allclose(out["canvases"][-1], 1 / (1 + np.exp(-out["canvas"])),
                               atol=1e-5)
    np.testing.assert_allclose(out["canvases"][0], 1 / (1 + np.exp(-c0 - out["writes"][0])),
                               atol=1e-5)
    assert ("write_window" in out) == attention


def test_the_reconstruction_term_is_the_cross_entropy_in_nats():
    logits = np.array([[0.0, 2.0, -3.0]], np.float32)
    target = np.array([[1.0, 0.0, 1.0]], np.float32)
    by_hand = -(math.log(0.5) + math.log(1 - 1 / (1 + math.exp(-2)))
                + math.log(1 / (1 + math.exp(3))))
    assert float(numpy_of(draw.reconstruction_loss(target, logits))[0]) == pytest.approx(
        by_hand, rel=1e-5)


def test_step_by_step_drawings_for_images_and_for_the_prior(tiny_models):
    model = tiny_models[True]
    x = draw.pixels_of(data.load("mnist-5k").x_val[:5], "binarised")
    d = draw.draw_images(model, x)
    assert d.canvases.shape == (5, 3, 28, 28) and d.steps == 3
    assert d.write.shape == d.read.shape == (5, 3, 5) and d.kl_steps.shape == (5, 3)
    assert d.images.shape == (5, 28, 28) and (d.read_size, d.write_size) == (2, 3)
    assert ((d.canvases > 0) & (d.canvases < 1)).all()
    # an untrained model's windows are its starting ones: centred, in image coordinates
    assert d.write[0, 0, :2] == pytest.approx((14.0, 14.0), abs=1.0)
    s = draw.draw_samples(model, 7, seed=3)
    assert s.canvases.shape == (7, 3, 28, 28) and s.write.shape == (7, 3, 5)
    assert s.images is None and s.read is None and s.finals.shape == (7, 28, 28)
    np.testing.assert_array_equal(s.canvases, draw.draw_samples(model, 7, seed=3).canvases)
    plain = draw.draw_samples(tiny_models[False], 2)
    assert plain.write is None and plain.canvases.shape == (2, 3, 28, 28)


ON_TENSORFLOW = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="training, resuming and saving run the "
    "same code on every backend; test_every_backend.py trains the family on each")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One epoch with autosave, then resumed for a second: (the result, the resumed run's
    events). Two compiled runs serve every test below (each compiles for seconds)."""
    home = tmp_path_factory.mktemp("draw-home")
    saved = os.environ.get("DLE_HOME")
    os.environ["DLE_HOME"] = str(home)
    try:
        cfg = draw.Config(**{**TINY, "units": 16})
        first = runner.execute(runner.RunRequest("draw", cfg, "mnist-5k"), ListReporter())
        assert first.status == "finished", first.message + first.detail
        rep = ListReporter()
        done = runner.execute(runner.RunRequest("draw", cfg, "mnist-5k", resume=True,
                                                length=2), rep)
        assert done.status == "finished", done.message + done.detail
    finally:
        if saved is None:
            os.environ.pop("DLE_HOME", None)
        else:
            os.environ["DLE_HOME"] = saved
    return done.result, rep


@ON_TENSORFLOW
def test_a_run_resumes_from_its_autosave_with_its_optimizer(trained):
    result, rep = trained
    assert [e.epoch for e in rep.of(EpochMetrics)] == [0, 1]  # one replayed, one new
    assert int(result.model.optimizer.iterations) == 2 * 8  # 4,000 digits / 500
    assert len(result.history) == 2


@ON_TENSORFLOW
def test_training_lowers_the_loss_and_shows_drawings(trained):
    result, rep = trained
    epochs = [e.metrics for e in rep.of(EpochMetrics)]
    assert epochs[-1]["val_loss"] < epochs[0]["val_loss"] < 560
    assert {"loss", "reconstruction", "kl", "val_loss", "val_reconstruction",
            "val_kl"} <= set(epochs[-1])
    held, prior = [a for a in rep.of(Artifact) if a.name == "drawings"][-1].value
    assert held.canvases.shape == (draw.VIEW_DIGITS, 3, 28, 28)
    assert prior.canvases.shape == (draw.VIEW_SAMPLES, 3, 28, 28)
    # Keras' fit and evaluate run the model's compute_loss: loss = reconstruction + KL
    for m in epochs:
        assert m["val_loss"] == pytest.approx(m["val_reconstruction"] + m["val_kl"], rel=1e-4)
        assert m["loss"] == pytest.approx(m["reconstruction"] + m["kl"], rel=1e-4)
    done = [e for e in rep.events if type(e).__name__ == "Done"][-1]
    assert done.headline.startswith("Held-out -ELBO") and "nats" in done.headline


@ON_TENSORFLOW
def test_a_saved_model_loads_with_the_same_weights_and_draws_the_same(trained, tmp_path):
    result, _ = trained
    path = result.save(tmp_path / "d.keras")
    loaded = draw.load(path)
    for a, b in zip(result.model.get_weights(), loaded.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(draw.draw_samples(loaded.model, 3, seed=1).canvases,
                               draw.draw_samples(result.model, 3, seed=1).canvases, atol=1e-6)
    assert loaded.history == result.history and loaded.meta["config"]["steps"] == 3


def test_bad_files_and_data_in_plain_words(tmp_path):
    from nets.families import vae

    model = vae.build_model(vae.Config(hidden=8), (28, 28, 1))
    path = storage.save_model(model, tmp_path / "v.keras", {"family": "vae"})
    with pytest.raises(storage.StorageError, match="not a DRAW model"):
        draw.load(path)
    colour = data.Dataset("c", "colour photos", np.zeros((2, 28, 28, 3), np.float32),
                          np.zeros(2), np.zeros((1, 28, 28, 3), np.float32), np.zeros(1),
                          ["a"])
    with pytest.raises(data.DataError, match="greyscale"):
        draw.check_images(colour)
    from nets.config import validate

    assert any("Read grid N" in p for p in validate(draw.Config(read_size=1)))
