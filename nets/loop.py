"""Services for a hand-written training loop (Keras families get the same through
`runner.fit_keras`): resume, autosave, stop and pause, a divergence guard that keeps the
last good state, and the last save when the person stops.

A loop uses it like this (the Q-learner does; K-means and sparse coding, which also load a
dataset, get theirs from `runner.prepare(...).loop`):

    run = Loop.begin(request, reporter, Config, every=config.autosave_every)
    config = run.config              # a resumed run's: the autosave's settings
    model = build(config)
    run.meta.update(input_shape=...)  # what load() needs, in every autosave
    start = run.restore(model)       # 0, or the step/epoch the autosave reached
    history = run.saved.get("history", [])
    try:
        for i in range(start + 1, length + 1):
            loss = step(...)
            run.check(loss, f"step {i}")  # TrainingDiverged when it blows up
            run.good(model)              # the state to go back to if it does
            run.autosave(model, i, history=history)  # every `every`, with its state
            run.checkpoint()             # pause; StopRequested on Stop
    except TrainingDiverged:
        run.back_to_good(model)
    except StopRequested:
        run.autosave(model, i, force=True, history=history)  # Stop keeps the work done

The request is never changed: `run.request` is the run's own (with a resumed run's
config, dataset and seed).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from nets import storage
from nets.progress import Artifact, DivergenceGuard, Log, Reporter


@dataclass
class Loop:
    request: Any  # runner.RunRequest: this run's own, a resumed run's settings in it
    reporter: Reporter
    slot: storage.AutosaveSlot
    found: storage.FoundAutosave | None = None  # the autosave it resumes from
    every: int = 1  # autosave every this many steps or epochs (0: only when stopped)
    guard: DivergenceGuard = dataclasses.field(default_factory=DivergenceGuard)
    # what every autosave says about the model besides its settings (its classes, input
    # shape ...: what the family's load() needs to rebuild it)
    meta: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def begin(cls, request, reporter: Reporter, config_cls, every: int = 1) -> "Loop":
        """Find the autosave to resume from when asked (storage.AutosaveUnreadable says
        why one cannot be read, rather than starting afresh) and say what happens."""
        from nets import runner

        slot = runner.autosave_slot(request.family, request.config)
        slot.remove_stale_temporaries()
        found = None
        if request.resume and not runner.family(request.family).can_resume:
            reporter.emit(Log("This family cannot resume from an autosave yet: starting "
                              "afresh."))
        elif request.resume:
            found = slot.latest()
            where = f" of {slot.variant}" if slot.variant else ""
            if found is None:
                reporter.emit(Log(f"No autosave{where} to resume from: starting afresh."))
            else:
                for note in found.passed_over:
                    reporter.emit(Log(f"Passed over a newer autosave: {note}"))
                request = dataclasses.replace(
                    request, config=runner.resume_config(request, found, config_cls),
                    dataset=found.meta.get("dataset", request.dataset),
                    seed=found.meta.get("seed", request.seed))
                reporter.emit(Artifact("config", request.config))
        return cls(request, reporter, slot, found, every)

    @property
    def config(self):
        return self.request.config

    @property
    def position(self) -> int:
        """Where the autosave left off (steps or epochs done), 0 for a fresh run."""
        if self.found is None:
            return 0
        return int(self.found.meta.get("step", self.found.meta.get("epoch", 0)))

    @property
    def saved(self) -> dict:
        """What the loop stored with its autosave (its history, counters ...)."""
        return dict(self.found.meta) if self.found else {}

    def restore(self, model) -> int:
        """Load the autosave's weights (and optimizer state) into `model`; returns the
        position to go on from."""
        if self.found is None:
            return 0
        from nets.runner import family

        fam = family(self.request.family)
        storage.load_weights(model, self.found.path)
        self.reporter.emit(Log(f"Resuming from {self.found.path.name} "
                               f"({self.found.where}) with the settings it was trained "
                               f"with: {self.position:,} of {fam.length(self.config):,} "
                               f"{fam.unit} done."))
        return self.position

    def autosave(self, model, position: int, force: bool = False, **state) -> None:
        """Save `model` and the loop's `state` (JSON: lists, numbers, strings; read back
        from `saved`) atomically when `position` is a multiple of `every`, or when forced
        (the run stopped). A failed save (a full disk) is reported; training goes on."""
        if not self.request.autosave or position <= self.position and not force:
            return
        if not force and (self.every <= 0 or position % self.every):
            return
        from nets.runner import config_meta, family

        counted = ({"step": position} if family(self.request.family).unit == "steps"
                   else {})  # "step 80,000" or "epoch 3" where the autosave is named
        info = {**config_meta(self.request), **self.meta, **state, **counted,
                "epoch": position}
        try:
            self.slot.save(model, info, position)
        except storage.StorageError as exc:
            self.reporter.emit(Log(f"Autosave skipped: {exc}"))

    def check(self, loss: float, where: str) -> None:
        """TrainingDiverged when the loss is NaN, infinite or exploding."""
        self.guard.check(float(loss), where)

    def good(self, model) -> None:
        """Remember `model`'s weights as the last good state (e.g. after each epoch)."""
        self._good = model.get_weights()

    def back_to_good(self, model) -> bool:
        """After TrainingDiverged: put the last good weights back (False when there were
        none: the model keeps what it has)."""
        good = getattr(self, "_good", None)
        if good is not None:
            model.set_weights(good)
        return good is not None

    def checkpoint(self) -> None:
        """Wait while paused; StopRequested when the person pressed Stop."""
        self.reporter.controls.checkpoint()
