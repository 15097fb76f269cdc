"""How good an RBM is as a model of its data, in numpy: the free energy, the exact log
partition function of a small RBM (a sum over every hidden state), its estimate by
annealed importance sampling for a large one (Salakhutdinov & Murray 2008), the
pseudo-log-likelihood, and an independent-pixel baseline; plus Gibbs sampling.

An RBM here is (W, b, c): weights (visible, hidden), visible biases, hidden biases;
E(v, h) = -v.b - h.c - v W h, and F(v) = -log sum_h e^-E(v, h) = -v.b - sum_j softplus(c_j
+ (vW)_j).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

EXACT_MAX_HIDDEN = 20  # 2^20 hidden states: about a second for 784 pixels


def softplus(x):
    return np.logaddexp(0.0, x)


def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def logsumexp(x, axis=None):
    m = np.max(x, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return np.squeeze(out, axis=axis) if axis is not None else float(out.ravel()[0])


def free_energy(v, W, b, c) -> np.ndarray:
    """F(v) for each row of v."""
    v = np.asarray(v, np.float64)
    return -v @ b - softplus(v @ W + c).sum(axis=1)


def exact_log_z(W, b, c, chunk: int = 1 << 14) -> float:
    """log Z = log sum_h exp(h.c + sum_i softplus(b_i + (W h)_i)), summed over all 2^H
    hidden states (H <= EXACT_MAX_HIDDEN)."""
    H = W.shape[1]
    if H > EXACT_MAX_HIDDEN:
        raise ValueError(f"exact log Z needs at most {EXACT_MAX_HIDDEN} hidden units")
    W, b, c = (np.asarray(a, np.float64) for a in (W, b, c))
    bits = 1 << np.arange(H)
    parts = []
    for start in range(0, 1 << H, chunk):
        states = ((np.arange(start, min(start + chunk, 1 << H))[:, None] & bits) > 0)
        h = states.astype(np.float64)
        parts.append(logsumexp(h @ c + softplus(h @ W.T + b).sum(axis=1)))
    return logsumexp(np.array(parts))


def log_likelihood(v, W, b, c, log_z: float) -> float:
    """Mean log p(v) in nats: -F(v) - log Z."""
    return float(np.mean(-free_energy(v, W, b, c)) - log_z)


def pixel_baseline(train, held_out) -> float:
    """Mean log-likelihood of held_out under independent pixels fitted to train (each
    pixel's frequency, with one added count of each value)."""
    p = (np.asarray(train, np.float64).sum(0) + 1) / (len(train) + 2)
    v = np.asarray(held_out, np.float64)
    return float(np.mean(v @ np.log(p) + (1 - v) @ np.log(1 - p)))


def pseudo_log_likelihood(v, W, b, c, rng) -> float:
    """D * log sigmoid(F(v~) - F(v)), v~ being v with one random pixel flipped, averaged
    over the rows (the stochastic estimate scikit-learn's BernoulliRBM.score_samples
    gives)."""
    v = np.asarray(v, np.float64)
    flipped = v.copy()
    i = rng.integers(0, v.shape[1], len(v))
    flipped[np.arange(len(v)), i] = 1 - flipped[np.arange(len(v)), i]
    gap = free_energy(flipped, W, b, c) - free_energy(v, W, b, c)
    return float(np.mean(v.shape[1] * -softplus(-gap)))


@dataclass(frozen=True)
class AISEstimate:
    log_z: float
    low: float  # log Z +- 3 standard errors of the mean importance weight
    high: float
    runs: int
    steps: int


def ais_log_z(W, b, c, base_bias, runs: int = 100, steps: int = 1000,
              rng=None, checkpoint=None) -> AISEstimate:
    """Annealed importance sampling (Salakhutdinov & Murray 2008, section 4): from a base
    RBM with no weights and visible biases `base_bias` (log Z_A known) to this one, through
    p_beta(v) proportional to exp((1 - beta) v.b_A + beta v.b) prod_j (1 + e^(beta (vW +
    c)_j)), with one Gibbs transition at each of `steps` betas, over `runs` parallel
    chains. `checkpoint()`, when given, is called every 50 steps (it may raise to stop)."""
    rng = rng or np.random.default_rng(0)
    W, b, c, bA = (np.asarray(a, np.float64) for a in (W, b, c, base_bias))
    betas = np.linspace(0.0, 1.0, steps + 1)
    H = W.shape[1]
    log_z_a = float(softplus(bA).sum() + H * math.log(2))

    def log_p(v, beta):
        return (1 - beta) * v @ bA + beta * v @ b + softplus(beta * (v @ W + c)).sum(1)

    v = (rng.random((runs, len(b))) < sigmoid(bA)).astype(np.float64)
    w = np.zeros(runs)
    for k in range(1, len(betas)):
        if checkpoint is not None and k % 50 == 0:
            checkpoint()
        w += log_p(v, betas[k]) - log_p(v, betas[k - 1])
        beta = betas[k]
        h = (rng.random((runs, H)) < sigmoid(beta * (v @ W + c))).astype(np.float64)
        v = (rng.random(v.shape) < sigmoid((1 - beta) * bA + beta * (h @ W.T + b))) \
            .astype(np.float64)
    top = w.max()
    r = np.exp(w - top)
    mean, err = r.mean(), 3 * r.std(ddof=1) / math.sqrt(runs)
    log_z = float(log_z_a + top + math.log(mean))
    low = float(log_z_a + top + math.log(max(mean - err, mean * 1e-12)))
    return AISEstimate(log_z, low, float(log_z_a + top + math.log(mean + err)), runs, steps)


def base_bias(train) -> np.ndarray:
    """Visible biases of the independent-pixel base model: log(p / (1 - p)) of the data's
    pixel frequencies (also the guide's start for an RBM's visible biases)."""
    p = np.clip(np.asarray(train, np.float64).mean(0), 1e-3, 1 - 1e-3)
    return np.log(p / (1 - p))
