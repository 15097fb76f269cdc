"""Why gates: the long-memory tasks are made right (checked against plain loops), the
gradient through time is the one backpropagation computes (checked against a hand-written
backward pass), and a short sweep trains, reports, stops, saves and loads."""
import keras
import numpy as np
import pytest

from nets import runner
from nets.families import gates
from nets.families.gates import tasks
from nets.families.gates.model import GradientThroughTime, build_model
from nets.progress import Artifact, BatchMetrics, ListReporter


def test_flagged_recall_asks_for_the_flagged_symbol():
    x, y = tasks.flagged_recall(np.random.default_rng(0), 200, 13, 5)
    assert x.shape == (200, 13, 6) and y.shape == (200,) and x.dtype == np.float32
    for seq, target in zip(x, y):
        symbols, flags = seq[:, :5], seq[:, 5]
        assert (symbols.sum(axis=1) == 1).all()  # one symbol a step, one-hot
        assert flags.sum() == 1  # one flag a sequence
        flagged = int(np.flatnonzero(flags)[0])
        assert target == int(np.flatnonzero(symbols[flagged])[0])
    positions = x[:, :, 5].argmax(1)
    assert positions.min() == 0 and positions.max() == 12  # anywhere, ends included
    assert set(y.tolist()) == set(range(5))
    x, y = tasks.flagged_recall(np.random.default_rng(1), 50, 9, 4, flag_at=0)
    assert (x[:, 0, 4] == 1).all() and (x[:, 1:, 4] == 0).all()
    assert (y == x[:, 0, :4].argmax(1)).all()


def test_the_adding_problem_asks_for_the_sum_of_the_two_marked_numbers():
    x, y = tasks.adding(np.random.default_rng(0), 300, 10)
    assert x.shape == (300, 10, 2) and y.dtype == np.float32
    for seq, target in zip(x, y):
        marked = np.flatnonzero(seq[:, 1])
        assert len(marked) == 2 and marked[0] < 5 <= marked[1]
        assert target == pytest.approx(seq[marked[0], 0] + seq[marked[1], 0], abs=1e-6)
    assert ((x[:, :, 0] >= 0) & (x[:, :, 0] < 1)).all()
    x, _ = tasks.adding(np.random.default_rng(0), 20, 10, first_at=0)
    assert (x[:, 0, 1] == 1).all()
    assert 0.06 < tasks.adding_chance() < 0.09  # answering 1 is right about 8% of the time


def test_answers_are_marked_right_by_the_rules_of_each_task():
    logits = np.array([[0.1, 2.0, 0.3], [3.0, 0.0, 0.0]])
    assert tasks.correct("recall", logits, np.array([1, 2])).tolist() == [True, False]
    assert tasks.correct("adding", np.array([[1.03], [1.05]]),
                         np.array([1.0, 1.0])).tolist() == [True, False]


def hand_backprop(model, x, y):
    """||dLoss_i/dh_t|| of a SimpleRNN + Dense net for each sequence i, by the chain rule
    written out: dL/dh_T = V (p - onehot), dL/dh_t = U (dL/dh_t+1 * (1 - h_t+1^2))."""
    W, U, b, V, c = [np.asarray(w, np.float64) for w in model.get_weights()]
    n, T, _ = x.shape
    out = np.zeros((n, T))
    for i in range(n):
        hs, h = [], np.zeros(U.shape[0])
        for t in range(T):
            h = np.tanh(x[i, t] @ W + h @ U + b)
            hs.append(h)
        logits = hs[-1] @ V + c
        p = np.exp(logits - logits.max())
        p /= p.sum()
        p[y[i]] -= 1
        g = V @ p
        out[i, T - 1] = np.linalg.norm(g)
        for t in range(T - 2, -1, -1):
            g = U @ (g * (1 - hs[t + 1] ** 2))
            out[i, t] = np.linalg.norm(g)
    return out.mean(axis=0)


def test_the_gradient_through_time_is_the_one_backpropagation_computes():
    runner.seed_everything(3)
    task = tasks.task("recall", 3)
    model = build_model("rnn", 6, task, 4)
    # larger recurrent weights, so the gradient does not just vanish in a few steps
    weights = model.get_weights()
    weights[1] = weights[1] * 1.5
    model.set_weights(weights)
    x, y = tasks.flagged_recall(np.random.default_rng(0), 5, 6, 3, flag_at=0)
    norms = GradientThroughTime(model, task, x, y).norms()
    np.testing.assert_allclose(norms, hand_backprop(model, x, y), rtol=1e-4)
    assert model.get_weights()[1] == pytest.approx(weights[1])  # the net is unchanged


