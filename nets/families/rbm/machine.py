"""The RBM as Keras sees it, and its contrastive-divergence update: an RBM layer (weights W,
visible biases b, hidden biases c; its call is the up-pass), the stack of them with a
softmax on top, and the CD-k / PCD step written with keras.ops, compiled for the backend
and run over many batches per call; the filters the tab shows.
"""
from __future__ import annotations

import numpy as np

from nets import backend
from nets.images import normalise_each


def rbm_layer_class():
    import keras
    from keras import ops

    class RBM(keras.layers.Layer):
        """One RBM: weights W (visible, hidden), visible biases b, hidden biases c. Its
        call is the up-pass p(h = 1 | v) = sigmoid(v W + c), so a stack of them is a
        sigmoid net (the deep belief net's recognition weights)."""

        def __init__(self, units: int, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            d = int(input_shape[-1])
            self.W = self.add_weight(shape=(d, self.units), name="W",
                                     initializer=keras.initializers.RandomNormal(0, 0.01))
            # contrastive divergence sets it; backprop (fine-tuning) never reaches it
            self.b = self.add_weight(shape=(d,), name="visible_bias", initializer="zeros",
                                     trainable=False)
            self.c = self.add_weight(shape=(self.units,), name="hidden_bias",
                                     initializer="zeros")

        def call(self, v):
            return ops.sigmoid(ops.matmul(v, self.W) + self.c)

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return RBM


def build_model(sizes: list[int], input_shape, classes: int, seed: int | None = None):
    """pixels -> an RBM of each size -> a softmax over the classes (named rbm1...,
    labels)."""
    import keras

    if seed is not None:
        keras.utils.set_random_seed(seed)
    RBM = rbm_layer_class()
    inputs = keras.Input(tuple(input_shape), name="image")
    x = keras.layers.Flatten(name="pixels")(inputs)
    for k, units in enumerate(sizes):
        x = RBM(units, name=f"rbm{k + 1}")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="labels")(x)
    return keras.Model(inputs, outputs, name="deep_belief_net")


def layers_of(model) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """[(W, b, c)] of each RBM of the stack, as numpy (first on the pixels)."""
    return [tuple(backend_numpy(v) for v in (layer.W, layer.b, layer.c))
            for layer in model.layers if layer.name.startswith("rbm")]


def set_rbm(model, k: int, W, b, c) -> None:
    layer = model.get_layer(f"rbm{k + 1}")
    for variable, value in ((layer.W, W), (layer.b, b), (layer.c, c)):
        variable.assign(np.asarray(value, np.float32))


CHUNK = 100  # batches per compiled call at most: at batch 10 on 784 x 100, one call per
#             batch cost three times the update's own work (0.22 s an epoch now, as
#             scikit-learn's BernoulliRBM)
RANDOM_BUDGET = 4_000_000  # uniform numbers drawn for one call at most (16 MB)


def make_cd_steps(k: int, persistent: bool):
    """steps(W, b, c, dW, db, dc, V, chain, UH, UV, lr, momentum, decay) -> (W, b, c, dW,
    db, dc, chain, mean reconstruction error): CD-k (or, `persistent`, PCD) updates with
    momentum and weight decay for each of the m batches of V (m, n, D) in turn, in one
    call compiled for the backend. The negative phase starts at each batch (CD) or at
    `chain` (n, D), the persistent chains (PCD), carried from batch to batch. UH (m, k, n,
    H) and UV (m, k, n, D) are uniform random numbers for the Gibbs steps, drawn in numpy
    so that the function is the same on every backend."""
    from keras import ops

    def update(W, b, c, dW, db, dc, v0, start, uh, uv, lr, momentum, decay):
        ph0 = ops.sigmoid(ops.matmul(v0, W) + c)
        v, ph = start, ops.sigmoid(ops.matmul(start, W) + c)
        for s in range(k):
            h = ops.cast(uh[s] < ph, "float32")
            v = ops.cast(uv[s] < ops.sigmoid(ops.matmul(h, ops.transpose(W)) + b), "float32")
            ph = ops.sigmoid(ops.matmul(v, W) + c)
        n = ops.cast(ops.shape(v0)[0], "float32")
        gW = (ops.matmul(ops.transpose(v0), ph0) - ops.matmul(ops.transpose(v), ph)) / n
        dW = momentum * dW + lr * (gW - decay * W)
        db = momentum * db + lr * ops.mean(v0 - v, axis=0)
        dc = momentum * dc + lr * ops.mean(ph0 - ph, axis=0)
        rebuilt = ops.sigmoid(ops.matmul(ph0, ops.transpose(W)) + b)
        error = ops.mean(ops.sum(ops.square(v0 - rebuilt), axis=1))
        return W + dW, b + db, c + dc, dW, db, dc, v, error

    def steps(W, b, c, dW, db, dc, V, chain, UH, UV, lr, momentum, decay):
        W, b, c, dW, db, dc, V, chain, UH, UV = (ops.convert_to_tensor(a) for a in (
            W, b, c, dW, db, dc, V, chain, UH, UV))  # numpy on the first call
        m = ops.shape(V)[0]

        def body(i, carry):
            *params, chain, total = carry
            v0 = V[i]
            *params, end, error = update(*params, v0, chain if persistent else v0, UH[i],
                                         UV[i], lr, momentum, decay)
            return (*params, end if persistent else chain, total + error)

        *out, total = ops.fori_loop(0, m, body, (W, b, c, dW, db, dc, chain,
                                                 ops.zeros((), "float32")))
        return (*out, total / ops.cast(m, "float32"))

    return backend.compiled(steps)


def chunks(order: np.ndarray, batch: int, size: int = CHUNK):
    """The indices of an epoch's batches, (m, batch) arrays of up to `size` batches, then
    the short last batch alone as (1, rest)."""
    full = len(order) // batch
    whole = order[:full * batch].reshape(full, batch)
    for i in range(0, full, size):
        yield whole[i:i + size]
    if len(order) % batch:
        yield order[full * batch:][None, :]


def filters(layers, shape, count: int = 100) -> np.ndarray:
    """The first `count` hidden units of the top layer as images: their weights, through
    the layers below by multiplying the weights (linear: an approximation for layer 2+)."""
    w = layers[0][0]
    for W, _, _ in layers[1:]:
        w = w @ W
    return normalise_each(w[:, :count].T.reshape(-1, *shape))


def backend_numpy(t) -> np.ndarray:
    import keras

    return keras.ops.convert_to_numpy(t)


def pixels_of(images: np.ndarray, how: str) -> np.ndarray:
    flat = images.reshape(len(images), -1).astype(np.float32)
    return (flat > 0.5).astype(np.float32) if how == "binarised" else flat
