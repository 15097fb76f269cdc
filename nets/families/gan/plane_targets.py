"""The 2-D GAN game's real data and its measures of fit: the target distributions (a mixture
of Gaussians, a ring, a line, two moons, points a person draws) and how well a cloud of
generated points matches one (modes covered, sliced Wasserstein distance). Pure numpy.
"""
from __future__ import annotations

import math

import numpy as np

EXTENT = 3.0  # the plane shown: [-3, 3] in x and y
TARGETS = ("8 Gaussians", "ring", "line", "two moons", "drawn")
DEFAULT = "8 Gaussians"
RADIUS = 2.0  # of the mixture's circle of centres and of the ring
SIGMA = 0.1  # each Gaussian's spread (Metz et al. 2017 used 0.02 at radius 2: too thin to see)
DRAWN_NOISE = 0.05  # the spread put around each drawn point
CELLS = 8  # modes of the targets that have none of their own: k-means cells
ON_TARGET = 0.2  # a fake this close to the target (a drawn mixture: 2 sigma) counts on it
COVERED = 0.25  # a mode is covered when it holds this share of its fair share of fakes
DIRECTIONS = 64  # of the sliced Wasserstein distance
MAX_DRAWN = 3000


def check(target: str, drawn=None) -> None:
    """ValueError in words for an unknown target or an empty drawing."""
    if target not in TARGETS:
        raise ValueError(f"Unknown target {target!r}; choose from {', '.join(TARGETS)}.")
    if target == "drawn" and (drawn is None or len(drawn) < 3):
        raise ValueError("Draw the target first: drag on the plane to add points (at "
                         "least three), then choose it.")


def centres(n: int = 8) -> np.ndarray:
    t = 2 * math.pi * np.arange(n) / n
    return (RADIUS * np.stack([np.cos(t), np.sin(t)], 1)).astype(np.float32)


def sample(target: str, n: int, rng: np.random.Generator, drawn=None) -> np.ndarray:
    """n points of the target, (n, 2) float32 within the plane."""
    check(target, drawn)
    if target == "8 Gaussians":
        xy = centres()[rng.integers(0, 8, n)] + rng.normal(0, SIGMA, (n, 2))
    elif target == "ring":
        t = rng.uniform(0, 2 * math.pi, n)
        r = RADIUS + rng.normal(0, 0.05, n)
        xy = np.stack([r * np.cos(t), r * np.sin(t)], 1)
    elif target == "line":
        s = rng.uniform(-2.0, 2.0, n)
        # a slanted segment, so neither axis alone describes it
        xy = np.stack([s, 0.5 * s], 1) + rng.normal(0, 0.03, (n, 2))
    elif target == "two moons":
        t = rng.uniform(0, math.pi, n)
        upper = rng.random(n) < 0.5
        x = np.where(upper, np.cos(t), 1 - np.cos(t))
        y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
        # scikit-learn's make_moons shape, centred and enlarged to fill the plane
        xy = 1.3 * np.stack([x - 0.5, y - 0.25], 1) + rng.normal(0, 0.05, (n, 2))
    else:
        pts = np.asarray(drawn, np.float32)
        xy = pts[rng.integers(0, len(pts), n)] + rng.normal(0, DRAWN_NOISE, (n, 2))
    return np.clip(xy, -EXTENT, EXTENT).astype(np.float32)


class Fit:
    """Measures of how well fakes match one target, precomputed once per target.

    Modes: the mixture's eight Gaussians; for the other targets the CELLS k-means cells of
    a large sample of the target (so "modes covered" on a ring is "arcs covered"). A fake
    counts for the mode nearest to it when it lies on the target: within 2 sigma of a
    Gaussian's centre, or within ON_TARGET of some real point. A mode is covered when it
    holds at least COVERED of the fakes it would hold if the fakes were distributed like
    the reals (with eight equal modes: 1/32 of them).
    """

    def __init__(self, target: str, drawn=None, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.target = target
        self.reference = sample(target, 2000, rng, drawn)
        if target == "8 Gaussians":
            self.modes = centres()
        else:
            self.modes = kmeans(self.reference, CELLS, rng)
        share = np.bincount(self._nearest(self.reference), minlength=len(self.modes))
        self.share = share / share.sum()  # the reals' share of each mode

    def _nearest(self, xy: np.ndarray) -> np.ndarray:
        d = ((xy[:, None, :] - self.modes[None]) ** 2).sum(-1)
        return d.argmin(1)

    def on_target(self, xy: np.ndarray) -> np.ndarray:
        """(n,) bool: which fakes lie on the target."""
        if self.target == "8 Gaussians":
            d = np.sqrt(((xy[:, None, :] - self.modes[None]) ** 2).sum(-1)).min(1)
            return d <= 2 * SIGMA
        ref = self.reference[::4]  # 500 points are plenty to say "near the target"
        d2 = ((xy[:, None, :] - ref[None]) ** 2).sum(-1).min(1)
        return d2 <= ON_TARGET ** 2

    def mode_counts(self, fakes: np.ndarray) -> np.ndarray:
        fakes = np.asarray(fakes, np.float32)
        keep = self.on_target(fakes)
        return np.bincount(self._nearest(fakes[keep]), minlength=len(self.modes))

    def covered(self, fakes: np.ndarray) -> np.ndarray:
        """(modes,) bool."""
        fakes = np.nan_to_num(np.clip(np.asarray(fakes, np.float32), -1e3, 1e3), nan=1e3)
        counts = self.mode_counts(fakes)
        return counts >= COVERED * self.share * len(fakes)

    def measure(self, fakes: np.ndarray, reals: np.ndarray) -> dict:
        # a diverging generator's points may be huge or not finite: far off, not an error
        fakes = np.nan_to_num(np.clip(np.asarray(fakes, np.float32), -1e3, 1e3), nan=1e3)
        covered = self.covered(fakes)
        return {"modes covered": float(covered.mean()), "modes": int(covered.sum()),
                "of modes": len(covered),
                "on target": float(self.on_target(fakes).mean()),
                "distance": sliced_wasserstein(fakes, reals)}


def kmeans(xy: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 30):
    """Lloyd's k-means with k-means++ seeding; (k, 2) float32 centres."""
    first = xy[rng.integers(len(xy))]
    chosen = [first]
    for _ in range(1, k):
        d = ((xy[:, None] - np.array(chosen)[None]) ** 2).sum(-1).min(1)
        chosen.append(xy[rng.choice(len(xy), p=d / d.sum())])
    c = np.array(chosen, np.float64)
    for _ in range(iterations):
        label = ((xy[:, None] - c[None]) ** 2).sum(-1).argmin(1)
        for j in range(k):
            if np.any(label == j):
                c[j] = xy[label == j].mean(0)
    return c.astype(np.float32)


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, directions: int = DIRECTIONS) -> float:
    """The sliced Wasserstein-1 distance (Rabin et al. 2011): the mean, over evenly spaced
    directions, of the 1-D earth mover's distance between the two clouds' projections (in
    units of the plane; 0 for identical clouds). Clouds of different sizes are compared
    through their quantiles."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if not len(a) or not len(b):
        return float("nan")
    t = math.pi * np.arange(directions) / directions
    u = np.stack([np.cos(t), np.sin(t)], 0)  # (2, directions)
    pa, pb = np.sort(a @ u, 0), np.sort(b @ u, 0)
    if len(pa) != len(pb):
        q = (np.arange(256) + 0.5) / 256
        pa, pb = np.quantile(pa, q, axis=0), np.quantile(pb, q, axis=0)
    return float(np.abs(pa - pb).mean())
