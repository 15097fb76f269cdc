"""Deep Q-learning with experience replay (Mnih et al. 2015, "Human-level control through
deep reinforcement learning"), on Atari games from gymnasium + ale-py and on CartPole.

Algorithm 1 of the paper: a replay memory D of capacity N; an action-value network Q and
a target network Q^ copied from Q every C steps; epsilon-greedy actions; each transition
(phi_t, a_t, r_t, phi_t+1) stored in D; minibatches sampled at random; targets
y = r for terminal steps and r + gamma * max_a' Q^(phi', a') otherwise; a gradient step on
the Huber loss of y - Q(phi, a) for Atari (the paper's error clipping), on the squared
error for CartPole. For Atari, phi is the paper's preprocessing: the max of the last two
frames of each frame-skip, greyscale, 84x84, the last 4 such frames stacked; CartPole's
state is its 4 numbers. Written after CleanRL's dqn_atari.py (Huang et al. 2022), whose
defaults the Atari settings take, without OpenCV (resizing is done by Pillow).
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import numpy as np

from nets import storage
from nets.config import param
from nets.data import DataError  # its message is meant for the person
from nets.registry import Family
from nets.progress import (Artifact, BatchMetrics, Done, ImageEvent, Log, Started,
                           StopRequested, TrainingDiverged)

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


GAMES = CLASSIC + atari_games()


@dataclass
class Config:
    game: str = param("CartPole-v1", "Game", "CartPole: balance a pole (learns in minutes "
                      "on a laptop from 4 numbers; the defaults below are tuned for it). The "
                      "rest are Atari games learnt from pixels (hours to days without a "
                      "GPU); choosing one switches the other defaults to those for Atari, "
                      "mostly CleanRL dqn_atari's (the About page says which).",
                      choices=GAMES)
    total_steps: int = param(80_000, "Agent steps", "Actions the agent takes in all (in "
                             "Atari each one lasts Frame skip frames).", minimum=100,
                             maximum=50_000_000)
    replay_capacity: int = param(50_000, "Replay memory N", "Transitions remembered for "
                                 "replay; the oldest are forgotten.", minimum=100,
                                 maximum=10_000_000)
    learning_starts: int = param(1_000, "Warm-up steps", "Steps of play (random at first) "
                                 "before learning begins.", minimum=0, maximum=1_000_000)
    batch_size: int = param(64, "Minibatch", "Transitions per gradient step.", minimum=1,
                            maximum=1024)
    learning_rate: float = param(1e-3, "Learning rate", "Adam step size.", minimum=1e-7,
                                 maximum=1.0, decimals=7)
    gamma: float = param(0.99, "Discount gamma", "How much future rewards count.",
                         minimum=0.0, maximum=1.0, step=0.005, decimals=4)
    train_every: int = param(1, "Train every", "A gradient step every this many actions "
                             "(4 in the paper).", minimum=1, maximum=100)
    target_update: int = param(200, "Target update C", "Agent steps between copies of Q into "
                               "the target network Q^.", minimum=1, maximum=1_000_000)
    epsilon_start: float = param(1.0, "Epsilon start", "Chance of a random action at the "
                                 "start.", minimum=0.0, maximum=1.0, step=0.05, decimals=3)
    epsilon_end: float = param(0.05, "Epsilon end", "Chance of a random action after the "
                               "decay.", minimum=0.0, maximum=1.0, step=0.01, decimals=3)
    epsilon_fraction: float = param(0.2, "Epsilon decay", "Fraction of all steps over "
                                    "which epsilon falls linearly.", minimum=0.0,
                                    maximum=1.0, step=0.05, decimals=3)
    frame_skip: int = param(4, "Frame skip", "Atari: each action repeats for this many "
                            "frames; the agent sees the max of the last two.", minimum=1,
                            maximum=8, when=("game", GAMES[len(CLASSIC):]))
    life_loss_ends: bool = param(True, "Life loss ends episode", "Atari: losing a life "
                                 "counts as the end of an episode for learning (the game "
                                 "goes on).", when=("game", GAMES[len(CLASSIC):]))
    autosave_every: int = param(10_000, "Autosave every", "Steps between autosaves of the "
                                "agent (what closing mid-training can lose).", minimum=100,
                                maximum=10_000_000)


# The settings for Atari games: CleanRL dqn_atari.py's defaults (Adam 1e-4, batch 32, a
# gradient step every 4 agent steps, a target copy every 1,000 agent steps, epsilon to
# 0.01 over the first 10% of 10M steps), with the Nature paper's warm-up of 50,000 steps
# (CleanRL waits 80,000) and a replay memory sized for a laptop (both remember 1,000,000
# frames: 7 GB). The paper itself: RMSProp 2.5e-4, a target copy every 10,000 updates,
# epsilon from 1 to 0.1 over the first 1,000,000 frames (Extended Data Table 1).
ATARI_SETTINGS = {"total_steps": 10_000_000, "replay_capacity": 200_000,
                  "learning_starts": 50_000, "batch_size": 32, "learning_rate": 1e-4,
                  "train_every": 4, "target_update": 1_000, "epsilon_end": 0.01,
                  "epsilon_fraction": 0.1, "autosave_every": 50_000}


def settings_for(game: str | None) -> "Config":
    """The defaults that suit a game: ATARI_SETTINGS for Atari, the tuned ones for CartPole.
    (The command line starts from these; the tab switches to them when a game is picked.)"""
    import dataclasses

    if game and is_atari(game):
        return dataclasses.replace(Config(), game=game, **ATARI_SETTINGS)
    return Config() if not game else dataclasses.replace(Config(), game=game)


def autosave_variant(config: Config) -> str:
    """Each game keeps its own autosaves: an agent for one game is no use in another."""
    return config.game


def is_atari(game: str) -> bool:
    return game not in CLASSIC


def epsilon_at(step: int, config: Config, planned_steps: int | None = None) -> float:
    """Linear decay from epsilon_start to epsilon_end over epsilon_fraction of the run as
    first planned (`planned_steps`: a resumed run made longer keeps its schedule, rather
    than going back to exploring)."""
    span = config.epsilon_fraction * (planned_steps or config.total_steps)
    if span <= 0:
        return config.epsilon_end
    frac = min(1.0, step / span)
    return config.epsilon_start + frac * (config.epsilon_end - config.epsilon_start)


def replay_bytes(config: Config) -> int:
    """Memory the replay will take: each frame is stored once, as uint8."""
    per = FRAME * FRAME if is_atari(config.game) else 4 * 4
    return config.replay_capacity * (per + 4 + 4 + 3)


def available_memory() -> int | None:
    """Bytes of memory free for a new allocation, or None if this system will not say."""
    try:  # Linux: MemAvailable counts the page cache the system would give back
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        pass
    try:  # Windows
        import ctypes

        class Status(ctypes.Structure):
            _fields_ = [("length", ctypes.c_ulong), ("load", ctypes.c_ulong),
                        ("total", ctypes.c_ulonglong), ("avail", ctypes.c_ulonglong),
                        ("total_page", ctypes.c_ulonglong), ("avail_page", ctypes.c_ulonglong),
                        ("total_virtual", ctypes.c_ulonglong),
                        ("avail_virtual", ctypes.c_ulonglong),
                        ("extended", ctypes.c_ulonglong)]

        s = Status()
        s.length = ctypes.sizeof(Status)
        ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(s))
        return int(s.avail)
    except Exception:  # noqa: BLE001
        return None


def check_memory(config: Config) -> None:
    need, free = replay_bytes(config), available_memory()
    if free is not None and need > 0.8 * free:
        raise DataError(f"A replay memory of {config.replay_capacity:,} transitions needs "
                         f"{need / 2**30:.1f} GB, but only {free / 2**30:.1f} GB is free. "
                         "Choose a smaller 'Replay memory N'.")


# ---------------------------------------------------------------- the replay memory
class ReplayBuffer:
    """A ring buffer of observations, each stored once (an Atari frame as uint8, not four
    copies per stacked state), with the action, reward and end flags of the step taken
    from it. A state is rebuilt from the last `history` observations; those from before
    the start of its episode are zeros, as the agent saw them.
    """

    def __init__(self, capacity: int, obs_shape, dtype, history: int = 1):
        self.capacity, self.history = int(capacity), int(history)
        self.obs = np.zeros((self.capacity, *obs_shape), dtype)
        self.action = np.zeros(self.capacity, np.int32)
        self.reward = np.zeros(self.capacity, np.float32)
        self.done = np.zeros(self.capacity, bool)  # the step ended a (learning) episode
        self.first = np.zeros(self.capacity, bool)  # the observation starts an episode
        self.has_next = np.zeros(self.capacity, bool)  # the next slot follows it
        self.head = 0  # where the next observation goes
        self.size = 0

    def add(self, obs, action: int, reward: float, done: bool, first: bool) -> None:
        """Store observation phi_t with the action taken from it and what followed."""
        i = self.head
        prev = (i - 1) % self.capacity
        if self.size and not first and not self.done[prev]:
            self.has_next[prev] = True
        self.obs[i], self.action[i], self.reward[i] = obs, action, reward
        self.done[i], self.first[i], self.has_next[i] = done, first, False
        self.head = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def stacked(self, idx: np.ndarray) -> np.ndarray:
        """States at slots idx: (n, *obs_shape, history) or (n, *obs_shape) if history 1."""
        if self.history == 1:
            return self.obs[idx]
        frames = []
        alive = np.ones(len(idx), bool)
        for j in range(self.history):
            slot = (idx - j) % self.capacity
            frame = self.obs[slot]
            frames.append(np.where(alive.reshape(-1, *([1] * (frame.ndim - 1))), frame, 0))
            alive &= ~self.first[slot]  # older frames belong to an earlier episode
        return np.stack(frames[::-1], axis=-1)

    def valid(self, idx: np.ndarray) -> np.ndarray:
        """Slots whose state and (if not terminal) next state are wholly in memory."""
        age = (idx - self.head) % self.capacity if self.size == self.capacity else idx
        return (age >= self.history - 1) & (self.done[idx] | self.has_next[idx])

    def sample(self, n: int, rng: np.random.Generator):
        """(states, actions, rewards, next states, dones) of n random valid transitions."""
        idx = np.empty(0, np.int64)
        for _ in range(100):
            draw = rng.integers(0, max(self.size, 1), 2 * n)
            idx = np.concatenate([idx, draw[self.valid(draw)]])
            if len(idx) >= n:
                break
        else:
            raise ValueError("The replay memory holds too few complete transitions yet.")
        idx = idx[:n]
        nxt = (idx + 1) % self.capacity
        return (self.stacked(idx), self.action[idx], self.reward[idx], self.stacked(nxt),
                self.done[idx].astype(np.float32))


# ---------------------------------------------------------------- the games
class Game:
    """An environment as the agent sees it: reset() -> phi, step(a) -> (phi, reward,
    done for learning, game over, truncated). `screen()` is the picture a person sees."""

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
            raise DataError(f"The Atari game '{name}' could not be started ({exc}). "
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


# ---------------------------------------------------------------- the networks
def build_q_network(config: Config, obs_shape, n_actions: int):
    """Nature DQN for pixels (3 convolutions, 512 units); two dense layers for CartPole."""
    import keras
    from keras import layers

    if is_atari(config.game):
        inputs = keras.Input((FRAME, FRAME, HISTORY), dtype="uint8", name="frames")
        x = layers.Rescaling(1 / 255.0)(inputs)
        x = layers.Conv2D(32, 8, strides=4, activation="relu", name="conv1")(x)
        x = layers.Conv2D(64, 4, strides=2, activation="relu", name="conv2")(x)
        x = layers.Conv2D(64, 3, strides=1, activation="relu", name="conv3")(x)
        x = layers.Flatten()(x)
        x = layers.Dense(512, activation="relu", name="hidden")(x)
    else:
        inputs = keras.Input(tuple(obs_shape), name="state")
        x = layers.Dense(120, activation="relu", name="hidden1")(inputs)
        x = layers.Dense(84, activation="relu", name="hidden2")(x)
    outputs = layers.Dense(n_actions, name="q_values")(x)
    return keras.Model(inputs, outputs, name="q_network")


def td_targets(rewards, next_q_target, dones, gamma: float):
    """y = r if the step was terminal, else r + gamma * max_a' Q^(phi', a')."""
    from keras import ops

    return rewards + gamma * (1.0 - dones) * ops.max(next_q_target, axis=1)


