"""Sparse coding: FISTA against known lasso solutions, learning, the views, bad input."""
import dataclasses

import numpy as np
import pytest

from nets import patches as P
from nets import runner
from nets.families import sparse_coding as sc
from nets.progress import (Artifact, Controls, EpochMetrics, ImageEvent, ListReporter, Log,
                           Started)


def test_fista_with_orthonormal_atoms_is_soft_thresholding():
    # min ||x - a||^2 + lam |a|_1 has the solution sign(x) max(|x| - lam/2, 0)
    x = np.array([[0.9, -0.05, 0.3, -2.0, 0.0]], np.float32)
    got = sc.encode(x, np.eye(5, dtype=np.float32), 0.2, iterations=50)
    np.testing.assert_allclose(got, [[0.8, 0.0, 0.2, -1.9, 0.0]], atol=1e-6)


def test_fista_reaches_scikit_learns_lasso_solution():
    from sklearn.linear_model import Lasso

    rng = np.random.default_rng(0)
    atoms = rng.standard_normal((12, 20)).astype(np.float32)
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    x = (np.array([1.5, 0, 0, -0.7] + [0] * 8, np.float32) @ atoms
         + 0.05 * rng.standard_normal(20).astype(np.float32))[None]
    lam = 0.1
    # sklearn: 1/(2 n) ||y - X w||^2 + alpha |w|_1 with n = 20 rows, X = atoms^T
    ref = Lasso(alpha=lam / (2 * 20), fit_intercept=False, tol=1e-12, max_iter=100_000)
    ref.fit(atoms.T.astype(np.float64), x[0].astype(np.float64))
    got = sc.encode(x, atoms, lam, iterations=3000)[0]
    np.testing.assert_allclose(got, ref.coef_, atol=2e-3)
    assert set(np.flatnonzero(np.abs(got) > 1e-4)) == set(np.flatnonzero(ref.coef_))


def test_lambda_zero_is_least_squares_and_huge_lambda_gives_zero_codes():
    rng = np.random.default_rng(1)
    atoms = np.linalg.qr(rng.standard_normal((16, 6)))[0].T.astype(np.float32)  # 6 x 16
    x = rng.standard_normal((3, 16)).astype(np.float32)
    lstsq = np.linalg.lstsq(atoms.T, x.T, rcond=None)[0].T
    np.testing.assert_allclose(sc.encode(x, atoms, 0.0, 200), lstsq, atol=1e-4)
    huge = sc.encode(x, atoms, 1e6, 50)
    assert np.isfinite(huge).all() and not huge.any()


def test_a_dictionary_sweep_matches_mairals_algorithm_spelt_out():
    rng = np.random.default_rng(3)
    k, d = 6, 10
    atoms = rng.standard_normal((k, d)).astype(np.float32)
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    codes = rng.standard_normal((40, k)).astype(np.float32)
    codes[:, 2] = 0  # an atom no code uses stays as it is
    x = rng.standard_normal((40, d)).astype(np.float32)
    a, b = codes.T @ codes, codes.T @ x
    expected = atoms.astype(np.float64)
    for j in range(k):  # each atom sees the ones before it already moved
        if a[j, j] > 1e-10:
            u = expected[j] + (b[j] - a[j] @ expected) / a[j, j]
            expected[j] = u / np.linalg.norm(u)
    got = np.asarray(sc.coding_ops().update_atoms(atoms, a, b))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_array_equal(got[2], atoms[2])


def test_the_step_size_comes_from_the_largest_eigenvalue():
    atoms = np.diag([3.0, 1.0, 0.5]).astype(np.float32)
    assert sc.lipschitz(atoms) == pytest.approx(2 * 9.0)


def test_preprocessing_round_trips_and_keeps_flat_patches_finite():
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.random((5, 64)), np.full((2, 64), 0.4)]).astype(np.float32)
    for mode in sc.PREPROCESSING:
        p = sc.preprocess(x, mode)
        assert np.isfinite(p.x).all()
        np.testing.assert_allclose(p.restore(p.x), x, atol=1e-5)
    normalised = sc.preprocess(x, "normalise").x
    np.testing.assert_allclose(np.linalg.norm(normalised[:5], axis=1), 1, atol=0.02)
    np.testing.assert_allclose(normalised[5:], 0, atol=1e-5)


