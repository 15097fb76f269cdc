"""K-means features: the clustering, the encodings, the pipeline, bad input, saving."""
import dataclasses

import keras
import numpy as np
import pytest

from nets import data, runner
from nets.errors import SettingsError
from nets.families import kmeans
from nets import patches as P
from nets.progress import (Artifact, BatchMetrics, Controls, EpochMetrics, ImageEvent,
                           ListReporter, Log, Started)


def blobs(n=3000, k=6, d=5, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 6, (k, d))
    return (centres[rng.integers(0, k, n)] + rng.normal(0, 1, (n, d))).astype(np.float32)


def test_full_batch_inertia_never_increases():
    x = blobs(k=8)
    result = kmeans.fit_kmeans(x, 8, init="random patches", batch_size=len(x), epochs=15,
                               rng=np.random.default_rng(4))
    h = np.array(result.inertia_history)
    assert (np.diff(h) <= 1e-6 * h[0]).all(), h
    assert h[-1] < h[0]


def test_lloyd_matches_scikit_learn_from_the_same_start():
    from sklearn.cluster import KMeans

    x = blobs(k=6, seed=1)
    start = x[:6].copy()
    theirs = KMeans(6, init=start, n_init=1, max_iter=30, tol=0, algorithm="lloyd").fit(x)
    ours = kmeans.fit_kmeans(x, 6, batch_size=len(x), epochs=30, centers=start)
    assert kmeans.inertia(x, ours.centers) == pytest.approx(theirs.inertia_, rel=1e-4)


def test_inertia_matches_scikit_learn_on_a_small_problem():
    from sklearn.cluster import KMeans

    x = blobs(k=6, seed=1)
    theirs = KMeans(6, n_init=10, random_state=0).fit(x).inertia_
    lloyd = kmeans.fit_kmeans(x, 6, batch_size=len(x), epochs=30,
                              rng=np.random.default_rng(0))
    minibatch = kmeans.fit_kmeans(x, 6, batch_size=256, epochs=20,
                                  rng=np.random.default_rng(0))
    assert kmeans.inertia(x, lloyd.centers) == pytest.approx(theirs, rel=0.02)
    assert kmeans.inertia(x, minibatch.centers) == pytest.approx(theirs, rel=0.05)


def test_empty_clusters_are_reseeded():
    x = blobs(k=4, seed=2)
    far = np.full((4, x.shape[1]), 1e3, np.float32)  # no point is near these
    start = np.concatenate([x[:4], far])
    result = kmeans.fit_kmeans(x, 8, batch_size=len(x), epochs=6, centers=start,
                               rng=np.random.default_rng(0))
    assert result.reseeded >= 4
    assert (result.counts > 0).all()  # none dead at the end
    assert np.abs(result.centers).max() < 100


def test_k_means_plus_plus_starts_one_centroid_in_each_blob():
    x = blobs(k=6, seed=3)
    found = kmeans.fit_kmeans(x, 6, batch_size=len(x), epochs=30,
                              rng=np.random.default_rng(0)).centers

    def one_in_each(init, seed):
        start = kmeans.initial_centers(x, 6, init, np.random.default_rng(seed))
        return sorted(((start[:, None] - found[None]) ** 2).sum(-1).argmin(1)) == [*range(6)]

    # six rows drawn at random land in six different blobs only 1.5 % of the time
    assert sum(one_in_each("k-means++", seed) for seed in range(10)) >= 8
    assert sum(one_in_each("random patches", seed) for seed in range(10)) <= 2


def test_nearest_takes_the_lowest_index_on_a_tie_as_argmin_does():
    d2 = np.array([[4.0, 1.0, 1.0], [0.0, 0.0, 3.0], [2.0, 5.0, 2.0]], np.float32)
    index, value = kmeans.nearest(d2)
    np.testing.assert_array_equal(np.asarray(index), [1, 0, 0])
    np.testing.assert_array_equal(np.asarray(value), [1.0, 0.0, 2.0])


def test_more_clusters_than_patches_is_refused_in_words():
    with pytest.raises(SettingsError, match="more than the 10 patches"):
        kmeans.fit_kmeans(blobs(n=10), 20)


def test_identical_points_give_finite_centroids():
    x = np.zeros((500, 9), np.float32)
    result = kmeans.fit_kmeans(x, 5, epochs=3, batch_size=100)
    assert np.isfinite(result.centers).all() and result.inertia_history[-1] == 0


def test_triangle_and_hard_encoding_match_a_hand_computation():
    d2 = np.array([[1.0, 4.0, 9.0, 36.0]], np.float32)  # distances 1, 2, 3, 6; mean 3
    np.testing.assert_allclose(np.asarray(kmeans.triangle_encode(d2)), [[2, 1, 0, 0]])
    np.testing.assert_array_equal(np.asarray(kmeans.hard_encode(d2)), [[1, 0, 0, 0]])


