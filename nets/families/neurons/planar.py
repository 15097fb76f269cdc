"""Points on a plane in two classes, the playground's data: four generated sets (the shapes
of TensorFlow Playground: a disc in a ring, XOR quadrants, two Gaussian blobs, two
interleaved spirals) or a person's own points, and the input features made from x and y.

Coordinates lie within [-EXTENT, EXTENT]; labels are 0 and 1. Pure numpy.
"""
from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np

from nets.errors import DataError, SettingsError

EXTENT = 6.0  # the plane shown: [-6, 6] in x and y, as in Playground
SHAPES = ("circle", "xor", "gauss", "spiral")
OWN = "your points"
MAX_POINTS = 2000  # a person may click this many; more makes the plot and training sluggish

# name -> (how it is written, function of x and y)
FEATURES = {
    "x": ("x", lambda x, y: x),
    "y": ("y", lambda x, y: y),
    "xy": ("x·y", lambda x, y: x * y),
    "x2": ("x²", lambda x, y: x * x),
    "y2": ("y²", lambda x, y: y * y),
    "sinx": ("sin x", lambda x, y: np.sin(x)),
    "siny": ("sin y", lambda x, y: np.sin(y)),
}


def parse_features(text: str) -> tuple[str, ...]:
    """"x, y, sinx" -> ("x", "y", "sinx"), in the order of FEATURES; SettingsError names
    an unknown one or an empty choice."""
    asked = [t.strip().lower().replace(" ", "") for t in str(text).replace(";", ",")
             .split(",") if t.strip()]
    aliases = {k: k for k in FEATURES} | {"x²": "x2", "y²": "y2", "x·y": "xy",
                                         "x*y": "xy", "x^2": "x2", "y^2": "y2"}
    unknown = [a for a in asked if a not in aliases]
    if unknown:
        raise SettingsError(f"Unknown input feature {unknown[0]!r}: choose from "
                            f"{', '.join(FEATURES)}.")
    chosen = {aliases[a] for a in asked}
    if not chosen:
        raise SettingsError("Choose at least one input feature (x and y, say): a network "
                            "with no inputs has nothing to look at.")
    return tuple(k for k in FEATURES if k in chosen)


def features(xy: np.ndarray, names) -> np.ndarray:
    """(n, 2) points -> (n, len(names)) network inputs, float32."""
    x, y = xy[:, 0].astype(np.float64), xy[:, 1].astype(np.float64)
    return np.stack([FEATURES[n][1](x, y) for n in names], axis=1).astype(np.float32)


def make(shape: str, n: int, noise: float, seed: int = 0):
    """n points of a generated set, as ((n, 2) float32, (n,) int labels). `noise` in
    [0, 1] blurs the classes into each other."""
    rng = np.random.default_rng(seed)
    half = n // 2
    if shape == "circle":
        r = np.concatenate([rng.uniform(0, 2.5, half), rng.uniform(3.5, 5.0, n - half)])
        t = rng.uniform(0, 2 * math.pi, n)
        xy = np.stack([r * np.cos(t), r * np.sin(t)], 1)
        labels = (np.arange(n) < half).astype(int)
        xy += rng.normal(0, noise * 1.5, xy.shape)
    elif shape == "xor":
        xy = rng.uniform(-5, 5, (n, 2))
        xy += np.sign(xy) * 0.3  # keep them off the axes, where the label flips
        labels = (xy[:, 0] * xy[:, 1] > 0).astype(int)
        xy += rng.normal(0, noise * 1.5, xy.shape)
    elif shape == "gauss":
        spread = 0.5 + 2.5 * noise
        xy = np.concatenate([rng.normal(2, spread, (half, 2)),
                             rng.normal(-2, spread, (n - half, 2))])
        labels = (np.arange(n) < half).astype(int)
    elif shape == "spiral":
        parts = []
        for arm, size in ((0, half), (1, n - half)):
            i = np.arange(size) / max(size, 1)
            r, t = 5 * i, 1.75 * 2 * math.pi * i + math.pi * arm
            parts.append(np.stack([r * np.sin(t), r * np.cos(t)], 1))
        xy = np.concatenate(parts) + rng.normal(0, noise * 1.0, (n, 2))
        labels = (np.arange(n) < half).astype(int)
    else:
        raise SettingsError(f"Unknown data set {shape!r}: choose from {', '.join(SHAPES)}.")
    xy = np.clip(xy, -EXTENT, EXTENT)
    order = rng.permutation(n)
    return xy[order].astype(np.float32), labels[order]


