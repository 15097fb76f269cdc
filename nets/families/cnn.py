"""Convolutional nets on images: the model, its training run, and what it shows.

The default network follows the spirit of keras.io's `mnist_convnet` (conv, pool, conv,
pool, dropout, softmax). Its training digits are varied in numpy (nets.digit_augment), so
that 4,000 MNIST digits are enough and drawn or typed digits are read too. Also here:
turning a mouse drawing into an MNIST-style digit, and the views (filters, feature maps,
mistakes) as plain arrays.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nets import storage
from nets.config import (batch_size_param, epochs_param, learning_rate_param,
                          optimizer_param, param)
from nets.images import normalise_each
from nets.digit_augment import augmenter, is_digits, with_typeset_forms
from nets.registry import Family
from nets.progress import ImageEvent, Log



@dataclass
class Config:
    conv_blocks: int = param(2, "Conv blocks", "Number of convolution blocks; each halves "
                             "the image with pooling and doubles the filters.",
                             minimum=1, maximum=4)
    filters: int = param(32, "Filters", "Filters in the first block: each learns one "
                         "small pattern detector.", minimum=1, maximum=256)
    convs_per_block: int = param(1, "Convs per block", "Convolution layers stacked in "
                                 "each block before pooling.", minimum=1, maximum=3)
    kernel_size: int = param(3, "Kernel size", "Width of each filter in pixels: the patch "
                             "of the image one filter looks at.", minimum=1, maximum=9)
    pooling: str = param("max", "Pooling", "How each block downsamples: the largest value "
                         "(max), the mean (average), or no pooling.",
                         choices=("max", "average", "none"))
    batch_norm: bool = param(False, "Batch norm", "Normalise activations after each "
                             "convolution: trains faster and more stably.")
    dropout: float = param(0.4, "Dropout", "Fraction of features randomly dropped while "
                           "training, against overfitting.", minimum=0.0, maximum=0.9,
                           step=0.05, decimals=2)
    augment: bool = param(True, "Augment", "Vary the training images at random each "
                          "epoch: for digits a wider or narrower pen, slant, turn, width "
                          "and position, and a flag on some 1s and a hook on some 6s as in "
                          "typed digits (other images: shift, turn, zoom). The net then "
                          "reads drawn and typed digits too, not only MNIST look-alikes.")
    optimizer: str = optimizer_param()
    learning_rate: float = learning_rate_param(0.003)
    cosine_decay: bool = param(True, "Cosine decay", "Lower the learning rate smoothly "
                               "towards zero over the run: the last epochs settle.")
    batch_size: int = batch_size_param(128)
    epochs: int = epochs_param(20)
    adversarial: bool = param(False, "Adversarial training", "Train on adversarial images "
                              "too: in each batch about half the images are replaced by "
                              "their FGSM versions, made against the network as it trains "
                              "(Goodfellow et al. 2014 mixed clean and adversarial loss "
                              "half and half). Slower (one more gradient per batch); the "
                              "robustness curve then falls much later.")
    adversarial_epsilon: float = param(0.25, "Adversarial ε", "How far FGSM may move each "
                                       "pixel during adversarial training, as a share of "
                                       "the 0..1 range (Goodfellow et al. used 0.25 on "
                                       "MNIST).", minimum=0.0, maximum=1.0, step=0.05,
                                       decimals=2, when=("adversarial", (True,)))


def build_model(config: Config, input_shape, num_classes: int, train_size: int = 0):
    import keras
    from keras import layers

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs  # augmentation happens outside the model, in nets.digit_augment
    n = 0
    for block in range(config.conv_blocks):
        for _ in range(config.convs_per_block):
            n += 1
            x = layers.Conv2D(config.filters * 2 ** block, config.kernel_size,
                              padding="same", use_bias=not config.batch_norm,
                              name=f"conv{n}")(x)
            if config.batch_norm:
                x = layers.BatchNormalization(name=f"bn{n}")(x)
            x = layers.Activation("relu", name=f"relu{n}")(x)
        if config.pooling != "none" and min(x.shape[1], x.shape[2]) >= 2:
            pool = layers.MaxPooling2D if config.pooling == "max" else layers.AveragePooling2D
            x = pool(2, name=f"pool{block + 1}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(config.dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, outputs, name="convnet")
    compile_model(model, config, train_size)
    return model


def compile_model(model, config: Config, train_size: int = 0):
    """Attach optimizer, loss and metrics; `train_size` sets the cosine decay's length."""
    import keras

    from nets.runner import make_optimizer

    lr = config.learning_rate
    if config.cosine_decay and train_size:
        steps = config.epochs * int(np.ceil(train_size / config.batch_size))
        lr = keras.optimizers.schedules.CosineDecay(lr, decay_steps=steps, alpha=0.02)
    model.compile(optimizer=make_optimizer(config.optimizer, lr),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def conv_layers(model):
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


# ---------------------------------------------------------------- training
def train(request, reporter):
    from nets.runner import config_meta, fit_keras, prepare

    prep = prepare(request, reporter, Config)
    request = prep.request  # a resumed run's settings; the caller's request is unchanged
    config, ds, initial_epoch = prep.config, prep.dataset, prep.initial_epoch
    model = build_model(config, ds.input_shape, ds.num_classes, len(ds.x_train))
    prep.loop.restore(model)
    meta = config_meta(request, classes=ds.class_names, input_shape=list(ds.input_shape),
                       dataset_description=ds.description)
    x_train, augment, note = training_inputs(config, ds, request.seed)
    if note:
        reporter.emit(Log(note))
    if config.adversarial:
        augment = AdversarialBatches(model, config.adversarial_epsilon, then=augment)
        reporter.emit(Log(f"Adversarial training: in each batch about half the images are "
                          f"replaced by FGSM images (ε = {config.adversarial_epsilon:g}) "
                          "made against the network as it is at that batch."))
    done = fit_keras(model, family_key="cnn", meta=meta, x=x_train, y=ds.y_train,
                     validation=(ds.x_val, ds.y_val) if len(ds.y_val) else None,
                     epochs=config.epochs,
                     batch_size=config.batch_size, reporter=reporter,
                     initial_epoch=initial_epoch, history=prep.history,
                     images=lambda m: [filters_event(m)], autosave=request.autosave,
                     augment=augment,
                     seed=request.seed + initial_epoch,
                     description=f"Training a convnet on {ds.description}.")
    if done.status == "finished" and len(ds.y_val):  # after Stop, stopping fast matters
        reporter.emit(mistakes_event(model, ds))
    return done


def training_inputs(config: Config, ds, seed: int):
    """What a run trains on: (training images, per-batch augmentation or None, a sentence
    saying what the augmentation does). The benchmark's bare fit uses the same."""
    if not config.augment:
        return ds.x_train, None, ""
    if not is_digits(ds):
        return ds.x_train, augmenter(ds), ("Augment: each epoch every training image is "
                                           "shifted, turned and zoomed a little, anew.")
    x_train, changed = with_typeset_forms(ds.x_train, ds.y_train,
                                          np.random.default_rng(seed))
    return x_train, augmenter(ds), (
        f"Augment: {changed} of the training 1s and 6s get a flag or a hook as typed "
        "digits have; each epoch every training digit gets a new pen width, slant, turn, "
        "width and position.")


class AdversarialBatches:
    """fit_keras's per-batch hook for adversarial training: each image of a batch is, with
    probability `share`, replaced by its FGSM image (Goodfellow et al. 2014: the loss
    α J(x) + (1 − α) J(x_adv) with α = 0.5, in expectation). The images are made against
    a copy of the network whose weights a callback refreshes after every batch: on JAX the
    trained model's own weights are not readable mid-epoch, and a copy also keeps the
    data thread (TensorFlow makes batches in one, ahead of the step) off the live weights.
    `then`: a digit augmentation applied first."""

    needs_labels = True  # fit_keras passes the batch's labels: FGSM climbs their loss

    def __init__(self, model, epsilon: float, share: float = 0.5, then=None):
        import keras

        from nets.adversarial import Attacker, check_epsilon

        self.epsilon, self.share, self.then = check_epsilon(epsilon), share, then
        self.shadow = keras.models.clone_model(model)
        self.shadow.set_weights(model.get_weights())
        self.attacker = Attacker(self.shadow)
        shadow = self.shadow

        class FollowTraining(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                shadow.set_weights(self.model.get_weights())

        self.callbacks = [FollowTraining()]

    def __call__(self, x, rng, y):
        if self.then is not None:
            x = self.then(x, rng)
        x = np.array(x, np.float32)
        pick = rng.random(len(x)) < self.share
        if pick.any() and self.epsilon > 0:
            # the whole batch is attacked: a fixed shape compiles once (JAX recompiles
            # for every new one); only the picked images are kept
            x[pick] = self.attacker.fgsm(x, y, self.epsilon)[pick]
        return x


def load(path):
    """A saved CNN, rebuilt in code from its stored config; only weights are read."""
    from nets.runner import TrainedModel, read_saved

    meta, config, shape = read_saved(path, "cnn", Config, "a convnet")
    try:
        classes = [str(c) for c in meta["classes"]]
    except (KeyError, TypeError) as exc:
        raise storage.StorageError("The model description in the file has no classes.") \
            from exc
    model = build_model(config, shape, len(classes))
    storage.load_weights(model, path)
    return TrainedModel(model, "cnn", meta, list(meta.get("history", [])))


# ---------------------------------------------------------------- views, as arrays
def first_layer_filters(model) -> np.ndarray:
    """The first conv layer's kernels as images: (filters, k, k) or (filters, k, k, 3)."""
    kernel = np.asarray(conv_layers(model)[0].kernel)  # (k, k, in, out)
    imgs = np.moveaxis(kernel, -1, 0)  # (out, k, k, in)
    imgs = imgs[..., 0] if imgs.shape[-1] != 3 else imgs
    return normalise_each(imgs)


def filters_event(model) -> ImageEvent:
    return ImageEvent("filters", first_layer_filters(model))


def predict(model, x: np.ndarray, batch: int = 1024) -> np.ndarray:
    """Class probabilities; uses model(x) (thread-friendly) rather than model.predict."""
    from keras import ops

    out = [ops.convert_to_numpy(model(x[i:i + batch], training=False))
           for i in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.zeros((0, model.output_shape[-1]), np.float32)


def mistakes_event(model, ds, limit: int = 64) -> ImageEvent:
    probs = predict(model, ds.x_val)
    guess = probs.argmax(1)
    wrong = np.flatnonzero(guess != ds.y_val)
    acc = 1.0 - len(wrong) / max(len(ds.y_val), 1)
    shown = wrong[:limit]
    names = ds.class_names
    captions = tuple(f"{names[ds.y_val[i]]}→{names[guess[i]]}" for i in shown)
    imgs = ds.x_val[shown]
    imgs = imgs[..., 0] if imgs.shape[-1] == 1 else imgs
    return ImageEvent("mistakes", imgs, captions,
                      note=f"{len(wrong)} of {len(ds.y_val)} held-out images misclassified "
                           f"(accuracy {acc:.1%}); showing {len(shown)}. "
                           "Caption: true → guessed.")


class Probe:
    """Class probabilities and every conv layer's activations for one image.

    One sub-model with all those outputs, compiled once for the backend: about 1 ms a
    call on 2 CPU cores, against about 10 ms for the same eager Keras calls, which is what
    keeps the drawing canvas live.
    """

    def __init__(self, model):
        import keras

        from nets import backend

        self.model = model
        layers = conv_layers(model)
        self.names = [layer.name for layer in layers]
        outs = []
        for layer in layers:  # read after the activation: that is what the next layer sees
            n = layer.name.removeprefix("conv")
            try:
                outs.append(model.get_layer(f"relu{n}").output)
            except ValueError:
                outs.append(layer.output)
        combined = keras.Model(model.input, [model.output, *outs])
        self._call = backend.predictor(combined)

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """(h, w, c) image -> (probabilities, [(channels, h', w') maps scaled to [0, 1]])."""
        probs, *maps = self._call(np.asarray(image, np.float32)[None])
        return (np.asarray(probs)[0],
                [normalise_each(np.moveaxis(np.asarray(m)[0], -1, 0)) for m in maps])


FAMILY = Family(key="cnn", title="Convolutional nets",
                summary="Train a convnet on digits, look at its filters, draw a digit and "
                        "watch it guess.",
                config=Config, train=train, load=load)
