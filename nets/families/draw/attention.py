"""DRAW's attention: an N x N grid of Gaussian filters laid over the image (Gregor et al.
2015, section 3.2). Its centre, stride, width and intensity come from a linear layer of the
decoder's state; reading takes an N x N glimpse, writing paints an N x N patch back.

Coordinates follow the paper: pixel a of a row of A runs 1..A, so g~ = 0 puts the grid's
centre (A + 1) / 2 in the middle of the image. Written in keras.ops for every backend.
"""
from __future__ import annotations

EPS = 1e-8


def window_params(raw, A: int, B: int, N: int):
    """The five numbers a linear layer gives, (g~X, g~Y, log sigma^2, log delta~, log gamma)
    of shape (batch, 5), turned into the grid's centre gX, gY, filter variance sigma^2,
    stride delta and intensity gamma, each (batch, 1) (the paper's eqs. 21-24)."""
    from keras import ops

    gx_, gy_, log_sigma2, log_delta_, log_gamma = ops.split(raw, 5, axis=-1)
    gx = (A + 1) / 2 * (gx_ + 1)
    gy = (B + 1) / 2 * (gy_ + 1)
    delta = (max(A, B) - 1) / (N - 1) * ops.exp(log_delta_)
    return gx, gy, ops.exp(log_sigma2), delta, ops.exp(log_gamma)


COVER = 0.6  # the grid's span at the start, as a share of the image's larger side


def initial_bias(N: int, A: int, B: int, write: bool = False) -> list[float]:
    """The window a step asks for before training, as the bias of window_params' linear
    layer: centred, its N x N filters spread over COVER of the image, sigma half their
    stride. Reading starts with gamma 1; writing with gamma = 1 / delta^2, so that a patch
    of ones paints about one unit onto the canvas (a filter's row sums to 1 over the
    pixels, so each pixel gets about 1/delta from each direction's filters).

    (Why not zero: a zero bias put a 2 x 2 read grid's sharp filters on the edge pixels,
    where nothing is drawn, so the encoder saw nothing, no gradient moved the window and
    the model learnt to ignore its latent samples; and with gamma 1 a 5 x 5 write painted a
    sixteenth of a unit per unit of patch, so hundreds of updates went by with writes a
    hundredth of the canvas's size before anything showed.)"""
    import math

    delta = (max(A, B) - 1) / (N - 1) * COVER
    return [0.0, 0.0, 2 * math.log(delta / 2), math.log(COVER),
            -2 * math.log(delta) if write else 0.0]


def filterbank(gx, gy, sigma2, delta, N: int, A: int, B: int):
    """F_X (batch, N, A) and F_Y (batch, N, B): row i is a Gaussian over the pixels centred
    at mu^i = g + (i - N/2 - 0.5) * delta (i = 1..N), normalised to sum to 1 (eqs. 19-26)."""
    from keras import ops

    offsets = ops.arange(1, N + 1, dtype="float32") - N / 2 - 0.5  # (N,)
    mu_x = gx + offsets * delta  # (batch, N)
    mu_y = gy + offsets * delta
    a = ops.arange(1, A + 1, dtype="float32")
    b = ops.arange(1, B + 1, dtype="float32")
    s2 = ops.expand_dims(sigma2, -1)  # (batch, 1, 1)
    fx = ops.exp(-ops.square(a - ops.expand_dims(mu_x, -1)) / (2 * s2))
    fy = ops.exp(-ops.square(b - ops.expand_dims(mu_y, -1)) / (2 * s2))
    fx = fx / ops.maximum(ops.sum(fx, axis=-1, keepdims=True), EPS)
    fy = fy / ops.maximum(ops.sum(fy, axis=-1, keepdims=True), EPS)
    return fx, fy


def glimpse(image, fx, fy):
    """F_Y image F_X^T: an (batch, B, A) image seen through the grid, (batch, N, N)."""
    from keras import ops

    return ops.matmul(ops.matmul(fy, image), ops.transpose(fx, (0, 2, 1)))


def read(x, x_hat, fx, fy, gamma):
    """The attentive read: gamma [F_Y x F_X^T, F_Y x^ F_X^T], flattened to (batch, 2 N^2)."""
    from keras import ops

    n = ops.shape(x)[0]
    both = ops.concatenate([ops.reshape(glimpse(x, fx, fy), (n, -1)),
                            ops.reshape(glimpse(x_hat, fx, fy), (n, -1))], axis=-1)
    return gamma * both


def write(patch, fx, fy, gamma):
    """The attentive write: (1 / gamma) F_Y^T w F_X, an (batch, N, N) patch painted onto
    an (batch, B, A) canvas."""
    from keras import ops

    painted = ops.matmul(ops.matmul(ops.transpose(fy, (0, 2, 1)), patch), fx)
    return painted / ops.expand_dims(gamma, -1)
