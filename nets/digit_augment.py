"""Training images changed at random, in numpy, for the convnet (nets.families.cnn).

It runs on each batch outside the model (see nets.runner.fit_keras's `augment`): Keras'
RandomTranslation/Rotation/Zoom layers cost 80x more per epoch on the JAX backend, and
numpy can do what they cannot: change the pen's width, refit each digit into MNIST's box
as `nets.images.mnist_style` does with a drawing, and draw the flags and hooks of typed 1s
and 6s that MNIST lacks. None of it shares code with the check set in nets.digit_styles.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _grey_dilate(x: np.ndarray) -> np.ndarray:
    """3x3 maximum over (n, h, w): every stroke one pixel wider on each side."""
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    rows = np.maximum(np.maximum(p[:, :-2], p[:, 1:-1]), p[:, 2:])
    return np.maximum(np.maximum(rows[:, :, :-2], rows[:, :, 1:-1]), rows[:, :, 2:])


def _grey_erode(x: np.ndarray) -> np.ndarray:
    """Minimum over a plus-shaped neighbourhood: strokes thinner, gentler than 3x3."""
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    return np.minimum.reduce([p[:, 1:-1, 1:-1], p[:, :-2, 1:-1], p[:, 2:, 1:-1],
                              p[:, 1:-1, :-2], p[:, 1:-1, 2:]])


def _apply(m: np.ndarray, x: np.ndarray, y: np.ndarray):
    """Per-image 2x2 maps m (n, 2, 2) applied to points x, y ((n, k) or (k,))."""
    a, b, c, d = (m[:, i, j, None] for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)))
    return a * x + b * y, c * x + d * y


def _inverse(m: np.ndarray) -> np.ndarray:
    det = m[:, 0, 0] * m[:, 1, 1] - m[:, 0, 1] * m[:, 1, 0]
    inv = np.stack([np.stack([m[:, 1, 1], -m[:, 0, 1]], 1),
                    np.stack([-m[:, 1, 0], m[:, 0, 0]], 1)], 1)
    return inv / det[:, None, None]


def _sample_bilinear(images: np.ndarray, inverse: np.ndarray, offset: np.ndarray,
                     centre: np.ndarray) -> np.ndarray:
    """Resample (n, h, w, c) images through per-image affine maps, all at once.

    An output pixel at q (x, y) reads the input at inverse @ (q - centre - offset) + centre;
    outside the image reads as 0 (no ink).
    """
    n, h, w, c = images.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)  # float32 throughout: half the traffic
    x, y = _apply(inverse, (xs.ravel() - centre[0])[None] - offset[:, :1],
                  (ys.ravel() - centre[1])[None] - offset[:, 1:])
    x, y = x + centre[0], y + centre[1]  # (n, hw)
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = x - x0, y - y0
    padded = np.pad(np.moveaxis(images, -1, 0), ((0, 0), (0, 0), (1, 1), (1, 1)))
    padded = padded.reshape(c, -1)
    # the 1-pixel zero border catches every coordinate outside the image
    x0 = np.clip(x0.astype(np.int32) + 1, 0, w + 1)
    y0 = np.clip(y0.astype(np.int32) + 1, 0, h + 1)
    x1 = np.where(x < -1, 0, np.minimum(x0 + 1, w + 1))  # far out: both in the border
    y1 = np.where(y < -1, 0, np.minimum(y0 + 1, h + 1))
    stride = w + 2
    base = (np.arange(n, dtype=np.int32) * ((h + 2) * stride))[:, None]

    def at(yy, xx):  # one flat gather per channel: much faster than take_along_axis
        return padded[:, base + yy * stride + xx]

    out = ((at(y0, x0) * (1 - fx) + at(y0, x1) * fx) * (1 - fy)
           + (at(y1, x0) * (1 - fx) + at(y1, x1) * fx) * fy)  # (c, n, hw)
    return np.moveaxis(out.reshape(c, n, h, w), 0, -1)


# Work on pieces of a batch whose arrays stay under glibc's 128 KiB mmap threshold. Once
# tf.data has run (as it does under Keras' PyDataset), every larger numpy temporary is a
# fresh mmap and its pages fault in one by one: a batch of 128 digits took 2,900 page
# faults and 3x the time, all at once; in pieces it takes none.
_CHUNK_VALUES = 24_000


@dataclass(frozen=True)
class DigitAugment:
    """How far `augment_images` changes a digit; each image draws its own amounts."""

    turn: float = 12.0  # degrees either way
    shear: float = 0.35  # slant: x moves by shear * height (0.35 is 19 degrees)
    width: tuple = (0.75, 1.2)  # the digit narrower or wider
    box: tuple = (0.85, 1.05)  # the long side, as a share of MNIST's 20-pixel box
    jitter: float = 1.0  # pixels the centre of mass may land away from the centre
    thicker: float = 0.4  # share of images drawn with a wider pen
    thinner: float = 0.25  # share drawn with a narrower one


def augment_images(x: np.ndarray, rng: np.random.Generator, digits: bool = True,
                   how: DigitAugment = DigitAugment()) -> np.ndarray:
    """A changed copy of a batch (n, h, w, c) in [0, 1], new at random for each image.

    Digits: a thicker or thinner pen (grey dilation or erosion, partly blended), a slant
    (shear up to ±19°), a turn (up to ±12°) and a narrower or wider digit; then, as
    `mnist_style` does with a drawing, the ink is refitted into the 20x20 box (give or
    take 15%) and its centre of mass placed at the centre (give or take a pixel). Other
    images: a small shift, turn and zoom, much as Keras' random layers did.
    """
    x = np.asarray(x, np.float32)
    n, h, w, c = x.shape
    if n == 0:
        return x.copy()
    step = max(1, _CHUNK_VALUES // (h * w * c))
    if n > step:  # see _CHUNK_VALUES
        return np.concatenate([augment_images(x[i:i + step], rng, digits, how)
                               for i in range(0, n, step)])
    centre = np.array([(w - 1) / 2, (h - 1) / 2], np.float32)
    turn = np.radians(rng.uniform(-how.turn, how.turn, n) if digits
                      else rng.uniform(-10, 10, n))
    cos, sin = np.cos(turn), np.sin(turn)
    rotation = np.stack([np.stack([cos, -sin], 1), np.stack([sin, cos], 1)], 1)
    shear = rng.uniform(-how.shear, how.shear, n) if digits else np.zeros(n)
    width = (np.exp(rng.uniform(*np.log(how.width), n)) if digits else np.ones(n))
    slant = np.zeros((n, 2, 2))
    slant[:, 0, 0], slant[:, 0, 1], slant[:, 1, 1] = width, shear, 1.0
    linear = np.einsum("nij,njk->nik", rotation, slant).astype(np.float32)  # on (x, y)
    if digits:
        x = x.copy()
        kind, amount = rng.random(n), rng.uniform(0.3, 1.0, n)[:, None, None, None]
        thick = np.flatnonzero(kind < how.thicker)
        thin = np.flatnonzero(kind > 1 - how.thinner)
        for idx, morph, gain in ((thick, _grey_dilate, amount),
                                 (thin, _grey_erode, 0.8 * amount)):
            if len(idx):  # blend towards the wider (narrower) stroke
                part = x[idx]
                moved = np.moveaxis(morph(np.moveaxis(part, -1, 1).reshape(-1, h, w))
                                    .reshape(len(idx), c, h, w), 1, -1)
                x[idx] = part + gain[idx] * (moved - part)
        # where the ink lands under the linear map: its box and its centre of mass.
        # A linear map's extremes over a row of ink lie at the row's two ends.
        ink = x.mean(-1)
        mask = ink > 0.1
        has_ink = mask.any((1, 2))
        rows = mask.any(2)  # (n, h)
        left = mask.argmax(2)
        right = w - 1 - mask[:, :, ::-1].argmax(2)
        ys = np.broadcast_to(np.arange(h), (n, h))
        q = np.stack(_apply(linear, np.concatenate([left, right], 1) - centre[0],
                            np.concatenate([ys, ys], 1) - centre[1]), 1)  # (n, 2, 2h)
        valid = np.concatenate([rows, rows], 1)[:, None, :]
        extent = (np.where(valid, q, -np.inf).max(-1)
                  - np.where(valid, q, np.inf).min(-1)).max(-1) + 1
        box = 20 / 28 * min(h, w) * rng.uniform(*how.box, n)
        scale = np.where(has_ink, box / np.where(has_ink, extent, 1), 1.0).astype(np.float32)
        total = ink.sum((1, 2))
        weights = np.stack([ink.sum(1), ink.sum(2)], 1)  # ink per column, per row
        mass = (weights * np.stack([np.arange(w), np.arange(h)])[None]).sum(-1) \
            / np.where(total > 0, total, 1)[:, None] - centre
        mass = np.concatenate(_apply(linear, mass[:, :1], mass[:, 1:]), 1)  # moves along
        offset = -scale[:, None] * mass + rng.uniform(-how.jitter, how.jitter, (n, 2))
        offset = np.where(has_ink[:, None], offset, 0)
    else:
        scale = np.exp(rng.uniform(np.log(0.9), np.log(1.1), n))
        offset = rng.uniform(-0.1, 0.1, (n, 2)) * np.array([w, h])
    forward = scale[:, None, None] * linear
    out = _sample_bilinear(x, _inverse(forward).astype(np.float32),
                           offset.astype(np.float32), centre)
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


def _segments(h: int, w: int, a: np.ndarray, b: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Ink of one round-ended segment per image, from a to b ((n, 2) as x, y): (n, h, w)."""
    ys, xs = np.mgrid[0:h, 0:w]
    p = np.stack([xs, ys], -1).astype(np.float32)[None]  # (1, h, w, 2)
    ab = (b - a)[:, None, None, :]
    t = ((p - a[:, None, None, :]) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-6)
    nearest = a[:, None, None, :] + np.clip(t, 0, 1)[..., None] * ab
    dist = np.sqrt(((p - nearest) ** 2).sum(-1))
    return np.clip(radius[:, None, None] + 0.5 - dist, 0, 1)


