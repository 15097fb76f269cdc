"""Image patches, the raw material of dictionary learning (K-means and sparse coding).

Cutting W x W patches out of images, normalising each patch's brightness and contrast, and
ZCA whitening, as in Coates, Lee & Ng (2011), "An analysis of single-layer networks in
unsupervised feature learning". Patches are flattened in (row, column, channel) order, the
order TensorFlow's `extract_patches` uses too.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nets.data import DataError

# Coates et al. add 10 to the patch variance with pixels in 0..255; pixels here are in
# 0..1, so the same regulariser is 10 / 255^2. It keeps flat patches finite (they become 0).
CONTRAST_EPSILON = 10.0 / 255.0 ** 2


def check_patch_size(image_shape, size: int, stride: int = 1) -> tuple[int, int]:
    """Patches per column and per row of an image; DataError in words when none fit."""
    h, w = int(image_shape[0]), int(image_shape[1])
    if size < 1 or stride < 1:
        raise DataError("The patch size and the stride must be at least 1.")
    if size > min(h, w):
        raise DataError(f"The patch size ({size}x{size}) is larger than the images "
                        f"({h}x{w}). Choose a patch size of at most {min(h, w)}.")
    return (h - size) // stride + 1, (w - size) // stride + 1


def extract_patches(images: np.ndarray, size: int, stride: int = 1) -> np.ndarray:
    """Every patch of every image: (n, rows, cols, size*size*channels).

    Patch (i, j) of an image starts at pixel (i*stride, j*stride).
    """
    images = np.asarray(images, np.float32)
    if images.ndim == 3:
        images = images[..., None]
    check_patch_size(images.shape[1:3], size, stride)
    windows = np.lib.stride_tricks.sliding_window_view(images, (size, size), axis=(1, 2))
    windows = windows[:, ::stride, ::stride]  # (n, rows, cols, c, size, size)
    n, rows, cols = windows.shape[:3]
    return np.ascontiguousarray(np.moveaxis(windows, 3, -1)).reshape(n, rows, cols, -1)


def sample_patches(images: np.ndarray, size: int, count: int,
                   rng: np.random.Generator) -> np.ndarray:
    """`count` patches from random images at random positions: (count, size*size*c)."""
    images = np.asarray(images, np.float32)
    if images.ndim == 3:
        images = images[..., None]
    if len(images) == 0:
        raise DataError("There are no images to take patches from.")
    rows, cols = check_patch_size(images.shape[1:3], size)
    which = rng.integers(0, len(images), count)
    top, left = rng.integers(0, rows, count), rng.integers(0, cols, count)
    offsets = np.arange(size)
    r = (top[:, None] + offsets)[:, :, None]  # (count, size, 1)
    c = (left[:, None] + offsets)[:, None, :]  # (count, 1, size)
    return images[which[:, None, None], r, c].reshape(count, -1)


def draw_patches(images: np.ndarray, size: int, count: int,
                 rng: np.random.Generator) -> np.ndarray:
    """`count` patches from random images at random places (count, size*size*c). When the
    images hold no more than `count` different patches, or a patch is the whole image,
    distinct patches in random order instead (at most `count`): drawing at random would
    only repeat them."""
    rows, cols = check_patch_size(np.shape(images)[1:3], size)
    available = len(images) * rows * cols
    if available > count and rows * cols > 1:
        return sample_patches(images, size, count, rng)
    every = extract_patches(images, size).reshape(available, -1)
    return every[rng.permutation(available)[:count]]


def supply_note(images_shape, size: int, count: int) -> str:
    """Why a run gets fewer patches than asked for, in plain words ("" if it does not)."""
    n, h, w = (int(v) for v in images_shape[:3])
    rows, cols = check_patch_size((h, w), size)
    available = n * rows * cols
    if available >= count:
        return ""
    if rows == cols == 1:
        why = (f"a {size}x{size} patch of a {h}x{w} image is the whole image, so each "
               "image is one patch")
    else:
        why = f"a {size}x{size} patch fits in only {rows * cols} places in a {h}x{w} image"
    return (f"Patches asks for {count:,}, but {why}: the {n:,} training images hold "
            f"{available:,} different patches, and each is used once.")


# For a form's note, before any data is loaded: every dataset but the photos and CIFAR-10
# has 28x28 images (folders are resized to it); the bundled digits have 4,000 to train on.
SMALL_IMAGE_SIDE, BUNDLED_TRAIN_IMAGES = 28, 4_000


def form_note(patch_size: int, patches: int, dataset_key: str = "mnist-5k") -> str:
    """What a form should say about its Patches setting before a run: that the patch size
    caps it on the bundled digits ("" when it does not, or for large images)."""
    side = SMALL_IMAGE_SIDE
    if dataset_key in ("photos", "cifar10") or patch_size > side:
        return ""
    places = (side - patch_size + 1) ** 2
    if BUNDLED_TRAIN_IMAGES * places >= patches:
        return ""
    if places == 1:
        what = (f"Patch size {patch_size} is the whole {side}x{side} image, so each training "
                "image is one patch")
    else:
        what = (f"A {patch_size}x{patch_size} patch fits in only {places} places in a "
                f"{side}x{side} image")
    return (f"{what}: the bundled {BUNDLED_TRAIN_IMAGES:,} digits hold "
            f"{BUNDLED_TRAIN_IMAGES * places:,} different patches, so a run on them uses "
            f"those, not the {patches:,} that Patches asks for.")


def normalise(patches: np.ndarray, epsilon: float = CONTRAST_EPSILON) -> np.ndarray:
    """Per-patch brightness and contrast normalisation: subtract the patch's mean, divide
    by the square root of its variance plus epsilon."""
    p = np.asarray(patches, np.float32)
    centred = p - p.mean(axis=-1, keepdims=True)
    return centred / np.sqrt(centred.var(axis=-1, keepdims=True) + epsilon)


@dataclass
class Whitening:
    """ZCA whitening fitted on patches: x -> (x - mean) @ matrix, and back.

    matrix = V diag(1 / sqrt(d + epsilon)) V^T from the eigendecomposition of the patch
    covariance; epsilon (0.1 in Coates et al., for normalised patches) keeps the noise in
    near-zero-variance directions from being blown up.
    """

    mean: np.ndarray  # (d,)
    matrix: np.ndarray  # (d, d), symmetric
    inverse: np.ndarray  # (d, d): un-whitens, for display

    @classmethod
    def fit(cls, patches: np.ndarray, epsilon: float = 0.1) -> "Whitening":
        x = np.asarray(patches, np.float64)
        mean = x.mean(axis=0)
        cov = np.cov(x - mean, rowvar=False)
        values, vectors = np.linalg.eigh(np.atleast_2d(cov))
        values = np.clip(values, 0.0, None)
        matrix = (vectors / np.sqrt(values + epsilon)) @ vectors.T
        inverse = (vectors * np.sqrt(values + epsilon)) @ vectors.T
        return cls(mean.astype(np.float32), matrix.astype(np.float32),
                   inverse.astype(np.float32))

    @classmethod
    def identity(cls, dim: int) -> "Whitening":
        eye = np.eye(dim, dtype=np.float32)
        return cls(np.zeros(dim, np.float32), eye, eye.copy())

    def apply(self, patches: np.ndarray) -> np.ndarray:
        return (np.asarray(patches, np.float32) - self.mean) @ self.matrix

    def undo(self, patches: np.ndarray) -> np.ndarray:
        return np.asarray(patches, np.float32) @ self.inverse + self.mean


def as_images(vectors: np.ndarray, size: int, channels: int) -> np.ndarray:
    """Flat patches back to a stack of small images scaled to [0, 1] each (for display)."""
    from nets.images import normalise_each

    imgs = np.asarray(vectors, np.float32).reshape(len(vectors), size, size, channels)
    return normalise_each(imgs[..., 0] if channels == 1 else imgs)
