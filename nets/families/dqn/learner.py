"""The learning half of the agent: the Q-network, its target network Q^, and one gradient
step on a minibatch from the replay memory, on any Keras backend."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nets import backend
from nets.families.dqn.games import FRAME, HISTORY, is_atari

if TYPE_CHECKING:
    from nets.families.dqn import Config


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


def td_targets(rewards, next_q_target, dones, gamma: float) -> np.ndarray:
    """y = r if the step was terminal, else r + gamma * max_a' Q^(phi', a'), in numpy (the
    target network's values come from its predictor as numpy)."""
    rewards, dones = np.asarray(rewards, np.float32), np.asarray(dones, np.float32)
    best = np.max(np.asarray(next_q_target, np.float32), axis=1)
    return (rewards + np.float32(gamma) * (1.0 - dones) * best).astype(np.float32)


class Learner:
    """Q, the target network Q^, the optimiser and the compiled gradient step.

    `train_step(states, actions, rewards, next states, dones)` (a minibatch of the replay
    memory) takes one step and returns its loss, NaN when the loss or its gradient was
    not finite: such a step is never applied, so Q stays as it was.
    """

    def __init__(self, config: Config, obs_shape, n_actions: int):
        import keras
        from keras import ops

        self.config = config
        self.q = build_q_network(config, obs_shape, n_actions)
        self.target = build_q_network(config, obs_shape, n_actions)
        self.sync_target()
        self.optimizer = keras.optimizers.Adam(config.learning_rate, epsilon=1e-4)
        # compiled only so that the optimizer's state is saved with the weights
        self.q.compile(optimizer=self.optimizer)
        # The paper's error clipping (Huber) suits clipped Atari rewards; CartPole's values
        # grow to about 100, where a clipped gradient learns them too slowly (CleanRL uses
        # the squared error there).
        error = (keras.losses.Huber() if is_atari(config.game)
                 else keras.losses.MeanSquaredError())

        def loss(call, states, actions, y):
            """The error of Q(phi, a) for the actions taken, against the targets y."""
            chosen = ops.take_along_axis(call(states), ops.expand_dims(actions, 1), axis=1)
            return error(y, chosen[:, 0])

        self.step = backend.gradient_step(self.q, self.optimizer, loss)
        self.values = backend.predictor(self.q)  # states -> Q(phi, .) as numpy
        self.target_values = backend.predictor(self.target)

    def train_step(self, states, actions, rewards, next_states, dones) -> float:
        # y comes from Q^ before the step, outside it: no gradient flows into the target
        y = td_targets(rewards, self.target_values(next_states), dones, self.config.gamma)
        return self.step(states, np.asarray(actions, np.int32), y)

    def sync_target(self) -> None:
        self.target.set_weights(self.q.get_weights())

    def q_is_finite(self) -> bool:
        return all(np.isfinite(w).all() for w in self.q.get_weights())

    def q_values(self, state) -> np.ndarray:
        """Q(phi, .) of one state."""
        return self.values(state[None])[0]
