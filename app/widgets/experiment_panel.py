"""The experiment panel every tab uses: data, hyperparameters, Start/Pause/Stop, progress
with ETA, live plots, a log, and saving/loading the trained model.

A tab builds one, adds its own views with `add_view`, and listens to `events` (batches
of nets.progress events) and `model_changed` (a model was trained, is training, or was
loaded). All of it runs in the GUI thread; training runs in the panel's worker.

The panel is a composition: the Data box (dataset_chooser.DatasetChooser), the
hyperparameter form, the run controls (run_controls.RunControls) and the model files
(model_files.ModelFiles) on the left, the monitor plots and the log in the middle, the
tab's views on the right. It owns the worker and routes its events to those parts. Their
widgets are reachable from the panel too (panel.dataset_combo, panel.start_button, ...).
"""
from __future__ import annotations

import dataclasses
import time
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QGroupBox, QLabel, QPlainTextEdit, QPushButton, QScrollArea,
                               QSplitter, QTabWidget, QVBoxLayout, QWidget)

from app import settings
from app.widgets.config_form import ConfigForm
from app.widgets.dataset_chooser import DatasetChooser
from app.widgets.model_files import ModelFiles
from app.widgets.plots import BatchLossPlot, EpochPlots
# EtaClock and format_duration lived here once: importing them from here still works
from app.widgets.run_controls import EtaClock, RunControls, format_duration  # noqa: F401
from app.worker import ExperimentWorker
from nets import runner
from nets.config import validate
from nets.progress import Artifact, BatchMetrics, Done, EpochMetrics, Log, Started


class LiveNote(QLabel):
    """A note about the panel's current settings (see ExperimentPanel.add_live_note)."""

    def __init__(self, panel: "ExperimentPanel", describe):
        super().__init__()
        self.panel, self.describe = panel, describe
        self.setWordWrap(True)
        self.setStyleSheet("color: gray")

    def refresh(self, *_) -> None:
        text = self.describe(self.panel.form.config(), self.panel.dataset_key())
        self.setText(text)
        self.setVisible(bool(text))


