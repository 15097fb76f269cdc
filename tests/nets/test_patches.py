"""Patches: positions and counts, normalisation, ZCA whitening."""
import numpy as np
import pytest

from nets import patches as P
from nets.data import DataError


def test_extract_patches_counts_and_positions():
    images = np.arange(2 * 10 * 12 * 2, dtype=np.float32).reshape(2, 10, 12, 2)
    got = P.extract_patches(images, size=3, stride=2)
    assert got.shape == (2, 4, 5, 3 * 3 * 2)  # (10-3)//2+1 rows, (12-3)//2+1 columns
    for n, i, j in [(0, 0, 0), (1, 3, 4), (0, 2, 1)]:
        expected = images[n, 2 * i:2 * i + 3, 2 * j:2 * j + 3, :].reshape(-1)
        np.testing.assert_array_equal(got[n, i, j], expected)


def test_numpy_and_tensorflow_patches_agree():
    import tensorflow as tf

    images = np.random.default_rng(0).random((3, 9, 8, 3)).astype(np.float32)
    ours = P.extract_patches(images, 4, 2)
    theirs = tf.image.extract_patches(images, [1, 4, 4, 1], [1, 2, 2, 1], [1, 1, 1, 1],
                                      "VALID").numpy()
    np.testing.assert_allclose(ours, theirs)


def test_sampled_patches_come_from_the_images():
    rng = np.random.default_rng(1)
    images = rng.random((4, 7, 7)).astype(np.float32)
    sampled = P.sample_patches(images, 3, 50, rng)
    assert sampled.shape == (50, 9)
    every = P.extract_patches(images, 3).reshape(-1, 9)
    for patch in sampled:
        assert np.min(np.abs(every - patch).sum(1)) == 0


def test_patch_larger_than_the_image_is_refused_in_words():
    with pytest.raises(DataError, match="larger than the images"):
        P.extract_patches(np.zeros((1, 5, 5)), 6)
    with pytest.raises(DataError, match="larger than the images"):
        P.sample_patches(np.zeros((1, 5, 5)), 6, 10, np.random.default_rng(0))


def test_normalise_gives_zero_mean_unit_variance_and_leaves_flat_patches_finite():
    rng = np.random.default_rng(2)
    p = np.concatenate([rng.random((20, 36)), np.full((3, 36), 0.7)]).astype(np.float32)
    out = P.normalise(p)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out.mean(1), 0, atol=1e-5)
    np.testing.assert_allclose(out[:20].var(1), 1, atol=0.01)  # eps is tiny next to var
    np.testing.assert_allclose(out[20:], 0, atol=1e-4)


def test_zca_whitening_makes_the_covariance_near_identity_and_undoes():
    rng = np.random.default_rng(3)
    mixing = rng.standard_normal((16, 16))
    x = (rng.standard_normal((20_000, 16)) @ mixing).astype(np.float32)  # correlated
    w = P.Whitening.fit(x, epsilon=1e-6)
    white = w.apply(x)
    np.testing.assert_allclose(np.cov(white, rowvar=False), np.eye(16), atol=0.02)
    np.testing.assert_allclose(w.undo(white), x, atol=1e-2, rtol=1e-3)
    np.testing.assert_allclose(w.matrix, w.matrix.T, atol=1e-5)  # ZCA: symmetric


def test_whitening_flat_data_stays_finite():
    w = P.Whitening.fit(np.zeros((100, 9), np.float32))
    assert np.isfinite(w.matrix).all() and np.isfinite(w.apply(np.zeros((2, 9)))).all()
