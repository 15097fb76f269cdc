"""Variational autoencoders: an encoder to a Gaussian over a latent code, a decoder back.

The loss per image is a reconstruction term (minus the Bernoulli log-likelihood of the
pixels, i.e. binary cross-entropy summed over pixels) plus beta times KL(q(z|x) || N(0, I)),
whose closed form for a diagonal Gaussian is -1/2 * sum(1 + log sigma^2 - mu^2 - sigma^2).
With beta = 1 that is the negative ELBO; other values give the beta-VAE objective
(Higgins et al. 2017). Sampling uses the reparameterisation
z = mu + sigma * eps, so gradients flow through mu and sigma (Kingma & Welling 2014).
Written after keras.io's "Variational AutoEncoder" example, with Keras' own training step
(so it trains on every backend): the sampling layer adds the KL term as a layer loss and
the model's compute_loss adds the reconstruction term.
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

    mean, log_var = ops.convert_to_tensor(mean), ops.convert_to_tensor(log_var)
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


def reconstruction_loss(x, x_hat):
    """Minus the Bernoulli log-likelihood of each image: binary cross-entropy summed over
    its pixels (nats per image), one value per image."""
    import keras
    from keras import ops

    return ops.sum(keras.losses.binary_crossentropy(x[..., None], x_hat[..., None]),
                   axis=(1, 2, 3))


def build_model(config: Config, input_shape):
    import keras
    from keras import ops

    from nets.runner import make_optimizer

    class Sampling(keras.layers.Layer):
        """z = mean + sigma * eps, the reparameterisation; adds the batch's mean KL as a
        layer loss, which compute_loss below weighs by beta."""

        def __init__(self):
            super().__init__(name="sampling")
            self.seed = keras.random.SeedGenerator(0)

        def call(self, mean, log_var):
            self.add_loss(ops.mean(kl_divergence(mean, log_var)))
            eps = keras.random.normal(ops.shape(mean), seed=self.seed)
            return mean + ops.exp(0.5 * log_var) * eps

    class VAE(keras.Model):
        """Encoder + sampling + decoder, trained by Keras' own fit on every backend.

        Calling it gives one sampled reconstruction of each image (in evaluate too, so the
        held-out figures are the same one-sample estimate of the ELBO as in training); the
        live views use the encoder and decoder directly (Codec)."""

        def __init__(self):
            super().__init__(name="vae")
            self.encoder = _encoder(config, input_shape)
            self.decoder = _decoder(config, input_shape)
            self.sampling = Sampling()
            self.beta = config.beta
            self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
            self.kl_tracker = keras.metrics.Mean(name="kl")

        def call(self, x, training=False):
            mean, log_var = self.encoder(x, training=training)
            return self.decoder(self.sampling(mean, log_var), training=training)

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                         training=True):
            # Both terms are batch means of per-image sums, and Keras' loss tracker and
            # these two are weighted by batch size: a short last batch counts for what it
            # holds (and the per-batch values can be recovered exactly).
            target = x if y is None else y
            recon = ops.mean(reconstruction_loss(target, y_pred))
            kl = sum(self.losses)  # the sampling layer's mean KL of this batch, its only loss
            n = ops.cast(ops.shape(target)[0], "float32")
            self.reconstruction_tracker.update_state(recon, sample_weight=n)
            self.kl_tracker.update_state(kl, sample_weight=n)
            return recon + self.beta * kl

    model = VAE()
    model(np.zeros((1, *input_shape), np.float32))  # create every variable now
    model.compile(optimizer=make_optimizer(config.optimizer, config.learning_rate))
    return model


# ---------------------------------------------------------------- fast calls for live views
class Codec:
    """Encode and decode with compiled functions (about 1 ms a call on the CPU), for the
    latent explorer: dragging on the map must stay fluid. They always use the model's
    current weights, so one codec serves a model that is still training."""

    def __init__(self, model):
        from nets import backend

        self.model = model
        self.latent_dim = model.encoder.outputs[0].shape[-1]
        self._decode = backend.predictor(model.decoder)
        self._encode = backend.predictor(model.encoder)

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
    from nets.runner import config_meta, fit_keras, prepare

    prep = prepare(request, reporter, Config)
    request = prep.request  # a resumed run's settings; the caller's request is unchanged
    config, ds = prep.config, prep.dataset
    model = build_model(config, ds.input_shape)
    prep.loop.restore(model)
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
