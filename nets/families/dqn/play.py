"""Playing a game, one agent step at a time: the one play loop that training, evaluation
and watching share, and the epsilon-greedy choice of an action."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from nets.families.dqn.games import FrameStack, Game


@dataclass
class Step:
    """What one agent step did: the transition (phi_t, a_t, r_t) as learning needs it,
    and how the game stands after it."""

    state: np.ndarray  # phi_t, the state the action was taken in
    observation: np.ndarray  # its newest observation, which is what the replay memory keeps
    action: int
    reward: float  # for learning (clipped to -1, 0, +1 in Atari)
    done: bool  # the step ended an episode for learning (a lost life may)
    first: bool  # phi_t starts an episode for learning
    over: bool  # the game is over
    score: float  # the game's own rewards since its start, this step's included
    length: int  # steps since the game's start, this one included


class Play:
    """A game being played: `state` is the agent's current state (its last observations
    stacked), `step(action)` plays one action. A game that is over starts again at once,
    until `games` games have been played (None: without end); `finished` says when, and
    `scores` holds the score of each game played to its end."""

    def __init__(self, game: Game, history: int, games: int | None = None):
        self.game, self.games_left = game, games
        self.stack = FrameStack(game.obs_shape, game.obs_dtype, history)
        self.state = self.stack.reset(game.reset())
        self.first = True  # the state starts an episode for learning
        self.score, self.length = 0.0, 0
        self.finished = False
        self.scores: list[float] = []

    def step(self, action: int) -> Step:
        state, first = self.state, self.first
        obs, reward, raw, done, over, _ = self.game.step(action)
        self.score += raw
        self.length += 1
        newest = state[..., -1] if self.stack.history > 1 else state
        step = Step(state, newest, action, reward, done, first, over, self.score,
                    self.length)
        if over:
            self.scores.append(self.score)
            self.score, self.length = 0.0, 0
            if self.games_left is not None:
                self.games_left -= 1
                self.finished = self.games_left <= 0
            if not self.finished:  # the next game (the last step of one cut short by a
                # time limit is never learnt from: no next state follows it in memory)
                self.state, self.first = self.stack.reset(self.game.reset()), True
        elif done:  # a lost life: the game goes on, a new episode for learning begins
            self.state, self.first = self.stack.reset(obs), True
        else:
            self.state, self.first = self.stack.push(obs), False
        return step


class EpsilonGreedy:
    """The agent's policy: a random action with chance epsilon, else the action of highest
    Q-value. `values(states)` gives the Q-values of a batch of states (a predictor)."""

    def __init__(self, values: Callable, n_actions: int, rng: np.random.Generator):
        self.values, self.n_actions, self.rng = values, n_actions, rng

    def q_values(self, state) -> np.ndarray:
        return np.asarray(self.values(state[None]))[0]

    def act(self, state, epsilon: float, show: bool = False):
        """(action, Q-values of the state, or None when they were not needed: the network
        runs only for a greedy action or when `show` asks for them)."""
        actions, q_values = self.act_many(state[None], epsilon, show)
        return int(actions[0]), q_values

    def act_many(self, states, epsilon: float, show: bool = False):
        """Actions for a batch of states (of games played side by side), with one network
        call on the whole batch when any action is greedy (one shape, so that a compiled
        network is compiled once); and the first state's Q-values, or None when they were
        not needed."""
        actions = np.zeros(len(states), np.int64)
        greedy = np.zeros(len(states), bool)
        for i in range(len(states)):  # one draw each: a random action with chance eps
            greedy[i] = self.rng.random() >= epsilon
            if not greedy[i]:
                actions[i] = self.rng.integers(self.n_actions)
        if not (show or greedy.any()):
            return actions, None
        q = np.asarray(self.values(states))
        actions[greedy] = np.argmax(q[greedy], axis=1)
        return actions, q[0] if show or greedy[0] else None


def held_out_states(game: Game, history: int, n: int, rng) -> np.ndarray:
    """States met by a random policy before learning: the paper's fixed set for the
    average max-Q curve."""
    play, states = Play(game, history), []
    while len(states) < n:
        states.append(play.state)
        play.step(int(rng.integers(game.n_actions)))
    return np.stack(states)
