"""Deep Q-learning: targets, the replay memory, epsilon, the target network, smoke runs."""
import dataclasses

import numpy as np
import pytest

from nets import runner
from nets.families import dqn
from nets.data import DataError
from nets.progress import Artifact, Controls, ImageEvent, ListReporter, Log


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


def test_memory_estimate_and_refusal():
    cfg = dqn.Config(game="Pong", replay_capacity=1_000_000)
    assert 7.0e9 < dqn.replay_bytes(cfg) < 7.2e9  # 84*84 bytes a frame, stored once
    huge = dataclasses.replace(cfg, replay_capacity=10_000_000)
    free = dqn.available_memory()
    if free is not None and dqn.replay_bytes(huge) > free:
        with pytest.raises(DataError, match="Replay memory N"):
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
    np.testing.assert_allclose(np.asarray(loaded.model(x)), np.asarray(done.result.model(x)))


def test_pong_smoke_run_uses_stacked_84x84_frames():
    done, rep = run(dqn.Config(game="Pong", learning_starts=100, batch_size=8,
                               replay_capacity=500), 300)
    q, action, state = [a.value for a in rep.of(Artifact) if a.name == "q"][-1]
    assert state.shape == (84, 84, 4) and state.dtype == np.uint8
    assert q.shape == (6,)
    screen = [e for e in rep.of(ImageEvent) if e.name == "screen"][-1].images
    assert screen.shape == (210, 160, 3)


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
    assert "CartPole-v1 agent from step 400" in " ".join(e.text for e in rep.events
                                                         if hasattr(e, "text"))
    assert done.status == "finished" and "400 steps" in done.message
    # a run made longer keeps its exploration schedule: epsilon does not go back up
    eps_after = [a.value["epsilon"] for a in rep.of(Artifact) if a.name == "stats"]
    assert eps_after[0] <= eps_before + 1e-6
    assert done.headline.startswith("Average return of the last")
    # without a longer length, there is nothing left to do, and it says so
    done = runner.execute(runner.RunRequest("dqn", cfg, "", resume=True), ListReporter())
    assert done.status == "failed" and "already trained 800 steps" in done.message


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
