"""Autoencoders: learning, the feature formula, corruption, greedy stacking, sparsity,
photo patches, few labels."""
import json
import zipfile

import keras
import numpy as np
import pytest

from nets.families import autoencoder as aes
from nets import data, runner, storage
from nets.progress import (Artifact, BatchMetrics, EpochMetrics, ImageEvent, ListReporter,
                           Started)

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
    noisy = keras.ops.convert_to_numpy(ae.model(x, training=True))
    assert not np.allclose(noisy, ae.reconstruct(x))


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


def test_few_labels_compares_pretrained_and_scratch_on_held_out_digits(monkeypatch):
    monkeypatch.setattr(aes, "FEW_LABEL_PROBE_EPOCHS", 20)
    monkeypatch.setattr(aes, "FEW_LABEL_FINETUNE_EPOCHS", 20)
    done, rep = run(epochs=2, few_labels=50)
    scores = [e.value for e in rep.of(Artifact) if e.name == "few_labels"][-1]
    assert scores["labels"] == 50
    assert 0.1 < scores["pretrained"] <= 1 and 0.2 < scores["scratch"] <= 1  # chance 0.1
    assert done.result.meta["few_labels"] == scores
    last = done.result.history[-1]
    assert done.headline == (  # the error without the penalties, and the comparison
        f"Held-out reconstruction error {last['val_reconstruction']:.4f} per pixel; with 50 "
        f"labels: pretrained {scores['pretrained']:.1%}, from random weights "
        f"{scores['scratch']:.1%}")
    idx = aes.few_label_split(np.repeat(np.arange(10), 40), 100)
    assert np.bincount(np.repeat(np.arange(10), 40)[idx]).tolist() == [10] * 10


def test_the_few_labels_phase_announces_itself_and_moves_the_progress_bar(monkeypatch):
    monkeypatch.setattr(aes, "FEW_LABEL_PROBE_EPOCHS", 2)
    monkeypatch.setattr(aes, "FEW_LABEL_FINETUNE_EPOCHS", 3)
    _, rep = run(epochs=1, few_labels=40)
    started = rep.of(Started)
    assert len(started) == 2 and started[0].metric == "loss"
    phase = started[1]
    assert phase.metric == "" and "40 labelled" in phase.description
    after = rep.events[rep.events.index(phase):]
    steps = [e.step for e in after if isinstance(e, BatchMetrics)]
    # 40 labels in batches of 32: 2 steps an epoch, 5 epochs, two networks
    assert phase.total_steps == 2 * 2 * 5 and steps == list(range(1, 21))
    assert not any(isinstance(e, EpochMetrics) for e in after)  # the loss plots stay


# ---------------------------------------------------------------- sparsity
def test_kl_sparsity_matches_a_numpy_reference():
    rho_hat = np.array([0.05, 0.1, 0.3, 0.9], np.float32)
    rho = 0.1
    expected = np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    assert float(aes.kl_sparsity(rho, rho_hat)) == pytest.approx(expected, rel=1e-5)
    assert float(aes.kl_sparsity(rho, np.full(3, rho, np.float32))) == pytest.approx(0, abs=1e-6)


def test_the_loss_is_the_mean_squared_error_plus_the_penalties_of_the_notes():
    """UFLDL's cost divided by d/2, d the pixels: beta and lambda keep the notes' values."""
    cfg = aes.Config(hidden=5, sparsity=3.0, sparsity_target=0.2, weight_decay=0.01)
    ae = aes.Autoencoder(cfg, (4, 4, 1))
    x = np.random.default_rng(0).random((8, 4, 4, 1), dtype=np.float32)
    loss = ae.model.evaluate(x, x, batch_size=8, verbose=0, return_dict=True)["loss"]
    w1, b1 = (np.asarray(v) for v in (ae.encoders[0].kernel, ae.encoders[0].bias))
    w2 = np.asarray(ae.decoders[0].kernel)
    h = 1 / (1 + np.exp(-(x.reshape(8, 16) @ w1 + b1)))
    mse = np.mean((ae.reconstruct(x) - x) ** 2)
    rho, rho_hat = 0.2, h.mean(axis=0)
    kl = np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    ufldl_penalties = 0.01 / 2 * (np.sum(w1 ** 2) + np.sum(w2 ** 2)) + 3.0 * kl
    assert loss == pytest.approx(mse + ufldl_penalties / (16 / 2), rel=1e-4)


