"""Mini-batch K-means in Keras ops (on the GPU when there is one): distances, k-means++,
the compiled steps and the loop over passes, with empty clusters re-seeded."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from nets.errors import SettingsError
from nets.progress import StopRequested

INITS = ("k-means++", "random patches")
CHUNK_BYTES = 64 * 2 ** 20  # working memory per chunk of rows or images


def squared_distances(x, centers):
    """||x_i - c_k||^2 for every row and centroid, as one matrix product."""
    from keras import ops

    x_sq = ops.sum(x * x, axis=1, keepdims=True)
    c_sq = ops.sum(centers * centers, axis=1)
    return ops.maximum(x_sq - 2.0 * ops.matmul(x, ops.transpose(centers)) + c_sq, 0.0)


def nearest(d2):
    """Per row of squared distances: the index of the nearest centroid (the lowest on a
    tie, as argmin, on TensorFlow and JAX) and its squared distance. One top_k pass does
    both, where argmin and min are two (and Keras' argmin a few more passes still)."""
    from keras import ops

    value, index = ops.top_k(-d2, 1)
    return ops.cast(index[:, 0], "int32"), -value[:, 0]


class KMeansOps:
    """The compiled pieces of K-means (nets.backend.compiled: on the backend's device);
    built once per process (tracing costs ~0.5 s) by `kmeans_ops()`."""

    def __init__(self):
        from keras import ops

        from nets.backend import compiled

        def assign(x, centers):
            return nearest(squared_distances(x, centers))

        def accumulate(x, centers):
            """Per-centroid sums and counts of the rows assigned to it, and the inertia."""
            labels, d2 = nearest(squared_distances(x, centers))
            k = ops.shape(centers)[0]
            sums = ops.segment_sum(x, labels, num_segments=k)
            counts = ops.segment_sum(ops.ones_like(d2), labels, num_segments=k)
            return sums, counts, ops.sum(d2), d2

        def minibatch_step(x, rows, centers, counts):
            """The batch x[rows]: each centroid moves to the mean of every patch it has
            been given so far (Sculley 2010; scikit-learn's MiniBatchKMeans does the
            same)."""
            sums, n, inertia, d2 = accumulate(ops.take(x, rows, axis=0), centers)
            total = counts + n
            moved = (centers * counts[:, None] + sums) / ops.maximum(total, 1.0)[:, None]
            return ops.where(n[:, None] > 0, moved, centers), total, inertia, n, d2

        def kmeans_plus_plus(x, first, draws):
            """Greedy k-means++ (Arthur & Vassilvitskii 2007, as in scikit-learn): draw a
            few candidates with probability proportional to their squared distance to the
            nearest centroid so far, keep the one that lowers the inertia most. `first` is
            the first centroid's row, `draws` (K, trials) uniform numbers in [0, 1) for the
            candidates; returns the K rows chosen."""
            m, k = ops.shape(x)[0], ops.shape(draws)[0]
            d2 = ops.sum(ops.square(x - ops.take(x, first, axis=0)), axis=1)
            chosen = ops.where(ops.arange(k) == 0, ops.cast(first, "int32"),
                               ops.zeros((k,), "int32"))

            def pick(i, state):
                chosen, d2 = state
                # every row equally likely once every row is a centroid already
                weights = ops.cumsum(ops.where(ops.sum(d2) > 0, d2, ops.ones_like(d2)))
                candidates = ops.searchsorted(weights, ops.take(draws, i, axis=0)
                                              * weights[-1], side="right")
                candidates = ops.minimum(ops.cast(candidates, "int32"), m - 1)
                options = ops.minimum(d2[:, None], ops.transpose(squared_distances(
                    ops.take(x, candidates, axis=0), x)))  # (m, trials)
                best = ops.argmin(ops.sum(options, axis=0))
                chosen = ops.where(ops.arange(k) == i, ops.take(candidates, best), chosen)
                return chosen, ops.take(options, best, axis=1)

            return ops.fori_loop(1, k, pick, (chosen, d2))[0]

        self.assign, self.accumulate = compiled(assign), compiled(accumulate)
        self.minibatch_step = compiled(minibatch_step)
        self.kmeans_plus_plus = compiled(kmeans_plus_plus)


@functools.cache
def kmeans_ops() -> KMeansOps:
    return KMeansOps()


def initial_centers(x: np.ndarray, k: int, method: str, rng: np.random.Generator,
                    sample: int | None = None) -> np.ndarray:
    """K starting centroids: k-means++ on a sample of the rows, or K distinct random rows."""
    from keras import ops

    n = len(x)
    if k > n:
        raise SettingsError(f"K = {k} clusters is more than the {n} patches to cluster. Use "
                        f"more patches or fewer clusters.")
    if method == "random patches":
        return np.array(x[rng.choice(n, k, replace=False)], np.float32)
    if method != "k-means++":
        raise ValueError(f"Unknown initialisation {method!r}. Known: {', '.join(INITS)}.")
    # as scikit-learn: k-means++ on a few thousand rows; the passes that follow do the rest
    sample = min(n, sample or max(3 * k, 3 * 1024))
    rows = rng.choice(n, sample, replace=False) if sample < n else np.arange(n)
    xs = np.asarray(x[rows], np.float32)
    draws = rng.random((k, 2 + int(np.log(k))), np.float32)  # trials per pick as sklearn
    chosen = kmeans_ops().kmeans_plus_plus(ops.convert_to_tensor(xs),
                                           np.int32(rng.integers(len(xs))), draws)
    return xs[ops.convert_to_numpy(chosen)]


def inertia(x: np.ndarray, centers: np.ndarray, chunk: int = 65536) -> float:
    """Sum over rows of the squared distance to the nearest centroid."""
    from keras import ops

    assign = kmeans_ops().assign
    x = np.asarray(x, np.float32)
    c = ops.convert_to_tensor(np.asarray(centers, np.float32))
    return float(sum(float(np.sum(ops.convert_to_numpy(assign(x[i:i + chunk], c)[1])))
                     for i in range(0, len(x), chunk)))


@dataclass
class KMeansResult:
    centers: np.ndarray  # (K, d)
    counts: np.ndarray  # patches assigned to each centroid in the last pass
    inertia_history: list[float]  # mean squared distance per patch, each pass
    reseeded: int = 0  # empty clusters re-seeded over the run
    stopped: bool = False  # Stop was pressed: these are the centroids reached so far


def fit_kmeans(x: np.ndarray, k: int, *, init: str = "k-means++", batch_size: int = 4096,
               epochs: int = 10, rng: np.random.Generator | None = None,
               on_batch=None, on_epoch=None, checkpoint=None,
               centers: np.ndarray | None = None, counts: np.ndarray | None = None,
               history: list[float] | None = None) -> KMeansResult:
    """Mini-batch K-means (or Lloyd's full-batch iterations when batch_size >= len(x)).

    A centroid that got no patch during a pass is re-seeded with a patch drawn in
    proportion to its squared distance from its centroid (the worst-explained patches), so
    no cluster stays dead. Callbacks: on_batch(step, mean inertia per patch of the batch),
    on_epoch(epoch, mean inertia per patch, centers, counts of this pass, running counts
    of the mini-batch learning rates), checkpoint() to honour
    stop and pause. A resumed run passes the centers, the per-centroid counts (which set
    the mini-batch learning rates) and the inertia history reached: it goes on from the
    epoch after the history's last.
    """
    from keras import ops

    numpy = ops.convert_to_numpy
    rng = rng or np.random.default_rng(0)
    x = np.ascontiguousarray(x, np.float32)
    n = len(x)
    if centers is None:
        centers = initial_centers(x, k, init, rng)
    km = kmeans_ops()
    c = ops.convert_to_tensor(np.asarray(centers, np.float32))
    full = batch_size >= n
    xt = ops.convert_to_tensor(x)
    history = list(history or [])
    reseeded, step = 0, 0
    counts = np.zeros(k, np.float32) if counts is None else np.asarray(counts, np.float32)
    seen = counts
    try:
        for epoch in range(len(history), epochs):
            seen = np.zeros(k, np.float32)
            total, last_d2, last_rows = 0.0, None, None
            if full:
                sums, got = np.zeros_like(centers), np.zeros(k, np.float32)
                chunk = max(1, int(CHUNK_BYTES // (4 * max(k, 1))))
                d2_all = np.empty(n, np.float32)
                for i in range(0, n, chunk):
                    s, cnt, inert, d2 = km.accumulate(xt[i:i + chunk], c)
                    sums += numpy(s)
                    got += numpy(cnt)
                    total += float(numpy(inert))
                    d2_all[i:i + chunk] = numpy(d2)
                    if checkpoint:
                        checkpoint()
                # inertia measured with the centroids before this update: never increases
                c = ops.convert_to_tensor(np.where(
                    got[:, None] > 0, sums / np.maximum(got, 1)[:, None], numpy(c)
                ).astype(np.float32))
                counts, seen = got.copy(), got
                last_d2, last_rows = d2_all, np.arange(n)
                step += 1
                if on_batch:
                    on_batch(step, total / n)
            else:
                order = rng.permutation(n)
                for i in range(0, n, batch_size):
                    rows = np.sort(order[i:i + batch_size])
                    c, counts_t, inert, got, d2 = km.minibatch_step(
                        xt, rows.astype(np.int32), c, ops.convert_to_tensor(counts))
                    counts = numpy(counts_t)
                    seen += numpy(got)
                    inert = float(numpy(inert))
                    total += inert
                    last_d2, last_rows = numpy(d2), rows
                    step += 1
                    if on_batch:
                        on_batch(step, inert / len(rows))
                    if checkpoint:
                        checkpoint()
            empty = np.flatnonzero(seen == 0)
            centers = np.array(numpy(c))
            if len(empty) and last_d2 is not None:
                weights = last_d2.astype(np.float64)
                if weights.sum() <= 0:
                    weights = np.ones_like(weights)
                picks = rng.choice(last_rows, len(empty),
                                   replace=len(empty) > np.count_nonzero(weights),
                                   p=weights / weights.sum())
                centers[empty] = x[picks]
                live = counts[counts > 0]
                counts[empty] = live.min() if len(live) else 1.0
                reseeded += len(empty)
                c = ops.convert_to_tensor(centers)
            history.append(total / n)
            if on_epoch:
                on_epoch(epoch, total / n, centers, seen, counts)
    except StopRequested:
        return KMeansResult(np.array(numpy(c)), seen, history, reseeded, stopped=True)
    return KMeansResult(np.array(numpy(c)), seen, history, reseeded)
