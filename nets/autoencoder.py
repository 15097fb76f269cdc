"""Autoencoders: plain, stacked (greedy layer-wise, then fine-tuned), and denoising.

An autoencoder maps an input X through a code Z and back to X', trained by gradient
descent on the reconstruction cost C(X) = ||X' - X||^2 (here its mean over pixels). Each
hidden unit is shown as the input that activates it most under a unit-norm constraint,
x_j = W_ij / sqrt(sum_j W_ij^2). The lesson ends by putting a softmax on the learnt code
and training it with few labels, next to the same network from random weights.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nets import storage
from nets.config import (batch_size_param, epochs_param, learning_rate_param,
                          optimizer_param, param)
from nets.progress import Artifact, Done, ImageEvent, Log

TITLE = "Autoencoders"
SUMMARY = "Learn features without labels: plain, stacked and denoising autoencoders."

CORRUPTIONS = ("masking", "gaussian", "salt_and_pepper")
CAN_RESUME = False  # staged runs have no single model to resume into yet


@dataclass
class Config:
    kind: str = param("plain", "Kind", "plain: one hidden layer. stacked: layers trained "
                      "one at a time, then together. denoising: learns to undo corruption.",
                      choices=("plain", "stacked", "denoising"))
    hidden: int = param(196, "Hidden units", "Size of the code (first hidden layer). More "
                        "units than pixels (784) makes it overcomplete.", minimum=1,
                        maximum=4096)
    layers: int = param(2, "Stacked layers", "Hidden layers of a stacked autoencoder; each "
                        "has half the units of the one below.", minimum=2, maximum=3,
                        when=("kind", ("stacked",)))
    activation: str = param("sigmoid", "Non-linearity", "Activation of the hidden units.",
                            choices=("sigmoid", "tanh", "relu"))
    corruption: str = param("masking", "Corruption", "Denoising only: how inputs are "
                            "damaged. masking zeroes pixels, gaussian adds noise, "
                            "salt_and_pepper sets pixels to 0 or 1.", choices=CORRUPTIONS,
                            when=("kind", ("denoising",)))
    corruption_level: float = param(0.3, "Corruption level", "Denoising only: fraction of "
                                    "pixels damaged (noise std for gaussian).", minimum=0.0,
                                    maximum=1.0, step=0.05, decimals=2,
                                    when=("kind", ("denoising",)))
    optimizer: str = optimizer_param()
    learning_rate: float = learning_rate_param(0.002)
    batch_size: int = batch_size_param(64)
    epochs: int = epochs_param(10, "Passes over the training set (per stage when "
                                   "stacked).")
    few_labels: int = param(100, "Labels for the classifier", "After training: a softmax on "
                            "the code trained with this many labelled digits, against the "
                            "same net from random weights (0 skips it).", minimum=0,
                            maximum=4000)


def layer_sizes(config: Config) -> list[int]:
    if config.kind != "stacked":
        return [config.hidden]
    return [max(1, config.hidden // 2 ** k) for k in range(config.layers)]


# ---------------------------------------------------------------- corruption
def corrupt(x, kind: str, level: float, seed=None):
    """Damage a batch (keras ops, so it runs inside training graphs as well as on numpy)."""
    import keras
    from keras import ops

    x = ops.convert_to_tensor(x, "float32")
    if level <= 0:
        return x
    if seed is None or isinstance(seed, int):
        # an int seed would give every draw below the same numbers: salt would then fall
        # exactly on the hit pixels
        seed = keras.random.SeedGenerator(seed)
    if kind == "gaussian":
        return ops.clip(x + level * keras.random.normal(ops.shape(x), seed=seed), 0.0, 1.0)
    hit = keras.random.uniform(ops.shape(x), seed=seed) < level
    if kind == "masking":
        return ops.where(hit, 0.0, x)
    if kind == "salt_and_pepper":
        salt = keras.random.uniform(ops.shape(x), seed=seed) < 0.5
        return ops.where(hit, ops.where(salt, 1.0, 0.0), x)
    raise ValueError(f"Unknown corruption '{kind}'. Known: {', '.join(CORRUPTIONS)}.")


def _corruption_layer(kind: str, level: float):
    import keras

    class Corrupt(keras.layers.Layer):
        """Corrupts its input while training; passes it through untouched otherwise."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed = keras.random.SeedGenerator(1)

        def call(self, x, training=False):
            return corrupt(x, kind, level, self.seed) if training else x

    return Corrupt(name="corrupt")


