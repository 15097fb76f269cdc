"""Why gates: a plain recurrent net, an LSTM and a GRU learn the same long-memory task at
several sequence lengths, each (cell, length) pair a short run of its own, so that each
cell's held-out accuracy can be drawn against the length of the dependency: the plain RNN
learns short ones and fails as they grow; the gated cells keep succeeding.

A hand-written loop (fresh sequences for every batch, nets.backend.gradient_step, Adam with
clipnorm 1) trains the pairs in turn, shortest length first, and measures besides loss
and accuracy what the lesson is about. All of it goes out as `Artifact`s of plain dicts:

    Artifact("sweep", {"task", "lengths", "cells", "chance", "steps"})   at the start
    Artifact("pair_started", {"cell", "length", "index", "pairs", "first_step"})
        the steps of all pairs are counted on without gaps (a solved pair ends early), so
        a pair's BatchMetrics begin at first_step + 1; Started's total is the most the
        sweep can take
    Artifact("pair_progress", {"cell", "length", "step", "accuracy", "loss"})
        accuracy on a fixed check set of fresh sequences, every CHECK_EVERY steps
    Artifact("gradient_through_time", {"cell", "length", "phase", "norms"})
        ||dLoss/dh_t|| for t = 1..T (model.GradientThroughTime) on PROBE_SIZE sequences
        whose flag (first mark) is at the first step; phase "start" (untrained), "end"
    Artifact("pair_result", {"cell", "length", "accuracy", "steps", "seconds", "solved",
                             "curve"})
        accuracy on TEST_SIZE other fresh sequences: the number the sweep is about;
        solved: the step at which it first got SOLVED (99%) of the check set right, None
        if never; curve: [step, check accuracy] pairs

It does not resume (can_resume=False): each pair is a run of seconds to a minute, and a
stopped sweep keeps (and saves) the pairs it finished.
"""
from __future__ import annotations

import time
import zlib
from dataclasses import dataclass

import numpy as np

from nets import backend, storage
from nets.config import param
from nets.errors import SettingsError
from nets.progress import (Artifact, BatchMetrics, DivergenceGuard, Done, Log, Started,
                           StopRequested, TrainingDiverged)
from nets.registry import Family

from nets.families.gates import tasks
from nets.families.gates.model import (CELLS, GradientThroughTime, accuracy, build_model,
                                       combined, loss_fn)

CHECK_EVERY = 100  # steps between two looks at the check set
CHECK_SIZE = 512  # fresh sequences the live accuracy (and early stop) is measured on
TEST_SIZE = 2048  # other fresh sequences: the accuracy reported for a pair
PROBE_SIZE = 64  # sequences the gradient through time is measured on
SOLVED = 0.99  # check-set accuracy at which a pair counts as solved
MAX_LENGTH = 1000


@dataclass
class Config:
    task: str = param("recall", "Task", "recall: a sequence of random symbols, one of them "
                      "flagged; at the end, name the flagged symbol. adding: a sequence of "
                      "random numbers, two of them marked; at the end, give their sum "
                      "(Hochreiter & Schmidhuber's adding problem).",
                      choices=("recall", "adding"))
    lengths: str = param("10, 25, 50, 100", "Sequence lengths", "The lengths to train at, "
                         "each cell afresh at each one: the longest dependency is as long "
                         "as the sequence.")
    cells: str = param("rnn, lstm, gru", "Cells", "Which recurrent cells to compare: rnn "
                       "(the plain, ungated one), lstm, gru.")
    units: int = param(64, "Units", "Size of each cell's hidden state.", minimum=2,
                       maximum=512)
    symbols: int = param(8, "Symbols", "How many different symbols the recall task uses "
                         "(guessing is right 1 time in this many).", minimum=2,
                         maximum=64, when=("task", ("recall",)))
    steps: int = param(2000, "Steps per cell and length", "The most training steps each "
                       "cell gets at each length (fewer when it solves the task first).",
                       minimum=10, maximum=100_000)
    stop_when_solved: bool = param(True, "Move on when solved", "Go on to the next cell or "
                                   "length as soon as a net gets 99 in 100 of 512 fresh "
                                   "sequences right (checked every 100 steps).")
    batch_size: int = param(128, "Batch size", "Fresh sequences per step.", minimum=1,
                            maximum=4096)
    learning_rate: float = param(0.01, "Learning rate (LSTM, GRU)", "Adam's step size "
                                 "for the gated cells (gradients clipped to norm 1).",
                                 minimum=1e-6, maximum=10.0, decimals=6)
    rnn_learning_rate: float = param(0.001, "Learning rate (plain RNN)", "Adam's step "
                                     "size for the plain RNN. Each kind of cell gets the "
                                     "rate that served it best here (of 0.001, 0.003 and "
                                     "0.01), so that the comparison is fair: the plain RNN "
                                     "learns length 25 with 0.001 and not with 0.01.",
                                     minimum=1e-6, maximum=10.0, decimals=6)