def test_the_sparsity_penalty_pulls_the_mean_activation_toward_rho():
    x = data.load("mnist-5k").x_train[:256]

    def mean_activation(sparsity):
        runner.seed_everything(0)
        cfg = aes.Config(hidden=32, sparsity=sparsity, sparsity_target=0.05,
                         weight_decay=0.0, learning_rate=0.01)
        ae = aes.Autoencoder(cfg, x.shape[1:])
        ae.model.fit(x, x, batch_size=64, epochs=5, verbose=0)  # 20 steps
        return ae.mean_activation(x)

    free, sparse = mean_activation(0.0), mean_activation(3.0)
    assert abs(sparse - 0.05) < 0.5 * abs(free - 0.05)
    assert sparse < 0.15 < free


def test_the_sparse_default_shows_each_unit_s_average_activation():
    _, rep = run(epochs=1)
    note = [e.note for e in rep.of(ImageEvent) if e.name == "features1"][-1]
    assert "Average activation" in note and "target rho = 0.1" in note
    assert "reconstruction" in rep.of(EpochMetrics)[-1].metrics  # the error alone, too


def test_old_files_without_sparsity_load_as_trained_without_it(tmp_path):
    done, _ = run(epochs=1)
    path = done.result.save(tmp_path / "ae.keras")
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    meta = json.loads(members[storage.META_MEMBER])
    for key in ("sparsity", "sparsity_target", "weight_decay", "patch_size"):
        del meta["config"][key]
    members[storage.META_MEMBER] = json.dumps(meta).encode()
    old = tmp_path / "old.keras"
    with zipfile.ZipFile(old, "w") as z:
        for name, blob in members.items():
            z.writestr(name, blob)
    loaded = aes.load(old)
    assert loaded.extra.config.sparsity == 0 and loaded.extra.config.weight_decay == 0
    x = data.load("mnist-5k").x_val[:3]
    np.testing.assert_allclose(loaded.extra.reconstruct(x), done.result.extra.reconstruct(x),
                               atol=1e-6)


# ---------------------------------------------------------------- what is shown
def test_reconstructions_show_held_out_digits_of_every_class():
    _, rep = run(epochs=1)
    recon = [e for e in rep.of(ImageEvent) if e.name == "reconstructions"][-1]
    ds = data.load("mnist-5k")
    shown = recon.images[0::2]  # pairs: the digit, then its reconstruction
    idx = [int(np.flatnonzero((ds.x_val[..., 0] == img).all(axis=(1, 2)))[0]) for img in shown]
    assert len(set(ds.y_val[idx].tolist())) == 10


def test_photo_patches_train_end_to_end_and_skip_the_few_labels(monkeypatch):
    monkeypatch.setattr(aes, "PHOTO_PATCHES", 2000)
    monkeypatch.setattr(aes, "PHOTO_HELD_OUT", 200)
    rep = ListReporter()
    cfg = aes.Config(**{**FAST, "hidden": 16, "epochs": 1, "few_labels": 100,
                        "patch_size": 8})
    done = runner.execute(runner.RunRequest("autoencoder", cfg, "photos", autosave=False),
                          rep)
    assert done.status == "finished", done.message
    features = [e for e in rep.of(ImageEvent) if e.name == "features1"][-1]
    assert features.images.shape == (16, 8, 8) and "patches" in features.note
    recon = [e for e in rep.of(ImageEvent) if e.name == "reconstructions"][-1]
    assert recon.images.shape == (32, 8, 8) and 0 <= recon.images.min() <= recon.images.max() <= 1
    assert done.result.extra.linear_output  # whitened patches are not pixels in [0, 1]
    assert not [e for e in rep.of(Artifact) if e.name == "few_labels"]
    skipped = [e.value for e in rep.of(Artifact) if e.name == "few_labels_skipped"]
    assert skipped and "no classes" in skipped[0]


