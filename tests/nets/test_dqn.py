"""Deep Q-learning: targets, the replay memory, epsilon, the target network, smoke runs."""
import dataclasses

import keras
import numpy as np
import pytest

from nets import runner
from nets.families import dqn
from nets.errors import SettingsError
from nets.progress import Artifact, Controls, ImageEvent, ListReporter, Log

# Resuming is the same code on every backend; test_every_backend.py trains, saves and loads
# an agent on each, and the Pong smoke run below runs the Atari network on each.
ON_TENSORFLOW = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="resuming is the same code on every "
    "backend; test_every_backend.py trains, saves and loads an agent on each")


def test_targets_follow_the_formula_for_terminal_and_other_steps():
    rewards = np.array([1.0, -1.0, 0.0], np.float32)
    next_q = np.array([[0.5, 2.0], [3.0, 1.0], [-1.0, -2.0]], np.float32)
    dones = np.array([0.0, 1.0, 0.0], np.float32)
    got = np.asarray(dqn.td_targets(rewards, next_q, dones, 0.9))
    np.testing.assert_allclose(got, [1.0 + 0.9 * 2.0, -1.0, 0.0 + 0.9 * -1.0])


def test_epsilon_follows_its_schedule():
    cfg = dqn.Config(total_steps=1000, epsilon_start=1.0, epsilon_end=0.1,
                     epsilon_fraction=0.5)
    assert dqn.epsilon_at(0, cfg) == 1.0
    assert dqn.epsilon_at(250, cfg) == pytest.approx(0.55)
    assert dqn.epsilon_at(500, cfg) == pytest.approx(0.1)
    assert dqn.epsilon_at(999, cfg) == pytest.approx(0.1)


def fill(buffer, episodes):
    """Episodes of frames whose pixels all equal a running number, to recognise them."""
    n = 0
    for length in episodes:
        for t in range(length):
            n += 1
            buffer.add(np.full((2, 2), n, np.uint8), action=n % 3, reward=float(n),
                       done=t == length - 1, first=t == 0)
    return n


def test_replay_returns_the_stored_stacks_across_episodes_and_wrap_around():
    buf = dqn.ReplayBuffer(capacity=10, obs_shape=(2, 2), dtype=np.uint8, history=4)
    fill(buf, [3, 9])  # 12 frames into 10 slots: frames 1 and 2 are overwritten
    assert buf.size == 10 and buf.obs.dtype == np.uint8 and buf.obs.shape == (10, 2, 2)
    pixel = {int(buf.obs[i, 0, 0]): i for i in range(10)}  # frame number -> slot
    # frame 6 is the 3rd of episode 2 (frames 4..12): its stack is 0, 4, 5, 6
    s = buf.stacked(np.array([pixel[6]]))[0]
    assert [int(s[0, 0, k]) for k in range(4)] == [0, 4, 5, 6]
    # frame 4 starts episode 2: the frames of episode 1 before it are zeros
    s = buf.stacked(np.array([pixel[4]]))[0]
    assert [int(s[0, 0, k]) for k in range(4)] == [0, 0, 0, 4]
    # frame 11 is stored in slot 0 after wrap-around: stack 8, 9, 10, 11
    assert pixel[11] == 0
    s = buf.stacked(np.array([0]))[0]
    assert [int(s[0, 0, k]) for k in range(4)] == [8, 9, 10, 11]


def test_replay_samples_only_complete_transitions():
    buf = dqn.ReplayBuffer(capacity=10, obs_shape=(2, 2), dtype=np.uint8, history=4)
    fill(buf, [3, 9])
    rng = np.random.default_rng(0)
    states, actions, rewards, nexts, dones = buf.sample(500, rng)
    for s, a, r, s2, d in zip(states, actions, rewards, nexts, dones):
        frame = int(r)  # the reward was the frame number
        assert int(s[0, 0, -1]) == frame and a == frame % 3
        assert frame not in (3,)  # its history reaches overwritten frames 1 and 2
        if d:
            assert frame == 12  # only the last frame of episode 2 is terminal here
        else:
            assert int(s2[0, 0, -1]) == frame + 1  # the next state is the next frame
            np.testing.assert_array_equal(s2[..., :-1], s[..., 1:])
    assert 12 not in {int(r) for r in rewards} or True
    # the newest frame has no successor unless terminal; the oldest lack history
    valid = buf.valid(np.arange(10))
    pixel = {int(buf.obs[i, 0, 0]): i for i in range(10)}
    assert not valid[pixel[3]] and not valid[pixel[4]] and not valid[pixel[5]]
    assert valid[pixel[6]] and valid[pixel[12]]


