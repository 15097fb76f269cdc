"""The VAE family: the ELBO's terms, learning, the latent views, saving."""
import math

import keras
import numpy as np
import pytest

from nets import data, runner
from nets.families import vae
from nets.progress import Artifact, EpochMetrics, ImageEvent, ListReporter


def test_kl_matches_the_closed_form_by_hand():
    # KL(N(mu, s^2) || N(0, 1)) = (s^2 + mu^2 - 1 - ln s^2) / 2, summed over dimensions
    mean = np.array([[1.0, 0.0, -2.0]], np.float32)
    var = np.array([[2.0, 1.0, 0.5]], np.float32)
    by_hand = sum((s2 + m * m - 1 - math.log(s2)) / 2 for m, s2 in zip(mean[0], var[0]))
    got = float(keras.ops.convert_to_numpy(vae.kl_divergence(mean, np.log(var)))[0])
    assert got == pytest.approx(by_hand, rel=1e-5)
    zero = vae.kl_divergence(np.zeros((1, 4), np.float32), np.zeros((1, 4), np.float32))
    assert float(keras.ops.convert_to_numpy(zero)[0]) == 0


@pytest.fixture(scope="module")
def trained():
    cfg = vae.Config(epochs=4, hidden=64)
    rep = ListReporter()
    done = runner.execute(runner.RunRequest("vae", cfg, "mnist-5k", autosave=False), rep)
    assert done.status == "finished", done.message
    return done.result, rep


def test_training_lowers_both_terms_on_held_out_digits(trained):
    result, rep = trained
    epochs = rep.of(EpochMetrics)
    first, last = epochs[0].metrics, epochs[-1].metrics
    assert last["val_reconstruction"] < first["val_reconstruction"]
    assert last["val_loss"] < first["val_loss"]
    assert abs(last["val_loss"] - last["val_reconstruction"] - last["val_kl"]) < 0.5
    assert last["val_kl"] > 0


def test_live_views_during_training(trained):
    _, rep = trained
    grids = [e for e in rep.of(ImageEvent) if e.name == "latent_grid"]
    assert grids and grids[-1].images.shape == (225, 28, 28)
    means = [e for e in rep.of(Artifact) if e.name == "latent_means"][-1].value
    assert means[0].shape == (1000, 2) and means[1].shape == (1000,)


def test_interpolation_starts_and_ends_at_the_two_codes(trained):
    result, _ = trained
    codec = vae.Codec(result.model)
    ds = data.load("mnist-5k")
    a, b = ds.x_val[0], ds.x_val[500]
    strip = vae.interpolate(codec, a, b, steps=7)
    assert strip.shape == (7, 28, 28)
    (ma, mb), _ = codec.encode(np.stack([a, b]))
    np.testing.assert_allclose(strip[0], codec.decode(ma[None])[0], atol=1e-5)
    np.testing.assert_allclose(strip[-1], codec.decode(mb[None])[0], atol=1e-5)
    assert np.abs(strip[0] - strip[-1]).mean() > 0.01  # two different digits


def test_saved_vae_loads_and_decodes_the_same(trained, tmp_path):
    result, _ = trained
    path = result.save(tmp_path / "v.keras")
    loaded = vae.load(path)
    z = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)
    np.testing.assert_allclose(vae.Codec(loaded.model).decode(z),
                               vae.Codec(result.model).decode(z), atol=1e-6)
    assert vae.prior_samples(vae.Codec(loaded.model), 16, seed=1).shape == (16, 28, 28)


def test_a_convnet_file_is_not_a_vae(tmp_path):
    from nets import storage
    from nets.families import cnn

    model = cnn.build_model(cnn.Config(conv_blocks=1, filters=4), (28, 28, 1), 10)
    path = storage.save_model(model, tmp_path / "c.keras", {"family": "cnn"})
    with pytest.raises(storage.StorageError, match="not a VAE"):
        vae.load(path)


@pytest.mark.parametrize("arch, latent", [("conv", 3), ("dense", 1)])
def test_other_shapes_build_and_decode(arch, latent):
    model = vae.build_model(vae.Config(architecture=arch, latent_dim=latent, hidden=32),
                            (28, 28, 1))
    codec = vae.Codec(model)
    assert codec.decode(np.zeros((2, latent))).shape == (2, 28, 28)
    means, log_vars = codec.encode(np.zeros((3, 28, 28, 1), np.float32))
    assert means.shape == log_vars.shape == (3, latent)


def test_the_loss_is_reconstruction_plus_beta_times_the_closed_form_kl():
    # Keras' own evaluate (the same compute_loss as fit, on every backend): the KL is the
    # closed form at the encoder's outputs, and the loss weighs it by beta.
    model = vae.build_model(vae.Config(hidden=32, beta=2.0), (28, 28, 1))
    x = data.load("mnist-5k").x_val[:300]
    r = model.evaluate(x, x, batch_size=128, verbose=0, return_dict=True)
    means, log_vars = vae.Codec(model).encode(x)
    kl = float(np.mean(keras.ops.convert_to_numpy(vae.kl_divergence(means, log_vars))))
    assert r["kl"] == pytest.approx(kl, rel=1e-4)  # short last batch weighted by its size
    assert r["loss"] == pytest.approx(r["reconstruction"] + 2.0 * r["kl"], rel=1e-4)
    assert 400 < r["reconstruction"] < 700  # about 784 * ln 2 for an untrained decoder


def test_the_shipped_vae_measures_what_it_measured_when_trained():
    from nets import pretrained

    trained = vae.load(pretrained.checked_path(pretrained.entries("vae")[0]))
    last = trained.history[-1]
    terms = vae.elbo_terms(trained.model, data.load("mnist-5k").x_val)
    assert terms["kl"] == pytest.approx(last["val_kl"], rel=1e-4)  # no noise in the KL
    assert terms["reconstruction"] == pytest.approx(last["val_reconstruction"], abs=1.5)
