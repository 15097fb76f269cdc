"""The replay memory D: its ring buffer, and whether the machine has room for it."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from nets.errors import SettingsError
from nets.families.dqn.games import FRAME, is_atari

if TYPE_CHECKING:
    from nets.families.dqn import Config


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
    per_game = config.replay_capacity // config.envs
    if per_game < 100:  # the least one game may have ('Replay memory N' alone)
        raise SettingsError(f"A replay memory of {config.replay_capacity:,} transitions "
                            f"shared by {config.envs} games leaves each only {per_game}. "
                            f"Choose a 'Replay memory N' of at least "
                            f"{100 * config.envs:,}, or fewer 'Games at once'.")
    need, free = replay_bytes(config), available_memory()
    if free is not None and need > 0.8 * free:
        raise SettingsError(f"A replay memory of {config.replay_capacity:,} transitions needs "
                         f"{need / 2**30:.1f} GB, but only {free / 2**30:.1f} GB is free. "
                         "Choose a smaller 'Replay memory N'.")


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


class ReplayMemory:
    """The replay memory of games played side by side: each game's transitions go to its
    own ring (a state is rebuilt from one game's consecutive frames), `capacity` split
    evenly between them; a minibatch draws from each ring in proportion to what it
    holds. With one game it is that game's ring and nothing more."""

    def __init__(self, capacity: int, obs_shape, dtype, history: int = 1, games: int = 1):
        shares = [capacity // games + (i < capacity % games) for i in range(games)]
        self.rings = [ReplayBuffer(c, obs_shape, dtype, history) for c in shares]
        self.capacity = int(capacity)

    @property
    def size(self) -> int:
        return sum(r.size for r in self.rings)

    def add(self, game: int, obs, action: int, reward: float, done: bool,
            first: bool) -> None:
        self.rings[game].add(obs, action, reward, done, first)

    def sample(self, n: int, rng: np.random.Generator):
        if len(self.rings) == 1:
            return self.rings[0].sample(n, rng)
        sizes = np.array([r.size for r in self.rings], float)
        if not sizes.sum():
            raise ValueError("The replay memory is empty.")
        counts = rng.multinomial(n, sizes / sizes.sum())
        parts = [r.sample(int(k), rng) for r, k in zip(self.rings, counts) if k]
        return tuple(np.concatenate(column) for column in zip(*parts))