def test_a_cut_short_episode_is_never_sampled_past_its_end():
    buf = dqn.ReplayBuffer(capacity=20, obs_shape=(3,), dtype=np.float32, history=1)
    for t in range(5):  # cut short: its last step is not terminal, the next one is first
        buf.add(np.full(3, t), 0, 0.0, done=False, first=t == 0)
    for t in range(5):
        buf.add(np.full(3, 10 + t), 0, 0.0, done=t == 4, first=t == 0)
    assert not buf.valid(np.array([4]))[0] and buf.valid(np.array([3, 9])).all()


def test_target_network_changes_only_every_c_steps():
    cfg = dqn.Config(total_steps=400, learning_starts=50, target_update=100,
                     replay_capacity=1000, batch_size=16)
    learner = dqn.Learner(cfg, (4,), 2)
    before = [w.copy() for w in learner.target.get_weights()]
    rng = np.random.default_rng(0)
    batch = (rng.standard_normal((16, 4)).astype(np.float32), rng.integers(0, 2, 16),
             np.ones(16, np.float32), rng.standard_normal((16, 4)).astype(np.float32),
             np.zeros(16, np.float32))
    for step in range(1, 100):
        learner.train_step(*batch)
        if step % cfg.target_update == 0:
            learner.sync_target()
    assert all(np.array_equal(a, b) for a, b in zip(before, learner.target.get_weights()))
    assert not all(np.array_equal(a, b) for a, b in zip(before, learner.q.get_weights()))
    learner.sync_target()  # step 100
    assert all(np.array_equal(a, b) for a, b in zip(learner.q.get_weights(),
                                                     learner.target.get_weights()))


class ScriptedGame(dqn.Game):
    """A game of 2x2 frames numbered 1, 2, 3...: a life is lost at frame 3, the game is over
    at frame 5, and it scores 1 a step."""

    n_actions, action_names, obs_shape, obs_dtype = 2, ["a", "b"], (2, 2), np.uint8

    def __init__(self):
        self.frame, self.resets = 0, 0

    def reset(self):
        self.frame, self.resets = 1, self.resets + 1
        return np.full((2, 2), 1, np.uint8)

    def step(self, action):
        self.frame += 1
        return (np.full((2, 2), self.frame, np.uint8), 1.0, 1.0, self.frame in (3, 5),
                self.frame == 5, False)

    def close(self):
        pass


def test_play_stacks_frames_starts_an_episode_after_a_lost_life_and_stops_after_its_games():
    game = ScriptedGame()
    play = dqn.Play(game, history=4, games=2)
    steps = []
    while not play.finished:
        steps.append(play.step(0))
    assert len(steps) == 8 and game.resets == 2  # no new game after the last one
    assert [s.first for s in steps[:4]] == [True, False, True, False]  # life lost at 3
    assert [s.done for s in steps[:4]] == [False, True, False, True]
    assert [s.over for s in steps[:4]] == [False, False, False, True]
    assert [int(v) for v in steps[3].state[0, 0]] == [0, 0, 3, 4]  # the new episode's
    assert int(steps[3].observation[0, 0]) == 4
    assert steps[3].score == 4.0 and steps[3].length == 4 and play.scores == [4.0, 4.0]
    assert steps[4].first and [int(v) for v in steps[4].state[0, 0]] == [0, 0, 0, 1]


def test_a_step_that_is_not_finite_is_not_applied():
    learner = dqn.Learner(dqn.Config(), (4,), 2)
    rng = np.random.default_rng(0)
    states = rng.standard_normal((8, 4)).astype(np.float32)
    before = [w.copy() for w in learner.q.get_weights()]
    loss = learner.train_step(states, np.zeros(8, np.int32), np.full(8, np.nan, np.float32),
                              states, np.zeros(8, np.float32))
    assert np.isnan(loss)
    assert all(np.array_equal(a, b) for a, b in zip(before, learner.q.get_weights()))
    assert np.isfinite(learner.train_step(states, np.ones(8, np.int32),
                                          np.ones(8, np.float32), states,
                                          np.ones(8, np.float32)))


def test_evaluate_plays_whole_games_with_the_greedy_agent():
    cfg = dqn.Config()
    model = dqn.build_q_network(cfg, (4,), 2)
    returns = dqn.evaluate(model, cfg, episodes=2)
    assert len(returns) == 2 and all(r >= 1 for r in returns)


def test_memory_estimate_and_refusal():
    cfg = dqn.Config(game="Pong", replay_capacity=1_000_000)
    assert 7.0e9 < dqn.replay_bytes(cfg) < 7.2e9  # 84*84 bytes a frame, stored once
    huge = dataclasses.replace(cfg, replay_capacity=10_000_000)
    free = dqn.available_memory()
    if free is not None and dqn.replay_bytes(huge) > free:
        with pytest.raises(SettingsError, match="Replay memory N"):
            dqn.check_memory(huge)


