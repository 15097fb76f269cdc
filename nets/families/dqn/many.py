"""Several games played side by side, all feeding one replay memory: `send(actions)`
starts one agent step in each of the first len(actions) games, `receive()` returns their
Steps, and in between the learner is free to take its gradient steps.

Where there are cores to spare, Atari games run in worker processes (the emulator and
the screen's preprocessing are the work; they share the states through one block of
shared memory, and only a few numbers cross the pipes). On 2 cores they only take turns
with the learner: no faster than games played here, and slower when other work shares
the cores (benchmarks/dqn.py). CartPole steps in microseconds, so its games always stay
here. The processes are started with "spawn" on every system: forking a process that has
a deep-learning library's threads running can deadlock.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal

import numpy as np

from nets.errors import PlainError, SettingsError
from nets.families.dqn.games import Game, is_atari, make_game
from nets.families.dqn.play import Play, Step

SEED_STRIDE = 100_000  # game i of a run with seed s plays seed s + i * SEED_STRIDE
PROCESSES_FROM = 4  # processor cores from which Atari games get processes of their own


class GameLost(PlainError):
    """A game's process ended in the middle of a run."""


def game_seeds(seed: int, n: int) -> list[int]:
    """One seed per game; game 0 keeps the run's own seed (one game plays as it always did).
    Far from the held-out seeds that evaluation uses (10,000 onwards)."""
    return [seed + i * SEED_STRIDE for i in range(n)]


class LocalGames:
    """Games in this process, stepped one after another."""

    parallel = False  # the games step in receive(), in this thread

    def __init__(self, games: list[Game], history: int):
        self.games = games
        self.plays = [Play(g, history) for g in games]
        self.pending: list[int] = []

    def __len__(self) -> int:
        return len(self.plays)

    @property
    def states(self) -> np.ndarray:
        return np.stack([p.state for p in self.plays])

    def send(self, actions) -> None:
        self.pending = [int(a) for a in actions]

    def receive(self) -> list[Step]:
        steps = [p.step(a) for p, a in zip(self.plays, self.pending)]
        self.pending = []
        return steps

    def screen(self) -> np.ndarray:
        return self.games[0].screen()

    def close(self) -> None:
        for g in self.games:
            g.close()


def _worker(index, config, seed, history, shared, shape, dtype, conn):
    """One game in its own process: writes each new state into its slot of `shared`."""
    for sig in (signal.SIGINT, signal.SIGTERM):  # the parent's to handle: it ends us
        signal.signal(sig, signal.SIG_IGN)
    try:
        game = make_game(config, seed)
        play = Play(game, history)
    except Exception as exc:  # noqa: BLE001 - the parent says it in words
        conn.send(("error", str(exc)))
        return
    slot = np.frombuffer(shared, dtype).reshape(-1, *shape)[index]
    slot[...] = play.state
    conn.send(("ready", None))
    try:
        while True:
            command, arg = conn.recv()
            if command == "step":
                s = play.step(arg)
                slot[...] = play.state
                conn.send(("step", (s.reward, s.done, s.first, s.over, s.score, s.length)))
            elif command == "screen":
                conn.send(("screen", game.screen()))
            else:
                break
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        pass
    finally:
        game.close()


class ProcessGames:
    """Games in worker processes. The state each game is in lives in shared memory; a step
    sends one action down a pipe and gets back the reward and end flags."""

    parallel = True  # the games step in their processes between send() and receive()

    def __init__(self, config, seeds: list[int], history: int, state_shape, dtype):
        ctx = mp.get_context("spawn")
        self.shape, self.dtype = tuple(state_shape), np.dtype(dtype)
        self.history, self.sent = history, []
        size = len(seeds) * int(np.prod(self.shape))
        self.shared = ctx.RawArray(np.ctypeslib.as_ctypes_type(self.dtype), size)
        self.view = np.frombuffer(self.shared, self.dtype).reshape(-1, *self.shape)
        self.conns, self.procs = [], []
        try:
            for i, seed in enumerate(seeds):
                ours, theirs = ctx.Pipe()
                proc = ctx.Process(target=_worker, daemon=True, name=f"game-{i}",
                                   args=(i, config, seed, history, self.shared, self.shape,
                                         self.dtype.str, theirs))
                proc.start()
                theirs.close()
                self.conns.append(ours)
                self.procs.append(proc)
            for i in range(len(seeds)):
                self._reply(i, "ready")
        except BaseException:
            self.close()
            raise
        self.current = self.view.copy()  # the states the next actions are taken in

    def __len__(self) -> int:
        return len(self.conns)

    def _reply(self, i: int, expected: str):
        try:
            kind, value = self.conns[i].recv()
        except (EOFError, OSError) as exc:
            raise GameLost(f"Game {i + 1} of {len(self)} stopped unexpectedly (its process "
                           "ended), so the run could not go on.") from exc
        if kind == "error":
            raise SettingsError(f"Game {i + 1} of {len(self)} could not start: {value}")
        if kind != expected:
            raise RuntimeError(f"Game {i + 1} answered {kind!r} to {expected!r}.")
        return value

    @property
    def states(self) -> np.ndarray:
        return self.current

    def send(self, actions) -> None:
        for conn, action in zip(self.conns, actions):
            conn.send(("step", int(action)))
        self.sent = [int(a) for a in actions]

    def receive(self) -> list[Step]:
        steps = []
        for i, action in enumerate(self.sent):
            reward, done, first, over, score, length = self._reply(i, "step")
            state = self.current[i]
            newest = state[..., -1] if self.history > 1 else state
            steps.append(Step(state, newest, action, reward, done, first, over, score,
                              length))
        n = len(self.sent)
        self.current = self.current.copy()  # the Steps keep the states they were taken in
        self.current[:n] = self.view[:n]
        self.sent = []
        return steps

    def screen(self) -> np.ndarray:
        self.conns[0].send(("screen", None))
        return self._reply(0, "screen")

    def close(self) -> None:
        for conn in self.conns:
            try:
                conn.send(("close", None))
            except (OSError, BrokenPipeError):
                pass
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
        for conn in self.conns:
            conn.close()
        self.conns, self.procs = [], []


def side_by_side(config, first: Game, seed: int, history: int, state_shape):
    """`config.envs` games: `first` (already made, with the run's own seed) and the rest.
    Atari games, more than one at a time on a machine of PROCESSES_FROM cores or more, go
    to worker processes (`first` is closed: its process plays game 0 afresh with the same
    seed)."""
    seeds = game_seeds(seed, config.envs)
    if config.envs > 1 and is_atari(config.game) and \
            (os.cpu_count() or 1) >= PROCESSES_FROM:
        first.close()
        return ProcessGames(config, seeds, history, state_shape, first.obs_dtype)
    return LocalGames([first] + [make_game(config, s) for s in seeds[1:]], history)