class Learner:
    """Q, the target network Q^, the optimiser and the compiled gradient step."""

    def __init__(self, config: Config, obs_shape, n_actions: int):
        import keras
        import tensorflow as tf

        self.config = config
        self.q = build_q_network(config, obs_shape, n_actions)
        self.target = build_q_network(config, obs_shape, n_actions)
        self.sync_target()
        self.optimizer = keras.optimizers.Adam(config.learning_rate, epsilon=1e-4)
        # compiled only so that the optimizer's state is saved with the weights
        self.q.compile(optimizer=self.optimizer)
        self.optimizer.build(self.q.trainable_variables)
        # The paper's error clipping (Huber) suits clipped Atari rewards; CartPole's values
        # grow to about 100, where a clipped gradient learns them too slowly (CleanRL uses
        # the squared error there).
        error = (keras.losses.Huber() if is_atari(config.game)
                 else keras.losses.MeanSquaredError())
        gamma = float(config.gamma)
        q, target, opt = self.q, self.target, self.optimizer

        @tf.function(reduce_retracing=True)
        def train_step(s, a, r, s2, d):
            y = tf.stop_gradient(td_targets(r, target(s2, training=False), d, gamma))
            with tf.GradientTape() as tape:
                values = q(s, training=True)
                chosen = tf.gather(values, a, axis=1, batch_dims=1)
                loss = error(y, chosen)
            grads = tape.gradient(loss, q.trainable_variables)
            finite = tf.math.is_finite(loss) & tf.math.is_finite(tf.linalg.global_norm(grads))

            def apply():  # a NaN or infinite step is never applied: Q stays as it was
                opt.apply_gradients(zip(grads, q.trainable_variables))
                return tf.constant(True)

            tf.cond(finite, apply, lambda: tf.constant(False))
            return tf.where(finite, loss, tf.constant(float("nan"), loss.dtype))

        @tf.function(reduce_retracing=True)
        def values(s):
            return q(s, training=False)

        self.train_step, self.values = train_step, values

    def sync_target(self) -> None:
        self.target.set_weights(self.q.get_weights())

    def q_is_finite(self) -> bool:
        return all(np.isfinite(w).all() for w in self.q.get_weights())

    def q_values(self, state) -> np.ndarray:
        return np.asarray(self.values(state[None]))[0]


