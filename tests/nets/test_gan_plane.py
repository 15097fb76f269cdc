"""The 2-D GAN game: the heat map is the discriminator's output on the grid, the arrows are
minus the gradient of each fake's generator loss, a D step moves only D's weights and a G
step only G's, settings apply mid-game, and the fit measures read constructed clouds right."""
import keras
import numpy as np
import pytest

from nets.families.gan import losses
from nets.families.gan import plane
from nets.families.gan import plane_targets as targets

SMALL = dict(g_width=16, d_width=16, batch=32)


def weights(model):
    return [keras.ops.convert_to_numpy(v).copy() for v in model.trainable_variables]


def changed(before, after):
    return any(not np.array_equal(a, b) for a, b in zip(before, after))


@pytest.fixture(scope="module")
def game():
    g = plane.Game(plane.Settings(**SMALL))
    for _ in range(5):
        g.epoch()
    return g


def test_heat_map_is_the_discriminators_output_on_the_grid(game):
    snap = game.snapshot()
    heat = snap["heat"]
    assert heat.shape == (plane.GRID, plane.GRID)
    # rows run up the plane: row 0 at the bottom, column 0 at the left
    grid = plane.grid_points()
    assert grid[0, 1] < grid[plane.GRID, 1] and grid[0, 0] < grid[1, 0]
    direct = keras.ops.convert_to_numpy(
        keras.ops.sigmoid(game.D(grid, training=False))).reshape(plane.GRID, plane.GRID)
    np.testing.assert_allclose(heat, direct, atol=1e-5)
    assert heat.std() > 0  # not a constant picture


@pytest.mark.parametrize("kind", losses.LOSSES)
def test_arrows_are_minus_the_gradient_of_each_fakes_generator_loss(game, kind):
    game.settings.loss = kind
    game._arrows = None  # as apply() does when the loss changes
    fakes = np.random.default_rng(1).uniform(-2, 2, (6, 2)).astype(np.float32)
    push = game.push(fakes)

    def loss_each(x):  # numpy, from the discriminator's raw output
        logit = keras.ops.convert_to_numpy(game.D(x, training=False)).astype(np.float64)[:, 0]
        return {"minimax": -np.logaddexp(0, logit), "non-saturating": np.logaddexp(0, -logit),
                "least squares": 0.5 * (logit - 1) ** 2, "wasserstein": -logit}[kind]

    eps = 1e-3
    numeric = np.zeros_like(fakes, np.float64)
    for j in range(2):
        step = np.zeros_like(fakes)
        step[:, j] = eps
        numeric[:, j] = (loss_each(fakes + step) - loss_each(fakes - step)) / (2 * eps)
    np.testing.assert_allclose(push, -numeric, rtol=2e-2, atol=2e-3)
    assert np.abs(push).max() > 1e-4
    game.settings.loss = "non-saturating"
    game._arrows = None


def test_a_d_step_moves_only_d_and_a_g_step_only_g():
    g = plane.Game(plane.Settings(**SMALL))
    d0, g0 = weights(g.D), weights(g.G)
    g.d_step()
    d1, g1 = weights(g.D), weights(g.G)
    assert changed(d0, d1) and not changed(g0, g1)
    g.g_step()
    d2, g2 = weights(g.D), weights(g.G)
    assert changed(g1, g2) and not changed(d1, d2)
    assert (g.d_steps_done, g.g_steps_done) == (1, 1)


def test_an_epoch_is_k_d_steps_then_one_g_step_and_settings_apply_mid_game():
    g = plane.Game(plane.Settings(**SMALL, d_steps=3))
    g.epoch()
    assert (g.d_steps_done, g.g_steps_done) == (3, 1)
    new = plane.Settings(**SMALL, d_steps=2, d_lr=5e-3, loss="wasserstein", clip=0.05,
                         optimizer="RMSprop", target="ring")
    g.apply(new)
    assert isinstance(g._d_opt, keras.optimizers.RMSprop)
    assert float(keras.ops.convert_to_numpy(g._d_opt.learning_rate)) == pytest.approx(5e-3)
    g.epoch()
    assert (g.d_steps_done, g.g_steps_done) == (5, 2)
    assert max(np.abs(w).max() for w in weights(g.D)) <= 0.05 + 1e-7  # clipped critic
    assert np.abs(np.linalg.norm(g.snapshot()["real"], axis=1) - 2).max() < 0.3  # the ring
    g.apply(plane.Settings(**SMALL, g_lr=2e-2, optimizer="RMSprop"))
    assert float(keras.ops.convert_to_numpy(g._g_opt.learning_rate)) == pytest.approx(2e-2)
    with pytest.raises(ValueError, match="Draw"):
        g.apply(plane.Settings(**SMALL, target="drawn"))
    assert g.settings.target == targets.DEFAULT  # a refused change leaves the game as it was


def test_the_same_preset_and_seed_replay_the_same_game():
    runs = []
    for _ in range(2):
        g = plane.Game(plane.preset("mode collapse", seed=4))
        for _ in range(10):
            g.epoch()
        runs.append(g.fakes())
    np.testing.assert_allclose(runs[0], runs[1], atol=1e-5)


def test_a_drawn_target_samples_near_the_drawing():
    drawn = np.array([[1.0, 1.0], [1.2, 1.0], [1.4, 1.0]], np.float32)
    xy = targets.sample("drawn", 300, np.random.default_rng(0), drawn)
    assert np.abs(xy - [1.2, 1.0]).max() < 0.2 + 5 * targets.DRAWN_NOISE
    with pytest.raises(ValueError, match="Draw"):
        targets.sample("drawn", 10, np.random.default_rng(0), None)


def test_fit_measures_on_constructed_clouds():
    rng = np.random.default_rng(0)
    fit = targets.Fit("8 Gaussians")
    reals = targets.sample("8 Gaussians", 800, rng)
    m = fit.measure(reals, reals)
    assert m["modes"] == 8 and m["distance"] == 0.0
    one = targets.centres()[3] + rng.normal(0, targets.SIGMA / 2, (800, 2))
    m = fit.measure(one, reals)
    assert m["modes"] == 1 and m["modes covered"] == pytest.approx(1 / 8)
    assert m["distance"] > 1.0
    centre = rng.normal(0, 0.1, (800, 2))  # all in the middle: on no mode
    assert fit.measure(centre, reals)["modes"] == 0
    for kind in ("ring", "line", "two moons"):
        fit = targets.Fit(kind)
        a, b = (targets.sample(kind, 800, np.random.default_rng(s)) for s in (1, 2))
        m = fit.measure(a, b)
        assert m["modes"] == 8 and m["distance"] < 0.1, kind
        arc = a[fit._nearest(a) == 0]  # one cell's points only
        assert fit.measure(arc, b)["modes"] == 1, kind