SMALL = sc.Config(atoms=64, patches=1500, epochs=3, coding_iterations=40)


@pytest.fixture(scope="module")
def trained():
    rep = ListReporter()
    done = runner.execute(runner.RunRequest("sparse_coding", SMALL, "mnist-5k",
                                            autosave=False), rep)
    assert done.status == "finished", done.message + done.detail
    return done, rep


def test_learning_lowers_the_held_out_objective_and_keeps_atoms_unit_length(trained):
    done, rep = trained
    epochs = [e.metrics for e in rep.of(EpochMetrics)]
    assert len(epochs) == 3
    assert epochs[-1]["val_objective"] < epochs[0]["val_objective"]
    assert 0 < epochs[-1]["val_active atoms"] < SMALL.atoms
    atoms = np.asarray(done.result.model.atoms)
    np.testing.assert_allclose(np.linalg.norm(atoms, axis=1), 1, atol=1e-4)
    grid = [e for e in rep.of(ImageEvent) if e.name == "atoms"][-1]
    assert grid.images.shape == (64, 28, 28)
    samples = next(a.value for a in rep.of(Artifact) if a.name == "samples")
    assert samples.shape[1:] == (28, 28)


def test_a_larger_lambda_uses_fewer_atoms_and_reconstructs_worse(trained):
    done, _ = trained
    model = done.result.model
    patch = sc.as_patch(_artifacts(trained, "samples")[0][0], 28)
    active, error = sc.sparsity_sweep(model, SMALL, patch, np.array([0.01, 0.1, 5.0]))
    assert active[0] > active[1] > active[2] == 0
    assert error[0] < error[1] < error[2]
    coded = sc.code_image(model, SMALL, patch, 0.1)
    assert coded.active == active[1] and coded.error == pytest.approx(error[1], rel=1e-4)
    assert coded.reconstruction.shape == (28, 28) and coded.seconds > 0


def _artifacts(trained, name):
    return [a.value for a in trained[1].of(Artifact) if a.name == name]


def test_encoding_is_timed_against_an_autoencoder_forward_pass(trained):
    times = sc.encoding_times(trained[0].result.model, SMALL, repeats=5)
    assert times["sparse_coding"] > 0 and times["autoencoder"] > 0


def test_saved_dictionary_loads(trained, tmp_path):
    done, _ = trained
    loaded = sc.load(done.result.save(tmp_path / "d.keras"))
    np.testing.assert_allclose(np.asarray(loaded.model.atoms),
                               np.asarray(done.result.model.atoms))
    assert loaded.meta["config"]["atoms"] == SMALL.atoms


def test_drawn_images_of_any_size_become_one_patch():
    big = np.zeros((100, 80), np.float32)
    big[20:80, 30:50] = 1
    p = sc.as_patch(big, 12)
    assert p.shape == (1, 144) and 0 <= p.min() and p.max() <= 1 and p.max() > 0.5


def test_patch_larger_than_images_fails_in_words():
    cfg = dataclasses.replace(SMALL, patch_size=40)
    done = runner.execute(runner.RunRequest("sparse_coding", cfg, "mnist-5k",
                                            autosave=False), ListReporter())
    assert done.status == "failed" and "larger than the images" in done.message


def test_stop_keeps_the_atoms_so_far():
    controls = Controls()

    class StopSoon(ListReporter):
        def emit(self, event):
            super().emit(event)
            if isinstance(event, ImageEvent):
                controls.stop()

    done = runner.execute(runner.RunRequest("sparse_coding", SMALL, "mnist-5k",
                                            autosave=False), StopSoon(controls))
    assert done.status == "stopped" and done.result is not None
    np.testing.assert_allclose(np.linalg.norm(np.asarray(done.result.model.atoms), axis=1),
                               1, atol=1e-4)