# ---------------------------------------------------------------- models
class Autoencoder:
    """The layers of an autoencoder and the Keras models made of them.

    `model` is the whole network (pixels -> code(s) -> pixels). For a stacked autoencoder,
    `stage(k)` is the one-hidden-layer autoencoder of layer k alone, sharing its weights,
    trained on the codes of the layers below it.
    """

    def __init__(self, config: Config, input_shape):
        import keras
        from keras import layers

        self.config = config
        self.input_shape = tuple(input_shape)
        pixels = int(np.prod(input_shape))
        sizes = layer_sizes(config)
        self.sizes = sizes
        self.encoders = [layers.Dense(n, activation=config.activation, name=f"encode{k + 1}")
                         for k, n in enumerate(sizes)]
        below = [pixels] + sizes[:-1]
        self.decoders = [layers.Dense(below[k], name=f"decode{k + 1}",
                                      activation="sigmoid" if k == 0 else config.activation)
                         for k in range(len(sizes))]
        inputs = keras.Input(self.input_shape, name="image")
        x = layers.Flatten(name="flatten")(inputs)
        if config.kind == "denoising":
            x = _corruption_layer(config.corruption, config.corruption_level)(x)
        for enc in self.encoders:
            x = enc(x)
        for dec in reversed(self.decoders):
            x = dec(x)
        outputs = layers.Reshape(self.input_shape, name="image_out")(x)
        self.model = keras.Model(inputs, outputs, name=f"{config.kind}_autoencoder")
        compile_model(self.model, config)

    def stage(self, k: int):
        """Layer k's own autoencoder: codes of layer k-1 -> layer k -> back."""
        import keras

        width = self.decoders[k].units
        inputs = keras.Input((width,))
        m = keras.Model(inputs, self.decoders[k](self.encoders[k](inputs)), name=f"stage{k + 1}")
        compile_model(m, self.config)
        return m

    def codes_below(self, x: np.ndarray, k: int) -> np.ndarray:
        """The input of layer k: pixels for k = 0, else the codes of layer k - 1."""
        h = x.reshape(len(x), -1).astype(np.float32)
        for enc in self.encoders[:k]:
            h = np.concatenate([np.asarray(enc(h[i:i + 2048])) for i in range(0, len(h), 2048)])
        return h

    # ------------------------------------------------------------ what it learnt
    def features(self, layer: int = 0) -> np.ndarray:
        """Each unit of `layer` as the unit-norm input that activates it most, as images.

        Layer 0 uses x_j = W_ij / sqrt(sum_j W_ij^2). A deeper unit is shown through the
        layers below it, linearly: its weights multiplied by the weights beneath.
        """
        w = np.asarray(self.encoders[0].kernel)  # (pixels, units)
        for enc in self.encoders[1:layer + 1]:
            w = w @ np.asarray(enc.kernel)
        return norm_features(w).reshape(-1, *self.input_shape[:2])

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model(np.asarray(x, np.float32), training=False))

    def top_activating(self, x: np.ndarray, layer: int, unit: int, n: int = 8) -> np.ndarray:
        """Indices of the n images of x that drive one hidden unit hardest."""
        h = self.codes_below(x, layer + 1)[:, unit]
        return np.argsort(-h)[:n]


def norm_features(w: np.ndarray) -> np.ndarray:
    """(inputs, units) weights -> (units, inputs): each column divided by its norm."""
    norms = np.sqrt((w ** 2).sum(axis=0, keepdims=True))
    return (w / np.where(norms > 0, norms, 1)).T


