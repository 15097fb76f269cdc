"""K-means dictionary learning and single-layer image features (Coates, Lee & Ng 2011).

Cut W x W patches from the training images, normalise and (optionally) ZCA-whiten them,
cluster them with mini-batch K-means into K centroids: the dictionary. An image is then
described by its patches (stride S): each patch becomes a K-vector, hard (1 for the
nearest centroid) or triangle (f_k = max(0, mean(z) - z_k), z_k the distance to centroid
k), summed over the four quadrants of the image into 4K features, and a linear classifier
is trained on those. The clustering runs in Keras ops, so on the GPU when there is one.
The paper clustered with full-batch K-means from random centroids; here it is mini-batch
K-means (Sculley 2010) from k-means++ (Arthur & Vassilvitskii 2007) by default.
"""
from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass

import numpy as np

from nets import patches as P
from nets import storage
from nets.config import param
from nets.data import DataError
from nets.registry import Family
from nets.progress import (Artifact, BatchMetrics, Done, EpochMetrics, ImageEvent, Log,
                           Started, StopRequested)

ENCODINGS = ("triangle", "hard")
INITS = ("k-means++", "random patches")
CHUNK_BYTES = 64 * 2 ** 20  # working memory per chunk of rows or images


@dataclass
class Config:
    mode: str = param("single run", "Mode", "single run: one dictionary and one classifier. "
                      "study: the grid of K values x hard/triangle x whitening on/off, as in "
                      "the paper's figures.", choices=("single run", "study"))
    patch_size: int = param(6, "Patch size W", "Width of the square patches, in pixels "
                            "(Coates et al. found 6 to 8 best on CIFAR-10).", minimum=2,
                            maximum=32)
    patches: int = param(100_000, "Patches", "Random patches taken from the training images "
                         "to learn the dictionary; at most as many as there are different "
                         "ones (a patch as large as the image is the whole image: one per "
                         "image).", minimum=100, maximum=2_000_000)
    whiten: bool = param(True, "ZCA whitening", "Decorrelate the pixels of the patches "
                         "first. Without it, K-means mostly learns blurry blobs.")
    whiten_epsilon: float = param(0.1, "Whitening epsilon", "Added to each variance before "
                                  "whitening: larger keeps noise from being amplified.",
                                  minimum=1e-5, maximum=10.0, decimals=5,
                                  when=("whiten", (True,)))
    clusters: int = param(400, "Clusters K", "Number of centroids: the size of the "
                          "dictionary. Each image gets 4K features.", minimum=2,
                          maximum=8000)
    init: str = param("k-means++", "Initialisation", "k-means++ spreads the first centroids "
                      "out (far points are likelier picks); random patches picks them "
                      "anywhere.", choices=INITS)
    kmeans_batch: int = param(4096, "K-means batch", "Patches per mini-batch update. At "
                              "least the number of patches: exact full-batch (Lloyd) "
                              "iterations.", minimum=16, maximum=2_000_000)
    kmeans_epochs: int = param(10, "K-means passes", "Passes over the patches.",
                               minimum=1, maximum=500)
    stride: int = param(1, "Stride S", "Step between patches when describing an image.",
                        minimum=1, maximum=16)
    encoding: str = param("triangle", "Encoding", "triangle: how much closer than average a "
                          "patch is to each centroid (soft). hard: 1 for the nearest "
                          "centroid, 0 elsewhere.", choices=ENCODINGS,
                          when=("mode", ("single run",)))
    classifier_epochs: int = param(30, "Classifier epochs", "Passes of the linear "
                                   "classifier over the training features.", minimum=1,
                                   maximum=500)
    l2: float = param(1e-3, "L2 penalty", "Weight decay of the linear classifier: against "
                      "overfitting the 4K features.", minimum=0.0, maximum=1.0,
                      decimals=6)
    study_clusters: str = param("50,100,200,400,800", "Study: K values", "Study mode: the "
                                "numbers of clusters to compare, separated by commas.",
                                when=("mode", ("study",)))


def study_values(text: str) -> list[int]:
    try:
        values = sorted({int(v) for v in text.replace(";", ",").split(",") if v.strip()})
    except ValueError:
        raise DataError(f"Study K values must be whole numbers separated by commas (got "
                        f"{text!r}).") from None
    if not values or min(values) < 2 or max(values) > 8000:
        raise DataError("Study K values must be between 2 and 8000.")
    return values


