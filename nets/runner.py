"""Running an experiment: the one code path shared by the GUI worker and the command line.

`execute` never raises: whatever happens ends in a `Done` event with plain words.
`fit_keras` is the common training loop of Keras families: the event bridge, NaN guard,
atomic autosave each epoch and resume.
"""
from __future__ import annotations

import dataclasses
import errno
import importlib
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from nets import storage
from nets.data import DataError
from nets.progress import (Artifact, Done, EpochMetrics, Log, Reporter, Started,
                           StopRequested, TrainingDiverged, make_fit_bridge)

# The model families, by key. Adding a family adds one line here.
FAMILIES = {
    "autoencoder": "nets.autoencoder",
    "vae": "nets.vae",
    "cnn": "nets.cnn",
    "kmeans": "nets.kmeans",
    "sparse_coding": "nets.sparse_coding",
    "dqn": "nets.dqn",
}


def family(key: str):
    """The module of a family: it defines TITLE, SUMMARY, Config and train(request, reporter)."""
    try:
        return importlib.import_module(FAMILIES[key])
    except KeyError:
        raise ValueError(f"Unknown model family '{key}'. Known: {', '.join(FAMILIES)}.") \
            from None


@dataclass
class RunRequest:
    family: str
    config: Any  # the family's Config dataclass
    dataset: str = "mnist"
    seed: int = 0
    resume: bool = False  # continue from the latest autosave of this family
    autosave: bool = True


def explain(exc: BaseException) -> str:
    """An exception in plain words for the person (the traceback goes in `detail`)."""
    name = type(exc).__name__
    first = (str(exc).splitlines() or [""])[0][:300]
    if isinstance(exc, (DataError, storage.StorageError, TrainingDiverged)):
        return str(exc)
    if isinstance(exc, MemoryError) or name == "ResourceExhaustedError":
        return ("The computer ran out of memory. Try a smaller batch size, fewer filters or "
                "a smaller dataset.")
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "The disk is full. Free some space and try again."
    if isinstance(exc, ValueError) and ("shape" in first.lower() or "incompatible" in first):
        return ("The model and the data do not fit together (for example the input size "
                f"changed). Details: {first}")
    return f"Training failed with an unexpected error ({name}): {first}"


def execute(request: RunRequest, reporter: Reporter) -> Done:
    """Run a request to its end and emit (and return) the final Done event."""
    try:
        done = family(request.family).train(request, reporter)
    except StopRequested:
        done = Done("stopped", "Stopped before training began.")
    except Exception as exc:  # noqa: BLE001 - the person gets words, not a crash
        done = Done("failed", explain(exc), traceback.format_exc())
    reporter.emit(done)
    return done