def test_photo_patches_have_their_mean_removed_and_are_whitened():
    photos = data.load("photos")
    ds = aes.photo_patches(photos, 8, count=3000, held_out=300)
    assert ds.x_train.shape == (3000, 8, 8, 1) and ds.x_val.shape == (300, 8, 8, 1)
    assert ds.num_classes == 0
    x = ds.x_train.reshape(3000, -1)
    np.testing.assert_allclose(x.mean(axis=1), 0, atol=1e-4)  # each patch's mean removed

    def spread(p):  # largest variance over the median one, across directions
        values = np.sort(np.linalg.eigvalsh(np.cov(p, rowvar=False)))[::-1]
        return values[0] / np.median(values)

    from nets import patches
    raw = patches.sample_patches(photos.x_train.mean(-1), 8, 3000, np.random.default_rng(0))
    assert spread(x) < 0.7 * spread(raw - raw.mean(axis=1, keepdims=True))


def test_saved_autoencoder_loads_and_reconstructs_the_same(tmp_path):
    done, _ = run(kind="denoising", epochs=1)
    path = done.result.save(tmp_path / "ae.keras")
    loaded = aes.load(path)
    x = data.load("mnist-5k").x_val[:5]
    np.testing.assert_allclose(loaded.extra.reconstruct(x), done.result.extra.reconstruct(x),
                               atol=1e-6)
    assert loaded.extra.config.kind == "denoising"


class StopAfterEpoch(ListReporter):
    """Presses Stop when the run has finished the given epoch (0-based, whole run)."""

    def __init__(self, epoch: int):
        super().__init__()
        self.stop_at = epoch

    def emit(self, event):
        super().emit(event)
        if isinstance(event, EpochMetrics) and event.epoch == self.stop_at:
            self.controls.stop()


def test_a_stopped_stacked_run_resumes_in_the_stage_it_stopped_in():
    cfg = aes.Config(**{**FAST, "kind": "stacked", "layers": 2, "hidden": 32})
    request = runner.RunRequest("autoencoder", cfg, "mnist-5k", seed=3)
    stopper = StopAfterEpoch(2)  # the first epoch of layer 2's greedy stage
    first = runner.execute(request, stopper)
    assert first.status == "stopped"
    found = storage.AutosaveSlot("autoencoder").latest()
    assert found.meta["epoch"] == 3 and found.meta["epochs"] == 6  # 3 stages of 2
    rep = ListReporter()
    done = runner.execute(runner.RunRequest("autoencoder", cfg, "mnist-5k", seed=3,
                                            resume=True), rep)
    assert done.status == "finished", done.message
    started = rep.of(Started)[0]
    assert started.first_step == 3 * started.total_steps // 6  # half way: 3 of 6 epochs
    fresh = [e.epoch for e in rep.of(EpochMetrics)]
    assert fresh[-3:] == [3, 4, 5]  # layer 2's second epoch, then the fine-tuning
    # layer 1's greedy stage is not done again
    assert [a.value[0] for a in rep.of(Artifact) if a.name == "stage"] == ["layer 2",
                                                                         "fine-tune"]


def test_a_plain_autoencoder_resumes_with_its_optimizer():
    cfg = aes.Config(**{**FAST, "epochs": 2})
    assert runner.execute(runner.RunRequest("autoencoder", cfg, "mnist-5k"),
                          ListReporter()).status == "finished"
    rep = ListReporter()
    done = runner.execute(runner.RunRequest("autoencoder", cfg, "mnist-5k", resume=True,
                                            length=3), rep)
    assert done.status == "finished"
    assert [e.epoch for e in rep.of(EpochMetrics)] == [0, 1, 2]  # two replayed, one new
    steps = int(np.ceil(4000 / FAST["batch_size"]))
    assert int(done.result.model.optimizer.iterations) == 3 * steps