# ---------------------------------------------------------------- what the GUI sees
class Display:
    """Shared between the trainer and a viewer: whether to send screens, how fast to play
    them, and a person's action when they take over. Plain attributes written by one
    thread and read by another (each a single Python store, so safe under the GIL)."""

    def __init__(self, live: bool = True, fps: float = 30.0):
        self.live = live  # training: send screens at all
        self.fps = fps  # training: screens sent per second; watching: steps per second
        # training: steps a second the person asked for in the training controls, to
        # follow the game (0: full speed, the default; watching has its own speed)
        self.training_pace = 0.0
        self.human_action: int | None = None  # watching: a person's action, if playing


def held_out_states(game: Game, stack: FrameStack, n: int, rng) -> np.ndarray:
    """States met by a random policy before learning: the paper's fixed set for the
    average max-Q curve."""
    states = []
    obs = game.reset()
    state = stack.reset(obs)
    while len(states) < n:
        states.append(state)
        obs, _, _, done, over, _ = game.step(int(rng.integers(game.n_actions)))
        state = stack.reset(game.reset()) if over else (stack.reset(obs) if done
                                                        else stack.push(obs))
    return np.stack(states)


# ---------------------------------------------------------------- training
def train(request, reporter):
    from nets import runner
    from nets.runner import TrainedModel, config_meta, seed_everything

    config = request.config
    start_step, history = 0, {"returns": [], "avg_q": [], "episode_steps": []}
    planned = config.total_steps  # what the exploration schedule is laid out over
    slot = runner.autosave_slot("dqn", config)
    slot.remove_stale_temporaries()
    found = slot.latest() if request.resume else None  # AutosaveUnreadable says why
    if request.resume and found is None:
        reporter.emit(Log(f"No autosave of {config.game} to resume from: starting afresh."))
    if found is not None:
        for note in found.passed_over:
            reporter.emit(Log(f"Passed over a newer autosave: {note}"))
        config = request.config = runner.resume_config(request, found, Config)
        start_step = int(found.meta.get("step", 0))
        history = {k: list(found.meta.get("training", {}).get(k, [])) for k in history}
        planned = int(found.meta.get("planned_steps") or
                      found.meta.get("config", {}).get("total_steps") or planned)
        reporter.emit(Artifact("config", config))
    check_memory(config)
    seed_everything(request.seed)
    rng = np.random.default_rng(request.seed)
    game = make_game(config, request.seed)
    history_len = HISTORY if is_atari(config.game) else 1
    stack = FrameStack(game.obs_shape, game.obs_dtype, history_len)
    memory = ReplayBuffer(config.replay_capacity, game.obs_shape, game.obs_dtype, history_len)
    state_shape = stack.reset(game.reset()).shape
    learner = Learner(config, state_shape, game.n_actions)
    if found is not None:
        storage.load_weights(learner.q, found.path)
        learner.sync_target()
        reporter.emit(Log(f"Resumed the {config.game} agent from step {start_step:,} with "
                          f"the settings it was trained with, to step "
                          f"{config.total_steps:,} (the replay memory starts empty, so "
                          "learning waits for the warm-up again)."))
    display = Display()
    reporter.emit(Artifact("display", display))
    reporter.emit(Artifact("actions", list(game.action_names)))
    reporter.emit(Artifact("model", learner.q))
    probe = held_out_states(game, stack, 500, np.random.default_rng(request.seed + 1))
    meta = config_meta(request, game=config.game, action_names=game.action_names,
                       obs_shape=list(state_shape), planned_steps=planned)

    def snapshot(step):
        return {**meta, "step": step, "epoch": step, "training": history}

    reporter.emit(Started(config.total_steps, f"Deep Q-learning on {config.game}: "
                          f"{config.total_steps:,} steps, replay memory of "
                          f"{config.replay_capacity:,} ({replay_bytes(config) / 2**20:.0f} MB).",
                          first_step=start_step))
    if start_step:
        reporter.emit(Artifact("training", history))  # the curves so far
    t0, last_emit, last_screen, last_q_probe = time.monotonic(), 0.0, 0.0, time.monotonic()
    steps_t0, steps_at = time.monotonic(), start_step
    episode_return, episode_len, loss = 0.0, 0, float("nan")
    obs = game.reset()
    state = stack.reset(obs)
    first = True
    status, message = "finished", ""
    step = synced_at = start_step
    try:
        for step in range(start_step + 1, config.total_steps + 1):
            eps = epsilon_at(step, config, planned)
            explore = rng.random() < eps  # one draw: a random action with chance eps
            show = display.live and time.monotonic() - last_screen >= 1 / max(display.fps, 1)
            q_values = learner.q_values(state) if show or not explore else None
            action = int(rng.integers(game.n_actions)) if explore else \
                int(np.argmax(q_values))
            if show:  # the screen, the state, its Q-values and the action, all of one step
                last_screen = time.monotonic()
                reporter.emit(ImageEvent("screen", game.screen()))
                reporter.emit(Artifact("q", (q_values, action, state)))
            obs, reward, raw, done, over, _ = game.step(action)
            memory.add(state[..., -1] if history_len > 1 else state, action, reward, done,
                       first)
            first = False
            episode_return += raw
            episode_len += 1
            if over or done:  # a cut-short episode's last step is never sampled: no next
                state, first = stack.reset(game.reset() if over else obs), True
            else:
                state = stack.push(obs)
            if over:
                history["returns"].append(episode_return)
                history["episode_steps"].append(step)
                reporter.emit(Artifact("episode", {"episode": len(history["returns"]),
                                                   "return": episode_return,
                                                   "length": episode_len, "step": step}))
                episode_return, episode_len = 0.0, 0
            if step > config.learning_starts and step % config.train_every == 0:
                try:
                    batch = memory.sample(config.batch_size, rng)
                except ValueError:  # too few complete transitions yet (a tiny warm-up)
                    batch = None
                if batch is not None:
                    loss = float(learner.train_step(*batch))
                    if not math.isfinite(loss):  # the step was not applied
                        raise TrainingDiverged(f"The loss or its gradient became NaN or "
                                               f"infinite at step {step:,}.")
            # Q^ and the autosaves only ever hold finite weights: the last good state
            due = (step % config.target_update == 0,
                   request.autosave and step % config.autosave_every == 0)
            if any(due) and not learner.q_is_finite():
                raise TrainingDiverged(f"The network's weights became NaN or infinite by "
                                       f"step {step:,}.")
            if due[0]:
                learner.sync_target()
                synced_at = step
            now = time.monotonic()
            if now - last_emit >= 0.1:
                sps = (step - steps_at) / max(now - steps_t0, 1e-9)
                if now - steps_t0 > 2:
                    steps_t0, steps_at = now, step
                last_emit = now
                reporter.emit(BatchMetrics(step, 0, {"loss": loss} if loss == loss else {}))
                reporter.emit(Artifact("stats", {"epsilon": eps, "replay": memory.size,
                                                 "capacity": memory.capacity,
                                                 "steps_per_second": sps, "step": step,
                                                 "learning": step > config.learning_starts}))
            if now - last_q_probe >= 2.0 or step == config.total_steps:
                last_q_probe = now
                value = float(np.mean(np.max(np.concatenate(
                    [np.asarray(learner.values(probe[i:i + 250]))
                     for i in range(0, len(probe), 250)]), axis=1)))
                history["avg_q"].append((step, value))
                reporter.emit(Artifact("avg_q", (step, value)))
            if due[1]:
                try:
                    slot.save(learner.q, snapshot(step), step)
                except storage.StorageError as exc:
                    reporter.emit(Log(f"Autosave skipped: {exc}"))
            reporter.controls.checkpoint()
            pace = display.training_pace
            if pace > 0:  # the person asked for training slow enough to follow
                time.sleep(max(0.0, 1 / pace - (time.monotonic() - now)))
    except TrainingDiverged as exc:
        learner.q.set_weights(learner.target.get_weights())  # Q as of the last copy into Q^
        status = "failed"
        message = (f"{exc} Training was stopped; the agent keeps its weights of step "
                   f"{synced_at:,}, the last copy into the target network. A lower learning "
                   "rate usually fixes this. ")
    except StopRequested:
        status = "stopped"
        if request.autosave and step > start_step:  # Stop or closing the window keeps it all
            try:
                slot.save(learner.q, snapshot(step), step)
            except storage.StorageError as exc:
                reporter.emit(Log(f"Autosave skipped: {exc}"))
    finally:
        game.close()
    seconds = time.monotonic() - t0
    trained = TrainedModel(learner.q, "dqn",
                           snapshot(synced_at if status == "failed" else step), [], seconds)
    recent = history["returns"][-20:]
    score = (f"Average return of the last {len(recent)} training episodes: "
             f"{np.mean(recent):.1f}" if recent else "No episode has ended yet")
    words = {"stopped": "Stopped by you after", "failed": "Ran"}.get(status, "Trained")
    return Done(status, f"{message}{words} {step - start_step:,} steps in {seconds:.0f} s "
                f"({(step - start_step) / max(seconds, 1e-9):.0f} steps/s).",
                result=trained, headline=score)


