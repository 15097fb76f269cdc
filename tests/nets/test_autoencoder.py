"""Autoencoders: learning, the feature formula, corruption, greedy stacking, few labels."""
import numpy as np
import pytest

from nets import autoencoder as aes
from nets import data, runner
from nets.progress import Artifact, EpochMetrics, ImageEvent, ListReporter

FAST = dict(hidden=32, epochs=2, few_labels=0, batch_size=128)


def run(**kw):
    rep = ListReporter()
    done = runner.execute(runner.RunRequest("autoencoder", aes.Config(**{**FAST, **kw}),
                                            "mnist-5k", autosave=False), rep)
    assert done.status == "finished", done.message
    return done, rep


def test_reconstruction_error_falls_on_held_out_digits():
    done, rep = run(epochs=3, hidden=196, batch_size=64)
    losses = [e.metrics["val_loss"] for e in rep.of(EpochMetrics)]
    assert losses[-1] < losses[0] * 0.9
    recon = [e for e in rep.of(ImageEvent) if e.name == "reconstructions"][-1]
    assert recon.images.shape == (32, 28, 28)  # 16 pairs


def test_feature_formula_matches_a_hand_computation():
    w = np.array([[3.0, 0.0], [4.0, 2.0]])  # 2 inputs, 2 units
    np.testing.assert_allclose(aes.norm_features(w), [[0.6, 0.8], [0.0, 1.0]])
    ae = aes.Autoencoder(aes.Config(hidden=5), (28, 28, 1))
    kernel = np.asarray(ae.encoders[0].kernel)
    f = ae.features(0)
    assert f.shape == (5, 28, 28)
    np.testing.assert_allclose(f[2].ravel(), kernel[:, 2] / np.linalg.norm(kernel[:, 2]),
                               rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(f.reshape(5, -1), axis=1), 1, rtol=1e-5)


@pytest.mark.parametrize("kind", aes.CORRUPTIONS)
def test_corruption_has_the_requested_rate(kind):
    x = np.full((200, 784), 0.5, np.float32)
    level = 0.1 if kind == "gaussian" else 0.3  # (a larger noise std is cut by clipping)
    noisy = np.asarray(aes.corrupt(x, kind, level, seed=3))
    assert noisy.min() >= 0 and noisy.max() <= 1
    if kind == "gaussian":
        assert np.std(noisy - x) == pytest.approx(0.1, rel=0.05)
    else:
        assert np.mean(noisy != x) == pytest.approx(0.3, abs=0.01)
    if kind == "salt_and_pepper":
        changed = noisy[noisy != x]
        assert np.mean(changed == 1) == pytest.approx(0.5, abs=0.03)
    if kind == "masking":
        assert set(np.unique(noisy)) == {0.0, 0.5}


def test_denoising_corrupts_only_while_training():
    ae = aes.Autoencoder(aes.Config(kind="denoising", hidden=16, corruption_level=0.5),
                         (28, 28, 1))
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    np.testing.assert_array_equal(ae.reconstruct(x), ae.reconstruct(x))
    assert not np.allclose(np.asarray(ae.model(x, training=True)), ae.reconstruct(x))


def test_a_greedy_stage_trains_its_own_layer_only():
    ae = aes.Autoencoder(aes.Config(kind="stacked", hidden=32, layers=2), (28, 28, 1))
    before = [np.asarray(e.kernel).copy() for e in ae.encoders]
    x = data.load("mnist-5k").x_train[:256]
    codes = ae.codes_below(x, 1)
    ae.stage(1).fit(codes, codes, epochs=1, verbose=0)
    np.testing.assert_array_equal(np.asarray(ae.encoders[0].kernel), before[0])
    assert not np.allclose(np.asarray(ae.encoders[1].kernel), before[1])


def test_stacked_run_goes_layer_by_layer_then_fine_tunes():
    done, rep = run(kind="stacked", layers=2, epochs=1)
    stages = [e.value for e in rep.of(Artifact) if e.name == "stage"]
    assert [name for name, _ in stages] == ["layer 1", "layer 2", "fine-tune"]
    assert [step for _, step in stages] == [0, 32, 64]  # 32 steps of 128 digits each
    epochs = rep.of(EpochMetrics)
    assert [e.epoch for e in epochs] == [0, 1, 2] and {e.epochs for e in epochs} == {3}
    names = {e.name for e in rep.of(ImageEvent)}
    assert {"features1", "features2"} <= names
    deep = [e for e in rep.of(ImageEvent) if e.name == "features2"][-1]
    assert deep.images.shape == (16, 28, 28)  # layer 2 has half the units, shown as pixels


def test_few_labels_compares_pretrained_and_scratch_on_held_out_digits():
    done, rep = run(epochs=2, few_labels=50)
    scores = [e.value for e in rep.of(Artifact) if e.name == "few_labels"][-1]
    assert scores["labels"] == 50
    assert 0.2 < scores["pretrained"] <= 1 and 0.2 < scores["scratch"] <= 1  # chance 0.1
    assert done.result.meta["few_labels"] == scores
    idx = aes.few_label_split(np.repeat(np.arange(10), 40), 100)
    assert np.bincount(np.repeat(np.arange(10), 40)[idx]).tolist() == [10] * 10


def test_saved_autoencoder_loads_and_reconstructs_the_same(tmp_path):
    done, _ = run(kind="denoising", epochs=1)
    path = done.result.save(tmp_path / "ae.keras")
    loaded = aes.load(path)
    x = data.load("mnist-5k").x_val[:5]
    np.testing.assert_allclose(loaded.extra.reconstruct(x), done.result.extra.reconstruct(x),
                               atol=1e-6)
    assert loaded.extra.config.kind == "denoising"
