"""The character model and the writer that runs it one character at a time.

The model reads a window of characters (as numbers), passes each through an embedding,
one or more recurrent layers (LSTM, GRU or a plain RNN) and a dense layer, and gives at
every position the logits of the next character. The `Writer` runs the same layers' cells
one step at a time, carrying their state, so that writing never re-reads the prefix.
"""
from __future__ import annotations

import math

import numpy as np

from nets import backend

CELLS = ("lstm", "gru", "rnn")
STATES = {"lstm": ("h", "c"), "gru": ("h",), "rnn": ("h",)}  # each cell's state vectors
LN2 = math.log(2.0)


def next_char_loss(y_true, y_pred):
    """Cross-entropy of the next character, in nats (natural log), from logits."""
    import keras

    return keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)


def bits_per_char(y_true, y_pred):
    """The same in bits: nats / ln 2."""
    return next_char_loss(y_true, y_pred) / LN2


def recurrent_layer(cell: str, units: int, name: str):
    import keras

    kind = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU,
            "rnn": keras.layers.SimpleRNN}[cell]
    return kind(units, return_sequences=True, name=name)


def build_model(config, alphabet_size: int):
    """Embedding -> `config.layers` recurrent layers -> logits of the next character."""
    import keras

    inputs = keras.Input((None,), dtype="int32", name="characters")
    x = keras.layers.Embedding(alphabet_size, config.embedding, name="embedding")(inputs)
    for i in range(config.layers):
        x = recurrent_layer(config.cell, config.units, f"{config.cell}_{i + 1}")(x)
    logits = keras.layers.Dense(alphabet_size, name="next_character")(x)
    model = keras.Model(inputs, logits, name=f"char_{config.cell}")
    model.compile(keras.optimizers.Adam(config.learning_rate, clipnorm=config.clip_norm),
                  next_char_loss, metrics=[keras.metrics.MeanMetricWrapper(
                      bits_per_char, name="bits_per_char")])
    return model


def recurrent_layers(model) -> list:
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]


def _stepper(model):
    """A Keras model over the training model's own layers (shared weights) that takes one
    character per row with the state of every layer, packed into one float row
    [character number, state...], and gives the next character's logits and the new
    state. One packed input compiles alike on every backend."""
    import keras

    layers = recurrent_layers(model)
    embed, head = model.get_layer("embedding"), model.get_layer("next_character")
    kind = cell_kind(model)
    units = layers[0].cell.units
    per_layer = len(STATES[kind])

    class Stepper(keras.Model):
        def call(self, x, training=False):
            h = embed(keras.ops.cast(x[:, 0], "int32"))
            new = []
            for k, layer in enumerate(layers):
                parts = [x[:, 1 + (k * per_layer + j) * units:
                           1 + (k * per_layer + j + 1) * units] for j in range(per_layer)]
                h, state = layer.cell(h, parts if per_layer > 1 else parts[0])
                new += list(state) if isinstance(state, (list, tuple)) else [state]
            return [head(h), keras.ops.concatenate(new, axis=-1)]

    stepper = Stepper()
    stepper.tracked = [embed, *layers, head]  # its variables, for compiled stateless calls
    state_size = len(layers) * per_layer * units
    stepper(np.zeros((1, 1 + state_size), np.float32))  # build before compiling
    return backend.predictor(stepper), state_size


def cell_kind(model) -> str:
    import keras

    cell = recurrent_layers(model)[0]
    return ("lstm" if isinstance(cell, keras.layers.LSTM) else
            "gru" if isinstance(cell, keras.layers.GRU) else "rnn")


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Probabilities from logits at a temperature; temperature 0 puts all on the likeliest."""
    logits = np.asarray(logits, np.float64)
    if temperature <= 0:
        p = np.zeros_like(logits)
        p[..., int(np.argmax(logits))] = 1.0
        return p
    z = logits / temperature
    z = np.exp(z - z.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


class Writer:
    """Writes with a trained character model one character at a time, carrying the
    recurrent state from step to step (never re-reading what it wrote). Not thread-safe:
    one thread uses it at a time."""

    def __init__(self, model, alphabet):
        self.alphabet = alphabet
        self.kind = cell_kind(model)
        self.layers = len(recurrent_layers(model))
        self.units = recurrent_layers(model)[0].cell.units
        self._step, self.state_size = _stepper(model)
        self.reset()

    def reset(self) -> None:
        self.state = np.zeros((1, self.state_size), np.float32)
        self.logits = None  # the next character's, once a character has been read

    def read(self, char_id: int) -> np.ndarray:
        """Take in one character; returns the logits of the next one."""
        packed = np.concatenate([[[float(char_id)]], self.state], axis=1).astype(np.float32)
        logits, self.state = self._step(packed)
        self.logits = np.asarray(logits[0], np.float64)
        return self.logits

    def read_text(self, text: str) -> None:
        for i in self.alphabet.encode(text):
            self.read(int(i))

    def write(self, count: int, temperature: float, rng: np.random.Generator):
        """The next `count` characters, each with the probability the model gave it
        (before the temperature): (text, [p])."""
        if self.logits is None:
            raise ValueError("Give the writer a first character to start from.")
        chars, chosen = [], []
        for _ in range(count):
            own = softmax(self.logits)
            if temperature > 0:
                i = int(rng.choice(len(own), p=softmax(self.logits, temperature)))
            else:
                i = int(np.argmax(self.logits))
            chars.append(self.alphabet.chars[i])
            chosen.append(float(own[i]))
            self.read(i)
        return "".join(chars), chosen

    def states(self) -> dict[str, np.ndarray]:
        """This step's state vectors by name ("layer 1 h", "layer 1 c", ...)."""
        names = [f"layer {k + 1} {s}" for k in range(self.layers) for s in STATES[self.kind]]
        parts = self.state[0].reshape(len(names), self.units)
        return dict(zip(names, parts))

    def trace(self, text: str) -> dict[str, np.ndarray]:
        """Read `text` from a fresh state; every state vector at every character, by name:
        (len(text), units) each."""
        self.reset()
        traced = {name: [] for name in self.states()}
        for i in self.alphabet.encode(text):
            self.read(int(i))
            for name, vector in self.states().items():
                traced[name].append(vector)
        return {k: np.asarray(v) for k, v in traced.items()}
