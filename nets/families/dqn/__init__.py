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

The package: games.py (the games and their preprocessing), memory.py (the replay memory),
learner.py (Q, Q^ and the gradient step, on any Keras backend), play.py (the play loop
that training, evaluation and watching share); here, the settings, training, loading,
evaluating and watching an agent, and the family's declaration.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np

from nets import backend, storage
from nets.config import param
from nets.families.dqn.games import (CLASSIC, FIRST_GAMES, FRAME, HISTORY,  # noqa: F401
                                     AtariGame, ClassicGame, FrameStack, Game, atari_games,
                                     draw_cartpole, history_of, is_atari, make_game)
from nets.families.dqn.learner import Learner, build_q_network, td_targets  # noqa: F401
from nets.families.dqn.many import GameLost, side_by_side
from nets.families.dqn.memory import (ReplayBuffer, ReplayMemory,  # noqa: F401
                                      available_memory, check_memory, replay_bytes)
from nets.families.dqn.play import EpsilonGreedy, Play, Step, held_out_states  # noqa: F401
from nets.registry import Family
from nets.progress import (Artifact, BatchMetrics, Done, ImageEvent, Log, Started,
                           StopRequested, TrainingDiverged)

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
    envs: int = param(1, "Games at once", "Games played side by side, all feeding one "
                      "replay memory, their actions chosen by one call of the network; "
                      "with 4 processor cores or more, Atari games each in a process of "
                      "their own, which play while the network learns. Steps count the "
                      "actions of all games, and learning keeps its pace of one gradient "
                      "step per 'Train every' of them.", minimum=1, maximum=64)
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
    if game and is_atari(game):
        return dataclasses.replace(Config(), game=game, **ATARI_SETTINGS)
    return Config() if not game else dataclasses.replace(Config(), game=game)


def autosave_variant(config: Config) -> str:
    """Each game keeps its own autosaves: an agent for one game is no use in another."""
    return config.game


def epsilon_at(step: int, config: Config, planned_steps: int | None = None) -> float:
    """Linear decay from epsilon_start to epsilon_end over epsilon_fraction of the run as
    first planned (`planned_steps`: a resumed run made longer keeps its schedule, rather
    than going back to exploring)."""
    span = config.epsilon_fraction * (planned_steps or config.total_steps)
    if span <= 0:
        return config.epsilon_end
    frac = min(1.0, step / span)
    return config.epsilon_start + frac * (config.epsilon_end - config.epsilon_start)


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


