"""The digit GAN's two players and the compiled steps of their game: a DCGAN generator and
discriminator (Radford, Metz & Chintala 2016) narrowed for a laptop CPU, the wrapper model
both play in, and one discriminator or generator step on any Keras backend.

Sizes (measured here, 2 shared CPU cores, TensorFlow, batch 64): keras.io's DCGAN for
MNIST (128 filters, 7x7 output convolution) takes about 0.26 s a step; these nets, with
widths 32 (G: dense -> 7x7x64 -> 14x14x32 -> 28x28; D: 28x28 -> 14x14x32 -> 7x7x64 ->
one score, 4x4 kernels, stride 2, LeakyReLU, no batch norm by default) took 53 ms a step
on average over 10 minutes under load (benchmarks/gan.py). Without batch norm the grid
from fixed noise shows exactly what the generator makes in training (batch norm's
training and inference modes differ); the option is there (DCGAN used it).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from nets import backend
from nets.families.gan import losses

SAMPLES = 60  # the fixed-noise grid: 6 rows of 10 (a conditional GAN: one class a column)
COLUMNS = 10


def _leaky(x):
    """LeakyReLU with slope 0.2 (DCGAN's), as max(x, 0.2 x): TensorFlow's own LeakyRelu op
    makes its graph optimiser print an error (harmless, but alarming) for the steps that
    update only one of the two players."""
    return _leaky_layer()()(x)


@functools.cache
def _leaky_layer():
    import keras
    from keras import ops

    class Leaky(keras.layers.Layer):
        def call(self, x):
            return ops.maximum(x, 0.2 * x)

    return Leaky


def build_generator(latent: int, width: int, shape, classes: int, conditional: bool,
                    batch_norm: bool = False):
    """z (and the class, one-hot, when conditional) -> an image of `shape` in [0, 1]."""
    import keras
    from keras import layers

    h, w, c = shape
    h4, w4 = math.ceil(h / 4), math.ceil(w / 4)
    z = keras.Input((latent,), name="z")
    inputs, x = [z], z
    if conditional:  # Mirza & Osindero 2014: the class goes in beside the noise
        label = keras.Input((classes,), name="label")
        inputs.append(label)
        x = layers.Concatenate(name="z_and_label")([z, label])
    x = layers.Dense(h4 * w4 * 2 * width, use_bias=not batch_norm, name="project")(x)
    if batch_norm:
        x = layers.BatchNormalization(name="bn1")(x)
    x = _leaky(x)
    x = layers.Reshape((h4, w4, 2 * width))(x)
    x = layers.Conv2DTranspose(width, 4, strides=2, padding="same", use_bias=not batch_norm,
                               name="up1")(x)
    if batch_norm:
        x = layers.BatchNormalization(name="bn2")(x)
    x = _leaky(x)
    x = layers.Conv2DTranspose(c, 4, strides=2, padding="same", activation="sigmoid",
                               name="up2")(x)
    if (4 * h4, 4 * w4) != (h, w):  # sizes that are not multiples of 4: crop the rest
        x = layers.Cropping2D(((0, 4 * h4 - h), (0, 4 * w4 - w)))(x)
    return keras.Model(inputs if conditional else z, x, name="generator")


def build_discriminator(width: int, shape, classes: int, conditional: bool):
    """An image (and its class, one-hot) -> one raw score: a logit, or a critic's value."""
    import keras
    from keras import layers

    h, w, c = shape
    image = keras.Input(tuple(shape), name="image")
    inputs, x = [image], image
    if conditional:  # the class as one more image channel, learnt from the one-hot
        label = keras.Input((classes,), name="label")
        inputs.append(label)
        plane = layers.Reshape((h, w, 1))(layers.Dense(h * w, name="label_plane")(label))
        x = layers.Concatenate(name="image_and_label")([image, plane])
    x = layers.Conv2D(width, 4, strides=2, padding="same", name="down1")(x)
    x = _leaky(x)
    x = layers.Conv2D(2 * width, 4, strides=2, padding="same", name="down2")(x)
    x = _leaky(x)
    x = layers.Flatten()(x)
    score = layers.Dense(1, name="score")(x)
    return keras.Model(inputs if conditional else image, score, name="discriminator")


def build_gan(config, shape, classes: int):
    """The wrapper model both players are part of, with an optimiser each (Adam with the
    DCGAN paper's beta1), built, so its weights and both optimisers' states save and load
    as one file."""
    import keras

    class GAN(keras.Model):
        """[z, label] -> D(G(z)); [z, label, real] -> (D(real), D(G(z))): raw scores.
        The labels are one-hot; an unconditional GAN ignores them."""

        def __init__(self):
            super().__init__(name="gan")
            self.generator = build_generator(config.latent_size, config.g_width, shape,
                                             classes, config.conditional,
                                             getattr(config, "batch_norm", False))
            self.discriminator = build_discriminator(config.d_width, shape, classes,
                                                     config.conditional)
            self.conditional = bool(config.conditional)
            self.classes = int(classes)
            self.g_optimizer = keras.optimizers.Adam(config.g_learning_rate,
                                                     beta_1=config.beta1)
            self.d_optimizer = keras.optimizers.Adam(config.d_learning_rate,
                                                     beta_1=config.beta1)

        def generate(self, z, label, training=False):
            return self.generator([z, label] if self.conditional else z, training=training)

        def judge(self, image, label, training=False):
            return self.discriminator([image, label] if self.conditional else image,
                                      training=training)

        def call(self, inputs, training=False):
            z, label = inputs[0], inputs[1]
            fake_out = self.judge(self.generate(z, label, training), label, training)
            if len(inputs) == 2:
                return fake_out
            return self.judge(inputs[2], label, training), fake_out

    gan = GAN()
    n = 2
    gan([np.zeros((n, config.latent_size), np.float32), np.zeros((n, classes), np.float32),
         np.zeros((n, *shape), np.float32)])
    gan.built = True
    # the optimisers' variables exist before a resumed run loads their state
    gan.g_optimizer.build(gan.generator.trainable_variables)
    gan.d_optimizer.build(gan.discriminator.trainable_variables)
    return gan


@functools.cache
def _slice_layer():
    import keras

    class Columns(keras.layers.Layer):
        """Columns [start, stop) of a flat input, optionally reshaped."""

        def __init__(self, start: int, stop: int, shape=None, **kwargs):
            super().__init__(**kwargs)
            self.start, self.stop, self.shape = start, stop, shape

        def call(self, x):
            from keras import ops

            part = x[:, self.start:self.stop]
            return part if self.shape is None else ops.reshape(part, (-1, *self.shape))

    return Columns


def packed_views(gan):
    """Single-input views of a GAN for compiled predictors (a predictor takes one array
    on every backend): (generator: [z | one-hot] -> images, look: [z | one-hot | real
    image, flat] -> (D(real), D(fake)) raw scores). They share the GAN's weights."""
    import keras

    latent = int(gan.generator.inputs[0].shape[-1])
    classes = int(gan.classes)
    shape = tuple(int(d) for d in gan.discriminator.inputs[0].shape[1:])
    columns = _slice_layer()
    code = keras.Input((latent + classes,))
    z, label = columns(0, latent)(code), columns(latent, latent + classes)(code)
    generator = keras.Model(code, gan.generate(z, label), name="packed_generator")
    size = int(np.prod(shape))
    packed = keras.Input((latent + classes + size,))
    z, label = columns(0, latent)(packed), columns(latent, latent + classes)(packed)
    real = columns(latent + classes, latent + classes + size, shape)(packed)
    fake_out = gan.judge(gan.generate(z, label), label)
    look = keras.Model(packed, [gan.judge(real, label), fake_out], name="packed_look")
    return generator, look


def one_hot(labels, classes: int) -> np.ndarray:
    out = np.zeros((len(labels), classes), np.float32)
    out[np.arange(len(labels)), np.asarray(labels, int)] = 1.0
    return out


def fixed_noise(latent: int, classes: int, seed: int, n: int = SAMPLES):
    """The same noise (and labels: a class a column) every time for a seed: the grid the
    person watches shows the same z's becoming digits."""
    rng = np.random.default_rng(seed + 7919)
    z = rng.standard_normal((n, latent)).astype(np.float32)
    return z, one_hot(np.arange(n) % classes, classes)


class Game:
    """The compiled steps of one GAN: `d_step` (the discriminator's, on a real batch and
    fresh fakes) and `g_step` (the generator's, through the discriminator), each updating
    only its own player's weights; compiled once per loss kind, on first use."""

    def __init__(self, gan, classes: int, rng: np.random.Generator):
        self.gan, self.classes, self.rng = gan, classes, rng
        self.latent = gan.generator.inputs[0].shape[-1]
        self._steps: dict = {}
        generator, look = packed_views(gan)
        self._look = backend.predictor(look)  # D's raw scores on a batch, inference mode
        self._generate = backend.predictor(generator)

    def noise(self, n: int, labels=None):
        z = self.rng.standard_normal((n, self.latent)).astype(np.float32)
        if labels is None:
            labels = self.rng.integers(0, self.classes, n)
        return z, one_hot(labels, self.classes)

    def _step(self, kind: str, player: str):
        key = (kind, player)
        if key not in self._steps:
            gan = self.gan
            if player == "d":
                def loss(call, z, label, real, smoothing):
                    real_out, fake_out = call([z, label, real])
                    return losses.d_loss(kind, real_out, fake_out, smoothing)

                self._steps[key] = backend.gradient_step(
                    gan, gan.d_optimizer, loss, variables=gan.discriminator.trainable_variables)
            else:
                def loss(call, z, label):
                    return losses.g_loss(kind, call([z, label]))

                self._steps[key] = backend.gradient_step(
                    gan, gan.g_optimizer, loss, variables=gan.generator.trainable_variables)
        return self._steps[key]

    def d_step(self, kind: str, real, labels, smoothing: float = 0.0) -> float:
        """One discriminator step on `real` (with their classes) against as many fakes;
        a critic's weights are clipped after it (WGAN). NaN: not applied."""
        z, label = self.noise(len(real), labels)
        loss = self._step(kind, "d")(z, label, np.asarray(real, np.float32),
                                     np.float32(smoothing if kind != "wasserstein" else 0.0))
        if kind == "wasserstein":
            losses.clip_weights(self.gan.discriminator)
        return loss

    def g_step(self, kind: str, n: int) -> float:
        """One generator step on n fresh fakes. NaN: not applied."""
        z, label = self.noise(n)
        return self._step(kind, "g")(z, label)

    def look(self, kind: str, real, labels) -> dict:
        """D(real) and D(fake) as the person reads them (a probability of real), on a
        real batch and as many fresh fakes; no weight changes."""
        z, label = self.noise(len(real), labels)
        real = np.asarray(real, np.float32).reshape(len(real), -1)
        real_out, fake_out = self._look(np.concatenate([z, label, real], axis=1))
        from keras import ops

        show = ops.convert_to_numpy
        return {"d_real": float(np.mean(show(losses.realness(kind, real_out)))),
                "d_fake": float(np.mean(show(losses.realness(kind, fake_out))))}

    def generate(self, z, label, batch: int = 500) -> np.ndarray:
        return generate(self._generate, z, label, batch)


def generate(predict, z, label, batch: int = 500) -> np.ndarray:
    """Images (n, h, w, c) from noise z and one-hot labels, through a compiled predictor
    of packed_views' generator."""
    code = np.concatenate([np.asarray(z, np.float32), np.asarray(label, np.float32)], 1)
    out = []
    for i in range(0, len(code), batch):
        out.append(np.asarray(predict(code[i:i + batch])))
    return np.concatenate(out) if out else np.zeros((0,), np.float32)


def as_grid_images(images: np.ndarray) -> np.ndarray:
    """(n, h, w, 1) -> (n, h, w) for the image views; colour stays (n, h, w, 3)."""
    images = np.clip(np.asarray(images, np.float32), 0.0, 1.0)
    return images[..., 0] if images.shape[-1] == 1 else images