# ---------------------------------------------------------------- the settings in words
def parse_lengths(config: Config) -> list[int]:
    text = str(config.lengths).replace(";", ",")
    try:
        lengths = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise SettingsError(f"Sequence lengths: write whole numbers separated by commas, "
                            f"e.g. '10, 25, 50, 100' (got {config.lengths!r}).") from None
    if not lengths:
        raise SettingsError("Sequence lengths: give at least one length.")
    least = 2 if config.task == "adding" else 1
    if any(n < least or n > MAX_LENGTH for n in lengths):
        raise SettingsError(f"Sequence lengths must lie between {least} and {MAX_LENGTH} "
                            f"(got {config.lengths!r}).")
    return sorted(set(lengths))


ALIASES = {"rnn": "rnn", "simplernn": "rnn", "plain": "rnn", "lstm": "lstm", "gru": "gru"}


def parse_cells(config: Config) -> list[str]:
    names = [p.strip().lower().replace(" ", "") for p in str(config.cells).replace(
        ";", ",").split(",") if p.strip()]
    unknown = [n for n in names if n not in ALIASES]
    if unknown or not names:
        raise SettingsError(f"Cells: name one or more of rnn, lstm, gru, separated by "
                            f"commas (got {config.cells!r}).")
    cells = []
    for n in names:
        if ALIASES[n] not in cells:
            cells.append(ALIASES[n])
    return cells


def task_of(config: Config) -> tasks.Task:
    return tasks.task(config.task, config.symbols)


MAX_BATCH_MB = 256


def check_memory(config: Config, length: int, task: tasks.Task) -> None:
    """SettingsError, in words, for batches too large to make here."""
    mb = max(config.batch_size, CHECK_SIZE) * length * task.features * 4 / 2**20
    if mb > MAX_BATCH_MB:
        raise SettingsError(f"A batch of {config.batch_size:,} sequences of {length:,} "
                            f"steps would take {mb:,.0f} MB (at most {MAX_BATCH_MB} here): "
                            "lower the batch size, the longest length or the symbols.")


def learning_rate(config: Config, cell: str) -> float:
    return config.rnn_learning_rate if cell == "rnn" else config.learning_rate


def pair_seed(seed: int, cell: str, length: int, what: str) -> int:
    """A seed of its own for each pair and purpose, the same whichever other pairs run."""
    return zlib.crc32(f"{seed}/{cell}/{length}/{what}".encode())


