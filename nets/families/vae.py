"""Variational autoencoders: an encoder to a Gaussian over a latent code, a decoder back.

The loss per image is a reconstruction term (minus the Bernoulli log-likelihood of the
pixels, i.e. binary cross-entropy summed over pixels) plus beta times KL(q(z|x) || N(0, I)),
whose closed form for a diagonal Gaussian is -1/2 * sum(1 + log sigma^2 - mu^2 - sigma^2).
With beta = 1 that is the negative ELBO; other values give the beta-VAE objective
(Higgins et al. 2017). Sampling uses the reparameterisation
z = mu + sigma * eps, so gradients flow through mu and sigma (Kingma & Welling 2014).
Written after keras.io's "Variational AutoEncoder" example, as a Model with train_step.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nets import storage
from nets.config import (batch_size_param, epochs_param, learning_rate_param,
                          optimizer_param, param)
from nets.registry import Family
from nets.progress import Artifact, ImageEvent



@dataclass
class Config:
    architecture: str = param("dense", "Architecture", "Dense layers, or convolutions in "
                              "the encoder and transposed convolutions in the decoder.",
                              choices=("dense", "conv"))
    hidden: int = param(256, "Hidden units", "Dense: units in the hidden layer of encoder "
                        "and decoder. Conv: a quarter of it (at least 8) is the filters of "
                        "the second conv layer and of the first transposed one, and (at "
                        "least 16) the units before the code.",
                        minimum=8, maximum=2048)
    latent_dim: int = param(2, "Latent size", "Dimensions of the code z. Two can be drawn "
                            "as a map; more reconstruct better.", minimum=1, maximum=64)
    beta: float = param(1.0, "KL weight (beta)", "Weight of the KL term: higher gives a "
                        "smoother, more regular map and blurrier digits. 1 is the ELBO; "
                        "other values give the beta-VAE objective.", minimum=0.0,
                        maximum=100.0, step=0.1, decimals=3)
    optimizer: str = optimizer_param()
    learning_rate: float = learning_rate_param(0.001)
    batch_size: int = batch_size_param(128)
    epochs: int = epochs_param(30)


def kl_divergence(mean, log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)) per example, summed over dimensions (nats)."""
    from keras import ops

    return -0.5 * ops.sum(1.0 + log_var - ops.square(mean) - ops.exp(log_var), axis=-1)


