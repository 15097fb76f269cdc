"""DRAW step by step, for the views: the canvas after every step and where the attention
windows lay, for held-out images (encoder and decoder) or for samples from the prior
(decoder alone), as numpy arrays.

Windows are given in image coordinates, where pixel k of a row covers [k, k + 1] (the
paper's 1-based pixel a has its centre at a - 1/2): the columns are the centre x and y,
the stride delta, the filters' standard deviation sigma and the intensity gamma. The grid
of N x N filters covers about N * delta pixels a side.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PIXELS = ("binarised", "grey")


def pixels_of(images: np.ndarray, how: str) -> np.ndarray:
    """What the model sees and is scored on: each pixel 0 or 1 (at 0.5), or the grey
    values as probabilities."""
    images = np.asarray(images, np.float32)
    return (images > 0.5).astype(np.float32) if how == "binarised" else images


@dataclass
class Drawing:
    """A few drawings, step by step."""

    canvases: np.ndarray  # (n, T, h, w): sigmoid(c_t) after steps 1..T
    write: np.ndarray | None  # (n, T, 5) write windows (None without attention)
    read: np.ndarray | None = None  # (n, T, 5) read windows (images only, with attention)
    images: np.ndarray | None = None  # (n, h, w) the images drawn; None for samples
    kl_steps: np.ndarray | None = None  # (n, T) nats of KL spent at each step
    read_size: int = 0  # N of the read grid
    write_size: int = 0  # N of the write grid

    @property
    def steps(self) -> int:
        return self.canvases.shape[1]

    @property
    def finals(self) -> np.ndarray:
        """The finished drawings, (n, h, w)."""
        return self.canvases[:, -1]


def _numpy(t) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.convert_to_numpy(t))


def _windows(raw) -> np.ndarray | None:
    """(T, n, 5) of gX, gY, sigma^2, delta, gamma -> (n, T, 5) of image coordinates."""
    if raw is None:
        return None
    w = np.moveaxis(_numpy(raw), 0, 1).astype(np.float64)
    return np.stack([w[..., 0] - 0.5, w[..., 1] - 0.5, w[..., 3], np.sqrt(w[..., 2]),
                     w[..., 4]], axis=-1)


def draw_images(model, images: np.ndarray, *, use_mean: bool = True,
                seed: int = 0) -> Drawing:
    """How the model draws these images (n, h, w[, 1]) (already as pixels_of gives them):
    with use_mean each z_t is the mean of Q(z_t | h^enc_t), else a sample."""
    x = np.asarray(images, np.float32).reshape(len(images), model.height, model.width)
    noise = np.random.default_rng(seed).standard_normal(
        (model.steps, len(x), model.z_dim)).astype(np.float32)
    out = model.unroll(x, noise, use_mean=use_mean, record=True)
    return Drawing(canvases=np.moveaxis(_numpy(out["canvases"]), 0, 1),
                   write=_windows(out.get("write_window")),
                   read=_windows(out.get("read_window")), images=x,
                   kl_steps=_numpy(out["kl_steps"]).T,
                   read_size=model.n_read if model.attention else 0,
                   write_size=model.n_write if model.attention else 0)


def draw_samples(model, n: int = 16, seed: int | None = 0) -> Drawing:
    """New drawings from the prior: z_t ~ N(0, I) at every step, decoded and written."""
    noise = np.random.default_rng(seed).standard_normal(
        (model.steps, n, model.z_dim)).astype(np.float32)
    out = model.generate(noise)
    return Drawing(canvases=np.moveaxis(_numpy(out["canvases"]), 0, 1),
                   write=_windows(out.get("write_window")),
                   write_size=model.n_write if model.attention else 0)


def elbo_terms(model, x: np.ndarray, batch_size: int = 500) -> dict[str, float]:
    """Mean loss (minus the ELBO), reconstruction and KL, nats per image, of images already
    as pixels_of gives them: one sampled drawing each, as in training."""
    r = model.evaluate(x, x, batch_size=batch_size, verbose=0, return_dict=True)
    return {k: float(r[k]) for k in ("loss", "reconstruction", "kl")}
