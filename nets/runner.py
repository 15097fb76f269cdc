"""Running an experiment: the one code path shared by the GUI worker and the command line.

`execute` never raises: whatever happens ends in a `Done` event with plain words.
`fit_keras` is the common training loop of Keras families: the event bridge, NaN guard,
atomic autosave each epoch and resume.
"""
from __future__ import annotations

import dataclasses
import errno
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from nets import registry, storage
from nets.errors import PlainError
from nets.progress import (Artifact, Done, EpochMetrics, Log, Reporter, Started,
                           StopRequested, TrainingDiverged, make_fit_bridge)

def family(key: str):
    """A family's declaration (nets.registry.Family): ValueError for an unknown key."""
    return registry.family(key)


@dataclass
class RunRequest:
    family: str
    config: Any  # the family's Config dataclass
    dataset: str = "mnist"
    seed: int = 0
    resume: bool = False  # continue from the latest autosave of this family
    autosave: bool = True
    # Resuming: the run's length asked for now, in the family's unit (its length_field:
    # epochs, or a Q-learner's steps); None keeps the autosave's own.
    length: int | None = None


class ResumeRefused(PlainError):
    """A resume that cannot go on as asked (e.g. the autosave is already past the asked
    length); the message says why, for the person."""


def length_field(family_key: str) -> str:
    """The config field that says how long a run is: resuming may change it."""
    return family(family_key).length_field


def autosave_slot(family_key: str, config) -> storage.AutosaveSlot:
    """Where a family keeps its autosaves: one slot per family, and per game (or other
    setting that changes what the model is) where the family says so."""
    return storage.AutosaveSlot(family_key, family(family_key).variant(config))


def resume_config(request: RunRequest, found: storage.FoundAutosave, config_cls):
    """The config a resumed run goes on with: the autosave's, but as long as asked now.
    ResumeRefused when the autosave is already as far as that."""
    from nets.config import from_dict

    config = from_dict(config_cls, found.meta.get("config", {}))
    fam = family(request.family)
    if request.length is not None:
        config = dataclasses.replace(config, **{fam.length_field: int(request.length)})
    reached = int(found.meta.get("step" if fam.unit == "steps" else "epoch", 0))
    asked = fam.length(config)
    if asked <= reached:
        raise ResumeRefused(
            f"The autosave has already trained {reached:,} {fam.unit}, and this run asks "
            f"for {asked:,}: there is nothing left to do. To train on, ask for more than "
            f"{reached:,} {fam.unit} (or untick Resume to start afresh).")
    return config


def explain(exc: BaseException) -> str:
    """An exception in plain words for the person (the traceback goes in `detail`)."""
    name = type(exc).__name__
    first = (str(exc).splitlines() or [""])[0][:300]
    if isinstance(exc, PlainError):
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


def execute(request: RunRequest, reporter: Reporter, keep_last: bool = False) -> Done:
    """Run a request to its end and emit (and return) the final Done event. `keep_last`
    also saves the resulting model where the app offers it at its next start."""
    try:
        done = refusal(request) or family(request.family).train(request, reporter)
    except StopRequested:
        done = Done("stopped", "Stopped before training began.")
    except Exception as exc:  # noqa: BLE001 - the person gets words, not a crash
        done = Done("failed", explain(exc), traceback.format_exc())
    if not done.headline and done.status != "failed":
        done = dataclasses.replace(done, headline=held_out_headline(done.result))
    if keep_last and isinstance(done.result, TrainedModel):
        try:
            storage.last_model_path(request.family).parent.mkdir(parents=True,
                                                                 exist_ok=True)
            done.result.save(storage.last_model_path(request.family),
                             headline=done.headline)
        except (storage.StorageError, OSError) as exc:
            reporter.emit(Log(f"Could not keep this model for the next start: {exc}"))
    reporter.emit(done)
    return done


def refusal(request: RunRequest) -> Done | None:
    """A run of a family on a Keras backend it does not run on ends here, in words."""
    from nets import backend

    fam = family(request.family)
    now = backend.name_now()
    if fam.backends is None or now in fam.backends:
        return None
    names = " or ".join(backend.label(b) for b in fam.backends)
    return Done("failed", f"{fam.title} does not run on {backend.label(now)} yet, only on "
                f"{names}. Start the app with --backend {fam.backends[0]} (or choose it "
                "under Settings > Keras backend) to train it.")


def held_out_headline(result) -> str:
    """The main figure of a Keras family's run, from its last epoch: held-out accuracy
    where there is one, else the held-out loss (a family with another figure sets
    Done.headline itself)."""
    history = getattr(result, "history", None)
    last = history[-1] if history and isinstance(history[-1], dict) else {}
    if "val_accuracy" in last:
        return f"Held-out accuracy: {last['val_accuracy']:.1%}"
    if "val_loss" in last:
        return f"Held-out loss: {last['val_loss']:.4g}"
    return ""


