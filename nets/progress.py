"""Events an experiment emits, the controls it obeys, and the bridge from Keras `fit()`.

Every family speaks this protocol; the GUI worker and the command line are two listeners.
Nothing here knows who is listening, and nothing here imports Qt.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from nets.errors import PlainError


# ---------------------------------------------------------------- events
@dataclass(frozen=True)
class Started:
    total_steps: int  # optimiser steps the whole run will take (for progress and ETA)
    description: str  # what is being trained on what, in words
    first_step: int = 0  # non-zero when resuming
    metric: str = "loss"  # the BatchMetrics key plotted per batch ("" plots nothing)
    # what a step is: "batch" (an optimiser step), or "epoch" for a loop that reports
    # once an epoch (the playground's thousands of tiny batches)
    per: str = "batch"


@dataclass(frozen=True)
class BatchMetrics:
    step: int  # global step, 1-based, counted over the whole run
    epoch: int  # 0-based
    metrics: dict[str, float]  # values of this batch alone (not the epoch's running mean)


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int  # 0-based
    epochs: int
    metrics: dict[str, float]  # train metrics, and validation ones prefixed "val_"
    seconds: float = 0.0  # wall time of this epoch, validation included


@dataclass(frozen=True)
class ImageEvent:
    name: str  # which view it feeds: "filters", "mistakes", ...
    images: np.ndarray  # (n, h, w) or (n, h, w, 3), float in [0, 1]
    captions: tuple[str, ...] = ()
    note: str = ""  # a sentence shown with the images


@dataclass(frozen=True)
class Log:
    text: str


@dataclass(frozen=True)
class Artifact:
    """A live object handed to the listener (e.g. the model being trained, for live views)."""

    name: str
    value: Any


@dataclass(frozen=True)
class Done:
    status: str  # "finished", "stopped" or "failed"
    message: str = ""  # plain words for the person
    detail: str = ""  # the technical traceback, for those who want it
    result: Any = None  # whatever the family returns (the trained model, ...)
    # The run's main figure in words ("Held-out accuracy 98.5%"): what the panel shows
    # when the run ends and the last line the command line prints.
    headline: str = ""


Event = Started | BatchMetrics | EpochMetrics | ImageEvent | Log | Artifact | Done


class Reporter(Protocol):
    """What an experiment talks to. `controls` carries stop and pause."""

    controls: "Controls"

    def emit(self, event: Event) -> None: ...


# ---------------------------------------------------------------- controls
class StopRequested(Exception):
    """Raised inside training when the person pressed Stop; experiments catch it."""


class Controls:
    """Thread-safe stop and pause flags, set by the listener, polled by the trainer; and
    the settings a person changed while the run goes on (those declared `live`)."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._lock = threading.Lock()
        self._changes: dict = {}

    def change(self, **values) -> None:
        """New values of live settings, for the trainer to apply when it next looks."""
        with self._lock:
            self._changes.update(values)

    def changes(self) -> dict:
        """The live settings changed since the last call (empty when none were)."""
        with self._lock:
            out, self._changes = self._changes, {}
        return out

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # wake a paused trainer so it can see the stop

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def checkpoint(self) -> float:
        """Block while paused; raise StopRequested if stopped. Returns seconds spent paused."""
        t0 = time.monotonic()
        self._running.wait()
        if self._stop.is_set():
            raise StopRequested()
        return time.monotonic() - t0


class ListReporter:
    """Collects events in a list: for tests and for headless helpers."""

    def __init__(self, controls: Controls | None = None) -> None:
        self.controls = controls or Controls()
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


class ConsoleReporter:
    """Prints progress to a terminal: the headless twin of the GUI panel."""

    def __init__(self, stream=None, every_s: float = 1.0) -> None:
        import sys

        self.controls = Controls()
        self.stream = stream or sys.stdout
        self.every_s = every_s
        self._total = 0
        self._first = 0
        self._metric = "loss"
        self._t0 = time.monotonic()
        self._last = 0.0

    def _print(self, text: str) -> None:
        if self.stream is not None:  # a frozen windowed app has no stdout
            print(text, file=self.stream, flush=True)

    def emit(self, event: Event) -> None:
        if isinstance(event, Started):
            self._total, self._first = event.total_steps, event.first_step
            self._metric = event.metric or "loss"  # a GAN's is its generator's loss
            self._t0 = time.monotonic()
            self._print(event.description)
        elif isinstance(event, BatchMetrics):
            now = time.monotonic()
            if now - self._last >= self.every_s:
                self._last = now
                done = event.step - self._first
                left = self._total - event.step
                eta = (now - self._t0) / max(done, 1) * left
                loss = event.metrics.get(self._metric)
                shown = f"{loss:.4f}" if loss is not None and math.isfinite(loss) else "—"
                self._print(f"  step {event.step}/{self._total}  {self._metric} {shown}  "
                            f"eta {eta:.0f}s")
        elif isinstance(event, EpochMetrics):
            parts = "  ".join(f"{k} {v:.4f}" for k, v in event.metrics.items())
            self._print(f"epoch {event.epoch + 1}/{event.epochs}  {parts}")
        elif isinstance(event, Log):
            self._print(event.text)
        elif isinstance(event, Done):
            self._print(f"{event.status}: {event.message}" if event.message else event.status)
            if event.headline:
                self._print(event.headline)


