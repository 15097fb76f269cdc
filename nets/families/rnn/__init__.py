"""Recurrent nets that read and write text one character at a time (Karpathy's char-rnn,
in Keras): an LSTM, a GRU or a plain RNN learns to predict the next character of a text
that ships with the app (Shakespeare, Python, LaTeX) or one the person chooses.

`runner.fit_keras` trains it on windows of the text; every few seconds the run also sends
    Artifact("sample", Sample)  the bits per character on held-out text and a sample
                                written from the corpus's fixed prompt
so the person watches spelling, words and structure appear. The loss is the
cross-entropy of the next character in nats; `bits_per_char` is the same divided by ln 2.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from nets import backend, storage
from nets.config import batch_size_param, epochs_param, learning_rate_param, param
from nets.errors import DataError
from nets.loop import Loop
from nets.progress import Artifact, Log
from nets.registry import Family
from nets.runner import TrainedModel, config_meta, fit_keras, read_saved, seed_everything

from nets.families.rnn import corpus as corpora
from nets.families.rnn.corpus import Alphabet
from nets.families.rnn.model import CELLS, LN2, Writer, build_model, softmax

SAMPLE_EVERY_S = 6.0  # a live sample and a held-out figure this often while training
SAMPLE_LENGTH = 240
SAMPLE_TEMPERATURE = 0.8
PROBE_WINDOWS = 64  # held-out windows in the live figure (the epoch's figure uses all)


@dataclass
class Config:
    corpus: str = param("shakespeare", "Text", "What the model learns to write. "
                        "shakespeare: the sonnets and nine plays; python: Python's own "
                        "standard library; latex: algebraic geometry in LaTeX (the Stacks "
                        "project); file: a text file or a folder of your own.",
                        choices=corpora.CHOICES)
    text_path: str = param("", "Your text", "A text file, or a folder of text files (read "
                           "up to 8 MB). The last 5% is held out to measure the model on "
                           "text it never trained on.", when=("corpus", (corpora.OWN,)))
    cell: str = param("lstm", "Cell", "lstm: gates decide what the memory keeps, forgets "
                      "and shows (Hochreiter & Schmidhuber 1997). gru: a simpler gated cell "
                      "(Cho et al. 2014). rnn: the plain recurrent net, h = tanh(W x + U h "
                      "+ b), with no gates.", choices=CELLS)
    units: int = param(256, "Units per layer", "The size of the memory: the hidden (and for "
                       "an LSTM, cell) state carried from one character to the next.",
                       minimum=8, maximum=1024)
    layers: int = param(1, "Layers", "Recurrent layers stacked on each other; the second "
                        "reads the first one's states.", minimum=1, maximum=3)
    embedding: int = param(32, "Embedding size", "Each character becomes a learnt vector "
                           "of this size before the recurrent layer reads it.", minimum=2,
                           maximum=256)
    sequence_length: int = param(100, "Window (characters)", "Characters per training "
                                 "window: the gradient flows back through time this far "
                                 "and no further (truncated backpropagation through "
                                 "time).", minimum=10, maximum=1000)
    batch_size: int = batch_size_param(64)
    learning_rate: float = learning_rate_param(0.003)
    clip_norm: float = param(5.0, "Gradient clipping", "The gradient's norm is cut down to "
                             "this before each step: recurrent nets' gradients can explode "
                             "(Pascanu et al. 2013).", minimum=0.01, maximum=1000.0)
    epochs: int = epochs_param(3, "Passes over the training text (about a minute and a half "
                                  "each for the bundled texts on two CPU cores).")


@dataclass(frozen=True)
class Sample:
    """What the run sends every few seconds."""

    seconds: float  # since the run started
    step: int  # optimiser steps so far
    bits: float  # held-out bits per character (on PROBE_WINDOWS windows)
    prompt: str
    text: str  # what the model wrote after the prompt


def windows(ids: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping windows of `length` characters (x) and the characters that follow
    each one (y: x shifted by one)."""
    n = (len(ids) - 1) // length
    x = ids[:n * length].reshape(n, length)
    y = ids[1:n * length + 1].reshape(n, length)
    return x.astype(np.int32), y.astype(np.int32)


def held_out_bits(predict, x: np.ndarray, y: np.ndarray) -> float:
    """Mean bits per character of the model's predictions of y from x."""
    logits = np.asarray(predict(x), np.float64)
    logits -= logits.max(-1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_p, y[..., None].astype(np.int64), -1)
    return float(-picked.mean() / LN2)


class LiveText:
    """Called by the fit bridge every few seconds: a held-out figure and a sample."""

    def __init__(self, alphabet: Alphabet, prompt: str, x_val, y_val, seed: int):
        self.alphabet, self.prompt = alphabet, prompt
        self.x, self.y = x_val[:PROBE_WINDOWS], y_val[:PROBE_WINDOWS]
        self.rng = np.random.default_rng(seed)
        self.t0 = time.monotonic()
        self.writer = self.predict = None

    def __call__(self, model) -> list:
        if self.writer is None:  # built in the training thread, once
            self.writer, self.predict = Writer(model, self.alphabet), backend.predictor(model)
        text = write_from(self.writer, self.prompt, SAMPLE_LENGTH, SAMPLE_TEMPERATURE,
                          self.rng)
        sample = Sample(time.monotonic() - self.t0, int(model.optimizer.iterations),
                        held_out_bits(self.predict, self.x, self.y), self.prompt, text)
        return [Artifact("sample", sample)]


