"""Deep Q-learning with several games at once: one replay memory fed by all, the learner's
pace kept, Atari games in worker processes that play exactly as a game played here."""
import dataclasses
import multiprocessing

import keras
import numpy as np
import pytest

from nets import runner
from nets.errors import SettingsError
from nets.families import dqn
from nets.families.dqn import many
from nets.progress import Artifact, Controls, ListReporter


def test_each_game_keeps_its_own_frames_and_a_minibatch_draws_from_all():
    memory = dqn.ReplayMemory(41, (2, 2), np.uint8, history=4, games=2)
    assert [r.capacity for r in memory.rings] == [21, 20]
    for t in range(30):  # game 0 writes frames 1..30, game 1 writes 101..130
        for game in (0, 1):
            memory.add(game, np.full((2, 2), 100 * game + t + 1), t % 3, 1.0,
                       done=t % 10 == 9, first=t % 10 == 0)
    assert memory.size == 41
    states, actions, rewards, nexts, dones = memory.sample(400, np.random.default_rng(0))
    assert states.shape == (400, 2, 2, 4) == nexts.shape
    game = states[:, 0, 0, -1] > 100
    assert 0.35 < game.mean() < 0.65  # in proportion to what each ring holds
    for s, g in zip(states[:, 0, 0, :], game):
        seen = s[s > 0]  # frames before the episode's start are zeros
        assert ((seen > 100) == g).all()  # never one game's frame in another's state
        assert (np.diff(seen) == 1).all()  # consecutive frames of that game


def test_a_memory_too_small_for_its_games_is_refused_in_words():
    with pytest.raises(SettingsError, match="shared by 8 games leaves each only 62.*800"):
        dqn.check_memory(dqn.Config(replay_capacity=500, envs=8))
    dqn.check_memory(dqn.Config(replay_capacity=800, envs=8))


def test_many_actions_come_from_one_call_of_the_network():
    calls = []

    def values(states):
        calls.append(len(states))
        return np.stack([np.arange(3.0) * (1 if s[0] > 0 else -1) for s in states])

    agent = dqn.EpsilonGreedy(values, 3, np.random.default_rng(0))
    states = np.array([[1.0], [-1.0], [1.0]])
    actions, q_first = agent.act_many(states, epsilon=0.0)
    assert actions.tolist() == [2, 0, 2] and calls == [3]
    np.testing.assert_allclose(q_first, [0, 1, 2])
    calls.clear()
    actions, q_first = agent.act_many(states, epsilon=1.0)  # all random: no call at all
    assert calls == [] and q_first is None and set(actions) <= {0, 1, 2}
    actions, q_first = agent.act_many(states, epsilon=1.0, show=True)  # the first, to show
    assert calls == [3] and q_first is not None
    # one game draws as a single agent always has: one number for explore-or-not, then
    # the random action when exploring (so one-game runs learn as they did)
    agent, rng = dqn.EpsilonGreedy(values, 3, np.random.default_rng(7)), \
        np.random.default_rng(7)
    expected = [int(rng.integers(3)) if rng.random() < 0.5 else 2 for _ in range(50)]
    assert [int(agent.act_many(np.array([[1.0]]), 0.5)[0][0]) for _ in range(50)] == \
        expected


def test_games_in_processes_play_exactly_as_games_played_here():
    config = dqn.settings_for("Pong")
    seeds = many.game_seeds(3, 2)
    games = many.ProcessGames(config, seeds, dqn.HISTORY, (84, 84, 4), np.uint8)
    here = [dqn.Play(dqn.make_game(config, s), dqn.HISTORY) for s in seeds]
    try:
        np.testing.assert_array_equal(games.states, np.stack([p.state for p in here]))
        rng = np.random.default_rng(0)
        for t in range(40):
            actions = rng.integers(0, 6, 2 if t % 5 else 1)  # some rounds with one game
            games.send(actions)
            got = games.receive()
            expected = [p.step(int(a)) for p, a in zip(here, actions)]
            for g, e in zip(got, expected):
                np.testing.assert_array_equal(g.state, e.state)
                np.testing.assert_array_equal(g.observation, e.observation)
                assert (g.action, g.reward, g.done, g.over) == \
                    (e.action, e.reward, e.done, e.over)
            np.testing.assert_array_equal(games.states, np.stack([p.state for p in here]))
        assert games.screen().shape == (210, 160, 3)
    finally:
        games.close()
        for p in here:
            p.game.close()
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("game-")]