def seed_everything(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(int(seed))


def fit_keras(model, *, family_key: str, meta: dict, x, y, validation, epochs: int,
              batch_size: int, reporter: Reporter, initial_epoch: int = 0,
              history: list[dict] | None = None, images: Callable | None = None,
              images_every_s: float = 0.5, autosave: bool = True,
              description: str = "", epoch_offset: int = 0,
              total_epochs: int | None = None, augment: Callable | None = None,
              seed: int = 0, announce: bool | None = None, autosave_model=None) -> Done:
    """`model.fit` with events, stop/pause, a NaN guard and per-epoch atomic autosave.

    Returns a Done whose result is the model: on stop it holds the weights reached so far,
    on divergence the weights of the last good epoch. A later stage of a staged run passes
    `epoch_offset` (epochs done in earlier stages) and `total_epochs` (of all stages); only
    the first stage announces the run with a Started event (or the stage a resumed run
    starts in: `announce`). Autosaves are numbered by the epoch of the whole run and hold
    `autosave_model` (default: the model fitted; a stage passes the whole network it is
    part of). `augment(x_batch, rng)`, when given, changes each training batch on the fly
    (in numpy, outside the model, so it costs the same on every backend); an `augment` with
    `needs_labels = True` is called as augment(x_batch, rng, y_batch), and its `callbacks`
    attribute, if any, joins the fit's (adversarial training). `x` may also be
    a keras PyDataset whose batches (x, y) are made as training goes (y is then None).
    """
    import keras

    made_on_the_fly = isinstance(x, keras.utils.PyDataset)  # its batches hold y too
    if made_on_the_fly:
        steps = len(x)
        samples = steps * batch_size
    else:
        samples = len(x[0]) if isinstance(x, (tuple, list)) else len(x)  # several inputs
        steps = int(np.ceil(samples / batch_size))
    history = list(history or [])
    if epoch_offset == 0 if announce is None else announce:
        reporter.emit(Started(total_steps=(total_epochs or epochs) * steps,
                              first_step=(epoch_offset + initial_epoch) * steps,
                              description=description))
        for i, metrics in enumerate(history[:initial_epoch]):
            reporter.emit(EpochMetrics(epoch=epoch_offset + i, epochs=total_epochs or epochs,
                                       metrics=metrics))
    elif description:
        reporter.emit(Log(description))
    reporter.emit(Artifact("model", model))
    slot = storage.AutosaveSlot(family_key)
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
            reached = epoch_offset + epoch + 1
            try:
                slot.save(autosave_model or self.model,
                          {**meta, "epoch": reached, "epochs": total_epochs or epochs,
                           "history": history}, reached)
            except storage.StorageError as exc:
                reporter.emit(Log(f"Autosave skipped: {exc}"))

    t0 = time.monotonic()
    status, message = "finished", ""
    data = dict(x=x, y=y, batch_size=batch_size) if not made_on_the_fly else dict(x=x)
    if augment is not None:
        data = dict(x=augmented_batches(x, y, batch_size, augment, seed),
                    # it shuffles the samples itself; Keras would also shuffle the order of
                    # its batches, and the short last one would come mid-epoch, where the
                    # bridge's per-batch loss does not expect it
                    shuffle=False)
    try:
        model.fit(**data, validation_data=validation, epochs=epochs,
                  initial_epoch=initial_epoch, verbose=0,
                  callbacks=[bridge, Autosave(), *getattr(augment, "callbacks", ())])
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


def augmented_batches(x, y, batch_size: int, augment: Callable, seed: int = 0):
    """A Keras PyDataset of shuffled (x, y) batches with `augment(x_batch, rng)` applied
    to each, reshuffled every epoch."""
    import keras

    class AugmentedBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(len(x))

        def __len__(self):
            return int(np.ceil(len(x) / batch_size))

        def __getitem__(self, i):
            idx = np.sort(self.order[i * batch_size:(i + 1) * batch_size])
            if getattr(augment, "needs_labels", False):
                return augment(x[idx], self.rng, y[idx]), y[idx]
            return augment(x[idx], self.rng), y[idx]

        def on_epoch_end(self):
            self.order = self.rng.permutation(len(x))

    return AugmentedBatches()


@dataclass
class TrainedModel:
    model: Any
    family: str
    meta: dict  # config, dataset, seed, classes, ...
    history: list[dict]
    fit_seconds: float = 0.0  # wall time of the last fit() (0 for a loaded model)
    extra: Any = None  # a family's own view of the model (e.g. an autoencoder's layers)

    def save(self, path, **extra):
        return storage.save_model(self.model, path, {**self.meta, "history": self.history,
                                                     "epoch": len(self.history), **extra})


@dataclass
class Prepared:
    """What every run starts from: its own request, its data, and where it resumes."""

    request: RunRequest  # this run's: a resumed run's config, dataset and seed
    dataset: Any  # nets.data.Dataset
    initial_epoch: int = 0
    history: list = dataclasses.field(default_factory=list)
    # nets.loop.Loop: resumes the weights (loop.restore) and autosaves a hand-written loop
    loop: Any = None

    @property
    def config(self):
        return self.request.config


def prepare(request: RunRequest, reporter: Reporter, config_cls,
            every: int = 1) -> Prepared:
    """The common start of a run on a dataset: resume state from the family's latest
    autosave if asked (its config, data and seed win, the length asked for now too), seed
    everything, load the data and say which. The request is not changed: the run goes on
    with `Prepared.request`. A hand-written loop autosaves through `Prepared.loop`
    (every `every` epochs)."""
    from nets import data as datasets
    from nets.loop import Loop

    run = Loop.begin(request, reporter, config_cls, every)
    request = run.request
    initial_epoch = int(run.saved.get("epoch", 0))
    history = list(run.saved.get("history", []))[:initial_epoch]
    seed_everything(request.seed)
    reporter.emit(Log("Loading data ..."))
    ds = datasets.load(request.dataset, seed=request.seed)
    reporter.emit(Log(f"Data: {ds.description}"))
    if ds.report:
        reporter.emit(Log(ds.report))
    reporter.controls.checkpoint()
    reporter.emit(Artifact("classes", list(ds.class_names)))
    return Prepared(request, ds, initial_epoch, history, run)


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