def test_pooled_features_sum_each_quadrant():
    """Features of one image against the same steps spelt out in numpy."""
    from nets import patches as P

    rng = np.random.default_rng(5)
    image = rng.random((1, 9, 9, 1)).astype(np.float32)
    centers = rng.standard_normal((7, 9)).astype(np.float32)
    white = P.Whitening.fit(P.normalise(P.sample_patches(image, 3, 500, rng)))
    got = np.asarray(kmeans.pooled_features(image, centers, white.mean, white.matrix,
                                            size=3, stride=2, encoding="hard"))
    p = white.apply(P.normalise(P.extract_patches(image, 3, 2)[0].reshape(-1, 9)))
    nearest = ((p[:, None, :] - centers[None]) ** 2).sum(-1).argmin(1).reshape(4, 4)
    expected = []
    for rows, cols in [(slice(0, 2), slice(0, 2)), (slice(0, 2), slice(2, 4)),
                       (slice(2, 4), slice(0, 2)), (slice(2, 4), slice(2, 4))]:
        expected.append(np.bincount(nearest[rows, cols].ravel(), minlength=7))
    np.testing.assert_array_equal(got[0], np.concatenate(expected))


@pytest.mark.parametrize("shape, size, stride", [((2, 9, 9, 1), 3, 2), ((3, 8, 10, 3), 4, 1),
                                                 ((1, 7, 7, 2), 7, 3)])
def test_the_patch_grid_is_every_patch_exactly_as_numpy_cuts_it(shape, size, stride):
    images = np.random.default_rng(6).random(shape).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(kmeans.patch_grid(images, size, stride)),
                                  P.extract_patches(images, size, stride))


SMALL = kmeans.Config(patches=20_000, clusters=50, kmeans_epochs=3, classifier_epochs=8)


@pytest.fixture(scope="module")
def trained():
    rep = ListReporter()
    done = runner.execute(runner.RunRequest("kmeans", SMALL, "mnist-5k", autosave=False), rep)
    assert done.status == "finished", done.message + done.detail
    return done, rep


def test_pipeline_beats_chance_by_far_on_held_out_digits(trained):
    done, rep = trained
    confusion, classes, accuracy = next(a.value for a in rep.of(Artifact)
                                        if a.name == "confusion")
    assert accuracy > 0.85  # chance is 10 %
    assert confusion.shape == (10, 10) and confusion.sum() == 1000
    assert np.trace(confusion) / 1000 == pytest.approx(accuracy)
    assert f"{accuracy:.1%}" in done.message


def test_run_reports_inertia_live_and_shows_centroids(trained):
    _, rep = trained
    inertia = [e.metrics["inertia"] for e in rep.of(EpochMetrics) if "inertia" in e.metrics]
    assert len(inertia) == SMALL.kmeans_epochs and inertia[-1] < inertia[0]
    assert any("inertia" in b.metrics for b in rep.of(BatchMetrics))
    grids = [e for e in rep.of(ImageEvent) if e.name == "centroids"]
    assert grids and grids[-1].images.shape == (50, 6, 6)
    assert 0 <= grids[-1].images.min() and grids[-1].images.max() <= 1


def test_saved_model_loads_and_predicts_the_same(trained, tmp_path):
    done, _ = trained
    path = done.result.save(tmp_path / "k.keras")
    loaded = kmeans.load(path)
    x = data.load("mnist-5k").x_val[:20]
    numpy = keras.ops.convert_to_numpy
    np.testing.assert_allclose(numpy(loaded.model(x)), numpy(done.result.model(x)),
                               atol=1e-5)
    np.testing.assert_allclose(np.asarray(loaded.model.centers),
                               np.asarray(done.result.model.centers))


def test_patch_larger_than_images_fails_in_words():
    cfg = dataclasses.replace(SMALL, patch_size=30)
    done = runner.execute(runner.RunRequest("kmeans", cfg, "mnist-5k", autosave=False),
                          ListReporter())
    assert done.status == "failed" and "larger than the images" in done.message


def test_stop_while_clustering_keeps_the_centroids():
    controls = Controls()

    class StopSoon(ListReporter):
        def emit(self, event):
            super().emit(event)
            if isinstance(event, BatchMetrics) and event.step == 3:
                controls.stop()

    rep = StopSoon(controls)
    done = runner.execute(runner.RunRequest("kmeans", SMALL, "mnist-5k", autosave=False), rep)
    assert done.status == "stopped" and done.result is not None
    assert np.isfinite(np.asarray(done.result.model.centers)).all()
    assert np.abs(np.asarray(done.result.model.centers)).sum() > 0


def test_photos_learn_a_dictionary_without_classes():
    cfg = dataclasses.replace(SMALL, patches=5000, clusters=16, kmeans_epochs=2)
    rep = ListReporter()
    done = runner.execute(runner.RunRequest("kmeans", cfg, "photos", autosave=False), rep)
    assert done.status == "finished", done.message
    assert "nothing to classify" in done.message
    grid = [e for e in rep.of(ImageEvent) if e.name == "centroids"][-1]
    assert grid.images.shape == (16, 6, 6, 3)  # colour patches