# ---------------------------------------------------------------- K-means in Keras ops
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
        raise DataError(f"K = {k} clusters is more than the {n} patches to cluster. Use "
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
               centers: np.ndarray | None = None) -> KMeansResult:
    """Mini-batch K-means (or Lloyd's full-batch iterations when batch_size >= len(x)).

    A centroid that got no patch during a pass is re-seeded with a patch drawn in
    proportion to its squared distance from its centroid (the worst-explained patches), so
    no cluster stays dead. Callbacks: on_batch(step, mean inertia per patch of the batch),
    on_epoch(epoch, mean inertia per patch, centers, counts), checkpoint() to honour
    stop and pause.
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
    history, reseeded, step = [], 0, 0
    counts = np.zeros(k, np.float32)
    seen = counts
    try:
        for epoch in range(epochs):
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
                on_epoch(epoch, total / n, centers, seen)
    except StopRequested:
        return KMeansResult(np.array(numpy(c)), seen, history, reseeded, stopped=True)
    return KMeansResult(np.array(numpy(c)), seen, history, reseeded)


# ---------------------------------------------------------------- patch features
def triangle_encode(d2):
    """f_k = max(0, mean_j(z_j) - z_k) with z_k the distance to centroid k (per row)."""
    from keras import ops

    z = ops.sqrt(d2)
    return ops.relu(ops.mean(z, axis=1, keepdims=True) - z)


def hard_encode(d2):
    """1 for the nearest centroid, 0 for the others."""
    from keras import ops

    return ops.one_hot(nearest(d2)[0], ops.shape(d2)[1], dtype="float32")


def patch_grid(images, size: int, stride: int):
    """Every size x size patch of (b, h, w, c) images: (b, rows, cols, size*size*c), each
    flattened in (row, column, channel) order as nets.patches cuts them. One gather of
    pixels: exact on every device (keras.ops.image.extract_patches is a convolution with
    an identity kernel, which TF32 hardware rounds) and faster for colour or large
    patches."""
    from keras import ops

    _, h, w, c = ops.shape(images)
    rows, cols = (h - size) // stride + 1, (w - size) // stride + 1
    offsets = np.arange(size)
    ys = np.arange(rows)[:, None, None, None] * stride + offsets[None, None, :, None]
    xs = np.arange(cols)[None, :, None, None] * stride + offsets[None, None, None, :]
    pixels = (ys * w + xs).reshape(-1).astype(np.int32)  # (rows, cols, size, size)
    patches = ops.take(ops.reshape(images, (-1, h * w, c)), pixels, axis=1)
    return ops.reshape(patches, (-1, rows, cols, size * size * c))


def pooled_features(images, centers, mean, whiten, *, size: int, stride: int,
                    encoding: str, epsilon: float = P.CONTRAST_EPSILON):
    """(b, h, w, c) images -> (b, 4K): patch codes summed over the four image quadrants.

    Every argument is a tensor but the keywords, so it can be compiled as it is."""
    from keras import ops

    p = patch_grid(ops.cast(images, "float32"), size, stride)
    _, rows, cols, d = ops.shape(p)
    k = ops.shape(centers)[0]
    p = p - ops.mean(p, axis=-1, keepdims=True)
    p = p / ops.sqrt(ops.mean(ops.square(p), axis=-1, keepdims=True) + epsilon)
    flat = ops.matmul(ops.reshape(p, (-1, d)) - mean, whiten)
    d2 = squared_distances(flat, centers)
    f = triangle_encode(d2) if encoding == "triangle" else hard_encode(d2)
    f = ops.reshape(f, (-1, rows, cols, k))
    hr, hc = (rows + 1) // 2, (cols + 1) // 2
    quads = [f[:, :hr, :hc], f[:, :hr, hc:], f[:, hr:, :hc], f[:, hr:, hc:]]
    return ops.concatenate([ops.sum(q, axis=(1, 2)) for q in quads], axis=1)


# ---------------------------------------------------------------- the model
def build_model(config: Config, input_shape, num_classes: int, encoding: str | None = None):
    """The whole pipeline as one Keras model: patches -> normalise -> whiten -> encode ->
    pool -> standardise -> softmax. The dictionary and whitening are non-trainable weights,
    so the standard .keras file holds them next to the classifier's."""
    import keras

    from nets.backend import compiled

    h, w, channels = (int(v) for v in input_shape)
    rows, cols = P.check_patch_size((h, w), config.patch_size, config.stride)
    d = config.patch_size ** 2 * channels
    k = config.clusters
    encoding = encoding or config.encoding

    class KMeansFeatures(keras.Model):
        def __init__(self):
            super().__init__(name="kmeans_features")
            fixed = dict(trainable=False, initializer="zeros")
            self.patch_mean = self.add_weight(shape=(d,), name="patch_mean", **fixed)
            self.whiten = self.add_weight(shape=(d, d), name="whiten", **fixed)
            self.unwhiten = self.add_weight(shape=(d, d), name="unwhiten", **fixed)
            self.centers = self.add_weight(shape=(k, d), name="centers", **fixed)
            self.feature_mean = self.add_weight(shape=(4 * k,), name="feature_mean", **fixed)
            self.feature_scale = self.add_weight(shape=(4 * k,), name="feature_scale",
                                                 trainable=False, initializer="ones")
            self.classifier = None
            if num_classes:
                self.classifier = keras.layers.Dense(
                    num_classes, activation="softmax", name="classifier",
                    kernel_regularizer=keras.regularizers.L2(config.l2))
                self.classifier.build((None, 4 * k))
            # the weights go in as arguments (a compiled function must not read Keras
            # variables itself), so it always sees their values of the moment
            self._pooled = compiled(functools.partial(
                pooled_features, size=config.patch_size, stride=config.stride,
                encoding=encoding))
            self.built = True  # every weight exists now; loading may begin

        def _features(self, images):
            return self._pooled(images, self.centers.value, self.patch_mean.value,
                                self.whiten.value)

        def features(self, images, standardise: bool = True):
            f = self._features(images)
            return (f - self.feature_mean) / self.feature_scale if standardise else f

        def call(self, images, training=False):
            f = self.features(images)
            return self.classifier(f) if self.classifier is not None else f

        def set_dictionary(self, whitening: P.Whitening, centers: np.ndarray) -> None:
            self.patch_mean.assign(whitening.mean)
            self.whiten.assign(whitening.matrix)
            self.unwhiten.assign(whitening.inverse)
            self.centers.assign(centers)

        def whitening(self) -> P.Whitening:
            numpy = keras.ops.convert_to_numpy
            return P.Whitening(numpy(self.patch_mean), numpy(self.whiten),
                               numpy(self.unwhiten))

    model = KMeansFeatures()
    model.layout = (rows, cols)
    model.patch_size = config.patch_size
    return model


