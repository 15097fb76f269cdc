"""The games the Q-learner plays, as it sees them: CartPole's 4 numbers, or an Atari
screen after the Nature paper's preprocessing (the max of the last two frames of each
frame-skip, greyscale, 84x84), and the stack of the last few observations that makes a
state.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nets.errors import SettingsError

if TYPE_CHECKING:
    from nets.families.dqn import Config

CLASSIC = ("CartPole-v1",)
FIRST_GAMES = ("Pong", "Breakout")
FRAME = 84  # side of the preprocessed square frame
HISTORY = 4  # frames stacked into one Atari state


def atari_games() -> tuple[str, ...]:
    """The ALE games whose ROMs ship in ale-py, Pong and Breakout first (those two are
    offered even without ale-py, so that choosing one says how to get it)."""
    try:
        import gymnasium
        import ale_py

        gymnasium.register_envs(ale_py)
        names = sorted(k[4:-3] for k in gymnasium.registry
                       if k.startswith("ALE/") and k.endswith("-v5"))
    except Exception:  # noqa: BLE001 - without ale-py the run says so in words
        names = []
    rest = [n for n in names if n not in FIRST_GAMES]
    return FIRST_GAMES + tuple(rest)


def is_atari(game: str) -> bool:
    return game not in CLASSIC


def history_of(game: str) -> int:
    """Observations stacked into one state: the last 4 frames of an Atari game; CartPole's
    numbers alone."""
    return HISTORY if is_atari(game) else 1


class Game:
    """An environment as the agent sees it: reset() -> phi, step(a) -> (phi, reward for
    learning, the game's own reward, done for learning, game over, truncated).
    `screen()` is the picture a person sees."""

    n_actions: int
    action_names: list[str]
    obs_shape: tuple
    obs_dtype: type

    def close(self) -> None:
        self.env.close()


class ClassicGame(Game):
    def __init__(self, name: str, seed: int):
        import gymnasium

        self.env = gymnasium.make(name)
        self.n_actions = int(self.env.action_space.n)
        self.action_names = ["push left", "push right"] if "CartPole" in name else \
            [str(i) for i in range(self.n_actions)]
        self.obs_shape, self.obs_dtype = self.env.observation_space.shape, np.float32
        self.seed = seed
        self._seeded = False

    def reset(self):
        obs, _ = self.env.reset(seed=None if self._seeded else self.seed)
        self._seeded = True
        return np.asarray(obs, np.float32)

    def step(self, action: int):
        obs, reward, term, trunc, _ = self.env.step(int(action))
        return np.asarray(obs, np.float32), float(reward), float(reward), bool(term), \
            bool(term or trunc), bool(trunc and not term)

    def screen(self) -> np.ndarray:
        return draw_cartpole(self.env.unwrapped.state)


def draw_cartpole(state, width: int = 360, height: int = 220) -> np.ndarray:
    """A picture of CartPole's state (cart position x, pole angle theta) with Pillow;
    gymnasium's own renderer would need pygame."""
    from PIL import Image, ImageDraw

    x, _, theta, _ = (float(v) for v in state)
    img = Image.new("RGB", (width, height), (245, 245, 245))
    d = ImageDraw.Draw(img)
    scale = width / 4.8  # the track runs from -2.4 to 2.4
    ground = int(height * 0.8)
    d.line([(0, ground), (width, ground)], fill=(60, 60, 60), width=2)
    cx = width / 2 + x * scale
    d.rectangle([cx - 25, ground - 16, cx + 25, ground + 4], fill=(40, 40, 40))
    length = 1.0 * scale  # the pole is 1.0 long (twice gymnasium's half-length)
    tip = (cx + length * np.sin(theta), ground - 16 - length * np.cos(theta))
    d.line([(cx, ground - 16), tip], fill=(200, 130, 70), width=8)
    d.ellipse([cx - 4, ground - 20, cx + 4, ground - 12], fill=(120, 120, 200))
    return np.asarray(img)


class AtariGame(Game):
    """An ALE game with the Nature paper's preprocessing, in numpy and Pillow."""

    def __init__(self, name: str, seed: int, frame_skip: int = 4, noop_max: int = 30,
                 life_loss_ends: bool = True):
        import gymnasium

        try:
            import ale_py

            gymnasium.register_envs(ale_py)
            self.env = gymnasium.make(f"ALE/{name}-v5", frameskip=1, obs_type="grayscale",
                                      repeat_action_probability=0.0)
        except Exception as exc:
            from nets import addons

            why = ("Atari games need the Arcade Learning Environment (ale-py), which the "
                   "installers leave out for licence reasons: File > Atari games… (or "
                   "`main.py kit atari`) fetches it." if not addons.ale_available() else
                   "It needs the ale-py package, which ships the game ROMs.")
            raise SettingsError(f"The Atari game '{name}' could not be started ({exc}). "
                            f"{why}") from exc
        self.ale = self.env.unwrapped.ale
        self.action_names = [m.lower().replace("fire", " fire").strip()
                             for m in self.env.unwrapped.get_action_meanings()]
        self.n_actions = len(self.action_names)
        self.fire = self.n_actions >= 3 and self.action_names[1] == "fire"
        self.obs_shape, self.obs_dtype = (FRAME, FRAME), np.uint8
        self.frame_skip, self.noop_max = frame_skip, noop_max
        self.life_loss_ends = life_loss_ends
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self._seeded = False
        self.lives = 0

    @staticmethod
    def phi(frame: np.ndarray) -> np.ndarray:
        from PIL import Image

        img = Image.fromarray(frame).resize((FRAME, FRAME), Image.Resampling.BILINEAR)
        return np.asarray(img, np.uint8)

    def _raw_step(self, action):
        """One agent step: the action repeated frame_skip times, the max of the last two
        frames (Atari sprites flicker), and the rewards summed."""
        total, last, term, trunc = 0.0, [], False, False
        for k in range(self.frame_skip):
            obs, r, term, trunc, info = self.env.step(int(action))
            total += r
            if k >= self.frame_skip - 2:
                last.append(obs)
            if term or trunc:
                break
        frame = np.maximum(last[-1], last[-2]) if len(last) == 2 else (last or [obs])[-1]
        return frame, total, term, trunc, info.get("lives", 0)

    def _start(self, frame):
        """After a reset or a lost life: launch the ball where the game needs FIRE."""
        if self.fire:
            frame, _, _, _, self.lives = self._raw_step(1)
        return frame

    def reset(self):
        obs, info = self.env.reset(seed=None if self._seeded else self.seed)
        self._seeded = True
        for _ in range(int(self.rng.integers(0, self.noop_max + 1))):  # random no-op start
            obs, _, term, trunc, _ = self.env.step(0)
            if term or trunc:
                obs, info = self.env.reset()
        self.lives = self.ale.lives()
        return self.phi(self._start(obs))

    def step(self, action: int):
        frame, reward, term, trunc, lives = self._raw_step(action)
        lost = lives < self.lives
        self.lives = lives
        if lost and not (term or trunc):
            frame = self._start(frame)
        done = term or (self.life_loss_ends and lost)
        # rewards clipped to -1, 0, +1 for learning, as in the paper
        return self.phi(frame), float(np.sign(reward)), float(reward), bool(done), \
            bool(term or trunc), bool(trunc and not term)

    def screen(self) -> np.ndarray:
        return self.ale.getScreenRGB()


def make_game(config: Config, seed: int) -> Game:
    if is_atari(config.game):
        return AtariGame(config.game, seed, config.frame_skip,
                         life_loss_ends=config.life_loss_ends)
    return ClassicGame(config.game, seed)


class FrameStack:
    """The agent's current state: the last `history` observations, zeros before the
    episode began (the same rule the replay memory uses)."""

    def __init__(self, obs_shape, dtype, history: int):
        self.history = history
        self.frames = np.zeros((*obs_shape, history), dtype) if history > 1 else None

    def reset(self, obs):
        if self.frames is None:
            self.state = obs
            return self.state
        self.frames[:] = 0
        return self.push(obs)

    def push(self, obs):
        if self.frames is None:
            self.state = obs
            return obs
        self.frames = np.roll(self.frames, -1, axis=-1)
        self.frames[..., -1] = obs
        self.state = self.frames.copy()
        return self.state