# ---------------------------------------------------------------- one pair
def train_pair(cell: str, length: int, config: Config, seed: int, reporter,
               first_step: int, index: int, pairs: int) -> tuple[dict, object, dict]:
    """Train one cell at one length; returns its result, its model and its gradients
    through time {"start": [...], "end": [...]}. StopRequested and TrainingDiverged pass
    through."""
    import keras

    from nets import runner

    reporter.controls.checkpoint()  # a stop between two pairs ends before the next
    task = task_of(config)
    runner.seed_everything(pair_seed(seed, cell, length, "init"))
    model = build_model(cell, length, task, config.units)
    optimizer = keras.optimizers.Adam(learning_rate(config, cell), clipnorm=1.0)
    step = backend.gradient_step(model, optimizer, loss_fn(task))
    predict = backend.predictor(model)
    train_rng = np.random.default_rng(pair_seed(seed, cell, length, "train"))
    # every cell at a length is checked, scored and probed on the same sequences
    check = tasks.make(config.task, np.random.default_rng(pair_seed(
        seed, "all", length, "check")), CHECK_SIZE, length, config.symbols)
    probe_x, probe_y = tasks.make(config.task, np.random.default_rng(pair_seed(
        seed, "all", length, "probe")), PROBE_SIZE, length, config.symbols, at_start=True)
    probe = GradientThroughTime(model, task, probe_x, probe_y)
    grads = {"start": probe.norms()}
    reporter.emit(Artifact("pair_started", {"cell": cell, "length": length,
                                            "index": index, "pairs": pairs,
                                            "first_step": first_step}))
    reporter.emit(Artifact("gradient_through_time", {"cell": cell, "length": length,
                                                     "phase": "start",
                                                     "norms": grads["start"]}))
    guard = DivergenceGuard()
    where = f"{CELLS[cell]} at length {length}"
    t0 = time.monotonic()
    solved = None
    done = 0
    curve = []  # (step, check-set accuracy): the pair's learning curve
    for s in range(1, config.steps + 1):
        x, y = tasks.make(config.task, train_rng, config.batch_size, length,
                          config.symbols)
        loss = step(x, y)
        guard.check(loss, f"step {s} of the {where}")
        done = s
        reporter.emit(BatchMetrics(first_step + s, index, {"loss": loss}))
        if s % CHECK_EVERY == 0 or s == config.steps:
            acc = accuracy(predict, config.task, *check)
            curve.append([s, round(acc, 4)])
            reporter.emit(Artifact("pair_progress", {"cell": cell, "length": length,
                                                     "step": s, "accuracy": acc,
                                                     "loss": loss}))
            if acc >= SOLVED and solved is None:
                solved = s
                if config.stop_when_solved:
                    break
        reporter.controls.checkpoint()
    seconds = time.monotonic() - t0
    if not all(np.isfinite(w).all() for w in model.get_weights()):
        raise TrainingDiverged(f"The weights became NaN or infinite for the {where}.")
    test_rng = np.random.default_rng(pair_seed(seed, "all", length, "test"))
    right = 0.0
    for _ in range(TEST_SIZE // CHECK_SIZE):  # in parts: long sequences take memory
        part = tasks.make(config.task, test_rng, CHECK_SIZE, length, config.symbols)
        right += accuracy(predict, config.task, *part) / (TEST_SIZE // CHECK_SIZE)
    grads["end"] = probe.norms()
    reporter.emit(Artifact("gradient_through_time", {"cell": cell, "length": length,
                                                     "phase": "end",
                                                     "norms": grads["end"]}))
    result = {"cell": cell, "length": length, "accuracy": right,
              "steps": done, "seconds": round(seconds, 2), "solved": solved,
              "curve": curve}
    reporter.emit(Artifact("pair_result", result))
    return result, model, grads


# ---------------------------------------------------------------- the sweep
def train(request, reporter):
    from nets.loop import Loop
    from nets.runner import TrainedModel, config_meta

    run = Loop.begin(request, reporter, Config, every=0)  # says a resume cannot be
    config = run.config
    lengths, cells = parse_lengths(config), parse_cells(config)
    task = task_of(config)
    check_memory(config, max(lengths), task)
    pairs = [(cell, length) for length in lengths for cell in cells]
    reporter.emit(Artifact("sweep", {"task": config.task, "lengths": lengths,
                                     "cells": cells, "chance": task.chance,
                                     "steps": config.steps}))
    reporter.emit(Started(total_steps=config.steps * len(pairs), description=(
        f"{', '.join(CELLS[c] for c in cells)} of {config.units} units on "
        f"{task.title}, at length{'s' if len(lengths) > 1 else ''} "
        f"{', '.join(map(str, lengths))}: up to "
        f"{config.steps:,} steps of {config.batch_size} fresh sequences each.")))
    results, models, gradients = [], [], []
    t0 = time.monotonic()
    status, message = "finished", ""
    try:
        for i, (cell, length) in enumerate(pairs):
            first = sum(r["steps"] for r in results)
            result, model, grads = train_pair(cell, length, config, request.seed,
                                              reporter, first, i, len(pairs))
            results.append(result)
            models.append(model)
            gradients.append({"cell": cell, "length": length,
                              **{k: [float(f"{v:.4g}") for v in g] for k, g in
                                 grads.items()}})
            reporter.emit(Log(pair_sentence(result)))
    except StopRequested:
        status = "stopped"
        message = (f"Stopped by you after {len(results)} of {len(pairs)} runs (a cell at "
                   "a length); the finished ones are kept.")
    except TrainingDiverged as exc:
        status = "failed"
        message = (f"{exc} That run was stopped; the {len(results)} runs before it are "
                   "kept. A lower learning rate usually fixes this.")
    seconds = time.monotonic() - t0
    if status == "finished":
        message = f"Trained {len(pairs)} runs in {seconds:.0f} s."
    meta = config_meta(request, task=config.task, features=task.features,
                       outputs=task.outputs, chance=task.chance,
                       pairs=[[r["cell"], r["length"]] for r in results],
                       results=results, gradients=gradients)
    trained = None
    if models:
        trained = TrainedModel(combined(models), "gates", meta, [], seconds)
        reporter.emit(Artifact("model", trained.model))
    return Done(status, message, "", trained, headline(results))


def pair_sentence(r: dict) -> str:
    how = (f"solved after {r['solved']:,} steps" if r["solved"]
           else f"not solved in {r['steps']:,} steps")
    return (f"{CELLS[r['cell']]}, length {r['length']}: {r['accuracy']:.0%} of fresh "
            f"sequences right ({how}, {r['seconds']:.1f} s).")


def headline(results: list[dict]) -> str:
    """The longest length every cell finished, in a line: 'At length 100 held out: plain
    RNN 13%, LSTM 100%, GRU 100%'."""
    if not results:
        return ""
    by_length: dict[int, list[dict]] = {}
    for r in results:
        by_length.setdefault(r["length"], []).append(r)
    most = max(len(v) for v in by_length.values())
    length = max(k for k, v in by_length.items() if len(v) == most)
    parts = ", ".join(f"{CELLS[r['cell']]} {r['accuracy']:.0%}" for r in by_length[length])
    return f"At length {length}, right on fresh sequences: {parts}"


def run_length(config: Config) -> int:
    """The most steps a sweep takes (every pair its full budget)."""
    try:
        return config.steps * len(parse_lengths(config)) * len(parse_cells(config))
    except SettingsError:
        return config.steps


# ---------------------------------------------------------------- loading
def load(path):
    """The nets a sweep finished, rebuilt in code from the stored settings; only weights
    are read from the file."""
    from nets.config import from_dict
    from nets.runner import TrainedModel

    meta = storage.read_meta(path)
    if meta.get("family") != "gates":
        raise storage.StorageError(f"This file holds a {meta.get('family', 'unknown')!r} "
                                   "model, not a sweep of recurrent cells.")
    try:
        config = from_dict(Config, meta["config"], strict=True)
        task = task_of(config)
        pairs = [(str(c), int(n)) for c, n in meta["pairs"]]
        if not pairs or any(c not in CELLS or not 1 <= n <= MAX_LENGTH for c, n in pairs):
            raise ValueError("its list of trained nets is empty or garbled")
        if not isinstance(meta["results"], list) or len(meta["results"]) != len(pairs):
            raise ValueError("its results do not match its nets")
    except (KeyError, TypeError, ValueError) as exc:
        raise storage.damaged_description(path, exc) from exc
    model = combined([build_model(c, n, task, config.units) for c, n in pairs])
    storage.load_weights(model, path)
    return TrainedModel(model, "gates", meta, list(meta.get("history", [])))


FAMILY = Family(key="gates", title="Why gates: long memories",
                summary="A plain recurrent net forgets what it saw many steps ago; LSTM "
                        "and GRU cells learn to keep it. Accuracy against the length of "
                        "the memory, and the gradient back through time.",
                config=Config, train=train, load=load, datasets=(), length_field="steps",
                can_resume=False, run_length=run_length)
