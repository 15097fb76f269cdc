"""Describing images by a dictionary: patches cut on a grid, encoded against the
centroids (hard or triangle), pooled over the four quadrants; and the whole pipeline as one
Keras model whose .keras file holds the dictionary, the whitening and the classifier."""
from __future__ import annotations

import functools

import numpy as np

from nets import patches as P

from .clustering import CHUNK_BYTES, nearest, squared_distances

ENCODINGS = ("triangle", "hard")


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
def build_model(config, input_shape, num_classes: int, encoding: str | None = None):
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