def run(config, controls=None):
    reporter = ListReporter(controls)
    done = runner.execute(runner.RunRequest("gates", config, "", 0, autosave=False),
                          reporter)
    return done, reporter


TINY = dict(lengths="3, 6", cells="lstm, gru", units=8, steps=120, batch_size=64,
            symbols=3)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the sweep runs the "
                    "same code on every backend; test_every_backend.py trains it on each")
def test_a_short_sweep_reports_every_pair_and_saves_and_loads(tmp_path):
    done, reporter = run(gates.Config(**TINY))
    assert done.status == "finished", done.message + done.detail
    art = {}
    for e in reporter.of(Artifact):
        art.setdefault(e.name, []).append(e.value)
    assert art["sweep"] == [{"task": "recall", "lengths": [3, 6], "cells": ["lstm", "gru"],
                             "chance": pytest.approx(1 / 3), "steps": 120}]
    results = art["pair_result"]
    assert [(r["cell"], r["length"]) for r in results] == [("lstm", 3), ("gru", 3),
                                                           ("lstm", 6), ("gru", 6)]
    assert all(0 <= r["accuracy"] <= 1 and 0 < r["steps"] <= 120 for r in results)
    assert results[1]["accuracy"] > 0.6  # length 3 is easy for a GRU
    grads = art["gradient_through_time"]
    assert [(g["phase"], len(g["norms"])) for g in grads[:2]] == [("start", 3), ("end", 3)]
    assert len(grads) == 8 and all(np.isfinite(g["norms"]).all() for g in grads)
    untrained = [g["norms"] for g in grads if g["phase"] == "start" and g["length"] == 6]
    assert all(n[0] < n[-1] for n in untrained)  # untrained gated cells forget too
    assert {p["step"] for p in art["pair_progress"]} <= {100, 120}
    steps = [b.step for b in reporter.of(BatchMetrics)]  # counted on, without gaps
    assert steps == list(range(1, sum(r["steps"] for r in results) + 1))
    assert [p["first_step"] for p in art["pair_started"]] == [
        sum(r["steps"] for r in results[:i]) for i in range(4)]
    assert "At length 6" in done.headline and "GRU" in done.headline
    path = done.result.save(tmp_path / "gates.keras")
    again = gates.load(path)
    for a, b in zip(done.result.model.get_weights(), again.model.get_weights(),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    assert again.meta["results"] == done.result.meta["results"]
    assert len(again.meta["gradients"][0]["end"]) == 3


def test_a_stopped_sweep_of_the_adding_problem_keeps_the_pairs_it_finished():
    reporter = ListReporter()

    def stop_after_the_first_pair(event):
        reporter.events.append(event)
        if isinstance(event, Artifact) and event.name == "pair_result":
            reporter.controls.stop()

    reporter.emit = stop_after_the_first_pair
    config = gates.Config(**{**TINY, "task": "adding", "lengths": "4", "cells": "rnn, gru"})
    done = runner.execute(runner.RunRequest("gates", config, "", 0, autosave=False),
                          reporter)
    assert done.status == "stopped" and "1 of 2" in done.message
    assert done.result.meta["pairs"] == [["rnn", 4]]
    sweep = reporter.of(Artifact)[0].value
    assert sweep["task"] == "adding" and sweep["chance"] == pytest.approx(0.078, abs=0.01)


@pytest.mark.parametrize("values, words", [
    (dict(lengths="ten, 20"), "whole numbers"),
    (dict(lengths="0, 5000"), "between"),
    (dict(cells="rnn, transformer"), "rnn, lstm, gru"),
    (dict(lengths="1000", batch_size=4096, symbols=64), "lower the batch size"),
    (dict(rnn_learning_rate=10.0, cells="rnn", lengths="10", units=16, steps=100),
     "loss"),
])
def test_bad_settings_end_in_plain_words(values, words):
    done, _ = run(gates.Config(**{**TINY, **values}))
    assert done.status == "failed"
    assert words in done.message and "Traceback" not in done.message


def test_text_settings_are_read_forgivingly():
    config = gates.Config(lengths="50; 10, 10 ,25", cells=" GRU, SimpleRNN,lstm ")
    assert gates.parse_lengths(config) == [10, 25, 50]
    assert gates.parse_cells(config) == ["gru", "rnn", "lstm"]
    assert gates.FAMILY.length(gates.Config()) == 2000 * 4 * 3
