"""The DRAW network as a Keras model: an encoder LSTM reads the image (and the error left on
the canvas), a latent sample per step, a decoder LSTM writes onto a canvas, T times.

One step (Gregor et al. 2015, eqs. 3-8), from zero LSTM states and a canvas c_0:
    x^_t = x - sigmoid(c_{t-1})
    r_t = read(x, x^_t, h^dec_{t-1})
    h^enc_t = LSTM_enc(h^enc_{t-1}, [r_t, h^dec_{t-1}])
    z_t ~ Q(z_t | h^enc_t) = N(mu_t, sigma_t^2)         (sampled as mu + sigma * eps)
    h^dec_t = LSTM_dec(h^dec_{t-1}, z_t)
    c_t = c_{t-1} + write(h^dec_t)
The loss per image is -log D(x | c_T) (binary cross-entropy of sigmoid(c_T), summed over
pixels) plus the sum over steps of KL(Q(z_t | h^enc_t) || N(0, I)): minus the ELBO, in
nats. Where the paper starts from c_0 = 0, c_0 here is a learnt image that training
starts at the log-odds of the mean digit: the steps add only what differs from the mean
(with c_0 = 0 an attentive write, which reaches only the pixels under its window, spent its
first epochs painting the background black). The steps are unrolled in Python, all in keras.ops and Keras layers, so Keras' own
fit trains it on every backend; `unroll` with `record=True` keeps every step for the views.
"""
from __future__ import annotations

import numpy as np

from nets.families.draw import attention as att


def kl_divergence(mean, log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)) per example, summed over the last axis (nats)."""
    from keras import ops

    mean, log_var = ops.convert_to_tensor(mean), ops.convert_to_tensor(log_var)
    return -0.5 * ops.sum(1.0 + log_var - ops.square(mean) - ops.exp(log_var), axis=-1)


def reconstruction_loss(x, logits):
    """-log D(x | c): binary cross-entropy of sigmoid(logits) against x, summed over each
    image's pixels (nats per image). softplus(c) - x c is that, stable for any c."""
    from keras import ops

    n = ops.shape(x)[0]
    x = ops.reshape(x, (n, -1))
    logits = ops.reshape(logits, (n, -1))
    return ops.sum(ops.softplus(logits) - x * logits, axis=-1)