class _Strokes:
    """Where a batch of digits (n, h, w, 1), at least one, has its ink: what new strokes
    must match."""

    def __init__(self, images: np.ndarray):
        self.ink = ink = np.asarray(images, np.float32)[..., 0]
        h = ink.shape[1]
        on = ink > 0.3
        self.has = on.any((1, 2))
        rows = on.any(2)
        self.top = np.where(self.has, rows.argmax(1), 0)
        self.bottom = np.where(self.has, h - 1 - rows[:, ::-1].argmax(1), h - 1)
        self.height = np.maximum(self.bottom - self.top, 1).astype(np.float32)
        # the pen: ink per row over the strokes the row crosses, the median over rows
        runs = on[:, :, 0] + (on[:, :, 1:] & ~on[:, :, :-1]).sum(2)
        across = np.where(runs > 0, ink.sum(2) / np.maximum(runs, 1), np.nan)
        width = np.nanmedian(np.where(self.has[:, None], across, 2.0), 1)
        self.radius = np.clip(width / 2, 0.7, 2.5).astype(np.float32)
        self.peak = ink.max((1, 2))[:, None, None]

    def top_start(self) -> np.ndarray:
        """(n, 2): where each digit's stroke begins at the top, as (x, y)."""
        every = np.arange(len(self.ink))
        return _xy(self.middle(every, self.top), self.top + self.radius * 0.5)

    def middle(self, i, r):
        """Where the ink of row r of image i is, across."""
        row = self.ink[i, r]
        cols = np.arange(row.shape[-1], dtype=np.float32)
        return (row * cols).sum(-1) / np.maximum(row.sum(-1), 1e-6)


