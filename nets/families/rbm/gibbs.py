"""Gibbs chains for watching what an RBM (or a deep belief net) has learnt, in numpy: many
chains side by side, started from noise or from digits, with some pixels held to given
values ("clamped", e.g. the top half of a drawn digit) while the chain fills in the rest.

For a deep belief net the chain runs in the top RBM (the top two layers form an
undirected associative memory, Hinton et al. 2006) and each sample is carried down to the
pixels through the layers below, as their probabilities. Clamping needs the pixels in the
chain, so it uses the first RBM alone.
"""
from __future__ import annotations

import numpy as np

from nets.families.rbm.likelihood import sigmoid


def up(layers, v, to: int) -> np.ndarray:
    """The hidden probabilities of layer `to` (0-based, exclusive) from pixels v."""
    for W, _, c in layers[:to]:
        v = sigmoid(v @ W + c)
    return v


def down(layers, h, below: int) -> np.ndarray:
    """Probabilities of the pixels from the visible units of layer `below`'s RBM."""
    for W, b, _ in reversed(layers[:below]):
        h = sigmoid(h @ W.T + b)
    return h


class Chains:
    """`n` Gibbs chains. `layers`: [(W, b, c)] numpy, the first on the pixels. `start`:
    (n, D) pixels in [0, 1], or None for noise. `clamp`: a (D,) bool mask of pixels held
    at `start`'s values (first RBM only)."""

    def __init__(self, layers, n: int, rng, start=None, clamp=None):
        self.layers = [tuple(np.asarray(a, np.float64) for a in layer) for layer in layers]
        self.rng = rng
        self.clamp = None if clamp is None or not np.any(clamp) else np.asarray(clamp, bool)
        D = self.layers[0][0].shape[0]
        pixels = (rng.random((n, D)) if start is None else
                  np.asarray(start, np.float64).reshape(n, D))
        self.clamped_values = pixels.copy()
        self.top = 0 if self.clamp is not None else len(self.layers) - 1
        v = up(self.layers, pixels, self.top)
        self.v = (rng.random(v.shape) < v).astype(np.float64)
        self.pixels = pixels
        self.steps = 0

    def step(self, k: int = 1) -> np.ndarray:
        """k Gibbs steps (h ~ p(h | v), v ~ p(v | h)); returns the pixels' probabilities
        after the last one, (n, D)."""
        W, b, c = self.layers[self.top]
        for _ in range(k):
            h = (self.rng.random((len(self.v), W.shape[1])) < sigmoid(self.v @ W + c))
            pv = sigmoid(h @ W.T + b)
            if self.clamp is not None:
                pv[:, self.clamp] = self.clamped_values[:, self.clamp]
            self.v = (self.rng.random(pv.shape) < pv).astype(np.float64)
            self.steps += 1
        self.pixels = down(self.layers, pv, self.top)
        return self.pixels