def seed_everything(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(int(seed))


def fit_keras(model, *, family_key: str, meta: dict, x, y, validation, epochs: int,
              batch_size: int, reporter: Reporter, initial_epoch: int = 0,
              history: list[dict] | None = None, images: Callable | None = None,
              images_every_s: float = 0.5, autosave: bool = True,
              description: str = "", epoch_offset: int = 0,
              total_epochs: int | None = None) -> Done:
    """`model.fit` with events, stop/pause, a NaN guard and per-epoch atomic autosave.

    Returns a Done whose result is the model: on stop it holds the weights reached so far,
    on divergence the weights of the last good epoch. A later stage of a staged run passes
    `epoch_offset` (epochs done in earlier stages) and `total_epochs` (of all stages); only
    the first stage announces the run with a Started event.
    """
    import keras

    samples = len(x)
    steps = int(np.ceil(samples / batch_size))
    history = list(history or [])
    if epoch_offset == 0:
        reporter.emit(Started(total_steps=(total_epochs or epochs) * steps,
                              first_step=initial_epoch * steps, description=description))
        for i, metrics in enumerate(history[:initial_epoch]):
            reporter.emit(EpochMetrics(epoch=i, epochs=epochs, metrics=metrics))
    elif description:
        reporter.emit(Log(description))
    reporter.emit(Artifact("model", model))
    bridge = make_fit_bridge(reporter, epochs=epochs, steps_per_epoch=steps, samples=samples,
                             batch_size=batch_size, initial_epoch=initial_epoch,
                             images=images, images_every_s=images_every_s,
                             epoch_offset=epoch_offset, total_epochs=total_epochs)

    class Autosave(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            history.append({k: float(v) for k, v in (logs or {}).items()
                            if k != "learning_rate"})
            if not autosave:
                return
            try:
                storage.autosave(self.model, family_key,
                                 {**meta, "epoch": epoch + 1, "epochs": epochs,
                                  "history": history}, epoch + 1)
            except storage.StorageError as exc:
                reporter.emit(Log(f"Autosave skipped: {exc}"))

    t0 = time.monotonic()
    status, message = "finished", ""
    try:
        model.fit(x, y, validation_data=validation, epochs=epochs, batch_size=batch_size,
                  initial_epoch=initial_epoch, verbose=0, callbacks=[bridge, Autosave()])
    except StopRequested:
        status = "stopped"
    except TrainingDiverged as exc:
        if bridge.last_good_weights is not None:
            model.set_weights(bridge.last_good_weights)
        status = "failed"
        kept = ("the weights of the last good epoch" if len(history) > initial_epoch
                else "the weights it started this run with")
        message = (f"{exc} Training was stopped; the model keeps {kept}. A lower learning "
                   "rate usually fixes this.")
    seconds = time.monotonic() - t0
    if status == "finished":
        message = f"Trained {epochs - initial_epoch} epochs in {seconds:.1f} s."
    elif status == "stopped":
        message = f"Stopped by you after {epoch_offset + len(history)} of " \
                  f"{total_epochs or epochs} epochs."
    return Done(status, message,
                result=TrainedModel(model, family_key, meta, history, seconds))


@dataclass
class TrainedModel:
    model: Any
    family: str
    meta: dict  # config, dataset, seed, classes, ...
    history: list[dict]
    fit_seconds: float = 0.0  # wall time of the last fit() (0 for a loaded model)
    extra: Any = None  # a family's own view of the model (e.g. an autoencoder's layers)

    def save(self, path):
        return storage.save_model(self.model, path, {**self.meta, "history": self.history,
                                                     "epoch": len(self.history)})


@dataclass
class Prepared:
    """What every run starts from: its config, its data, and where it resumes."""

    config: Any
    dataset: Any  # nets.data.Dataset
    initial_epoch: int = 0
    history: list = dataclasses.field(default_factory=list)
    autosave_path: Any = None  # the autosave to read weights from when resuming


def prepare(request: RunRequest, reporter: Reporter, config_cls,
            can_resume: bool = True) -> Prepared:
    """The common start of a run: resume state from the family's latest autosave if asked
    (its config, data and seed win), seed everything, load the data and say which."""
    from nets import data as datasets
    from nets.config import from_dict

    initial_epoch, history, path = 0, [], None
    if request.resume and not can_resume:
        reporter.emit(Log("This family cannot resume from an autosave yet: starting afresh."))
    elif request.resume:
        found = storage.latest_autosave(request.family)
        if found is None:
            reporter.emit(Log("No autosave to resume from: starting afresh."))
        else:
            path, meta = found
            request.config = from_dict(config_cls, meta.get("config", {}))
            request.dataset = meta.get("dataset", request.dataset)
            request.seed = meta.get("seed", request.seed)
            initial_epoch, history = int(meta.get("epoch", 0)), list(meta.get("history", []))
    seed_everything(request.seed)
    reporter.emit(Log("Loading data ..."))
    ds = datasets.load(request.dataset, seed=request.seed)
    reporter.emit(Log(f"Data: {ds.description}"))
    if ds.report:
        reporter.emit(Log(ds.report))
    reporter.controls.checkpoint()
    reporter.emit(Artifact("classes", list(ds.class_names)))
    return Prepared(request.config, ds, initial_epoch, history, path)


def resume_weights(model, prepared: Prepared, reporter: Reporter) -> None:
    if prepared.initial_epoch:
        storage.load_weights(model, prepared.autosave_path)
        reporter.emit(Log(f"Resumed from {prepared.autosave_path.name} after epoch "
                          f"{prepared.initial_epoch}."))


def read_saved(path, family_key: str, config_cls, what: str):
    """A saved model's meta, config and input shape, checked: StorageError otherwise."""
    from nets.config import from_dict

    meta = storage.read_meta(path)
    if meta.get("family") != family_key:
        raise storage.StorageError(
            f"This file holds a {meta.get('family', 'unknown')!r} model, not {what}.")
    try:
        config = from_dict(config_cls, meta["config"], strict=True)
        shape = tuple(int(v) for v in meta["input_shape"])
    except (KeyError, TypeError, ValueError) as exc:
        raise storage.damaged_description(path, exc) from exc
    return meta, config, shape


def make_optimizer(name: str, learning_rate):
    """One of nets.config.OPTIMIZERS (SGD with momentum 0.9)."""
    import keras

    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9)
    return {"adam": keras.optimizers.Adam,
            "rmsprop": keras.optimizers.RMSprop}[name](learning_rate=learning_rate)


def config_meta(request: RunRequest, **extra) -> dict:
    return {"family": request.family, "config": dataclasses.asdict(request.config),
            "dataset": request.dataset, "seed": request.seed, **extra}
