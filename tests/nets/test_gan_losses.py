"""The GAN losses against their formulas written out in numpy (Goodfellow et al. 2014,
Mao et al. 2017, Arjovsky et al. 2017), and what each does at its own fixed points."""
import keras
import numpy as np
import pytest

from nets.families.gan import losses

REAL = np.array([2.0, -1.0, 0.5], "float32")
FAKE = np.array([-3.0, 0.0, 1.5], "float32")


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def value(t):
    return float(keras.ops.convert_to_numpy(t))


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_the_log_losses_are_the_cross_entropies_of_the_paper(smoothing):
    t = 1 - smoothing
    d_real = sigmoid(REAL)
    expected_d = np.mean(-(t * np.log(d_real) + (1 - t) * np.log(1 - d_real))) + \
        np.mean(-np.log(1 - sigmoid(FAKE)))
    for kind in ("minimax", "non-saturating"):
        assert value(losses.d_loss(kind, REAL, FAKE, smoothing)) == pytest.approx(
            expected_d, rel=1e-5)
    assert value(losses.g_loss("minimax", FAKE)) == pytest.approx(
        np.mean(np.log(1 - sigmoid(FAKE))), rel=1e-5)
    assert value(losses.g_loss("non-saturating", FAKE)) == pytest.approx(
        np.mean(-np.log(sigmoid(FAKE))), rel=1e-5)


def test_least_squares_and_wasserstein():
    assert value(losses.d_loss("least squares", REAL, FAKE)) == pytest.approx(
        0.5 * np.mean((REAL - 1) ** 2) + 0.5 * np.mean(FAKE ** 2), rel=1e-5)
    assert value(losses.g_loss("least squares", FAKE)) == pytest.approx(
        0.5 * np.mean((FAKE - 1) ** 2), rel=1e-5)
    assert value(losses.d_loss("wasserstein", REAL, FAKE)) == pytest.approx(
        FAKE.mean() - REAL.mean(), rel=1e-5)
    assert value(losses.g_loss("wasserstein", FAKE)) == pytest.approx(-FAKE.mean())


def test_the_minimax_generator_loss_saturates_where_the_other_does_not():
    """A fake the discriminator rejects confidently (logit -10): the minimax loss gives the
    generator almost no gradient there, the non-saturating one a strong one."""
    def slope(kind, at, h=1e-2):
        a = value(losses.g_loss(kind, np.array([at + h], "float32")))
        b = value(losses.g_loss(kind, np.array([at - h], "float32")))
        return (a - b) / (2 * h)

    assert abs(slope("minimax", -10.0)) < 1e-3
    assert abs(slope("non-saturating", -10.0)) > 0.9


def test_realness_is_in_the_unit_interval_and_clipping_bounds_the_critic():
    for kind in losses.LOSSES:
        r = keras.ops.convert_to_numpy(losses.realness(kind, np.array([-50.0, 0.3, 50.0],
                                                                       "float32")))
        assert np.all((r >= 0) & (r <= 1))
        assert r[0] < r[1] < r[2] or kind == "least squares"
    critic = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4),
                               keras.layers.Dense(1)])
    losses.clip_weights(critic, 0.01)
    assert max(np.abs(w).max() for w in critic.get_weights()) <= 0.01 + 1e-7
    with pytest.raises(ValueError, match="Unknown GAN loss"):
        losses.d_loss("hinge", REAL, FAKE)