def write_from(writer: Writer, prompt: str, count: int, temperature: float, rng) -> str:
    """`count` characters written after `prompt` (read from a fresh state)."""
    writer.reset()
    writer.read_text(prompt)
    return writer.write(count, temperature, rng)[0]


def starting_text(alphabet: Alphabet, prompt: str) -> tuple[str, str]:
    """The part of a person's prompt the model can read, and a sentence about what was
    left out ("" when nothing was). An empty prompt starts from a newline (or from the
    alphabet's first character when the text has no newlines)."""
    unknown = alphabet.unknown(prompt)
    kept = "".join(c for c in prompt if c not in unknown)
    note = (f"The model never saw {', '.join(map(repr, unknown))} in its text, so "
            f"{'it was' if len(unknown) == 1 else 'they were'} left out of the prompt."
            if unknown else "")
    if not kept:
        kept = "\n" if "\n" in alphabet.index else alphabet.chars[0]
        note = " ".join(filter(None, [note, f"Starting from {kept!r}."]))
    return kept, note


def train(request, reporter):
    run = Loop.begin(request, reporter, Config)
    config = run.config
    seed_everything(run.request.seed)
    reporter.emit(Log("Reading the text ..."))
    text = corpora.load(config.corpus, config.text_path)
    reporter.emit(Log(f"Text: {text.description.rstrip('.')}. {len(text.text):,} characters, "
                      f"{len(text.held_out_text):,} of them held out."))
    if text.report:
        reporter.emit(Log(text.report))
    alphabet = Alphabet.of(text.text)
    saved = run.saved.get("alphabet")
    if saved is not None and saved != alphabet.chars:
        raise DataError("The text is not the one the autosave learnt from (its characters "
                        "differ), so training cannot go on from it. Start afresh, or "
                        "choose the text it was trained on.")
    x, y = windows(alphabet.encode(text.train_text), config.sequence_length)
    x_val, y_val = windows(alphabet.encode(text.held_out_text), config.sequence_length)
    if not len(x_val) or len(x) < config.batch_size:
        raise DataError(f"The text is too short for windows of {config.sequence_length} "
                        f"characters and batches of {config.batch_size}: it needs about "
                        f"{20 * config.sequence_length * max(config.batch_size, 1):,} "
                        "characters. Choose a longer text or smaller windows.")
    reporter.controls.checkpoint()
    model = build_model(config, len(alphabet))
    meta = config_meta(run.request, alphabet=alphabet.chars,
                       input_shape=[config.sequence_length],
                       text=text.description, prompt=text.prompt)
    start = run.restore(model)
    history = list(run.saved.get("history", []))[:start]
    live = LiveText(alphabet, text.prompt, x_val, y_val, run.request.seed)
    done = fit_keras(model, family_key="rnn", meta=meta, x=x, y=y, validation=(x_val, y_val),
                     epochs=config.epochs, batch_size=config.batch_size, reporter=reporter,
                     initial_epoch=start, history=history, images=live,
                     images_every_s=SAMPLE_EVERY_S, autosave=run.request.autosave,
                     description=f"A {config.layers}-layer {config.cell.upper()} of "
                                 f"{config.units} units learns to write "
                                 f"{text.description.split(':')[0]}, one character at a "
                                 "time.")
    if done.result is not None:
        done.result.extra = alphabet
        if done.result.history:
            reporter.emit(Log("Written by the model from "
                              f"{text.prompt!r}:\n{text.prompt}"
                              + write_from(live.writer or Writer(model, alphabet),
                                           text.prompt, 300, SAMPLE_TEMPERATURE, live.rng)))
    return dataclasses.replace(done, headline=headline(done.result))


def headline(result) -> str:
    last = (result.history or [{}])[-1] if result is not None else {}
    if "val_loss" not in last:
        return ""
    return (f"Held-out: {last['val_bits_per_char']:.3f} bits per character "
            f"({last['val_loss']:.3f} nats)")


def load(path) -> TrainedModel:
    meta, config, _ = read_saved(path, "rnn", Config, "a character model")
    chars = meta.get("alphabet")
    if not isinstance(chars, str) or len(set(chars)) != len(chars) or len(chars) < 2:
        raise storage.damaged_description(path, ValueError("its alphabet is missing"))
    model = build_model(config, len(chars))
    storage.load_weights(model, path)  # weights only: a stranger's file runs no code
    return TrainedModel(model, "rnn", meta, list(meta.get("history", [])),
                        extra=Alphabet(chars))


FAMILY = Family(key="rnn", title="Recurrent nets",
                summary="An LSTM that reads a text one character at a time and learns to "
                        "write like it: plays, Python or LaTeX.",
                config=Config, train=train, load=load, datasets=())

__all__ = ["Config", "FAMILY", "Sample", "Writer", "softmax", "starting_text", "windows"]
