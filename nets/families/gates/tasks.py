"""The long-memory tasks of the "Why gates" family, made in numpy: fresh sequences for
every batch, so a net never sees a training sequence twice and every held-out sequence is
new. Each task has a plain reference (tests/nets/test_gates.py checks the generators
against it).

Flagged recall: a sequence of random symbols (one-hot) with one position flagged (an extra
input channel that is 1 there); at the end the net must name the flagged symbol. The
dependency reaches from the flag to the end; the flag lies anywhere, so a sequence of
length T holds dependencies from 1 to T steps long.

The adding problem (Hochreiter & Schmidhuber 1997): each step carries a random number in
[0, 1] and a marker; two steps are marked, one in the first half and one in the second,
and at the end the net must give the sum of the two marked numbers. It counts as right
within 0.04 of the sum (the 1997 paper's criterion); always answering 1 gets about 8%.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ADDING_TOLERANCE = 0.04


@dataclass(frozen=True)
class Task:
    key: str
    title: str
    features: int  # inputs per step
    outputs: int  # logits (recall) or 1 (a number)
    chance: float  # the accuracy of guessing (the tab's chance line)

    @property
    def classifies(self) -> bool:
        return self.key == "recall"


def task(key: str, symbols: int = 8) -> Task:
    if key == "recall":
        return Task("recall", "flagged recall", symbols + 1, symbols, 1.0 / symbols)
    if key == "adding":
        return Task("adding", "the adding problem", 2, 1, adding_chance())
    raise ValueError(f"Unknown task '{key}'. Known: recall, adding.")


def flagged_recall(rng: np.random.Generator, n: int, length: int, symbols: int,
                   flag_at=None) -> tuple[np.ndarray, np.ndarray]:
    """n sequences, x: (n, length, symbols + 1) float32 (one-hot symbol, then the flag),
    y: (n,) int32, the flagged symbol. `flag_at`: the flag's position (0-based, an int or
    an array of n); None: anywhere, uniformly."""
    sym = rng.integers(0, symbols, (n, length))
    pos = (rng.integers(0, length, n) if flag_at is None
           else np.broadcast_to(np.asarray(flag_at, np.int64), (n,)))
    x = np.zeros((n, length, symbols + 1), np.float32)
    rows = np.arange(n)
    x[rows[:, None], np.arange(length)[None, :], sym] = 1.0
    x[rows, pos, symbols] = 1.0
    return x, sym[rows, pos].astype(np.int32)


def adding(rng: np.random.Generator, n: int, length: int, first_at=None
           ) -> tuple[np.ndarray, np.ndarray]:
    """n sequences, x: (n, length, 2) float32 (a number in [0, 1], the marker), y: (n,)
    float32, the sum of the two marked numbers. One mark lies in the first half (at
    `first_at` when given), the other in the second half."""
    if length < 2:
        raise ValueError("The adding problem needs sequences of at least 2 steps.")
    half = length // 2
    values = rng.random((n, length)).astype(np.float32)
    first = (rng.integers(0, half, n) if first_at is None
             else np.broadcast_to(np.asarray(first_at, np.int64), (n,)))
    second = rng.integers(half, length, n)
    x = np.zeros((n, length, 2), np.float32)
    x[:, :, 0] = values
    rows = np.arange(n)
    x[rows, first, 1] = 1.0
    x[rows, second, 1] = 1.0
    return x, (values[rows, first] + values[rows, second]).astype(np.float32)


def adding_chance(samples: int = 200_000) -> float:
    """How often answering 1 (the mean sum) is within the tolerance: about 0.079."""
    s = np.random.default_rng(0).random((samples, 2)).sum(1)
    return float((np.abs(s - 1.0) < ADDING_TOLERANCE).mean())


def make(key: str, rng: np.random.Generator, n: int, length: int, symbols: int = 8,
         at_start: bool = False):
    """A batch of task `key`; at_start puts the flag (or the first mark) at step 0, where
    the dependency is as long as the sequence."""
    if key == "recall":
        return flagged_recall(rng, n, length, symbols, 0 if at_start else None)
    return adding(rng, n, length, 0 if at_start else None)


def correct(key: str, outputs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Which answers are right: the flagged symbol's logit is the largest; the sum is
    within ADDING_TOLERANCE."""
    outputs = np.asarray(outputs)
    if key == "recall":
        return outputs.argmax(-1) == y
    return np.abs(outputs.reshape(-1) - y) < ADDING_TOLERANCE
