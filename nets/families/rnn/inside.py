"""Looking inside a character model: simple features of a text, character by character
(inside quotes, inside brackets, inside $maths$, position in the line ...), and the
hidden or cell units whose activations follow them most closely (Karpathy, Johnson &
Fei-Fei 2015 found units that track quotes, brackets and the length of a line).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OPENING, CLOSING = "([{", ")]}"


def features(text: str) -> dict[str, np.ndarray]:
    """Each feature's value at every character, as the model reads it (the character
    included); features that do not vary over this text are left out."""
    n = len(text)
    found = {
        "inside \"double quotes\"": _between(text, '"'),
        "inside $maths$": _between(text, "$"),
        "inside brackets ( [ {": np.zeros(n),
        "position in the line": np.zeros(n),
        "inside a word": np.fromiter((c.isalpha() for c in text), float, n),
        "just after a newline": np.fromiter((c == "\n" for c in text), float, n),
    }
    depth = column = 0
    for t, c in enumerate(text):
        if c in OPENING:
            depth += 1
        elif c in CLOSING:
            depth = max(depth - 1, 0)
        column = 0 if c == "\n" else column + 1
        found["inside brackets ( [ {"][t] = depth > 0
        found["position in the line"][t] = column
    return {name: v for name, v in found.items() if np.ptp(v) > 0}


def _between(text: str, mark: str) -> np.ndarray:
    inside, out = False, np.zeros(len(text))
    for t, c in enumerate(text):
        if c == mark:
            inside = not inside
        out[t] = inside
    return out


@dataclass(frozen=True)
class Match:
    feature: str
    state: str  # "layer 1 c"
    unit: int
    r: float  # Pearson correlation over the text


def correlations(activations: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """Pearson's r of every unit (columns of activations, (T, units)) with a feature (T,);
    0 for a unit that never changes."""
    a = activations - activations.mean(0)
    f = feature - feature.mean()
    scale = np.sqrt((a * a).sum(0) * (f * f).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * f[:, None]).sum(0) / scale
    return np.nan_to_num(r)


def best_units(traced: dict[str, np.ndarray], text: str, per_feature: int = 3) -> list[Match]:
    """For each feature of the text, the units most correlated with it (either sign),
    best first within each feature."""
    found = []
    for name, values in features(text).items():
        ranked = []
        for state, activations in traced.items():
            r = correlations(activations, values)
            ranked += [Match(name, state, int(u), float(r[u])) for u in range(len(r))]
        ranked.sort(key=_strength)
        found += ranked[:per_feature]
    return found


def _strength(match: Match) -> float:
    return -abs(match.r)