class ExperimentPanel(QWidget):
    events = Signal(list)  # every batch of events, after the panel has used them
    model_changed = Signal(object)  # a keras model now shown: training, trained or loaded
    finished = Signal(object)  # the Done of a run
    loaded = Signal(object)  # a TrainedModel loaded from a file

    def __init__(self, family_key: str, parent=None):
        super().__init__(parent)
        self.family_key = family_key
        self.family = runner.family(family_key)  # its declaration (nets.registry)
        self.model = None  # the model the views show (may be training right now)
        self.worker = ExperimentWorker(self, self.family.event_interval_ms)
        self.worker.events.connect(self._on_events)
        self.worker.finished.connect(self._on_finished)
        self._metric = "loss"  # what the per-batch plot shows (Started says)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)
        splitter.addWidget(self._build_controls())
        splitter.addWidget(self._build_monitor())
        self.views = QTabWidget()
        splitter.addWidget(self.views)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 2)
        splitter.setStretchFactor(2, 3)
        splitter.setSizes([340, 420, 640])
        self._shortcuts()
        self._restore_settings()
        self.refresh_resume()
        self.form.changed.connect(self._form_changed)
        self._set_state("idle")
        self.offer_last_model()

    # ------------------------------------------------------------ construction
    def _build_controls(self) -> QWidget:
        inner = QWidget()
        v = QVBoxLayout(inner)

        self.data_box = DatasetChooser(self.family)
        # its widgets, by the names tabs and tests know them
        self.dataset_combo = self.data_box.combo
        self.dataset_note = self.data_box.note
        self.seed = self.data_box.seed
        v.addWidget(self.data_box)

        hp_box = QGroupBox("Hyperparameters")
        hv = QVBoxLayout(hp_box)
        self.form = ConfigForm(self.family.config)
        hv.addWidget(self.form)
        self.form_notes = QVBoxLayout()  # a tab's notes about the settings (add_form_note)
        hv.addLayout(self.form_notes)
        defaults = QPushButton("Reset to defaults")
        defaults.setToolTip("Put every hyperparameter back to its default value.")
        defaults.clicked.connect(self.reset_defaults)
        hv.addWidget(defaults)
        v.addWidget(hp_box)

        self.run_controls = RunControls(self.family)
        self.run_controls.start_requested.connect(self.start)
        self.run_controls.pause_requested.connect(self.toggle_pause)
        self.run_controls.stop_requested.connect(self.stop)
        self.resume_box = self.run_controls.resume_box
        self.start_button = self.run_controls.start_button
        self.pause_button = self.run_controls.pause_button
        self.stop_button = self.run_controls.stop_button
        self.progress = self.run_controls.progress
        self.now_label = self.run_controls.now_label
        self.error_banner = self.run_controls.error_banner
        self.eta = self.run_controls.eta
        v.addWidget(self.run_controls)

        self.model_files = ModelFiles(self.family, self.is_running)
        self.model_files.opened.connect(self._show_loaded)
        self.model_files.saved.connect(self._show_saved)
        self.model_files.problem.connect(self.show_error)
        self.model_files.status.connect(self.now_label.setText)
        self.last_offer = self.model_files.last_offer
        self.last_label = self.model_files.last_label
        self.last_open = self.model_files.last_open
        self.save_button = self.model_files.save_button
        self.load_button = self.model_files.load_button
        self.pretrained_button = self.model_files.pretrained_button
        v.addWidget(self.model_files)
        v.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(inner.sizeHint().width() + 24)
        return scroll

    def _build_monitor(self) -> QWidget:
        monitor = QSplitter(Qt.Orientation.Vertical)
        self.loss_plot = BatchLossPlot()
        self.epoch_plots = EpochPlots()
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.log.setPlaceholderText("Messages from training appear here.")
        for w in (self.loss_plot, self.epoch_plots, self.log):
            monitor.addWidget(w)
        monitor.setSizes([260, 340, 140])
        return monitor

    def _shortcuts(self) -> None:
        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        for keys, slot in (("F5", self.start), ("F6", self.toggle_pause),
                           ("Shift+F5", self.stop), (QKeySequence.StandardKey.Save,
                                                     self.save_dialog),
                           (QKeySequence.StandardKey.Open, self.load_dialog)):
            sc = QShortcut(QKeySequence(keys), self)
            sc.setContext(context)
            sc.activated.connect(slot)

    def reset_defaults(self) -> None:
        self.form.set_config(self.family.config())

    def add_form_note(self, widget: QWidget) -> None:
        """A widget under the hyperparameters, e.g. what the chosen settings will cost."""
        self.form_notes.addWidget(widget)

    def add_live_note(self, describe) -> QLabel:
        """A grey note under the hyperparameters saying describe(config, dataset key),
        kept up to date as the form and the dataset change; hidden when it says nothing."""
        note = LiveNote(self, describe)
        self.add_form_note(note)
        self.form.changed.connect(note.refresh)
        self.data_box.changed.connect(note.refresh)
        note.refresh()
        return note

    def replace_epoch_plots(self, widget: QWidget) -> None:
        """A family whose progress is not counted in epochs shows its own curves there."""
        splitter = self.epoch_plots.parentWidget()
        splitter.replaceWidget(splitter.indexOf(self.epoch_plots), widget)
        self.epoch_plots.hide()

    def add_view(self, widget: QWidget, title: str, tooltip: str = "") -> None:
        i = self.views.addTab(widget, title)
        if tooltip:
            self.views.setTabToolTip(i, tooltip)

    # ------------------------------------------------------------ the parts' state
    @property
    def trained(self) -> runner.TrainedModel | None:
        """The last complete model: trained here, or loaded (what Save model writes)."""
        return self.model_files.trained

    @trained.setter
    def trained(self, trained: runner.TrainedModel | None) -> None:
        self.model_files.trained = trained

    @property
    def shipped_model(self) -> bool:
        """Whether the last model loaded came with the app."""
        return self.model_files.shipped_model

    @shipped_model.setter
    def shipped_model(self, shipped: bool) -> None:
        self.model_files.shipped_model = shipped

    @property
    def state(self) -> str:
        """One of idle, running, paused, stopping (see RunControls)."""
        return self.run_controls.state

    # ------------------------------------------------------------ settings
    def _key(self, name: str) -> str:
        return f"{self.family_key}/{name}"

    def _restore_settings(self) -> None:
        self.form.set_values(self._stored_config())
        self.data_box.restore()

    def _stored_config(self) -> dict:
        """The person's last settings, except where this version's defaults changed: a
        field they had left at its old default takes the new one (so a lesson retuned in
        a new version shows), a field they had changed stays theirs. Settings from before
        defaults were recorded take the new defaults, and the log keeps the old values."""
        stored = settings.load_json(self._key("config"), {})
        defaults = dataclasses.asdict(self.family.config())
        if not isinstance(stored, dict) or not stored:
            return {}
        old_defaults = settings.load_json(self._key("config_defaults"))
        if old_defaults == defaults:
            return stored
        if not isinstance(old_defaults, dict):
            kept = {}
        else:
            kept = {k: v for k, v in stored.items()
                    if k in defaults and (k not in old_defaults or v != old_defaults[k])}
        moved = {k: v for k, v in stored.items() if k in defaults and k not in kept
                 and v != defaults[k]}
        if moved:
            self.log_message("This version has new defaults for this tab; the form shows "
                             "them. Your earlier values were: " + ", ".join(
                                 f"{k} {v}" for k, v in moved.items()) + ".")
        return kept

    def save_settings(self) -> None:
        settings.save_json(self._key("config"), self.form.values())
        settings.save_json(self._key("config_defaults"),
                           dataclasses.asdict(self.family.config()))
        self.data_box.save()

    # ------------------------------------------------------------ data choice
    def dataset_key(self) -> str:
        return self.data_box.key()

    def select_dataset(self, key: str) -> None:
        self.data_box.select(key)

    # ------------------------------------------------------------ running
    def is_running(self) -> bool:
        return self.worker.is_running()

    def start(self) -> None:
        if self.is_running():
            return
        config = self.form.config()
        problems = validate(config)
        if problems:
            self.show_error("These settings cannot be used: " + " ".join(problems))
            return
        self.hide_error()
        self.save_settings()
        resume = self.run_controls.resume_wanted()
        request = runner.RunRequest(
            self.family_key, config, self.dataset_key(), self.seed.value(), resume=resume,
            length=getattr(config, runner.length_field(self.family_key)) if resume else None)
        self.last_offer.hide()
        self.loss_plot.clear_data()
        self.epoch_plots.clear_data()
        self.run_controls.clear_progress()
        self.log_message("Starting …")
        self.worker.start(partial(runner.execute, request, keep_last=True))
        self._set_state("running")

    def toggle_pause(self) -> None:
        if self.state == "running":
            self.worker.pause()
            self.eta.pause()
            self._set_state("paused")
        elif self.state == "paused":
            self.worker.resume()
            self.eta.resume()
            self._set_state("running")

    def stop(self) -> None:
        if self.state in ("running", "paused"):
            self.worker.stop()
            self.eta.resume()
            self._set_state("stopping")

    def shutdown(self) -> bool:
        """Ask training to stop (window closing). True when nothing is running any more."""
        self.stop()
        return not self.is_running()

    def _set_state(self, state: str) -> None:
        busy = state != "idle"
        self.run_controls.set_state(state)
        self.form.set_running(busy)
        self.data_box.set_busy(busy)
        self.model_files.set_busy(busy)

    def _form_changed(self) -> None:
        self.run_controls.follow_config(self.form.config())
        if self.is_running() and self.worker.controls is not None:
            self.worker.controls.change(**self.form.live_values())

    def refresh_resume(self) -> None:
        self.run_controls.refresh_resume(self.form.config())

    def _on_events(self, batch: list) -> None:
        for event in batch:
            if isinstance(event, BatchMetrics):
                self.run_controls.step_reached(event.step)
                if self._metric in event.metrics:
                    self.loss_plot.add(event.step, event.metrics[self._metric])
            elif isinstance(event, EpochMetrics):
                self.run_controls.epoch_ended(event.epoch, event.epochs)
                self.epoch_plots.set_epoch(event.epoch, event.metrics)
                parts = ", ".join(f"{k} {v:.4g}" for k, v in event.metrics.items())
                took = f" ({event.seconds:.1f} s)" if event.seconds else ""
                self.log_message(f"Epoch {event.epoch + 1}/{event.epochs}{took}: {parts}")
            elif isinstance(event, Started):  # a run, or the next phase of a run
                self.run_controls.phase_started(event.total_steps, event.first_step,
                                                event.description)
                self._metric = event.metric
                if event.metric:  # a phase without a metric leaves the last curve in view
                    self.loss_plot.clear_data(marks=False)  # a staged run's marks stay
                    self.loss_plot.setTitle(f"{event.metric} per {event.per}")
                    self.loss_plot.setLabel("bottom", "step" if event.per == "batch"
                                            else event.per)
                    self.loss_plot.set_extent(event.first_step, event.total_steps)
            elif isinstance(event, Log):
                self.log_message(event.text)
            elif isinstance(event, Artifact) and event.name == "model":
                self.model = event.value
                self.model_changed.emit(self.model)
            elif isinstance(event, Artifact) and event.name == "config":  # a resumed run's
                self.form.set_values(dataclasses.asdict(event.value))
        self.loss_plot.refresh()
        self.run_controls.show_progress()
        self.events.emit(batch)

    def _on_finished(self, done: Done) -> None:
        if done.result is not None:
            self.trained = done.result
            self.model = done.result.model
        self._set_state("idle")
        self.run_controls.show_done(done)
        if done.message:
            self.log_message(done.message)
        if done.headline:
            self.log_message(done.headline)
        if done.status == "failed":
            self.show_error(done.message)
            if done.detail:
                self.log_message("Technical details:\n" + done.detail.rstrip())
        self.refresh_resume()
        if done.result is not None:
            self.model_changed.emit(self.model)
        self.finished.emit(done)

    # ------------------------------------------------------------ messages
    def log_message(self, text: str) -> None:
        self.log.appendPlainText(f"[{time.strftime('%H:%M:%S')}] {text}")

    def show_error(self, text: str) -> None:
        self.run_controls.show_error(text)
        self.log_message("Problem: " + text)

    def hide_error(self) -> None:
        self.run_controls.hide_error()

    # ------------------------------------------------------------ files
    def save_dialog(self) -> None:
        self.model_files.save_dialog()

    def save_model_to(self, path) -> bool:
        return self.model_files.save_model_to(path)

    def load_dialog(self) -> None:
        self.model_files.load_dialog()

    def load_model_from(self, path, shipped: bool = False, remember: bool = True) -> bool:
        """Load a saved model and show it; on any problem say so and keep the current
        model (see ModelFiles.load_model_from)."""
        return self.model_files.load_model_from(path, shipped=shipped, remember=remember)

    def load_pretrained(self, name: str) -> bool:
        """Load a shipped model by its manifest name, its checksum checked first."""
        return self.model_files.load_pretrained(name)

    def offer_last_model(self) -> None:
        """Offer the model this tab trained last time (kept by runner.execute)."""
        self.model_files.offer_last_model()

    def open_last_model(self) -> None:
        self.model_files.open_last_model()

    def _show_saved(self, path: str) -> None:
        self.hide_error()
        self.log_message(f"Saved the model to {path}.")

    def _show_loaded(self, trained: runner.TrainedModel, path: str) -> None:
        """A model ModelFiles read from a file: its settings in the form, its history in
        the plots, and it is the model the views show."""
        self.hide_error()
        self.model = trained.model
        meta = trained.meta
        self.form.set_values(meta.get("config", {}))
        if isinstance(meta.get("dataset"), str):
            self.select_dataset(meta["dataset"])
        # The seed is left as it is: it only matters for the next run, which is the
        # person's to seed.
        self.loss_plot.clear_data()
        self.epoch_plots.clear_data()
        for i, metrics in enumerate(trained.history):
            if isinstance(metrics, dict):
                self.epoch_plots.set_epoch(i, {k: float(v) for k, v in metrics.items()
                                               if isinstance(v, (int, float))})
        steps = meta.get("step") if self.family.unit == "steps" else None
        done = f"{steps:,} steps" if isinstance(steps, int) else \
            f"{len(trained.history)} epochs"  # a steps family keeps no history per step
        self.now_label.setText(f"Loaded {Path(path).name}: trained {done} on "
                               f"{meta.get('dataset_description', meta.get('dataset', '?'))}.")
        self.log_message(f"Loaded the model from {path}. The form shows the settings it "
                         "was trained with.")
        self._set_state("idle")
        self.model_changed.emit(self.model)
        self.loaded.emit(trained)