def build_model(config, input_shape):
    """A compiled DRAW model for images of `input_shape` (h, w, 1); `config` is the family's
    Config (attention, steps, read_size, write_size, units, latent_dim, learning_rate,
    clip_norm)."""
    import keras
    from keras import layers, ops

    height, width = int(input_shape[0]), int(input_shape[1])
    steps, z_dim = int(config.steps), int(config.latent_dim)
    use_attention = bool(config.attention)
    n_read, n_write = int(config.read_size), int(config.write_size)

    def window_layer(n, name, write=False):
        # zero weights: every step starts from the same centred window and learns to move
        return layers.Dense(5, name=name, kernel_initializer="zeros",
                            bias_initializer=keras.initializers.Constant(
                                att.initial_bias(n, width, height, write)))

    class DRAW(keras.Model):
        """Calling it gives (c_T, the KL summed over steps per image): the canvas logits of
        one sampled drawing of each image, the same one-sample ELBO estimate in fit and
        evaluate."""

        def __init__(self):
            super().__init__(name="draw")
            self.height, self.width, self.steps, self.z_dim = height, width, steps, z_dim
            self.attention = use_attention
            self.n_read, self.n_write = n_read, n_write
            self.encoder = layers.LSTMCell(config.units, name="encoder")
            self.decoder = layers.LSTMCell(config.units, name="decoder")
            self.q_mean = layers.Dense(z_dim, name="z_mean")
            self.q_log_var = layers.Dense(z_dim, name="z_log_var")
            if use_attention:
                self.read_window = window_layer(n_read, "read_window")
                self.write_window = window_layer(n_write, "write_window", write=True)
                self.write_patch = layers.Dense(n_write * n_write, name="write_patch")
            else:
                self.write_patch = layers.Dense(height * width, name="write_patch")
            # c_0, the canvas before the first step: a learnt image of pixel log-odds
            # (train() starts it at the data's mean image, see start_canvas_at)
            self.canvas_bias = self.add_weight(shape=(height, width), initializer="zeros",
                                               name="canvas_bias")
            self.noise = keras.random.SeedGenerator(0)
            self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
            self.kl_tracker = keras.metrics.Mean(name="kl")

        def start_canvas_at(self, images) -> None:
            """c_0 = the log-odds of the mean of these images: the canvas starts as the
            average digit (as an RBM's visible biases start at log p / (1 - p)), so the
            steps only add what makes each image differ from it."""
            p = np.clip(np.asarray(images, np.float64).reshape(len(images), -1).mean(0),
                        1e-3, 1 - 1e-3)
            self.canvas_bias.assign(np.log(p / (1 - p)).reshape(self.height, self.width)
                                    .astype(np.float32))

        # ------------------------------------------------ the pieces of a step
        def window(self, dense, h, n):
            """The attention grid a linear layer of h_dec asks for: (F_X, F_Y, gamma,
            (gX, gY, sigma^2, delta))."""
            gx, gy, sigma2, delta, gamma = att.window_params(dense(h), self.width,
                                                             self.height, n)
            fx, fy = att.filterbank(gx, gy, sigma2, delta, n, self.width, self.height)
            return fx, fy, gamma, (gx, gy, sigma2, delta)

        def read(self, x, x_hat, h_dec):
            if not self.attention:
                n = ops.shape(x)[0]
                return ops.concatenate([ops.reshape(x, (n, -1)),
                                        ops.reshape(x_hat, (n, -1))], axis=-1), None
            fx, fy, gamma, where = self.window(self.read_window, h_dec, self.n_read)
            return att.read(x, x_hat, fx, fy, gamma), where + (gamma,)

        def write(self, h_dec):
            n = ops.shape(h_dec)[0]
            if not self.attention:
                return ops.reshape(self.write_patch(h_dec),
                                   (n, self.height, self.width)), None
            fx, fy, gamma, where = self.window(self.write_window, h_dec, self.n_write)
            patch = ops.reshape(self.write_patch(h_dec), (n, self.n_write, self.n_write))
            return att.write(patch, fx, fy, gamma), where + (gamma,)

        # ------------------------------------------------ the whole drawing
        def unroll(self, x, noise, *, use_mean=False, record=False, training=False):
            """Draw each image of x (n, h, w[, 1]) in T steps with the given noise
            (T, n, latent): eps of z_t = mu_t + sigma_t eps_t (ignored with use_mean).
            Returns a dict: "canvas" c_T (n, h, w) logits, "kl" (n,) summed over steps;
            with record also per step (leading axis T): "canvases" sigmoid(c_t),
            "writes", "kl_steps", "means", "log_vars", and with attention "read_window"
            and "write_window" (n, 5): gX, gY, sigma^2, delta, gamma."""
            x = ops.convert_to_tensor(x, "float32")
            if noise is not None:
                noise = ops.convert_to_tensor(noise, "float32")
            n = ops.shape(x)[0]
            x = ops.reshape(x, (n, self.height, self.width))
            units = self.encoder.units
            zeros = ops.zeros((n, units), "float32")
            enc_state, dec_state = [zeros, zeros], [zeros, zeros]
            h_dec = zeros
            canvas = ops.zeros((n, self.height, self.width), "float32") + self.canvas_bias
            kl = ops.zeros((n,), "float32")
            kept = {k: [] for k in ("canvases", "writes", "kl_steps", "means", "log_vars",
                                    "read_window", "write_window")}
            for t in range(self.steps):
                x_hat = x - ops.sigmoid(canvas)
                r, read_where = self.read(x, x_hat, h_dec)
                h_enc, enc_state = self.encoder(ops.concatenate([r, h_dec], axis=-1),
                                                enc_state, training=training)
                mean, log_var = self.q_mean(h_enc), self.q_log_var(h_enc)
                z = mean if use_mean else mean + ops.exp(0.5 * log_var) * noise[t]
                h_dec, dec_state = self.decoder(z, dec_state, training=training)
                painted, write_where = self.write(h_dec)
                canvas = canvas + painted
                kl_t = kl_divergence(mean, log_var)
                kl = kl + kl_t
                if record:
                    kept["canvases"].append(ops.sigmoid(canvas))
                    kept["writes"].append(painted)
                    kept["kl_steps"].append(kl_t)
                    kept["means"].append(mean)
                    kept["log_vars"].append(log_var)
                    if self.attention:
                        kept["read_window"].append(ops.concatenate(read_where, axis=-1))
                        kept["write_window"].append(ops.concatenate(write_where, axis=-1))
            out = {"canvas": canvas, "kl": kl}
            if record:
                out.update({k: ops.stack(v) for k, v in kept.items() if v})
            return out

        def generate(self, noise):
            """Drawings from the prior: z_t = noise[t] ~ N(0, I), the decoder alone.
            Returns per step (leading axis T) "canvases" sigmoid(c_t) and, with attention,
            "write_window"; and "canvas", c_T's logits."""
            noise = ops.convert_to_tensor(noise, "float32")
            n = ops.shape(noise)[1]
            zeros = ops.zeros((n, self.decoder.units), "float32")
            dec_state = [zeros, zeros]
            canvas = ops.zeros((n, self.height, self.width), "float32") + self.canvas_bias
            canvases, windows = [], []
            for t in range(self.steps):
                h_dec, dec_state = self.decoder(noise[t], dec_state)
                painted, where = self.write(h_dec)
                canvas = canvas + painted
                canvases.append(ops.sigmoid(canvas))
                if where is not None:
                    windows.append(ops.concatenate(where, axis=-1))
            out = {"canvas": canvas, "canvases": ops.stack(canvases)}
            if windows:
                out["write_window"] = ops.stack(windows)
            return out

        def call(self, x, training=False):
            n = ops.shape(x)[0]
            noise = keras.random.normal((self.steps, n, self.z_dim), seed=self.noise)
            out = self.unroll(x, noise, training=training)
            return out["canvas"], out["kl"]

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                         training=True):
            # batch means of per-image sums, weighted by batch size in the trackers (as
            # in the VAE), so a short last batch counts for what it holds
            target = x if y is None else y
            logits, kl = y_pred
            recon = ops.mean(reconstruction_loss(target, logits))
            kl = ops.mean(kl)
            count = ops.cast(ops.shape(logits)[0], "float32")
            self.reconstruction_tracker.update_state(recon, sample_weight=count)
            self.kl_tracker.update_state(kl, sample_weight=count)
            return recon + kl

    model = DRAW()
    model(np.zeros((1, height, width, 1), np.float32))  # create every variable now
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate,
                                                  global_clipnorm=config.clip_norm))
    return model
