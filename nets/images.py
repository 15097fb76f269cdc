"""Image helpers every family shares: scaling a stack for display, and turning a drawing
from the canvas into a digit as MNIST's were made."""
from __future__ import annotations

import numpy as np


def normalise_each(a: np.ndarray) -> np.ndarray:
    """Scale each image of a stack to [0, 1] on its own (flat ones become mid-grey)."""
    a = a.astype(np.float32)
    axes = tuple(range(1, a.ndim))
    lo, hi = a.min(axis=axes, keepdims=True), a.max(axis=axes, keepdims=True)
    span = hi - lo
    return np.where(span > 1e-12, (a - lo) / np.where(span > 1e-12, span, 1), 0.5)


def mnist_style(drawing: np.ndarray, box: int = 20, size: int = 28,
                threshold: float = 0.05) -> np.ndarray | None:
    """Turn a drawing (2-D, ink high, any size) into a 28x28 MNIST-style digit in [0, 1].

    As MNIST was made: the ink's bounding box is scaled (keeping its aspect) to fit a
    20x20 box with anti-aliasing, then placed in 28x28 so its centre of mass is at the
    centre. Returns None when nothing is drawn.
    """
    from PIL import Image

    a = np.asarray(drawing, dtype=np.float32)
    if a.ndim != 2:
        raise ValueError(f"Expected a 2-D drawing, got shape {a.shape}.")
    ink = a > threshold
    if not ink.any():
        return None
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    crop = a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    scale = box / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    img = Image.fromarray(np.clip(crop * 255, 0, 255).astype(np.uint8))
    small = np.asarray(img.resize((nw, nh), Image.Resampling.LANCZOS), np.float32) / 255.0
    small = np.clip(small, 0, 1)
    out = np.zeros((size, size), np.float32)
    top, left = (size - nh) // 2, (size - nw) // 2
    out[top:top + nh, left:left + nw] = small
    total = out.sum()
    ys, xs = np.indices(out.shape)
    cy, cx = (ys * out).sum() / total, (xs * out).sum() / total
    dy, dx = int(round((size - 1) / 2 - cy)), int(round((size - 1) / 2 - cx))
    # keep the whole digit inside the frame while centring it
    dy = int(np.clip(dy, -top, size - (top + nh)))
    dx = int(np.clip(dx, -left, size - (left + nw)))
    return np.roll(out, (dy, dx), axis=(0, 1))
