"""Looking around a generator's latent space: the images on the way between two noise
vectors, directions in z that change the image most (principal directions, after
GANSpace, Härkönen et al. 2020), and the training image nearest to a sample (is the
generator drawing new digits or copying ones it saw?). Numpy around a compiled predictor.
"""
from __future__ import annotations

import numpy as np

from nets import backend
from nets.families.gan.images import as_grid_images, generate, one_hot, packed_views


class Sampler:
    """Images from noise through one GAN's generator, compiled once (about a millisecond
    an image here); it always uses the generator's current weights."""

    def __init__(self, gan):
        self.gan = gan
        self.latent = int(gan.generator.inputs[0].shape[-1])
        self.classes = gan.classes
        self._predict = backend.predictor(packed_views(gan)[0])

    def images(self, z, labels=None) -> np.ndarray:
        """(n, latent) noise (and class indices for a conditional GAN) -> (n, h, w[, 3])."""
        z = np.asarray(z, np.float32).reshape(-1, self.latent)
        if labels is None or not self.gan.conditional:  # the labels are not used
            labels = np.zeros(len(z), int)
        hot = one_hot(np.resize(np.asarray(labels, int), len(z)), self.classes)
        return as_grid_images(generate(self._predict, z, hot))


def interpolate(a: np.ndarray, b: np.ndarray, steps: int = 10,
                spherical: bool = True) -> np.ndarray:
    """`steps` noise vectors from a to b. Spherical (slerp, as DCGAN's follow-ups do): a
    straight line between two Gaussian vectors passes near the origin, where the prior
    rarely draws, and its middle images come out faint; the great circle keeps their norm."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    if not spherical:
        return ((1 - t) * a + t * b).astype(np.float32)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    cos = np.clip(np.dot(a, b) / max(na * nb, 1e-12), -1.0, 1.0)
    omega = np.arccos(cos)
    if omega < 1e-6:
        return ((1 - t) * a + t * b).astype(np.float32)
    return ((np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) /
            np.sin(omega)).astype(np.float32)


def principal_directions(sampler: Sampler, k: int = 5, n: int = 1000,
                         seed: int = 0, labels=None) -> np.ndarray:
    """k unit directions in z, the ones along which the generated images vary most: PCA
    of n generated images, each component's coefficients regressed back onto z (z is
    white, so the regression is Z^T c). Rows: directions, largest variation first."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, sampler.latent)).astype(np.float32)
    images = sampler.images(z, labels if labels is None else np.resize(labels, n))
    flat = images.reshape(n, -1).astype(np.float64)
    flat -= flat.mean(0)
    u, s, _ = np.linalg.svd(flat, full_matrices=False)
    coefficients = u[:, :k] * s[:k]  # each image's place along each component
    directions = (z.T.astype(np.float64) @ coefficients).T  # (k, latent)
    directions /= np.maximum(np.linalg.norm(directions, axis=1, keepdims=True), 1e-12)
    return directions.astype(np.float32)


def random_directions(latent: int, k: int = 5, seed: int = 0) -> np.ndarray:
    """k orthonormal random directions in z."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((latent, k)))
    return q.T.astype(np.float32)


def nearest(image: np.ndarray, training: np.ndarray, k: int = 1, chunk: int = 8192
            ) -> tuple[np.ndarray, np.ndarray]:
    """The k training images nearest `image` in pixel distance (root mean square over
    pixels, 0 to 1): their indices and distances, nearest first."""
    target = np.asarray(image, np.float32).reshape(-1)
    dists = []
    for i in range(0, len(training), chunk):
        block = np.asarray(training[i:i + chunk], np.float32).reshape(
            min(chunk, len(training) - i), -1)
        dists.append(np.sqrt(np.mean((block - target) ** 2, axis=1)))
    d = np.concatenate(dists) if dists else np.zeros(0, np.float32)
    order = np.argsort(d)[:k]
    return order, d[order]


def typical_distance(training: np.ndarray, n: int = 200, seed: int = 0) -> float:
    """The median distance from a training image to its nearest other training image: a
    sample much closer than this to a training image looks copied."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(training), size=min(n, len(training)), replace=False)
    out = []
    for i in pick:
        _, d = nearest(training[i], training, k=2)
        out.append(d[1] if len(d) > 1 else np.nan)
    return float(np.nanmedian(out)) if out else float("nan")