def test_atari_games_get_processes_only_where_there_are_cores_to_spare(monkeypatch):
    config = dataclasses.replace(dqn.settings_for("Pong"), envs=2)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    games = many.side_by_side(config, dqn.make_game(config, 0), 0, dqn.HISTORY, (84, 84, 4))
    try:
        assert isinstance(games, many.LocalGames) and len(games) == 2
    finally:
        games.close()


def test_a_game_that_cannot_start_in_its_process_says_so():
    config = dataclasses.replace(dqn.settings_for("Pong"), game="NoSuchGame")
    with pytest.raises(SettingsError, match="Game 1 of 2 could not start.*NoSuchGame"):
        many.ProcessGames(config, [0, 1], dqn.HISTORY, (84, 84, 4), np.uint8)
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("game-")]


@pytest.fixture
def processes(monkeypatch):
    """Atari games in processes of their own even on a machine of 2 cores."""
    monkeypatch.setattr(many, "PROCESSES_FROM", 1)


def steps_learnt(config):
    rep = ListReporter()
    done = runner.execute(runner.RunRequest("dqn", config, "", autosave=False), rep)
    assert done.status == "finished", done.message
    return done, rep


def test_the_learner_keeps_its_pace_whatever_the_number_of_games():
    cfg = dqn.Config(total_steps=301, learning_starts=100, train_every=4, batch_size=8)
    updates = {}
    for envs in (1, 3):
        done, rep = steps_learnt(dataclasses.replace(cfg, envs=envs))
        iterations = done.result.model.optimizer.iterations
        updates[envs] = int(keras.ops.convert_to_numpy(iterations))
        assert done.result.meta["step"] == 301  # never a step beyond those asked
        ends = [a.value["step"] for a in rep.of(Artifact) if a.name == "episode"]
        assert ends and max(ends) <= 301 and len(set(ends)) == len(ends)
    assert updates == {1: 50, 3: 50}  # steps 104, 108, ..., 300


def test_stopping_a_run_of_atari_games_in_processes_ends_them(processes):
    controls = Controls()

    class StopSoon(ListReporter):
        def emit(self, event):
            super().emit(event)
            if isinstance(event, Artifact) and event.name == "stats" and \
                    event.value["step"] >= 40:
                controls.stop()

    cfg = dataclasses.replace(dqn.settings_for("Pong"), envs=2, total_steps=10_000,
                              replay_capacity=1_000, learning_starts=20, batch_size=4)
    done = runner.execute(runner.RunRequest("dqn", cfg, "", autosave=False),
                          StopSoon(controls))
    assert done.status == "stopped" and done.result is not None
    assert done.result.meta["step"] % 2 == 0  # both games step each round
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("game-")]


def test_a_game_process_that_dies_ends_the_run_in_words_keeping_the_agent(processes):
    class KillOne(ListReporter):
        def emit(self, event):
            super().emit(event)
            if isinstance(event, Artifact) and event.name == "stats" and \
                    event.value["step"] >= 40:
                for p in multiprocessing.active_children():
                    if p.name == "game-1":
                        p.kill()

    cfg = dataclasses.replace(dqn.settings_for("Pong"), envs=2, total_steps=10_000,
                              replay_capacity=1_000, learning_starts=20, batch_size=4)
    done = runner.execute(runner.RunRequest("dqn", cfg, ""), KillOne())
    assert done.status == "failed" and "Game 2 of 2 stopped unexpectedly" in done.message
    assert done.result is not None and done.result.meta["step"] >= 40
    found = runner.autosave_slot("dqn", cfg).latest()
    assert found is not None and found.meta["step"] == done.result.meta["step"]
