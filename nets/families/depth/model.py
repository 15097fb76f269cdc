"""The deep classifier of the "Why deep nets stalled" family and the two measurements it
teaches with: each layer's gradient norm on a fixed probe batch, and each layer's relative
weight change over an epoch. Keras layers and keras.ops only (the gradients come from
nets.backend)."""
from __future__ import annotations

import numpy as np

from nets import backend

SMALL_STD = 0.1  # "small random weights": N(0, 0.1^2), the habit before 2010
# Glorot & Bengio's normalised initialisation keeps the variance of activations and
# gradients the same from layer to layer for a unit whose slope at 0 is 1 (tanh). A
# sigmoid's slope at 0 is 1/4, so its weights are made 4 times larger (16 times the
# variance), as the deeplearning.net tutorials derived from the paper; without that factor
# a 5-layer sigmoid net's gradient still falls ~3-4x per layer (benchmarks/depth.py).
GLOROT_GAIN = {"sigmoid": 4.0, "tanh": 1.0, "relu": 1.0}


def initializer(init: str, activation: str):
    import keras

    if init == "small":
        return keras.initializers.RandomNormal(stddev=SMALL_STD)
    if init == "glorot":
        gain = GLOROT_GAIN.get(activation, 1.0)
        return keras.initializers.VarianceScaling(gain ** 2, mode="fan_avg",
                                                  distribution="uniform")
    raise ValueError(f"Unknown initialisation '{init}'. Known: small, glorot.")


def build_model(config, input_shape, classes: int):
    """input -> hidden_layers x (Dense [-> batch norm] -> activation) -> softmax, compiled
    with plain SGD (no momentum: what the 1990s used, and the most honest view of how big
    each layer's gradient is). The Dense layers are named hidden1 ... and output."""
    import keras
    from keras import layers

    inputs = keras.Input(tuple(input_shape), name="image")
    x = layers.Flatten(name="flatten")(inputs)
    for k in range(config.hidden_layers):
        dense = layers.Dense(config.width, name=f"hidden{k + 1}",
                             kernel_initializer=initializer(config.init, config.activation),
                             # batch norm's shift does a bias's work
                             use_bias=not config.batch_norm)
        x = dense(x)
        if config.batch_norm:
            x = layers.BatchNormalization(name=f"norm{k + 1}")(x)
        x = layers.Activation(config.activation, name=f"act{k + 1}")(x)
    outputs = layers.Dense(classes, activation="softmax", name="output",
                           kernel_initializer=initializer(config.init, config.activation))(x)
    model = keras.Model(inputs, outputs, name="deep_mlp")
    # compiled only so that the optimizer's state is saved with the weights
    model.compile(optimizer=keras.optimizers.SGD(config.learning_rate, momentum=0.0))
    return model


def dense_layers(model) -> list:
    """The Dense layers, from the input's side to the output."""
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def layer_names(model) -> list[str]:
    return [layer.name for layer in dense_layers(model)]


def kernels(model) -> list[np.ndarray]:
    return [np.array(layer.kernel) for layer in dense_layers(model)]


def cross_entropy(call, x, y):
    """The mean cross-entropy of a batch (loss_fn of backend.gradient_step/gradients)."""
    import keras
    from keras import ops

    return ops.mean(keras.losses.sparse_categorical_crossentropy(y, call(x)))


class GradientProbe:
    """||dLoss/dW|| of each Dense layer's weight matrix on one fixed batch, computed
    without changing the weights (in inference mode: batch norm uses its running
    statistics, see calibrate_batch_norm)."""

    def __init__(self, model, x: np.ndarray, y: np.ndarray):
        self.model = model
        self.x = np.asarray(x, np.float32)
        self.y = np.asarray(y, np.int32)
        self.grads = backend.gradients(model, cross_entropy)
        variables = model.trainable_variables
        kernel_ids = {id(layer.kernel) for layer in dense_layers(model)}
        self.index = [i for i, v in enumerate(variables) if id(v) in kernel_ids]

    def norms(self) -> np.ndarray:
        _, grads = self.grads(self.x, self.y)
        return np.array([float(np.linalg.norm(grads[i])) for i in self.index])


def relative_change(before: list[np.ndarray], after: list[np.ndarray]) -> np.ndarray:
    """||W_after - W_before|| / ||W_before|| for each layer."""
    return np.array([float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-12))
                     for b, a in zip(before, after)])


def calibrate_batch_norm(model, x: np.ndarray) -> None:
    """Set each batch-norm layer's running mean and variance to the statistics of x as it
    reaches that layer. Keras starts them at 0 and 1, which is not what a fresh network's
    batches look like; the gradient probe runs in inference mode, so without this the
    first bars of a batch-norm net would show a network without it. Training then moves
    the running statistics on as usual."""
    import keras
    from keras import ops

    h = ops.convert_to_tensor(np.asarray(x, np.float32))
    for layer in model.layers[1:]:
        if isinstance(layer, keras.layers.BatchNormalization):
            values = ops.convert_to_numpy(h)
            layer.moving_mean.assign(values.mean(axis=0))
            layer.moving_variance.assign(values.var(axis=0))
        h = layer(h, training=False)


def accuracy_and_loss(predict, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Accuracy and mean cross-entropy of the model behind `predict` (backend.predictor)."""
    probs = np.concatenate([np.asarray(predict(x[i:i + 1024]), np.float64)
                            for i in range(0, len(x), 1024)])
    picked = np.clip(probs[np.arange(len(y)), y], 1e-7, 1.0)
    return float((probs.argmax(1) == y).mean()), float(-np.log(picked).mean())