# ---------------------------------------------------------------- training
def train(request, reporter):
    from nets.loop import Loop
    from nets.runner import TrainedModel, config_meta, seed_everything

    envs = request.config.envs  # this machine's to choose, also when resuming
    run = Loop.begin(request, reporter, Config, every=request.config.autosave_every)
    # a resumed run's settings are the autosave's
    config = dataclasses.replace(run.config, envs=envs)
    request = run.request = dataclasses.replace(run.request, config=config)
    saved = run.saved
    history = {k: list(saved.get("training", {}).get(k, []))
               for k in ("returns", "avg_q", "episode_steps")}
    # what the exploration schedule is laid out over: a longer resumed run keeps it
    planned = int(saved.get("planned_steps") or saved.get("config", {}).get("total_steps")
                  or config.total_steps)
    check_memory(config)
    seed_everything(request.seed)
    rng = np.random.default_rng(request.seed)
    game = make_game(config, request.seed)
    frames = history_of(config.game)
    memory = ReplayMemory(config.replay_capacity, game.obs_shape, game.obs_dtype, frames,
                          config.envs)
    state_shape = (*game.obs_shape, frames) if frames > 1 else tuple(game.obs_shape)
    learner = Learner(config, state_shape, game.n_actions)
    start_step = run.restore(learner.q)  # its optimizer state too
    if start_step:
        learner.sync_target()
        reporter.emit(Log(f"The {config.game} agent goes on from step {start_step:,} to "
                          f"step {config.total_steps:,}. Its replay memory starts empty, so "
                          "learning waits for the warm-up again."))
    display = Display()
    reporter.emit(Artifact("display", display))
    reporter.emit(Artifact("actions", list(game.action_names)))
    reporter.emit(Artifact("model", learner.q))
    probe = held_out_states(game, frames, 500, np.random.default_rng(request.seed + 1))
    about = dict(game=config.game, action_names=list(game.action_names),
                 obs_shape=list(state_shape), planned_steps=planned,
                 trained_with=backend.describe(backend.start()))
    run.meta.update(about)

    def snapshot(step):
        return {**config_meta(request, **about), "step": step, "epoch": step,
                "training": history}

    reporter.emit(Started(config.total_steps, f"Deep Q-learning on {config.game}: "
                          f"{config.total_steps:,} steps, replay memory of "
                          f"{config.replay_capacity:,} ({replay_bytes(config) / 2**20:.0f} MB).",
                          first_step=start_step))
    if start_step:
        reporter.emit(Artifact("training", history))  # the curves so far
    t0, last_emit, last_screen, last_q_probe = time.monotonic(), 0.0, 0.0, time.monotonic()
    steps_t0, steps_at = time.monotonic(), start_step
    loss = float("nan")
    games = side_by_side(config, game, request.seed, frames, state_shape)
    agent = EpsilonGreedy(learner.values, game.n_actions, rng)
    status, message = "finished", ""
    step = synced_at = start_step

    def record(played_steps, first_step):
        """Each game's step into its ring of the replay memory; games that ended."""
        for i, played in enumerate(played_steps):
            memory.add(i, played.observation, played.action, played.reward, played.done,
                       played.first)
            if played.over:
                history["returns"].append(played.score)
                history["episode_steps"].append(first_step + i)
                reporter.emit(Artifact("episode", {"episode": len(history["returns"]),
                                                   "return": played.score,
                                                   "length": played.length,
                                                   "step": first_step + i}))

    def learn(updates, last_step, result):
        """`updates` gradient steps on minibatches; the loss of the last one (`result` if
        none was taken)."""
        for _ in range(updates):
            try:
                batch = memory.sample(config.batch_size, rng)
            except ValueError:  # too few complete transitions yet (a tiny warm-up)
                return result
            result = float(learner.train_step(*batch))
            if not math.isfinite(result):  # the step was not applied
                raise TrainingDiverged(f"The loss or its gradient became NaN or "
                                       f"infinite by step {last_step:,}.")
        return result

    def crossed(every, before, after):
        """Whether a multiple of `every` lies in the steps (before, after]."""
        return after // every > before // every

    try:
        while step < config.total_steps:
            # one agent step in each game (fewer in the last round: no step beyond the end)
            n = min(len(games), config.total_steps - step)
            first, last = step + 1, step + n
            eps = epsilon_at(first, config, planned)
            show = display.live and time.monotonic() - last_screen >= 1 / max(display.fps, 1)
            states = games.states[:n]
            actions, q_values = agent.act_many(states, eps, show)
            if show:  # the screen, the state, its Q-values and the action, all of one step
                last_screen = time.monotonic()
                reporter.emit(ImageEvent("screen", games.screen()))
                reporter.emit(Artifact("q", (q_values, int(actions[0]), states[0])))
            # the learner keeps its ratio: a gradient step per train_every agent steps
            updates = max(0, last // config.train_every
                          - max(step, config.learning_starts) // config.train_every)
            games.send(actions)
            if games.parallel:  # the games play while the learner learns
                loss = learn(updates, last, loss)
                record(games.receive(), first)
            else:
                record(games.receive(), first)
                loss = learn(updates, last, loss)
            # Q^ and the autosaves only ever hold finite weights: the last good state
            due = (crossed(config.target_update, step, last),
                   request.autosave and crossed(run.every, step, last))
            step = last
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
                                                 "games": len(games),
                                                 "learning": step > config.learning_starts}))
            if now - last_q_probe >= 2.0 or step == config.total_steps:
                last_q_probe = now
                value = float(np.mean(np.max(np.concatenate(
                    [learner.values(probe[i:i + 250]) for i in range(0, len(probe), 250)]),
                    axis=1)))
                history["avg_q"].append((step, value))
                reporter.emit(Artifact("avg_q", (step, value)))
            if due[1]:
                run.autosave(learner.q, step, training=history)
            run.checkpoint()
            pace = display.training_pace
            if pace > 0:  # the person asked for training slow enough to follow
                time.sleep(max(0.0, n / pace - (time.monotonic() - now)))
    except TrainingDiverged as exc:
        learner.q.set_weights(learner.target.get_weights())  # Q as of the last copy into Q^
        status = "failed"
        message = (f"{exc} Training was stopped; the agent keeps its weights of step "
                   f"{synced_at:,}, the last copy into the target network. A lower learning "
                   "rate usually fixes this. ")
    except (StopRequested, GameLost) as exc:
        status = "stopped" if isinstance(exc, StopRequested) else "failed"
        message = "" if status == "stopped" else f"{exc} The agent learnt so far is kept. "
        synced_at = step  # its weights are sound
        if step > start_step:  # Stop or closing the window keeps it all
            run.autosave(learner.q, step, force=True, training=history)
    finally:
        games.close()
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
    values, rng = backend.predictor(model), np.random.default_rng(seed)
    returns = []
    for episode in range(episodes):
        game = make_game(config, seed + episode)
        agent = EpsilonGreedy(values, game.n_actions, rng)
        play = Play(game, history_of(config.game), games=1)
        try:
            while not play.finished:
                play.step(agent.act(play.state, epsilon)[0])
        finally:
            game.close()
        returns += play.scores
    return returns


# ---------------------------------------------------------------- watching
def watch(model, config: Config, display: Display, reporter, epsilon: float = 0.01,
          seed: int = 0, episodes: int = 1000) -> Done:
    """Play with a trained Q-network (or a person at the keys) at display.fps."""
    game = make_game(config, seed)
    agent = EpsilonGreedy(backend.predictor(model), game.n_actions,
                          np.random.default_rng(seed))
    reporter.emit(Artifact("actions", list(game.action_names)))
    reporter.emit(Started(0, f"Watching the agent play {config.game}.", metric=""))
    returns: list[float] = []
    try:
        play = Play(game, history_of(config.game), games=episodes)
        while not play.finished:
            t_frame = time.monotonic()
            human = display.human_action
            if human is None:
                action, q_values = agent.act(play.state, epsilon, show=True)
            else:
                action, q_values = human, agent.q_values(play.state)
            reporter.emit(ImageEvent("screen", game.screen()))
            reporter.emit(Artifact("q", (q_values, action, play.state)))
            played = play.step(action)
            if played.over:
                returns.append(played.score)
                reporter.emit(Artifact("episode", {"episode": len(returns),
                                                   "return": played.score, "watch": True}))
            reporter.controls.checkpoint()
            if display.fps > 0:
                time.sleep(max(0.0, 1 / display.fps - (time.monotonic() - t_frame)))
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