def compile_model(model, config: Config):
    from nets.runner import make_optimizer

    model.compile(optimizer=make_optimizer(config.optimizer, config.learning_rate),
                  loss="mse")


# ---------------------------------------------------------------- few labels
def few_label_split(y: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Indices of n labelled examples, as even across classes as the data allows."""
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    per = max(1, n // len(classes))
    idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per] for c in classes])
    return rng.permutation(idx)[:n]


def classifier_on_code(ae: Autoencoder | None, config: Config, input_shape, classes: int):
    """A softmax on the encoder's code, the whole network then trained on the labels:
    from the autoencoder's encoder when given (pretrained), else from random weights.
    (Freezing the pretrained encoder was tried: with 100 labels it did worse.)"""
    import keras
    from keras import layers

    from nets.runner import make_optimizer

    fresh = ae is None
    ae = ae or Autoencoder(config, input_shape)
    inputs = keras.Input(tuple(input_shape))
    x = layers.Flatten()(inputs)
    for enc in ae.encoders:
        x = enc(x)
    outputs = layers.Dense(classes, activation="softmax", name="softmax")(x)
    model = keras.Model(inputs, outputs, name="scratch" if fresh else "pretrained")
    model.compile(optimizer=make_optimizer(config.optimizer, config.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def compare_few_labels(ae: Autoencoder, config: Config, ds, reporter, epochs: int = 60,
                       seed: int = 0) -> dict:
    """Held-out accuracy of pretrained-encoder vs from-scratch, both fine-tuned on the same
    few labels. The pretrained encoder is copied so the autoencoder itself is untouched."""
    import keras

    from nets.runner import seed_everything

    idx = few_label_split(ds.y_train, config.few_labels, seed)
    x, y = ds.x_train[idx], ds.y_train[idx]
    copy = Autoencoder(config, ae.input_shape)
    copy.model.set_weights(ae.model.get_weights())

    class Obey(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            reporter.controls.checkpoint()

    results = {"labels": len(idx)}
    for name, source in (("pretrained", copy), ("scratch", None)):
        seed_everything(seed)
        clf = classifier_on_code(source, config, ae.input_shape, ds.num_classes)
        clf.fit(x, y, epochs=epochs, batch_size=min(32, len(x)), verbose=0, callbacks=[Obey()])
        probs = np.concatenate([np.asarray(clf(ds.x_val[i:i + 1024], training=False))
                                for i in range(0, len(ds.x_val), 1024)])
        results[name] = float((probs.argmax(1) == ds.y_val).mean())
        reporter.emit(Log(f"Softmax on the code, {len(idx)} labels, {name}: held-out "
                          f"accuracy {results[name]:.1%}"))
    return results


# ---------------------------------------------------------------- training
def train(request, reporter):
    from nets.runner import TrainedModel, config_meta, fit_keras, prepare

    prep = prepare(request, reporter, Config, can_resume=CAN_RESUME)
    config, ds = prep.config, prep.dataset
    ae = Autoencoder(config, ds.input_shape)
    reporter.emit(Artifact("autoencoder", ae))
    reporter.emit(Artifact("held_out", (ds.x_val[:1000], ds.y_val[:1000])))
    meta = config_meta(request, classes=ds.class_names, input_shape=list(ds.input_shape),
                       dataset_description=ds.description)
    shown = ds.x_val[:16]
    shown_noisy = np.asarray(corrupt(shown, config.corruption, config.corruption_level, 7)) \
        if config.kind == "denoising" else shown

    def views(_model):
        layers = len(ae.encoders) if config.kind == "stacked" else 1
        events = [ImageEvent(f"features{k + 1}", display_features(ae.features(k)))
                  for k in range(layers)]
        rec = ae.reconstruct(shown_noisy)
        if config.kind == "denoising":
            triples = np.stack([shown, shown_noisy, rec], 1).reshape(-1, *shown.shape[1:])
            events.append(ImageEvent("reconstructions", _squeeze(triples),
                                     note="Each triple: clean, corrupted, reconstructed."))
        else:
            pairs = np.stack([shown, rec], 1).reshape(-1, *shown.shape[1:])
            events.append(ImageEvent("reconstructions", _squeeze(pairs),
                                     note="Each pair: a held-out digit and its "
                                          "reconstruction."))
        return events

    x, xv = ds.x_train, ds.x_val
    validation = (xv, xv) if len(xv) else None
    what = {"plain": "an autoencoder", "stacked": "a stacked autoencoder",
            "denoising": f"a denoising autoencoder ({config.corruption} "
                         f"{config.corruption_level:g})"}[config.kind]
    if config.kind != "stacked":
        done = fit_keras(ae.model, family_key="autoencoder", meta=meta, x=x, y=x,
                         validation=validation, epochs=config.epochs,
                         batch_size=config.batch_size, reporter=reporter, images=views,
                         autosave=request.autosave,
                         description=f"Training {what} on {ds.description}.")
    else:
        stages = len(ae.encoders) + 1
        total = stages * config.epochs
        steps = int(np.ceil(len(x) / config.batch_size))
        for k in range(len(ae.encoders)):
            reporter.emit(Artifact("stage", (f"layer {k + 1}", k * config.epochs * steps)))
            below = ae.codes_below(x, k)
            below_v = ae.codes_below(xv, k) if len(xv) else None
            done = fit_keras(ae.stage(k), family_key="autoencoder", meta=meta, x=below,
                             y=below, validation=(below_v, below_v) if below_v is not None
                             else None, epochs=config.epochs, batch_size=config.batch_size,
                             reporter=reporter, images=views, autosave=False,
                             epoch_offset=k * config.epochs, total_epochs=total,
                             description=f"Stacked autoencoder on {ds.description}: "
                                         f"greedy training of layer {k + 1} of "
                                         f"{len(ae.encoders)}, on the codes below it.")
            if done.status != "finished":
                break
        else:
            reporter.emit(Artifact("stage", ("fine-tune",
                                             len(ae.encoders) * config.epochs * steps)))
            done = fit_keras(ae.model, family_key="autoencoder", meta=meta, x=x, y=x,
                             validation=validation, epochs=config.epochs,
                             batch_size=config.batch_size, reporter=reporter, images=views,
                             autosave=request.autosave,
                             epoch_offset=len(ae.encoders) * config.epochs,
                             total_epochs=total,
                             description="Fine-tuning all layers together, end to end.")
    history = done.result.history if done.result.model is ae.model else []
    result = TrainedModel(ae.model, "autoencoder", meta, history, done.result.fit_seconds,
                          extra=ae)
    if done.status == "finished" and config.few_labels and len(ds.y_val):
        reporter.emit(Log(f"Training a softmax on the code with {config.few_labels} labels, "
                          "pretrained and from scratch ..."))
        scores = compare_few_labels(ae, config, ds, reporter, seed=request.seed)
        reporter.emit(Artifact("few_labels", scores))
        result.meta["few_labels"] = scores
    return Done(done.status, done.message, done.detail, result)


def _squeeze(images: np.ndarray) -> np.ndarray:
    return images[..., 0] if images.shape[-1] == 1 else images


def display_features(features: np.ndarray) -> np.ndarray:
    """Unit-norm features scaled to [0, 1] for display, each on its own."""
    from nets.cnn import normalise_each

    return normalise_each(features)


def load(path):
    """A saved autoencoder, rebuilt in code from its stored config; only weights are read."""
    from nets.runner import TrainedModel, read_saved

    meta, config, shape = read_saved(path, "autoencoder", Config, "an autoencoder")
    ae = Autoencoder(config, shape)
    storage.load_weights(ae.model, path)
    return TrainedModel(ae.model, "autoencoder", meta, list(meta.get("history", [])),
                        extra=ae)
