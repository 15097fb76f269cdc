"""The recurrent nets of the "Why gates" family and the measurement it teaches with: how
much the loss at the end of a sequence feels each earlier step, ||dLoss/dh_t|| for
t = 1..T (the gradient that backpropagation through time carries back to step t).

Keras layers and keras.ops only. The gradient with respect to a hidden state is not a
weight's gradient, so the probe runs the trained cell inside a twin that adds a
perturbation e_t to h_t at every step (zero: nothing changes) and asks for dLoss/de_t,
which is dLoss/dh_t (through nets.backend.gradients, on every backend).
"""
from __future__ import annotations

import numpy as np

from nets import backend

CELLS = {"rnn": "plain RNN", "lstm": "LSTM", "gru": "GRU"}


def layer_name(cell: str, length: int) -> str:
    return f"{cell}_{length}"


def recurrent_layer(cell: str, units: int, name: str):
    import keras

    kind = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM,
            "gru": keras.layers.GRU}[cell]
    return kind(units, name=name)


def build_model(cell: str, length: int, task, units: int):
    """input (any number of steps) -> one recurrent layer -> a Dense head (logits of the
    symbols, or the sum), named after its cell and the length it learns."""
    import keras

    name = layer_name(cell, length)
    inputs = keras.Input((None, task.features), name="sequence")
    h = recurrent_layer(cell, units, name)(inputs)
    out = keras.layers.Dense(task.outputs, name=f"{name}_out")(h)
    return keras.Model(inputs, out, name=name)


def combined(models: list):
    """One Keras model holding several trained nets (their layers shared, not copied):
    what is saved. One output per net, in order."""
    import keras

    inputs = keras.Input((None, models[0].input_shape[-1]), name="sequence")
    outs = [m.layers[-1](m.layers[-2](inputs)) for m in models]
    return keras.Model(inputs, outs, name="gates")


def loss_fn(task):
    """loss(call, x, y) for backend.gradient_step: cross-entropy of the symbol's logits,
    or the squared error of the sum."""
    import keras
    from keras import ops

    if task.classifies:
        def loss(call, x, y):
            return ops.mean(keras.losses.sparse_categorical_crossentropy(
                y, call(x), from_logits=True))
    else:
        def loss(call, x, y):
            return ops.mean(ops.square(ops.reshape(call(x), (-1,)) - y))
    return loss


def _perturbed_cell_class():
    import keras

    class PerturbedCell(keras.layers.Layer):
        """A recurrent cell whose every step's output (and hidden state) has e_t added;
        e_t comes in with the step's input, as its last `units` numbers."""

        def __init__(self, cell, **kwargs):
            super().__init__(**kwargs)
            self.cell = cell
            self.state_size = cell.state_size
            self.output_size = cell.units

        def build(self, input_shape):
            self.built = True  # the wrapped cell is built and trained already

        def call(self, inputs, states, training=False):
            x, e = inputs[:, :-self.cell.units], inputs[:, -self.cell.units:]
            h, new_states = self.cell(x, states, training=training)
            h = h + e
            if isinstance(new_states, (list, tuple)):
                new_states = [h, *new_states[1:]]
            else:
                new_states = h
            return h, new_states

    return PerturbedCell


def _perturbation_layer_class():
    import keras
    from keras import ops

    class Perturbation(keras.layers.Layer):
        """Appends a zero vector e_t (a weight, so that its gradient can be asked for)
        to every step of a fixed batch of `n` sequences of `length` steps."""

        def __init__(self, n: int, length: int, units: int, **kwargs):
            super().__init__(**kwargs)
            self.e = self.add_weight(shape=(n, length, units), initializer="zeros",
                                     name="e")

        def call(self, x):
            return ops.concatenate([x, ops.cast(self.e, x.dtype)], axis=-1)

    return Perturbation


class GradientThroughTime:
    """||dLoss/dh_t|| for t = 1..T on one fixed batch: the mean over its sequences of the
    norm of each sequence's own gradient, for the net `model` (build_model's) as it is
    now. The weights are not changed."""

    def __init__(self, model, task, x: np.ndarray, y: np.ndarray):
        import keras

        self.x = np.asarray(x, np.float32)
        self.y = np.asarray(y)
        n, length, _ = self.x.shape
        rnn_layer, head = model.layers[-2], model.layers[-1]
        units = rnn_layer.cell.units
        inputs = keras.Input((length, task.features), batch_size=n)
        joined = _perturbation_layer_class()(n, length, units, name="perturbation")(inputs)
        h = keras.layers.RNN(_perturbed_cell_class()(rnn_layer.cell))(joined)
        self.twin = keras.Model(inputs, head(h))
        self.index = next(i for i, v in enumerate(self.twin.trainable_variables)
                          if v.path.endswith("perturbation/e"))
        self.grads = backend.gradients(self.twin, loss_fn(task))
        self.n = n

    def norms(self) -> np.ndarray:
        _, grads = self.grads(self.x, self.y)
        g = grads[self.index] * self.n  # the batch's loss is a mean: one sequence's own
        return np.linalg.norm(g, axis=-1).mean(axis=0)


def accuracy(predict, task_key: str, x: np.ndarray, y: np.ndarray) -> float:
    from nets.families.gates.tasks import correct

    outs = np.concatenate([np.asarray(predict(x[i:i + 512]))
                           for i in range(0, len(x), 512)])
    return float(correct(task_key, outs, y).mean())