def load(path):
    """A saved agent: its Q-network rebuilt from the stored config; only weights are read."""
    from nets.config import from_dict
    from nets.runner import TrainedModel

    meta = storage.read_meta(path)
    if meta.get("family") != "dqn":
        raise storage.StorageError(f"This file holds a {meta.get('family', 'unknown')!r} "
                                   "model, not a Q-learning agent.")
    try:
        config = from_dict(Config, meta["config"], strict=True)
        shape = tuple(int(v) for v in meta["obs_shape"])
        n_actions = len(meta["action_names"])
    except (KeyError, TypeError, ValueError) as exc:
        raise storage.damaged_description(path, exc) from exc
    model = build_q_network(config, shape, n_actions)
    storage.load_weights(model, path)
    return TrainedModel(model, "dqn", meta, [])


def evaluate(model, config: Config, episodes: int = 20, seed: int = 10_000,
             epsilon: float = 0.0) -> list[float]:
    """Returns (unclipped game score) of `episodes` games played by the greedy agent, on
    seeds the training never used; an Atari game plays to its real end (all lives)."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    values = tf.function(lambda s: model(s, training=False), reduce_retracing=True)
    returns = []
    for episode in range(episodes):
        game = make_game(config, seed + episode)
        stack = FrameStack(game.obs_shape, game.obs_dtype, HISTORY if is_atari(config.game)
                           else 1)
        state, total, over = stack.reset(game.reset()), 0.0, False
        try:
            while not over:
                action = int(rng.integers(game.n_actions)) if rng.random() < epsilon \
                    else int(np.argmax(values(state[None])[0]))
                obs, _, raw, done, over, _ = game.step(action)
                total += raw
                state = stack.reset(obs) if done and not over else stack.push(obs)
        finally:
            game.close()
        returns.append(total)
    return returns


# ---------------------------------------------------------------- watching
def watch(model, config: Config, display: Display, reporter, epsilon: float = 0.01,
          seed: int = 0, episodes: int = 1000) -> Done:
    """Play with a trained Q-network (or a person at the keys) at display.fps."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    game = make_game(config, seed)
    values = tf.function(lambda s: model(s, training=False), reduce_retracing=True)
    history_len = HISTORY if is_atari(config.game) else 1
    stack = FrameStack(game.obs_shape, game.obs_dtype, history_len)
    reporter.emit(Artifact("actions", list(game.action_names)))
    reporter.emit(Started(0, f"Watching the agent play {config.game}.", metric=""))
    returns: list[float] = []
    try:
        for _ in range(episodes):
            state, total, over = stack.reset(game.reset()), 0.0, False
            while not over:
                t_frame = time.monotonic()
                q_values = np.asarray(values(state[None]))[0]
                human = display.human_action
                action = human if human is not None else (
                    int(rng.integers(game.n_actions)) if rng.random() < epsilon
                    else int(np.argmax(q_values)))
                reporter.emit(ImageEvent("screen", game.screen()))
                reporter.emit(Artifact("q", (q_values, action, state)))
                obs, _, raw, done, over, _ = game.step(action)
                total += raw
                state = stack.reset(obs) if done and not over else stack.push(obs)
                reporter.controls.checkpoint()
                if display.fps > 0:
                    time.sleep(max(0.0, 1 / display.fps - (time.monotonic() - t_frame)))
            returns.append(total)
            reporter.emit(Artifact("episode", {"episode": len(returns), "return": total,
                                               "watch": True}))
    except StopRequested:
        pass
    finally:
        game.close()
    avg = f" Average return {np.mean(returns):.1f} over {len(returns)} games." \
        if returns else ""
    return Done("stopped", f"Stopped watching.{avg}")


FAMILY = Family(key="dqn", title="Deep Q-learning",
                summary="An agent learns by trial and reward to balance a pole (from 4 "
                        "numbers) or to play Atari games (from the screen's pixels).",
                config=Config, train=train, load=load,
                datasets=(),  # the data is the game
                length_field="total_steps",  # what resuming may lengthen
                autosave_variant=autosave_variant,
                defaults_for=lambda options: settings_for(options.get("game")),
                # the screen moves: events reach the window ~30 times a second
                event_interval_ms=33)