def _xy(x, y) -> np.ndarray:
    return np.stack([x, y], 1).astype(np.float32)


def serif_ones(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """MNIST's 1s with a flag at the top and, for half of them, a base (n, h, w, 1).

    Almost every MNIST 1 is a bare stroke, as 1s are written in the USA; in much of
    Europe and in nearly every font a 1 has a flag, and often a base. Without a few such
    1s among the training digits the net reads them as 7s and 2s. The new strokes copy
    the pen: as wide and as bright as the digit's own stroke.
    """
    s = _Strokes(x)
    n, h, w = s.ink.shape
    start = s.top_start()
    angle = np.radians(rng.uniform(20, 55, n))
    reach = (s.height * rng.uniform(0.2, 0.38, n))[:, None]
    flag = start + np.stack([-np.cos(angle), np.sin(angle)], 1) * reach
    out = np.maximum(s.ink, s.peak * _segments(h, w, start, flag, s.radius))
    i = np.flatnonzero(rng.random(n) < 0.5)  # these get a base too
    if len(i):
        foot = _xy(s.middle(i, s.bottom[i]), s.bottom[i] - s.radius[i] * 0.5)
        half = (s.height[i] * rng.uniform(0.2, 0.35, len(i)))[:, None]
        tilt = half * rng.uniform(-0.1, 0.1, len(i))[:, None]
        left = (foot + np.concatenate([-half, -tilt], 1)).astype(np.float32)
        right = (foot + np.concatenate([half, tilt], 1)).astype(np.float32)
        out[i] = np.maximum(out[i], s.peak[i] * _segments(h, w, left, right, s.radius[i]))
    return np.where(s.has[:, None, None], out, s.ink)[..., None]


def hooked_sixes(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """MNIST's 6s with the top of the stroke curling over to the right (n, h, w, 1).

    Typed 6s (and many written ones) end in a hook at the top right; MNIST's rarely do,
    and a net trained on them alone takes that hook for the bar of a 5.
    """
    s = _Strokes(x)
    n, h, w = s.ink.shape
    start = s.top_start()
    reach = (s.height * rng.uniform(0.2, 0.35, n))[:, None]
    bend = np.stack([rng.uniform(0.45, 0.6, n), rng.uniform(-0.1, 0.05, n)], 1) * reach
    end = np.stack([rng.uniform(0.75, 0.95, n), rng.uniform(0.2, 0.45, n)], 1) * reach
    out = np.maximum(s.ink, s.peak * _segments(h, w, start, start + bend, s.radius))
    out = np.maximum(out, s.peak * _segments(h, w, start + bend, start + end, s.radius))
    return np.where(s.has[:, None, None], out, s.ink)[..., None]


TYPESET_SHARE = 0.5  # of the training 1s and 6s drawn with a flag or a hook


def with_typeset_forms(x: np.ndarray, y: np.ndarray, rng: np.random.Generator,
                       share: float = TYPESET_SHARE) -> tuple[np.ndarray, int]:
    """A copy of digits x (labels y) in which a share of the 1s gets a flag (and some a
    base) and a share of the 6s a hook; also returns how many changed."""
    x, changed = x.copy(), 0
    for digit, draw in ((1, serif_ones), (6, hooked_sixes)):
        where = np.flatnonzero(y == digit)
        pick = rng.choice(where, int(round(share * len(where))), replace=False)
        if len(pick):
            x[pick] = draw(x[pick], rng)
            changed += len(pick)
    return x, changed


def is_digits(dataset) -> bool:
    """MNIST-like: 28x28 single-channel images of the ten digits."""
    return (list(dataset.class_names) == [str(d) for d in range(10)]
            and tuple(dataset.input_shape) == (28, 28, 1))


def augmenter(dataset):
    """The augmentation for a dataset: the digit kind for MNIST-like digits."""
    digits = is_digits(dataset)

    def augment(x, rng):
        return augment_images(x, rng, digits=digits)

    return augment