def load(path):
    """A saved K-means model, rebuilt in code from its stored config; only weights are read."""
    from nets.runner import TrainedModel, read_saved

    meta, config, shape = read_saved(path, "kmeans", Config, "a K-means model")
    classes = meta.get("classes")
    if not isinstance(classes, list):
        raise storage.StorageError("The model description in the file has no classes.")
    try:
        model = build_model(config, shape, len(classes))
    except DataError as exc:
        raise storage.damaged_description(path, exc) from exc
    storage.load_weights(model, path)
    return TrainedModel(model, "kmeans", meta, list(meta.get("history", [])))


def feature_chunk(model) -> int:
    """Images per chunk while computing features: the patch codes of a chunk (and the
    temporaries next to them) stay within CHUNK_BYTES."""
    rows, cols = model.layout
    per_image = rows * cols * int(model.centers.shape[0]) * 4 * 3
    return max(1, min(512, CHUNK_BYTES // max(per_image, 1)))


def all_features(model, images: np.ndarray, on_chunk=None) -> np.ndarray:
    """Raw (unstandardised) features of many images, chunk by chunk."""
    from keras import ops

    chunk = feature_chunk(model)
    out = []
    for i in range(0, len(images), chunk):
        part = images[i:i + chunk]
        n = len(part)
        if i and n < chunk:  # the last chunk padded to the others' shape: compiled once
            part = np.concatenate([part, np.zeros((chunk - n,) + part.shape[1:],
                                                  part.dtype)])
        out.append(ops.convert_to_numpy(model.features(part, standardise=False))[:n])
        if on_chunk:
            on_chunk()
    return np.concatenate(out) if out else np.zeros((0, 4 * model.centers.shape[0]),
                                                    np.float32)


def dictionary_images(model, whitened: bool = False, order=None) -> np.ndarray:
    """The centroids as small images: un-whitened (what the patches look like) or as the
    algorithm sees them (whitened: edges stand out)."""
    from keras import ops

    centers = ops.convert_to_numpy(model.centers)
    if order is not None:
        centers = centers[order]
    if not whitened:
        centers = model.whitening().undo(centers)
    channels = centers.shape[1] // model.patch_size ** 2
    return P.as_images(centers, model.patch_size, channels)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> np.ndarray:
    m = np.zeros((classes, classes), np.int64)
    np.add.at(m, (y_true, y_pred), 1)
    return m


# ---------------------------------------------------------------- a run
def learn_dictionary(config: Config, x_train: np.ndarray, x_val: np.ndarray, model,
                     rng: np.random.Generator, reporter, *, live: bool = True
                     ) -> KMeansResult:
    """Sample, normalise and whiten patches, run K-means, store it all in `model`."""
    size = config.patch_size
    patches = P.normalise(P.draw_patches(x_train, size, config.patches, rng))
    whitening = (P.Whitening.fit(patches, config.whiten_epsilon) if config.whiten
                 else P.Whitening.identity(patches.shape[1]))
    patches = whitening.apply(patches)
    val = None
    if len(x_val):
        val = whitening.apply(P.normalise(P.draw_patches(
            x_val, size, min(20_000, max(config.patches // 5, 100)), rng)))
    if config.clusters > len(patches):
        raise DataError(f"K = {config.clusters} clusters is more than the {len(patches)} "
                        "patches to cluster. Use more patches or fewer clusters.")
    steps = config.kmeans_epochs * (1 if config.kmeans_batch >= len(patches) else
                                    int(np.ceil(len(patches) / config.kmeans_batch)))
    supply = P.supply_note(np.shape(x_train), size, config.patches)
    if live and supply:
        reporter.emit(Log(supply))
    if live:
        reporter.emit(Started(steps, f"Step 1 of 3: clustering {len(patches):,} "
                              f"{size}x{size} patches into K = {config.clusters} centroids.",
                              metric="inertia"))
    last_image = [0.0]

    def show(centers, counts=None, force=False):
        now = time.monotonic()
        if not live or (not force and now - last_image[0] < 0.5):
            return
        last_image[0] = now
        model.set_dictionary(whitening, centers)
        order = np.argsort(-counts, kind="stable") if counts is not None else None
        note = ("Centroids, most used first, un-whitened to look like image patches."
                if config.whiten else "Centroids, most used first.")
        reporter.emit(ImageEvent("centroids", dictionary_images(model, False, order),
                                 note=note))
        if config.whiten:
            reporter.emit(ImageEvent("centroids_whitened", dictionary_images(
                model, True, order), note="Centroids as K-means sees them, in the "
                "whitened space: edges and bars stand out."))

    def on_batch(step, value):
        if live:
            reporter.emit(BatchMetrics(step, 0, {"inertia": value}))

    def on_epoch(epoch, value, centers, counts):
        metrics = {"inertia": value}
        if val is not None:
            metrics["val_inertia"] = inertia(val, centers) / len(val)
        if live:
            reporter.emit(EpochMetrics(epoch, config.kmeans_epochs, metrics))
        show(centers, counts, force=True)

    result = fit_kmeans(patches, config.clusters, init=config.init,
                        batch_size=config.kmeans_batch, epochs=config.kmeans_epochs, rng=rng,
                        on_batch=on_batch, on_epoch=on_epoch,
                        checkpoint=reporter.controls.checkpoint)
    model.set_dictionary(whitening, result.centers)
    if result.reseeded:
        reporter.emit(Log(f"Re-seeded {result.reseeded} empty clusters with badly explained "
                          "patches."))
    return result


def train_classifier(model, config: Config, ds, reporter, *, live: bool = True):
    """Features of every image, standardised, then the softmax trained on them.

    Returns (Done of the fit, held-out accuracy or None, confusion matrix or None).
    """
    import keras

    from nets.runner import fit_keras, make_optimizer

    chunk = feature_chunk(model)
    steps = int(np.ceil(len(ds.x_train) / chunk)) + int(np.ceil(len(ds.x_val) / chunk))
    done_chunks = [0]

    def on_chunk():
        done_chunks[0] += 1
        if live:
            reporter.emit(BatchMetrics(done_chunks[0], 0, {}))
        reporter.controls.checkpoint()

    if live:
        reporter.emit(Started(steps, f"Step 2 of 3: describing {len(ds.x_train):,} + "
                              f"{len(ds.x_val):,} images by their patches (4 x "
                              f"{config.clusters} features each).", metric=""))
    f_train = all_features(model, ds.x_train, on_chunk)
    f_val = all_features(model, ds.x_val, on_chunk)
    # Standardise with the training features' statistics; +0.01 as in Coates et al.
    mean, scale = f_train.mean(0), np.sqrt(f_train.var(0) + 0.01)
    model.feature_mean.assign(mean)
    model.feature_scale.assign(scale)
    f_train, f_val = (f_train - mean) / scale, (f_val - mean) / scale
    clf = keras.Sequential([keras.Input((f_train.shape[1],)), model.classifier],
                           name="linear_classifier")
    clf.compile(optimizer=make_optimizer("adam", 1e-3),
                loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    validation = (f_val, ds.y_val) if len(ds.y_val) else None
    if live:
        done = fit_keras(clf, family_key="kmeans", meta={}, x=f_train, y=ds.y_train,
                         validation=validation, epochs=config.classifier_epochs,
                         batch_size=128, reporter=reporter, autosave=False,
                         description="Step 3 of 3: training the linear classifier on the "
                                     "features.")
    else:
        clf.fit(f_train, ds.y_train, epochs=config.classifier_epochs, batch_size=128,
                verbose=0, callbacks=[_obey(reporter)])
        done = Done("finished")
    if not len(ds.y_val):
        return done, None, None
    guess = np.concatenate([keras.ops.convert_to_numpy(clf(f_val[i:i + 1024],
                                                           training=False)).argmax(1)
                            for i in range(0, len(f_val), 1024)])
    return (done, float((guess == ds.y_val).mean()),
            confusion_matrix(ds.y_val, guess, ds.num_classes))


def _obey(reporter):
    """A Keras callback that honours Stop and Pause after every batch."""
    import keras

    class Obey(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            reporter.controls.checkpoint()

    return Obey()


def train(request, reporter):
    from nets.runner import TrainedModel, config_meta, prepare

    prep = prepare(request, reporter, Config)
    config, ds = prep.config, prep.dataset
    if config.mode == "study":
        return run_study(config, ds, request.seed, reporter)
    rng = np.random.default_rng(request.seed)
    model = build_model(config, ds.input_shape, ds.num_classes)
    meta = config_meta(request, classes=ds.class_names, input_shape=list(ds.input_shape),
                       dataset_description=ds.description, classifier_trained=False)
    t0 = time.monotonic()
    result = learn_dictionary(config, ds.x_train, ds.x_val, model, rng, reporter)
    trained = TrainedModel(model, "kmeans", meta,
                           [{"inertia": v} for v in result.inertia_history])
    reporter.emit(Artifact("model", model))
    if result.stopped:
        return Done("stopped", f"Stopped by you while clustering, after "
                    f"{len(result.inertia_history)} passes: the centroids so far are kept; "
                    "there is no classifier.", result=trained)
    if not ds.num_classes:
        return Done("finished", f"Learnt {config.clusters} centroids in "
                    f"{time.monotonic() - t0:.1f} s. The {ds.description} have no classes, "
                    "so there is nothing to classify.", result=trained)
    try:
        done, accuracy, confusion = train_classifier(model, config, ds, reporter)
    except StopRequested:
        return Done("stopped", "Stopped by you while describing the images: the centroids "
                    "are kept; there is no classifier.", result=trained)
    meta["classifier_trained"] = done.status == "finished"
    if done.status == "failed":
        return dataclasses.replace(done, result=trained)
    words = ""
    if accuracy is not None:
        meta["accuracy"] = accuracy
        reporter.emit(Artifact("confusion", (confusion, list(ds.class_names), accuracy)))
        words = f" Held-out accuracy {accuracy:.1%} ({len(ds.y_val):,} images)."
    lead = "Stopped by you during the classifier's training" \
        if done.status == "stopped" else "Done"
    return Done(done.status, f"{lead} after {time.monotonic() - t0:.1f} s: K = "
                f"{config.clusters}, {config.encoding} encoding, {4 * config.clusters:,} "
                f"features per image.{words}", result=trained,
                headline=f"Held-out accuracy: {accuracy:.1%}" if accuracy is not None
                else "")


# ---------------------------------------------------------------- the study
def run_study(config: Config, ds, seed: int, reporter) -> Done:
    """The paper's comparison on this dataset: every K x {hard, triangle} x whitening
    {off, on}, each dictionary learnt from the same patches and scored on held-out data."""
    import keras

    if not ds.num_classes or not len(ds.y_val):
        raise DataError("The study compares held-out accuracy, so it needs a dataset with "
                        "classes and held-out images (the sample photos have none).")
    ks = study_values(config.study_clusters)
    cells = len(ks) * 2 * len(ENCODINGS)
    reporter.emit(Started(cells, f"Study: {cells} runs (K in {ks}, hard and triangle, "
                          "with and without whitening), each scored on held-out images.",
                          metric=""))
    rows: list[dict] = []
    reporter.emit(Artifact("study", []))  # an empty table to fill
    try:
        for whiten in (False, True):
            for k in ks:
                cfg = dataclasses.replace(config, whiten=whiten, clusters=k)
                t0 = time.monotonic()
                # the same seed for every cell: every dictionary sees the same patches
                rng = np.random.default_rng(seed)
                models = {e: build_model(cfg, ds.input_shape, ds.num_classes, e)
                          for e in ENCODINGS}
                first = models[ENCODINGS[0]]
                learn_dictionary(cfg, ds.x_train, ds.x_val, first, rng, reporter,
                                 live=False)
                dictionary_seconds = time.monotonic() - t0
                for encoding, model in models.items():
                    t1 = time.monotonic()
                    model.set_dictionary(first.whitening(),
                                         keras.ops.convert_to_numpy(first.centers))
                    _, accuracy, _ = train_classifier(model, cfg, ds, reporter, live=False)
                    row = {"K": k, "whiten": whiten, "encoding": encoding,
                           "accuracy": accuracy,
                           "seconds": dictionary_seconds + time.monotonic() - t1}
                    rows.append(row)
                    reporter.emit(Artifact("study_row", row))
                    reporter.emit(BatchMetrics(len(rows), 0, {}))
                    reporter.emit(Log(f"K = {k}, {encoding}, whitening "
                                      f"{'on' if whiten else 'off'}: held-out accuracy "
                                      f"{accuracy:.1%}"))
    except StopRequested:
        reporter.emit(Artifact("study", rows))
        return Done("stopped", f"Stopped by you after {len(rows)} of {cells} runs.")
    reporter.emit(Artifact("study", rows))
    reporter.emit(Log("Held-out accuracy (rows: K; columns: encoding, whitening):\n"
                      + study_table(rows)))
    best = max(rows, key=lambda r: r["accuracy"])
    return Done("finished", f"Study done: best {best['accuracy']:.1%} with K = {best['K']}, "
                f"{best['encoding']} encoding, whitening {'on' if best['whiten'] else 'off'}.",
                headline=f"Best held-out accuracy: {best['accuracy']:.1%}")


def study_table(rows: list[dict]) -> str:
    """The study's accuracies as a text table, one row per K."""
    columns = [(e, w) for w in (False, True) for e in ENCODINGS]
    head = "K      " + "".join(f"{e + (' +ZCA' if w else ''):>16s}" for e, w in columns)
    lines = [head]
    for k in sorted({r["K"] for r in rows}):
        cells = []
        for e, w in columns:
            hit = [r for r in rows if r["K"] == k and r["encoding"] == e and r["whiten"] == w]
            cells.append(f"{hit[0]['accuracy']:>15.1%} " if hit else f"{'':>16s}")
        lines.append(f"{k:<7d}" + "".join(cells))
    return "\n".join(lines)


FAMILY = Family(key="kmeans", title="K-means",
                summary="Cluster image patches into a dictionary, describe images by it, "
                        "and classify them with a linear model.",
                config=Config, train=train, load=load,
                datasets=("mnist", "mnist-5k", "mnist-full", "fashion-mnist", "cifar10", "photos"),
                length_field="kmeans_epochs", can_resume=False)