def _encoder(config: Config, input_shape):
    import keras
    from keras import layers

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    if config.architecture == "conv":
        x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(inputs)
        x = layers.Conv2D(max(config.hidden // 4, 8), 3, strides=2, padding="same",
                          activation="relu")(x)
        x = layers.Flatten()(x)
        x = layers.Dense(max(config.hidden // 4, 16), activation="relu")(x)
    else:
        x = layers.Flatten()(inputs)
        x = layers.Dense(config.hidden, activation="relu")(x)
    mean = layers.Dense(config.latent_dim, name="z_mean")(x)
    log_var = layers.Dense(config.latent_dim, name="z_log_var")(x)
    return keras.Model(inputs, [mean, log_var], name="encoder")


def _decoder(config: Config, output_shape):
    import keras
    from keras import layers

    h, w, c = output_shape
    z = keras.Input(shape=(config.latent_dim,), name="z")
    if config.architecture == "conv" and h % 4 == 0 and w % 4 == 0:
        f = max(config.hidden // 4, 8)
        x = layers.Dense((h // 4) * (w // 4) * f, activation="relu")(z)
        x = layers.Reshape((h // 4, w // 4, f))(x)
        x = layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu")(x)
        x = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(x)
        x = layers.Conv2DTranspose(c, 3, padding="same", activation="sigmoid")(x)
    else:
        x = layers.Dense(config.hidden, activation="relu")(z)
        x = layers.Dense(h * w * c, activation="sigmoid")(x)
        x = layers.Reshape((h, w, c))(x)
    return keras.Model(z, x, name="decoder")


def build_model(config: Config, input_shape):
    import keras
    from keras import ops

    from nets.runner import make_optimizer

    class VAE(keras.Model):
        """Encoder + sampling + decoder; train_step returns the ELBO's two terms."""

        def __init__(self):
            super().__init__(name="vae")
            self.encoder = _encoder(config, input_shape)
            self.decoder = _decoder(config, input_shape)
            self.beta = config.beta
            self.seed = keras.random.SeedGenerator(0)
            self.trackers = {k: keras.metrics.Mean(name=k)
                             for k in ("loss", "reconstruction", "kl")}

        @property
        def metrics(self):
            return list(self.trackers.values())

        def call(self, x, training=False):
            mean, log_var = self.encoder(x, training=training)
            return self.decoder(mean, training=training)

        def _elbo(self, x, training):
            mean, log_var = self.encoder(x, training=training)
            eps = keras.random.normal(ops.shape(mean), seed=self.seed)
            z = mean + ops.exp(0.5 * log_var) * eps
            x_hat = self.decoder(z, training=training)
            # Bernoulli log-likelihood of each pixel, summed over the image: nats per digit
            recon = ops.sum(keras.losses.binary_crossentropy(x[..., None], x_hat[..., None]),
                            axis=(1, 2, 3))
            kl = kl_divergence(mean, log_var)
            return ops.mean(recon), ops.mean(kl)

        def _update(self, x, recon, kl, total):
            # weighted by batch size, as Keras weighs compiled losses: a short last batch
            # counts for what it holds (and the per-batch values can be recovered exactly)
            n = ops.cast(ops.shape(x)[0], "float32")
            for key, value in (("loss", total), ("reconstruction", recon), ("kl", kl)):
                self.trackers[key].update_state(value, sample_weight=n)
            return {k: t.result() for k, t in self.trackers.items()}

        def train_step(self, data):
            import tensorflow as tf

            x = data[0] if isinstance(data, tuple) else data
            with tf.GradientTape() as tape:
                recon, kl = self._elbo(x, True)
                total = recon + self.beta * kl
            grads = tape.gradient(total, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            return self._update(x, recon, kl, total)

        def test_step(self, data):
            x = data[0] if isinstance(data, tuple) else data
            recon, kl = self._elbo(x, False)
            return self._update(x, recon, kl, recon + self.beta * kl)

    model = VAE()
    model(np.zeros((1, *input_shape), np.float32))  # create every variable now
    model.compile(optimizer=make_optimizer(config.optimizer, config.learning_rate))
    return model


# ---------------------------------------------------------------- fast calls for live views
class Codec:
    """Encode and decode with compiled functions (about 1 ms a call on the CPU), for the
    latent explorer: dragging on the map must stay fluid."""

    def __init__(self, model):
        import tensorflow as tf

        self.model = model
        self.latent_dim = model.encoder.outputs[0].shape[-1]
        # Any batch size, one trace each: a new trace per batch size (a drag, a grid, the
        # last short batch) made TensorFlow warn about retracing in the terminal.
        image_shape = tuple(model.encoder.inputs[0].shape[1:])
        self._decode = tf.function(
            lambda z: model.decoder(z, training=False),
            input_signature=[tf.TensorSpec((None, self.latent_dim), tf.float32)])
        self._encode = tf.function(
            lambda x: model.encoder(x, training=False),
            input_signature=[tf.TensorSpec((None, *image_shape), tf.float32)])

    def decode(self, z: np.ndarray) -> np.ndarray:
        """(n, latent) -> (n, h, w) or (n, h, w, 3) images in [0, 1]."""
        out = np.asarray(self._decode(np.asarray(z, np.float32).reshape(-1, self.latent_dim)))
        return out[..., 0] if out.shape[-1] == 1 else out

    def encode(self, x: np.ndarray, batch: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        means, log_vars = [], []
        for i in range(0, len(x), batch):
            m, v = self._encode(np.asarray(x[i:i + batch], np.float32))
            means.append(np.asarray(m))
            log_vars.append(np.asarray(v))
        return np.concatenate(means), np.concatenate(log_vars)


def latent_grid(codec: Codec, n: int = 15, extent: float = 3.0) -> np.ndarray:
    """Decodings over a regular n x n grid of the first two latent dimensions (others 0).
    Row 0 is the top of the plane (largest z2)."""
    ticks = np.linspace(-extent, extent, n)
    z = np.zeros((n * n, codec.latent_dim), np.float32)
    zy, zx = np.meshgrid(ticks[::-1], ticks, indexing="ij")
    z[:, 0] = zx.ravel()
    if codec.latent_dim > 1:
        z[:, 1] = zy.ravel()
    return codec.decode(z)


def prior_samples(codec: Codec, n: int = 64, seed: int | None = None) -> np.ndarray:
    z = np.random.default_rng(seed).standard_normal((n, codec.latent_dim)).astype(np.float32)
    return codec.decode(z)


def interpolate(codec: Codec, a: np.ndarray, b: np.ndarray, steps: int = 10) -> np.ndarray:
    """Decodings along the straight line between the latent means of images a and b."""
    means, _ = codec.encode(np.stack([a, b]))
    t = np.linspace(0, 1, steps, dtype=np.float32)[:, None]
    return codec.decode((1 - t) * means[0] + t * means[1])


def elbo_terms(model, x: np.ndarray) -> dict[str, float]:
    """Mean reconstruction, KL and total (nats per image) of a dataset, deterministic in
    the sense of a fixed noise seed."""
    r = model.evaluate(x, x, batch_size=512, verbose=0, return_dict=True)
    return {k: float(r[k]) for k in ("loss", "reconstruction", "kl")}


# ---------------------------------------------------------------- training
def train(request, reporter):
    from nets.runner import config_meta, fit_keras, prepare, resume_weights

    prep = prepare(request, reporter, Config)
    config, ds = prep.config, prep.dataset
    model = build_model(config, ds.input_shape)
    resume_weights(model, prep, reporter)
    meta = config_meta(request, classes=ds.class_names, input_shape=list(ds.input_shape),
                       dataset_description=ds.description)
    codec = Codec(model)
    probe_x, probe_y = ds.x_val[:2000], ds.y_val[:2000]

    def views(m):
        events = [ImageEvent("latent_grid" if config.latent_dim >= 2 else "samples",
                             latent_grid(codec, 15) if config.latent_dim >= 2 else
                             prior_samples(codec, 64, seed=0))]
        means, _ = codec.encode(probe_x)
        events.append(Artifact("latent_means", (means, probe_y)))
        return events

    done = fit_keras(model, family_key="vae", meta=meta, x=ds.x_train, y=ds.x_train,
                     validation=(ds.x_val, ds.x_val) if len(ds.x_val) else None,
                     epochs=config.epochs, batch_size=config.batch_size, reporter=reporter,
                     initial_epoch=prep.initial_epoch, history=prep.history, images=views,
                     images_every_s=1.0, autosave=request.autosave,
                     description=f"Training a VAE on {ds.description}.")
    return done


def load(path):
    """A saved VAE, rebuilt in code from its stored config; only weights are read."""
    from nets.runner import TrainedModel, read_saved

    meta, config, shape = read_saved(path, "vae", Config, "a VAE")
    model = build_model(config, shape)
    storage.load_weights(model, path)
    return TrainedModel(model, "vae", meta, list(meta.get("history", [])))


FAMILY = Family(key="vae", title="Variational autoencoders",
                summary="Learn a smooth 2-D map of digits; walk it, interpolate between "
                        "digits, sample.",
                config=Config, train=train, load=load)
