"""The GAN game in two dimensions (after GAN Lab, Kahng et al. 2018): a small MLP generator
turns 2-D noise into points of the plane, a small MLP discriminator scores points as real
or fake, and `Game` steps them and takes snapshots of everything the view draws. No Qt.

Steps: `d_step()` is one discriminator update on a fresh batch of reals and fakes;
`g_step()` one generator update; `epoch()` one round of the game: `d_steps` discriminator
steps, then one generator step. Settings change at any time through `apply()`: learning
rates apply at the next step, a new optimiser or loss rebuilds the compiled steps (and the
optimisers' memory), a new target changes the real data. Sizes and the seed need `Game`
anew (Reset).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from nets.families.gan import losses
from nets.families.gan import plane_targets as targets

OPTIMIZERS = ("Adam", "SGD", "RMSprop")
GRID = 64  # heat-map cells per side
LINES = 11  # noise-space lattice lines per direction
LINE_POINTS = 33  # points along each lattice line
SHOWN = 512  # real and fake points drawn


@dataclass
class Settings:
    target: str = targets.DEFAULT
    loss: str = "non-saturating"
    optimizer: str = "Adam"
    d_lr: float = 1e-3
    g_lr: float = 1e-3
    d_steps: int = 1  # discriminator steps per generator step
    batch: int = 128
    clip: float = 0.1  # the critic's weight clipping for "wasserstein"
    # needing a new Game (Reset):
    g_width: int = 64
    d_width: int = 64
    layers: int = 2
    seed: int = 0

    STRUCTURE = ("g_width", "d_width", "layers", "seed")

    def check(self) -> None:
        if self.loss not in losses.LOSSES:
            raise ValueError(f"Unknown loss {self.loss!r}; known: "
                             f"{', '.join(losses.LOSSES)}.")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"Unknown optimiser {self.optimizer!r}; choose from "
                             f"{', '.join(OPTIMIZERS)}.")
        if not (0 < self.d_lr <= 1 and 0 < self.g_lr <= 1):
            raise ValueError("Learning rates must lie in (0, 1].")
        if not 1 <= self.d_steps <= 100 or self.batch < 1:
            raise ValueError("D steps per G step: 1 to 100; batch: at least 1.")


# Presets: settings that show one behaviour of the game, reproducibly by seed. What they do
# over three seeds is measured in benchmarks/gan_plane.py (see benchmarks/RESULTS.md).
PRESETS = {
    "healthy": dict(target="8 Gaussians", loss="non-saturating", optimizer="Adam",
                    d_lr=1e-3, g_lr=1e-3, d_steps=1),
    "mode collapse": dict(target="8 Gaussians", loss="non-saturating", optimizer="Adam",
                          d_lr=1e-4, g_lr=2e-2, d_steps=1, g_width=8),
    "oscillation": dict(target="ring", loss="non-saturating", optimizer="Adam",
                        d_lr=5e-4, g_lr=1e-2, d_steps=1, g_width=16),
}
PRESET_TEXT = {
    "healthy": "Balanced learning rates: the fakes spread over all eight Gaussians.",
    "mode collapse": "A fast, narrow generator against a slow discriminator: the "
                     "generator squeezes its whole noise square into one small clump, "
                     "which then runs from the discriminator's verdict instead of "
                     "spreading over the eight Gaussians.",
    "oscillation": "On the ring, a fast, narrow generator against a slow discriminator: "
                   "the fakes bunch into a clump and the discriminator's realness chases "
                   "it round and round the ring instead of settling.",
}


def preset(name: str, seed: int = 0) -> Settings:
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; choose from {', '.join(PRESETS)}.")
    return Settings(**{**PRESETS[name], "seed": seed})


def build_gan(g_width: int = 64, d_width: int = 64, layers: int = 2):
    """The wrapper model: `call((real, z)) -> (D(real), D(G(z)))`, raw discriminator
    outputs; it tracks both nets, so one compiled step can update either one's weights."""
    import keras

    def mlp(width, name):
        return keras.Sequential(
            [keras.Input((2,))]
            + [keras.layers.Dense(width, activation="leaky_relu") for _ in range(layers)]
            + [keras.layers.Dense(1 if name == "discriminator" else 2)], name=name)

    class PlaneGAN(keras.Model):
        def __init__(self):
            super().__init__(name="plane_gan")
            self.generator = mlp(g_width, "generator")
            self.discriminator = mlp(d_width, "discriminator")
            self.built = True  # JAX: the sub-models are built; stateless_call needs this

        def call(self, inputs, training=False):
            real, z = inputs
            fake = self.generator(z, training=training)
            return (self.discriminator(real, training=training),
                    self.discriminator(fake, training=training))

    return PlaneGAN()


def noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """The generator's input: uniform on the square [-1, 1]², so its lattice is a grid."""
    return rng.uniform(-1.0, 1.0, (n, 2)).astype(np.float32)


def lattice() -> np.ndarray:
    """(2 * LINES, LINE_POINTS, 2): LINES lines of constant z1, then LINES of constant z2."""
    s = np.linspace(-1, 1, LINE_POINTS, dtype=np.float32)
    c = np.linspace(-1, 1, LINES, dtype=np.float32)
    vertical = np.stack(np.broadcast_arrays(c[:, None], s[None, :]), -1)
    horizontal = np.stack(np.broadcast_arrays(s[None, :], c[:, None]), -1)
    return np.concatenate([vertical, horizontal]).astype(np.float32)


def grid_points(n: int = GRID) -> np.ndarray:
    """(n * n, 2) cell centres of the plane, row by row from the bottom (y = -EXTENT)."""
    e = targets.EXTENT
    c = np.linspace(-e, e, n + 1, dtype=np.float32)
    c = (c[:-1] + c[1:]) / 2
    x, y = np.meshgrid(c, c)
    return np.stack([x.ravel(), y.ravel()], 1).astype(np.float32)


class Game:
    """Both nets, their optimisers and steps, and the data; used from one thread at a
    time (the view runs it only inside its background jobs)."""

    def __init__(self, settings: Settings | None = None, drawn=None):
        import keras

        from nets import backend

        self.settings = s = dataclasses.replace(settings or Settings())
        s.check()
        self.drawn = None if drawn is None else np.asarray(drawn, np.float32)
        keras.utils.set_random_seed(s.seed)
        self.rng = np.random.default_rng(s.seed)
        self.model = build_gan(s.g_width, s.d_width, s.layers)
        self.G, self.D = self.model.generator, self.model.discriminator
        self._g_predict = backend.predictor(self.G)
        self._d_predict = backend.predictor(self.D)
        self.z_shown = noise(np.random.default_rng(s.seed + 1), SHOWN)
        self.lattice = lattice()
        self.grid = grid_points()
        self.d_steps_done = self.g_steps_done = 0
        self.skipped = 0  # steps not applied because their loss or gradient was not finite
        self._losses = {"d": [], "g": []}
        self._steps = self._arrows = None
        self._set_target(s.target, self.drawn)
        self._build_optimizers()

    # ------------------------------------------------------------ settings
    def apply(self, settings: Settings, drawn=None) -> None:
        """Take new settings at once (sizes and seed excepted: those need a new Game)."""
        settings.check()
        targets.check(settings.target, drawn)  # before anything changes
        old, self.settings = self.settings, dataclasses.replace(settings)
        for name in Settings.STRUCTURE:  # these stay as built
            setattr(self.settings, name, getattr(old, name))
        new_drawn = None if drawn is None else np.asarray(drawn, np.float32)
        same_drawing = (new_drawn is None and self.drawn is None) or (
            new_drawn is not None and self.drawn is not None
            and new_drawn.shape == self.drawn.shape and np.array_equal(new_drawn, self.drawn))
        if settings.target != old.target or (settings.target == "drawn"
                                             and not same_drawing):
            self._set_target(settings.target, new_drawn)
        self.drawn = new_drawn
        if settings.optimizer != old.optimizer:
            self._build_optimizers()
        else:
            self._d_opt.learning_rate = float(settings.d_lr)
            self._g_opt.learning_rate = float(settings.g_lr)
            if settings.loss != old.loss:
                self._steps = self._arrows = None  # rebuilt for the new loss on next use

    def _set_target(self, target: str, drawn) -> None:
        targets.check(target, drawn)
        self.fit = targets.Fit(target, drawn, seed=self.settings.seed)
        self.real_shown = targets.sample(target, SHOWN,
                                         np.random.default_rng(self.settings.seed + 2), drawn)

    def _build_optimizers(self) -> None:
        import keras

        s = self.settings
        kind = {"Adam": keras.optimizers.Adam, "SGD": keras.optimizers.SGD,
                "RMSprop": keras.optimizers.RMSprop}[s.optimizer]
        # Adam with beta_1 = 0.5, as DCGAN (Radford et al. 2015): less momentum carried
        # into a game whose other player keeps moving
        extra = {"beta_1": 0.5} if s.optimizer == "Adam" else {}
        self._d_opt = kind(learning_rate=float(s.d_lr), **extra)
        self._g_opt = kind(learning_rate=float(s.g_lr), **extra)
        self._steps = self._arrows = None

    def _compiled(self):
        from nets import backend

        if self._steps is None:
            kind, smooth = self.settings.loss, 0.0

            def d_loss(call, real, z):
                real_out, fake_out = call((real, z))
                return losses.d_loss(kind, real_out, fake_out, smooth)

            def g_loss(call, real, z):
                return losses.g_loss(kind, call((real, z))[1])

            self._steps = (
                backend.gradient_step(self.model, self._d_opt, d_loss,
                                      variables=self.D.trainable_variables),
                backend.gradient_step(self.model, self._g_opt, g_loss,
                                      variables=self.G.trainable_variables))
        return self._steps

    # ------------------------------------------------------------ steps
    def _batch(self):
        s = self.settings
        return (targets.sample(s.target, s.batch, self.rng, self.drawn),
                noise(self.rng, s.batch))

    def d_step(self) -> float:
        loss = self._compiled()[0](*self._batch())
        if self.settings.loss == "wasserstein":
            losses.clip_weights(self.D, self.settings.clip)
        self._count("d", loss)
        self.d_steps_done += 1
        return loss

    def g_step(self) -> float:
        loss = self._compiled()[1](*self._batch())
        self._count("g", loss)
        self.g_steps_done += 1
        return loss

    def epoch(self) -> None:
        """One round: `d_steps` discriminator steps, then one generator step."""
        for _ in range(self.settings.d_steps):
            self.d_step()
        self.g_step()

    def run(self, seconds: float, max_epochs: int = 10_000) -> int:
        """Epochs for about `seconds` (at least one); returns how many."""
        t_end, n = time.perf_counter() + seconds, 0
        while n < max_epochs and (n == 0 or time.perf_counter() < t_end):
            self.epoch()
            n += 1
        return n

    def _count(self, who: str, loss: float) -> None:
        if not np.isfinite(loss):
            self.skipped += 1
        else:
            self._losses[who].append(loss)

    # ------------------------------------------------------------ looking
    def fakes(self, z: np.ndarray | None = None) -> np.ndarray:
        return np.asarray(self._g_predict(self.z_shown if z is None else z), np.float32)

    def realness(self, xy: np.ndarray) -> np.ndarray:
        """(n,) what the discriminator says of each point, as a probability of real."""
        from keras import ops

        out = self._d_predict(np.asarray(xy, np.float32))
        return ops.convert_to_numpy(losses.realness(self.settings.loss, out)).reshape(-1)

    def push(self, fakes: np.ndarray) -> np.ndarray:
        """(n, 2) where the generator's loss pushes each fake: minus the gradient of its
        own loss term with respect to the point (the generator moves points only through
        its weights, so this is the direction it is asked to move them in)."""
        from nets import backend

        if self._arrows is None:
            from keras import ops

            kind = self.settings.loss

            def each_summed(call, x):  # a sum: each point's gradient is its own term's
                return ops.sum(losses.g_loss_each(kind, call(x)))

            self._arrows = backend.input_gradient(self.D, each_summed)
        return -np.asarray(self._arrows(np.asarray(fakes, np.float32))[1], np.float32)

    def snapshot(self) -> dict:
        """Everything the view draws, as plain numpy (safe to hand to another thread)."""
        z_all = np.concatenate([self.z_shown, self.lattice.reshape(-1, 2)])
        g_all = self.fakes(z_all)
        fakes, warped = g_all[:SHOWN], g_all[SHOWN:].reshape(self.lattice.shape)
        d_all = self.realness(np.concatenate([self.grid, self.real_shown, fakes]))
        heat = d_all[:len(self.grid)].reshape(GRID, GRID)
        d_real, d_fake = d_all[len(self.grid):-SHOWN], d_all[-SHOWN:]
        fit = self.fit.measure(fakes, self.real_shown)
        mean = {k: float(np.mean(v)) if v else float("nan") for k, v in self._losses.items()}
        self._losses = {"d": [], "g": []}
        return {"real": self.real_shown.copy(), "fake": fakes, "push": self.push(fakes),
                "heat": heat, "warped": warped, "extent": targets.EXTENT,
                "loss": self.settings.loss, "target": self.settings.target,
                "d_steps": self.d_steps_done, "g_steps": self.g_steps_done,
                "d_loss": mean["d"], "g_loss": mean["g"],
                "d_real": float(d_real.mean()), "d_fake": float(d_fake.mean()),
                "skipped": self.skipped, "mode_centres": self.fit.modes.copy(),
                "covered_each": self.fit.covered(fakes), **fit}
