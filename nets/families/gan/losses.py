"""The adversarial game's losses, shared by the digit GAN and the 2-D game: the
discriminator's and the generator's, in four variants, on the discriminator's raw outputs
(logits, or a critic's scores), with keras.ops so that they compile on every backend.

- minimax: Goodfellow et al. 2014, eq. 1: D maximises log D(x) + log(1 - D(G(z))), G
  minimises log(1 - D(G(z))). When D rejects the fakes confidently, G's gradient vanishes
  (the loss saturates), which is why the paper itself suggests the next one.
- non-saturating: the same D; G maximises log D(G(z)) instead (same fixed point, strong
  gradients early on).
- least squares: Mao et al. 2017 (LSGAN, a = 0, b = c = 1): D regresses real to 1 and fake
  to 0; G pulls its fakes' scores to 1.
- wasserstein: Arjovsky et al. 2017: a critic (no sigmoid) maximises mean score(real) -
  mean score(fake) while its weights are clipped to [-c, c] (`clip_weights`, after each
  critic step); G maximises mean score(fake).

One-sided label smoothing (Salimans et al. 2016): the real target is 1 - smoothing, the fake
one stays 0 (for the two log losses and least squares; it has no meaning for a critic).
"""
from __future__ import annotations

LOSSES = ("minimax", "non-saturating", "least squares", "wasserstein")
CLIP = 0.01  # WGAN's clipping range c (the paper's default)


def _check(kind: str) -> None:
    if kind not in LOSSES:
        raise ValueError(f"Unknown GAN loss {kind!r}; known: {', '.join(LOSSES)}.")


def d_loss(kind: str, real_out, fake_out, smoothing: float = 0.0):
    """The discriminator's (critic's) loss to minimise, a scalar: mean over each batch."""
    from keras import ops

    _check(kind)
    real_out, fake_out = ops.reshape(real_out, (-1,)), ops.reshape(fake_out, (-1,))
    target = 1.0 - smoothing
    if kind in ("minimax", "non-saturating"):
        # binary cross-entropy on logits: t * softplus(-l) + (1 - t) * softplus(l)
        real = target * ops.softplus(-real_out) + (1.0 - target) * ops.softplus(real_out)
        return ops.mean(real) + ops.mean(ops.softplus(fake_out))
    if kind == "least squares":
        return 0.5 * ops.mean(ops.square(real_out - target)) + \
            0.5 * ops.mean(ops.square(fake_out))
    return ops.mean(fake_out) - ops.mean(real_out)


def g_loss_each(kind: str, fake_out):
    """The generator's loss for each fake (a vector): its mean is what G minimises; its
    gradient with respect to one fake is where that fake will be pushed."""
    from keras import ops

    _check(kind)
    fake_out = ops.reshape(fake_out, (-1,))
    if kind == "minimax":
        return -ops.softplus(fake_out)  # log(1 - sigmoid(l)) = -softplus(l)
    if kind == "non-saturating":
        return ops.softplus(-fake_out)  # -log sigmoid(l)
    if kind == "least squares":
        return 0.5 * ops.square(fake_out - 1.0)
    return -fake_out


def g_loss(kind: str, fake_out):
    """The generator's loss to minimise, a scalar."""
    from keras import ops

    return ops.mean(g_loss_each(kind, fake_out))


def realness(kind: str, out):
    """What to show as "D(x)", in [0, 1]: the probability of real for the log losses; the
    score clipped to [0, 1] for least squares (its targets); for a critic, whose scores
    have no scale of their own, the sigmoid of the score (above 0.5: more real)."""
    from keras import ops

    _check(kind)
    if kind == "least squares":
        return ops.clip(out, 0.0, 1.0)
    return ops.sigmoid(out)


def clip_weights(model, c: float = CLIP) -> None:
    """WGAN's Lipschitz constraint, crudely: every weight of the critic into [-c, c]."""
    from keras import ops

    for v in model.trainable_variables:
        v.assign(ops.clip(v, -c, c))