def test_photo_patches_learn_without_held_out_images():
    cfg = dataclasses.replace(SMALL, patch_size=8, atoms=32, patches=2000, epochs=1)
    done = runner.execute(runner.RunRequest("sparse_coding", cfg, "photos", autosave=False),
                          ListReporter())
    assert done.status == "finished", done.message
    assert np.isfinite(np.asarray(done.result.model.atoms)).all()


def test_patches_beyond_what_the_images_hold_are_not_repeated():
    rng = np.random.default_rng(0)
    images = rng.random((30, 10, 10)).astype(np.float32)
    whole = sc.training_patches(images, 10, 500, rng)  # a whole image is one patch
    assert whole.shape == (30, 100)
    assert len(np.unique(whole, axis=0)) == 30
    nine = sc.training_patches(images, 8, 500, rng)  # an 8x8 patch fits in 9 places
    assert nine.shape == (270, 64) and len(np.unique(nine, axis=0)) == 270
    assert sc.training_patches(images, 8, 100, rng).shape == (100, 64)  # plenty: sampled


def test_a_run_says_why_it_has_fewer_patches_than_asked_for():
    assert P.supply_note((4000, 28, 28, 1), 28, 20_000) == (
        "Patches asks for 20,000, but a 28x28 patch of a 28x28 image is the whole image, "
        "so each image is one patch: the 4,000 training images hold 4,000 different "
        "patches, and each is used once.")
    assert "fits in only 4 places" in P.supply_note((4000, 28, 28, 1), 27, 20_000)
    assert P.supply_note((4000, 28, 28, 1), 8, 20_000) == ""
    cfg = dataclasses.replace(SMALL, atoms=16, patches=5000, epochs=1, coding_iterations=5,
                              batch_size=1024)
    rep = ListReporter()
    done = runner.execute(runner.RunRequest("sparse_coding", cfg, "mnist-5k",
                                            autosave=False), rep)
    assert done.status == "finished", done.message
    logs = [e.text for e in rep.of(Log)]
    assert any("each image is one patch" in t and "4,000 different" in t for t in logs)
    started = [e.description for e in rep.of(Started)]
    assert any("from 4,000 28x28 patches (not 5,000" in d for d in started)


def test_the_form_note_explains_the_patch_cap_before_a_run():
    note = P.form_note(28, 20_000)  # defaults: whole 28x28 images, 20,000 patches
    assert "whole 28x28 image" in note and "4,000" in note and "20,000" in note
    assert P.form_note(8, 20_000) == ""
    assert P.form_note(28, 3000) == ""  # fewer than the images
    assert P.form_note(28, 20_000, "photos") == ""  # large photos: room for all


def test_a_stopped_run_resumes_from_its_atoms():
    from nets import storage

    class StopAfterFirstEpoch(ListReporter):
        def emit(self, event):
            super().emit(event)
            if isinstance(event, EpochMetrics):
                self.controls.stop()

    cfg = sc.Config(atoms=32, patches=1500, epochs=3, coding_iterations=30)
    first = runner.execute(runner.RunRequest("sparse_coding", cfg, "mnist-5k", seed=4),
                           StopAfterFirstEpoch())
    assert first.status == "stopped"
    found = storage.AutosaveSlot("sparse_coding").latest()
    assert found.meta["epoch"] == 1 and len(found.meta["history"]) == 1
    rep = ListReporter()
    done = runner.execute(runner.RunRequest("sparse_coding", cfg, "mnist-5k", seed=4,
                                            resume=True), rep)
    assert done.status == "finished"
    epochs = rep.of(EpochMetrics)
    assert [e.epoch for e in epochs] == [0, 1, 2]
    assert epochs[0].metrics == found.meta["history"][0]  # replayed, not learnt again
    assert epochs[-1].metrics["val_objective"] < epochs[0].metrics["val_objective"]
    assert any("start afresh" in e.text for e in rep.of(Log))