def split(labels: np.ndarray, train_share: float, seed: int = 0):
    """Indices (train, test), class by class so both sets hold both classes where there
    are enough points (a class of one point goes to training)."""
    rng = np.random.default_rng(seed + 1)
    train, test = [], []
    for c in (0, 1):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = min(len(idx), max(1, round(len(idx) * train_share))) if len(idx) else 0
        if len(idx) >= 2:
            k = min(k, len(idx) - 1)
        train.append(idx[:k])
        test.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def check_two_classes(labels: np.ndarray) -> None:
    """DataError in plain words when the points cannot teach a boundary."""
    counts = np.bincount(labels.astype(int), minlength=2)
    if len(labels) < 2:
        raise DataError(f"There {'is' if len(labels) == 1 else 'are'} {len(labels)} "
                        "point(s): add a few of each class by clicking on the plane.")
    if counts.min() == 0:
        missing = "blue (class 0)" if counts[0] == 0 else "orange (class 1)"
        raise DataError(f"All {len(labels)} points are of one class: there is no boundary "
                        f"to learn. Add some {missing} points (right-click adds blue, "
                        "left-click orange).")


def read_points(path) -> tuple[np.ndarray, np.ndarray]:
    """A person's points from a CSV of x, y, label (0 or 1) rows; DataError in plain words
    for a missing, unreadable or malformed file."""
    path = Path(path)
    if not str(path) or not path.is_file():
        raise DataError(f"The file of your points ({path}) is not there: click on the "
                        "plane to add points, or choose a generated data set.")
    xy, labels = [], []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            for number, row in enumerate(csv.reader(f), 1):
                if not row or row[0].strip().lower() == "x":
                    continue
                try:
                    x, y, label = float(row[0]), float(row[1]), int(float(row[2]))
                except (ValueError, IndexError):
                    raise DataError(f"Line {number} of {path.name} is not 'x, y, label' "
                                    f"numbers: {','.join(row)[:60]!r}.") from None
                if label not in (0, 1) or not (math.isfinite(x) and math.isfinite(y)):
                    raise DataError(f"Line {number} of {path.name}: the label must be 0 or "
                                    "1 and x, y finite numbers.")
                xy.append((x, y))
                labels.append(label)
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"Could not read your points from {path}: {exc}") from exc
    if len(xy) > MAX_POINTS:
        raise DataError(f"{path.name} holds {len(xy):,} points; the playground takes at "
                        f"most {MAX_POINTS:,}.")
    out = np.clip(np.array(xy, np.float32).reshape(-1, 2), -EXTENT, EXTENT)
    return out, np.array(labels, int)


def write_points(path, xy: np.ndarray, labels: np.ndarray) -> Path:
    """Save points as CSV atomically (a temporary file renamed over the target)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["x", "y", "label"])
        for (x, y), c in zip(np.asarray(xy, float), np.asarray(labels, int)):
            w.writerow([f"{x:.4f}", f"{y:.4f}", int(c)])
    os.replace(tmp, path)
    return path


def grid(size: int) -> np.ndarray:
    """(size*size, 2) points covering the plane, row by row from the top (y = +EXTENT), so
    that predictions reshape to a (size, size) image the right way up."""
    ticks = np.linspace(-EXTENT, EXTENT, size, dtype=np.float32)
    gx, gy = np.meshgrid(ticks, ticks[::-1])
    return np.stack([gx.ravel(), gy.ravel()], 1)