# ---------------------------------------------------------------- the Keras bridge
class TrainingDiverged(PlainError):
    """The loss stopped being a finite number, or exploded far above where it started."""


class DivergenceGuard:
    """Watches a loss, batch by batch, for a run that has blown up: not a finite number, or
    a moving average far above the loss the run started with. (A learning rate of 10 took
    the CNN's loss from 2.3 to millions on TensorFlow and the VAE's KL to 1e10, at chance
    accuracy. On JAX the same CNN's loss stays near 13: Keras clips probabilities, which
    caps a classifier's cross-entropy near 16, so the factor must stay well below 7.)
    The margin is wide on purpose: losses that wander or rise a little are left alone."""

    FACTOR, MARGIN, SETTLE = 4.0, 1.0, 3

    def __init__(self) -> None:
        self.start: float | None = None
        self.average = 0.0
        self.seen = 0

    def check(self, loss: float, where: str) -> None:
        """Raise TrainingDiverged with plain words if this batch's loss says so."""
        if not math.isfinite(loss):
            raise TrainingDiverged(f"The loss became {loss} at {where}.")
        if self.start is None:
            self.start = self.average = loss
        self.seen += 1
        self.average = 0.7 * self.average + 0.3 * loss
        limit = self.FACTOR * abs(self.start) + self.MARGIN
        if self.seen > self.SETTLE and self.average > limit:
            raise TrainingDiverged(f"The loss exploded to {self.average:.3g} at {where} (it "
                                   f"started at {self.start:.3g}).")


def make_fit_bridge(reporter: Reporter, *, epochs: int, steps_per_epoch: int,
                    samples: int, batch_size: int, initial_epoch: int = 0,
                    images=None, images_every_s: float = 0.5, epoch_offset: int = 0,
                    total_epochs: int | None = None):
    """A Keras callback that turns `fit()` into events and obeys stop and pause.

    Keras 3 reports, at each batch end, the running mean of the loss over the epoch so
    far; the person wants the loss of each batch, so the bridge undoes the averaging using
    the number of samples seen (Keras weights the mean by batch size).
    `images` is an optional function model -> list[ImageEvent], called at most every
    `images_every_s` seconds and at each epoch end (e.g. the first-layer filters).
    A run of several fits in stages (greedy layer-wise training) passes `epoch_offset` and
    `total_epochs` so that epochs and steps count on across the stages.
    """
    total_epochs = total_epochs or epochs
    import keras

    class FitBridge(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.last_good_weights = None
            self.guard = DivergenceGuard()
            self._prev_total = {}
            self._last_images = 0.0
            self._epoch = initial_epoch  # Keras does not tell batch callbacks the epoch

        def _batch_size(self, batch: int) -> int:
            return min(batch_size, samples - batch * batch_size)

        def on_train_begin(self, logs=None):
            self.last_good_weights = self.model.get_weights()

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch = epoch
            self._epoch_t0 = time.perf_counter()
            self._prev_total = {}
            reporter.controls.checkpoint()

        def on_train_batch_end(self, batch, logs=None):
            seen = min((batch + 1) * batch_size, samples)
            this = self._batch_size(batch)
            per_batch = {}
            for key, mean in (logs or {}).items():
                mean = float(mean)
                total = mean * seen
                per_batch[key] = (total - self._prev_total.get(key, 0.0)) / max(this, 1)
                self._prev_total[key] = total
            loss = per_batch.get("loss")
            if loss is not None:
                self.guard.check(loss, f"epoch {self._epoch + 1}, batch {batch + 1}")
            epoch = epoch_offset + self._epoch
            step = epoch * steps_per_epoch + batch + 1
            reporter.emit(BatchMetrics(step=step, epoch=epoch, metrics=per_batch))
            if images is not None and time.monotonic() - self._last_images > images_every_s:
                self._emit_images()
            reporter.controls.checkpoint()

        def on_test_batch_end(self, batch, logs=None):
            reporter.controls.checkpoint()

        def on_predict_batch_end(self, batch, logs=None):
            reporter.controls.checkpoint()

        def on_epoch_end(self, epoch, logs=None):
            metrics = {k: float(v) for k, v in (logs or {}).items()
                       if k != "learning_rate"}
            if not all(math.isfinite(v) for v in metrics.values()):
                raise TrainingDiverged(f"A metric became NaN or infinite at epoch {epoch + 1}.")
            weights = self.model.get_weights()
            # a loss can stay finite while weights are not (TensorFlow's sparse
            # cross-entropy of an infinite logit): the weights are checked too
            if not all(np.isfinite(w).all() for w in weights):
                raise TrainingDiverged(f"The weights became NaN or infinite in epoch "
                                       f"{epoch + 1}.")
            self.last_good_weights = weights
            reporter.emit(EpochMetrics(epoch=epoch_offset + epoch, epochs=total_epochs,
                                       metrics=metrics,
                                       seconds=time.perf_counter() - self._epoch_t0))
            if images is not None:
                self._emit_images()

        def _emit_images(self):
            self._last_images = time.monotonic()
            for ev in images(self.model):
                reporter.emit(ev)

    return FitBridge()