def test_study_fills_the_grid():
    # images described every 2 pixels: a quarter of the work of every pixel, and with a
    # few more classifier epochs every cell still clears chance by far (the worst: 75 %)
    cfg = dataclasses.replace(SMALL, mode="study", study_clusters="20, 50", patches=5000,
                              kmeans_epochs=2, classifier_epochs=6, stride=2)
    rep = ListReporter()
    done = runner.execute(runner.RunRequest("kmeans", cfg, "mnist-5k", autosave=False), rep)
    assert done.status == "finished", done.message + done.detail
    rows = [a.value for a in rep.of(Artifact) if a.name == "study"][-1]
    assert len(rows) == 8
    assert {(r["K"], r["encoding"], r["whiten"]) for r in rows} == {
        (k, e, w) for k in (20, 50) for e in ("hard", "triangle") for w in (False, True)}
    assert all(r["accuracy"] > 0.5 for r in rows)  # chance: 10 %
    mean = {k: np.mean([r["accuracy"] for r in rows if r["K"] == k]) for k in (20, 50)}
    assert mean[50] > mean[20]
    assert "K" in kmeans.study_table(rows) and "triangle +ZCA" in kmeans.study_table(rows)


def test_bad_study_values_are_refused_in_words():
    with pytest.raises(SettingsError, match="whole numbers"):
        kmeans.study_values("10, lots")
    assert kmeans.study_values("400,50 ,50") == [50, 400]


def test_patches_beyond_what_the_images_hold_are_not_repeated():
    rng = np.random.default_rng(0)
    images = rng.random((30, 10, 10, 1)).astype(np.float32)
    whole = P.draw_patches(images, 10, 500, rng)  # a whole image is one patch
    assert whole.shape == (30, 100) and len(np.unique(whole, axis=0)) == 30
    nine = P.draw_patches(images, 8, 500, rng)  # an 8x8 patch fits in 9 places
    assert nine.shape == (270, 64) and len(np.unique(nine, axis=0)) == 270
    assert P.draw_patches(images, 3, 100, rng).shape == (100, 9)  # plenty: sampled


def test_a_run_says_why_it_clusters_fewer_patches_than_asked_for():
    assert P.supply_note((4000, 28, 28, 1), 28, 100_000).startswith(
        "Patches asks for 100,000, but a 28x28 patch of a 28x28 image is the whole image, "
        "so each image is one patch: the 4,000 training images hold 4,000 different")
    assert P.supply_note((4000, 28, 28, 1), 6, 100_000) == ""
    cfg = dataclasses.replace(SMALL, patch_size=28, patches=5000, clusters=10,
                              kmeans_epochs=1, classifier_epochs=1)
    rep = ListReporter()
    done = runner.execute(runner.RunRequest("kmeans", cfg, "mnist-5k", autosave=False), rep)
    assert done.status == "finished", done.message + done.detail
    assert any("each image is one patch" in e.text for e in rep.of(Log))
    assert any("clustering 4,000 28x28 patches" in e.description for e in rep.of(Started))


def test_the_form_note_explains_the_patch_cap_before_a_run():
    assert P.form_note(6, 100_000) == ""  # 6x6 patches: millions of places
    note = P.form_note(28, 100_000)
    assert "whole 28x28 image" in note and "4,000" in note and "100,000" in note
    assert "fits in only 4 places" in P.form_note(27, 100_000)
    assert P.form_note(28, 100_000, "cifar10") == ""


class StopAtFirstPass(ListReporter):
    """Presses Stop once the first pass of K-means has ended (and been autosaved)."""

    def emit(self, event):
        super().emit(event)
        if isinstance(event, EpochMetrics):
            self.controls.stop()


def test_a_run_stopped_while_clustering_resumes_from_its_centroids():
    from nets import storage

    cfg = dataclasses.replace(SMALL, patches=5000, clusters=20, classifier_epochs=3)
    first = runner.execute(runner.RunRequest("kmeans", cfg, "mnist-5k", seed=2),
                           StopAtFirstPass())
    assert first.status == "stopped"
    found = storage.AutosaveSlot("kmeans").latest()
    assert found.meta["epoch"] == 1 and len(found.meta["counts"]) == 20
    assert found.where == "epoch 1"
    saved_centers = keras.ops.convert_to_numpy(kmeans.load(found.path).model.centers)
    rep = ListReporter()
    done = runner.execute(runner.RunRequest("kmeans", cfg, "mnist-5k", seed=2, resume=True),
                          rep)
    assert done.status == "finished" and done.headline.startswith("Held-out accuracy")
    passes = [e.epoch for e in rep.of(EpochMetrics) if "inertia" in e.metrics]
    assert passes == [0, 1, 2]  # the first one replayed from the autosave, two new
    replayed = rep.of(EpochMetrics)[0].metrics["inertia"]
    assert replayed == pytest.approx(found.meta["inertia"][0])
    assert not np.allclose(keras.ops.convert_to_numpy(done.result.model.centers), saved_centers)  # moved on
    # the finished run is autosaved as done: resuming it again has nothing left to do
    again = runner.execute(runner.RunRequest("kmeans", cfg, "mnist-5k", resume=True),
                           ListReporter())
    assert again.status == "failed" and "nothing left to do" in again.message