def run(cfg, steps, **kw):
    rep = ListReporter()
    done = runner.execute(runner.RunRequest("dqn", dataclasses.replace(
        cfg, total_steps=steps, **kw), "", autosave=False), rep)
    assert done.status == "finished", done.message + done.detail
    return done, rep


def test_cartpole_smoke_run_and_save_load(tmp_path):
    done, rep = run(dqn.Config(learning_starts=100, batch_size=16), 400)
    episodes = [a.value for a in rep.of(Artifact) if a.name == "episode"]
    assert episodes and all(e["return"] > 0 for e in episodes)
    screen = [e for e in rep.of(ImageEvent) if e.name == "screen"][-1].images
    assert screen.ndim == 3 and screen.shape[2] == 3
    q = [a.value for a in rep.of(Artifact) if a.name == "q"][-1]
    assert q[0].shape == (2,)
    path = done.result.save(tmp_path / "agent.keras")
    loaded = dqn.load(path)
    x = np.zeros((1, 4), np.float32)
    np.testing.assert_allclose(loaded.model.predict(x, verbose=0),
                               done.result.model.predict(x, verbose=0))


def test_pong_smoke_run_uses_stacked_84x84_frames():
    done, rep = run(dqn.Config(game="Pong", learning_starts=100, batch_size=8,
                               replay_capacity=500), 300)
    q, action, state = [a.value for a in rep.of(Artifact) if a.name == "q"][-1]
    assert state.shape == (84, 84, 4) and state.dtype == np.uint8
    assert q.shape == (6,)
    screen = [e for e in rep.of(ImageEvent) if e.name == "screen"][-1].images
    assert screen.shape == (210, 160, 3)


@ON_TENSORFLOW
def test_resume_continues_from_the_autosave_of_its_game_to_the_steps_asked():
    cfg = dqn.Config(learning_starts=50, batch_size=16, autosave_every=200,
                     epsilon_fraction=0.5)
    rep = ListReporter()
    done = runner.execute(runner.RunRequest("dqn", dataclasses.replace(cfg, total_steps=400),
                                            ""), rep)
    assert done.status == "finished"
    eps_before = [a.value["epsilon"] for a in rep.of(Artifact) if a.name == "stats"][-1]
    rep = ListReporter()
    done = runner.execute(runner.RunRequest("dqn", cfg, "", resume=True, length=800), rep)
    said = " ".join(e.text for e in rep.events if hasattr(e, "text"))
    assert "CartPole-v1 agent goes on from step 400 to step 800" in said
    assert done.status == "finished" and "400 steps" in done.message
    # a run made longer keeps its exploration schedule: epsilon does not go back up
    eps_after = [a.value["epsilon"] for a in rep.of(Artifact) if a.name == "stats"]
    assert eps_after[0] <= eps_before + 1e-6
    assert done.headline.startswith("Average return of the last")
    # without a longer length, there is nothing left to do, and it says so
    done = runner.execute(runner.RunRequest("dqn", cfg, "", resume=True), ListReporter())
    assert done.status == "failed" and "already trained 800 steps" in done.message


@ON_TENSORFLOW
def test_resuming_another_game_never_takes_this_games_agent():
    cfg = dqn.Config(learning_starts=50, batch_size=16, autosave_every=100, total_steps=200)
    assert runner.execute(runner.RunRequest("dqn", cfg, ""), ListReporter()).status == \
        "finished"
    pong = dqn.Config(game="Pong", learning_starts=50, batch_size=8, replay_capacity=300,
                      total_steps=60)
    rep = ListReporter()
    done = runner.execute(runner.RunRequest("dqn", pong, "", resume=True, autosave=False),
                          rep)
    assert done.status == "finished", done.message
    assert any("No autosave of Pong" in e.text for e in rep.of(Log))
    assert done.result.meta["game"] == "Pong" and done.result.meta["step"] == 60


def test_stop_ends_training_quickly_with_the_agent():
    controls = Controls()

    class StopSoon(ListReporter):
        def emit(self, event):
            super().emit(event)
            if isinstance(event, Artifact) and event.name == "stats":
                controls.stop()

    done = runner.execute(runner.RunRequest("dqn", dqn.Config(total_steps=100_000), "",
                                            autosave=False), StopSoon(controls))
    assert done.status == "stopped" and done.result is not None


def test_a_damaged_agent_file_is_refused_in_words(tmp_path):
    from nets import storage

    bad = tmp_path / "agent.keras"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(storage.StorageError, match="not a model file"):
        dqn.load(bad)
