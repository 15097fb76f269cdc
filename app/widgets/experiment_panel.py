"""The experiment panel every tab uses: data, hyperparameters, Start/Pause/Stop, progress
with ETA, live plots, a log, and saving/loading the trained model.

A tab builds one, adds its own views with `add_view`, and listens to `events` (batches
of nets.progress events) and `model_changed` (a model was trained, is training, or was
loaded). All of it runs in the GUI thread; training runs in the panel's worker.
"""
from __future__ import annotations

import dataclasses
import time
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QMenu, QPlainTextEdit, QProgressBar,
                               QPushButton, QScrollArea, QSpinBox, QSplitter, QTabWidget,
                               QVBoxLayout, QWidget)

from app import settings
from app.widgets.config_form import ConfigForm
from app.widgets.plots import BatchLossPlot, EpochPlots
from app.worker import DRAIN_INTERVAL_MS, ExperimentWorker
from nets import data as datasets
from nets import pretrained, runner, storage
from nets.config import validate
from nets.progress import Artifact, BatchMetrics, Done, EpochMetrics, Log, Started

FOLDER_ITEM = "Image folder…"


def format_duration(seconds: float) -> str:
    seconds = int(round(max(seconds, 0)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class EtaClock:
    """Estimates time left from steps done, not counting time spent paused."""

    def __init__(self):
        self.reset(0, 0)

    def reset(self, total: int, first: int) -> None:
        self.total, self.first, self.step = total, first, first
        self.t0 = time.monotonic()
        self.paused_since: float | None = None
        self.paused_total = 0.0

    def pause(self) -> None:
        if self.paused_since is None:
            self.paused_since = time.monotonic()

    def resume(self) -> None:
        if self.paused_since is not None:
            self.paused_total += time.monotonic() - self.paused_since
            self.paused_since = None

    def fraction(self) -> float:
        return self.step / self.total if self.total else 0.0

    def seconds_left(self) -> float | None:
        done = self.step - self.first
        if done <= 0:
            return None
        now = self.paused_since or time.monotonic()
        active = now - self.t0 - self.paused_total
        return active / done * (self.total - self.step)


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
        self.module = runner.family(family_key)
        self.trained: runner.TrainedModel | None = None  # the last complete model
        self.model = None  # the model the views show (may be training right now)
        self.shipped_model = False  # the last model loaded came with the app
        self.worker = ExperimentWorker(self, getattr(self.module, "EVENT_INTERVAL_MS",
                                                     DRAIN_INTERVAL_MS))
        self.worker.events.connect(self._on_events)
        self.worker.finished.connect(self._on_finished)
        self.eta = EtaClock()
        self._state = "idle"
        self._epochs = 0
        self._metric = "loss"  # what the per-batch plot shows (Started says)
        self._eta_shown = 0.0

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
        self._slot: storage.AutosaveSlot | None = None
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

        data_box = QGroupBox("Data")
        form = QFormLayout(data_box)
        self.dataset_combo = QComboBox()
        self.dataset_combo.setObjectName("dataset")
        self.dataset_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.dataset_combo.setMinimumContentsLength(18)
        for choice in datasets.choices_for(getattr(self.module, "DATASETS",
                                                   datasets.DEFAULT_KEYS)):
            self.dataset_combo.addItem(choice.label, choice.key)
            self.dataset_combo.setItemData(self.dataset_combo.count() - 1, choice.help,
                                           Qt.ItemDataRole.ToolTipRole)
        self.dataset_combo.addItem(FOLDER_ITEM, "")
        self.dataset_combo.setItemData(self.dataset_combo.count() - 1,
                                       "Your own images: a folder with one sub-folder per "
                                       "class. Unreadable files are skipped and counted.",
                                       Qt.ItemDataRole.ToolTipRole)
        self.dataset_combo.activated.connect(self._dataset_activated)
        self.dataset_combo.currentIndexChanged.connect(self._describe_dataset)
        form.addRow("Dataset", self.dataset_combo)
        self.dataset_note = QLabel()
        self.dataset_note.setWordWrap(True)
        self.dataset_note.setStyleSheet("color: gray")
        form.addRow(self.dataset_note)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("Random seed: the same seed, data and settings give the same "
                             "run. Change it to see how much results vary by chance.")
        form.addRow("Seed", self.seed)
        v.addWidget(data_box)
        if not getattr(self.module, "DATASETS", True):  # the data is a game: keep the seed
            self.dataset_combo.hide()
            form.labelForField(self.dataset_combo).hide()
            self.dataset_note.hide()
            data_box.setTitle("Run")

        hp_box = QGroupBox("Hyperparameters")
        hv = QVBoxLayout(hp_box)
        self.form = ConfigForm(self.module.Config)
        hv.addWidget(self.form)
        self.form_notes = QVBoxLayout()  # a tab's notes about the settings (add_form_note)
        hv.addLayout(self.form_notes)
        defaults = QPushButton("Reset to defaults")
        defaults.setToolTip("Put every hyperparameter back to its default value.")
        defaults.clicked.connect(self.reset_defaults)
        hv.addWidget(defaults)
        v.addWidget(hp_box)

        self.resume_box = QCheckBox("Resume from autosave")
        self.resume_box.setToolTip("Continue the last run from its last autosaved epoch "
                                   "(autosaves are written after every epoch) with the "
                                   "settings it was trained with, up to the length set "
                                   "above.")
        v.addWidget(self.resume_box)

        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Start training (F5)")
        self.start_button.clicked.connect(self.start)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Pause or resume training (F6)")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop training and keep the model as it is (Shift+F5)")
        self.stop_button.clicked.connect(self.stop)
        for b in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(b)
        v.addLayout(buttons)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        v.addWidget(self.progress)
        self.now_label = QLabel()
        self.now_label.setWordWrap(True)
        v.addWidget(self.now_label)

        self.error_banner = QLabel()
        self.error_banner.setWordWrap(True)
        self.error_banner.setStyleSheet(
            "background: #5a1d1d; color: white; padding: 6px; border-radius: 4px")
        self.error_banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_banner.hide()
        v.addWidget(self.error_banner)

        self.last_offer = QWidget()  # the model this tab trained last time, offered once
        offer = QHBoxLayout(self.last_offer)
        offer.setContentsMargins(0, 0, 0, 0)
        self.last_label = QLabel()
        self.last_label.setWordWrap(True)
        self.last_open = QPushButton("Open it")
        self.last_open.setToolTip("Load the model you trained here last time (its weights "
                                  "only, as for Load model).")
        self.last_open.clicked.connect(self.open_last_model)
        dismiss = QPushButton("✕")
        dismiss.setFixedWidth(28)
        dismiss.setToolTip("Dismiss: it stays on disk and is offered again next time.")
        dismiss.clicked.connect(self.last_offer.hide)
        offer.addWidget(self.last_label, 1)
        offer.addWidget(self.last_open)
        offer.addWidget(dismiss)
        self.last_offer.hide()
        v.addWidget(self.last_offer)

        files = QHBoxLayout()
        self.save_button = QPushButton("Save model…")
        self.save_button.setToolTip("Save the trained model to a .keras file (Ctrl+S)")
        self.save_button.clicked.connect(self.save_dialog)
        self.load_button = QPushButton("Load model…")
        self.load_button.setToolTip("Load a model saved by this app (Ctrl+O). Only its "
                                    "weights are read: no code in the file is run.")
        self.load_button.clicked.connect(self.load_dialog)
        files.addWidget(self.save_button)
        files.addWidget(self.load_button)
        v.addLayout(files)
        self.pretrained_button = self._pretrained_button()
        if self.pretrained_button is not None:
            v.addWidget(self.pretrained_button)
        v.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(inner.sizeHint().width() + 24)
        return scroll

    def _pretrained_button(self) -> QPushButton | None:
        """A button offering the models that ship with the app for this family, if any."""
        shipped = pretrained.entries(self.family_key)
        if not shipped:
            return None
        button = QPushButton("Load pretrained ▾")
        button.setToolTip("Models trained by this project that come with the app, for a "
                          "demo without waiting. Training your own works as usual.")
        menu = QMenu(button)
        for entry in shipped:
            action = menu.addAction(entry.title)
            action.setData(entry.name)
            action.setToolTip(entry.tooltip())
        menu.setToolTipsVisible(True)
        menu.triggered.connect(self._pretrained_chosen)
        button.setMenu(menu)
        return button

    def _pretrained_chosen(self, action) -> None:
        self.load_pretrained(action.data())

    def load_pretrained(self, name: str) -> bool:
        """Load a shipped model by its manifest name, its checksum checked first."""
        entry = next((e for e in pretrained.entries(self.family_key) if e.name == name), None)
        if entry is None or self.is_running():
            return False
        try:
            path = pretrained.checked_path(entry)
        except storage.StorageError as exc:
            self.show_error(str(exc))
            return False
        if not self.load_model_from(path, shipped=True):
            return False
        self.now_label.setText(f"Loaded the pretrained {entry.title}: {entry.result}.")
        return True

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
        self.form.set_config(self.module.Config())

    def add_form_note(self, widget: QWidget) -> None:
        """A widget under the hyperparameters, e.g. what the chosen settings will cost."""
        self.form_notes.addWidget(widget)

    def add_live_note(self, describe) -> QLabel:
        """A grey note under the hyperparameters saying describe(config, dataset key),
        kept up to date as the form and the dataset change; hidden when it says nothing."""
        note = LiveNote(self, describe)
        self.add_form_note(note)
        self.form.changed.connect(note.refresh)
        self.dataset_combo.currentIndexChanged.connect(note.refresh)
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

    # ------------------------------------------------------------ settings
    def _key(self, name: str) -> str:
        return f"{self.family_key}/{name}"

    def _restore_settings(self) -> None:
        self.form.set_values(self._stored_config())
        self.seed.setValue(int(settings.load_json(self._key("seed"), 0) or 0))
        key = settings.load_json(self._key("dataset"), "mnist")
        if isinstance(key, str):
            self.select_dataset(key)
        self._describe_dataset()

    def _stored_config(self) -> dict:
        """The person's last settings, except where this version's defaults changed: a
        field they had left at its old default takes the new one (so a lesson retuned in
        a new version shows), a field they had changed stays theirs. Settings from before
        defaults were recorded take the new defaults, and the log keeps the old values."""
        stored = settings.load_json(self._key("config"), {})
        defaults = dataclasses.asdict(self.module.Config())
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
                           dataclasses.asdict(self.module.Config()))
        settings.save_json(self._key("seed"), self.seed.value())
        settings.save_json(self._key("dataset"), self.dataset_key())

    # ------------------------------------------------------------ data choice
    def dataset_key(self) -> str:
        return self.dataset_combo.currentData() or "mnist"

    def select_dataset(self, key: str) -> None:
        if key.startswith("folder:"):
            self._add_folder_item(key[len("folder:"):])
            return
        i = self.dataset_combo.findData(key)
        if i >= 0:
            self.dataset_combo.setCurrentIndex(i)

    def _add_folder_item(self, folder: str) -> None:
        key = f"folder:{folder}"
        i = self.dataset_combo.findData(key)
        if i < 0:
            i = self.dataset_combo.count() - 1  # just before "Image folder…"
            self.dataset_combo.insertItem(i, f"Folder: {Path(folder).name}", key)
            self.dataset_combo.setItemData(i, folder, Qt.ItemDataRole.ToolTipRole)
        self.dataset_combo.setCurrentIndex(i)

    def _dataset_activated(self, index: int) -> None:
        if self.dataset_combo.itemText(index) != FOLDER_ITEM:
            return
        last = settings.load_json(self._key("last_folder"), str(Path.home()))
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder with one sub-folder "
                                                  "per class", last)
        if folder:
            settings.save_json(self._key("last_folder"), folder)
            self._add_folder_item(folder)
        else:
            self.dataset_combo.setCurrentIndex(0)

    def _describe_dataset(self, *_):
        key = self.dataset_key()
        if key == "mnist":
            text = ("Full MNIST is in the Keras cache and will be used." if
                    datasets.full_mnist_cached() else
                    "Full MNIST is not downloaded: the bundled 5,000 digits will be used "
                    "(works offline).")
        elif key.startswith("folder:"):
            text = f"Images from {key[len('folder:'):]}, resized to 28x28 greyscale."
        else:
            text = next((c.help for c in datasets.CHOICES if c.key == key), "")
        self.dataset_note.setText(text)

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
        resume = self.resume_box.isChecked() and self.resume_box.isEnabled()
        request = runner.RunRequest(
            self.family_key, config, self.dataset_key(), self.seed.value(), resume=resume,
            length=getattr(config, runner.length_field(self.family_key)) if resume else None)
        self.last_offer.hide()
        self.loss_plot.clear_data()
        self.epoch_plots.clear_data()
        self.progress.setValue(0)
        self.eta.reset(0, 0)
        self.log_message("Starting …")
        self.worker.start(partial(runner.execute, request, keep_last=True))
        self._set_state("running")

    def toggle_pause(self) -> None:
        if self._state == "running":
            self.worker.pause()
            self.eta.pause()
            self._set_state("paused")
        elif self._state == "paused":
            self.worker.resume()
            self.eta.resume()
            self._set_state("running")

    def stop(self) -> None:
        if self._state in ("running", "paused"):
            self.worker.stop()
            self.eta.resume()
            self._set_state("stopping")

    def shutdown(self) -> bool:
        """Ask training to stop (window closing). True when nothing is running any more."""
        self.stop()
        return not self.is_running()

    def _set_state(self, state: str) -> None:
        self._state = state
        busy = state != "idle"
        self.start_button.setEnabled(not busy)
        self.pause_button.setEnabled(state in ("running", "paused"))
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.stop_button.setEnabled(state in ("running", "paused"))
        self.form.setEnabled(not busy)
        self.dataset_combo.setEnabled(not busy)
        self.seed.setEnabled(not busy)
        self.resume_box.setEnabled(not busy and self._has_autosave)
        self.save_button.setEnabled(not busy and self.trained is not None)
        self.load_button.setEnabled(not busy)
        if self.pretrained_button is not None:
            self.pretrained_button.setEnabled(not busy)
        self._eta_shown = 0.0  # the next progress update rewrites the bar's text
        if state == "stopping":
            self.progress.setFormat("Stopping …")
        elif state == "paused":
            self.progress.setFormat("Paused · %p%")
        elif state == "running":
            self.progress.setFormat("%p%")

    @property
    def state(self) -> str:
        return self._state

    def _form_changed(self) -> None:
        """A setting that changes what the model is (a Q-learner's game) has its own
        autosaves: the Resume box follows the form."""
        slot = runner.autosave_slot(self.family_key, self.form.config())
        if self._slot is None or slot.folder != self._slot.folder:
            self.refresh_resume()

    def refresh_resume(self) -> None:
        self._slot = runner.autosave_slot(self.family_key, self.form.config())
        if not getattr(self.module, "CAN_RESUME", True):
            self._has_autosave = False
            self.resume_box.setChecked(False)
            self.resume_box.hide()  # autosaves are still written, for a later version
            return
        variant = f" of {self._slot.variant}" if self._slot.variant else ""
        try:
            found = self._slot.latest()
        except storage.AutosaveUnreadable as exc:
            found = None
            self.resume_box.setText(f"Resume from autosave{variant} (it cannot be read)")
            self.resume_box.setToolTip(str(exc))
        else:
            self.resume_box.setToolTip(
                "Continue the last run from its last autosave with the settings it was "
                "trained with, up to the length set above.")
            if found:
                self.resume_box.setText(f"Resume from autosave{variant} ({found.where})")
            else:
                self.resume_box.setText(f"Resume from autosave{variant} (none yet)")
        self._has_autosave = found is not None
        if not found:
            self.resume_box.setChecked(False)
        self.resume_box.setEnabled(self._has_autosave and self._state == "idle")

    def offer_last_model(self) -> None:
        """Offer the model this tab trained last time (kept by runner.execute)."""
        path = storage.last_model_path(self.family_key)
        try:
            meta = storage.read_meta(path) if path.is_file() else None
        except storage.StorageError:
            meta = None  # a damaged leftover: nothing worth offering
        if not meta or meta.get("family") != self.family_key:
            return
        when = time.strftime("%d %b %H:%M", time.localtime(path.stat().st_mtime))
        what = meta.get("headline") or meta.get("dataset_description") or ""
        self.last_label.setText(f"The model you trained here last ({when})"
                                + (f": {what}" if what else "") + ".")
        self.last_offer.show()

    def open_last_model(self) -> None:
        if self.load_model_from(storage.last_model_path(self.family_key), remember=False):
            self.last_offer.hide()
            self.now_label.setText(self.last_label.text().replace(
                "The model you trained here last", "Opened the model you trained here last"))

    def _on_events(self, batch: list) -> None:
        for event in batch:
            if isinstance(event, BatchMetrics):
                self.eta.step = event.step
                if self._metric in event.metrics:
                    self.loss_plot.add(event.step, event.metrics[self._metric])
            elif isinstance(event, EpochMetrics):
                self._epochs = event.epochs
                self.epoch_plots.set_epoch(event.epoch, event.metrics)
                self.eta.step = max(self.eta.step,
                                    (event.epoch + 1) * self.eta.total // max(event.epochs, 1))
                parts = ", ".join(f"{k} {v:.4g}" for k, v in event.metrics.items())
                took = f" ({event.seconds:.1f} s)" if event.seconds else ""
                self.log_message(f"Epoch {event.epoch + 1}/{event.epochs}{took}: {parts}")
            elif isinstance(event, Started):  # a run, or the next phase of a run
                self.eta.reset(event.total_steps, event.first_step)
                self._epochs = 0
                self._eta_shown = 0.0  # rewrite the bar's text at once
                self._metric = event.metric
                if event.metric:  # a phase without a metric leaves the last curve in view
                    self.loss_plot.clear_data(marks=False)  # a staged run's marks stay
                    self.loss_plot.setTitle(f"{event.metric} per batch")
                    self.loss_plot.set_extent(event.first_step, event.total_steps)
                self.now_label.setText(event.description)
            elif isinstance(event, Log):
                self.log_message(event.text)
            elif isinstance(event, Artifact) and event.name == "model":
                self.model = event.value
                self.model_changed.emit(self.model)
            elif isinstance(event, Artifact) and event.name == "config":  # a resumed run's
                self.form.set_values(dataclasses.asdict(event.value))
        self.loss_plot.refresh()
        self._show_progress()
        self.events.emit(batch)

    def _show_progress(self) -> None:
        # Each change repaints the bar at once (about 1.5 ms here): per mille steps and a
        # once-a-second ETA keep that off the training's back.
        self.progress.setValue(int(self.eta.fraction() * 1000))
        now = time.monotonic()
        if self._state != "running" or now - self._eta_shown < 1.0:
            return
        self._eta_shown = now
        left = self.eta.seconds_left()
        eta = f" · {format_duration(left)} left" if left is not None else ""
        epoch = ""
        if self._epochs and self.eta.total:
            per_epoch = self.eta.total / self._epochs
            epoch = f"Epoch {min(int(self.eta.step // per_epoch) + 1, self._epochs)}/" \
                    f"{self._epochs} · "
        self.progress.setFormat(f"{epoch}%p%{eta}")

    def _on_finished(self, done: Done) -> None:
        if done.result is not None:
            self.trained = done.result
            self.model = done.result.model
        self._set_state("idle")
        self.progress.setFormat({"finished": "Done · %p%", "stopped": "Stopped · %p%",
                                 "failed": "Failed"}[done.status])
        if done.status == "finished":
            self.progress.setValue(1000)
        if done.message:
            self.log_message(done.message)
        if done.headline:
            self.log_message(done.headline)
        # the description of the last phase ("Step 3 of 3 ...") would be stale now
        self.now_label.setText(done.headline or done.message)
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
        self.error_banner.setText(text)
        self.error_banner.show()
        self.log_message("Problem: " + text)

    def hide_error(self) -> None:
        self.error_banner.hide()

    # ------------------------------------------------------------ files
    def save_dialog(self) -> None:
        if self.trained is None or self.is_running():
            return
        folder = settings.load_json(self._key("last_dir"), str(Path.home()))
        path, _ = QFileDialog.getSaveFileName(
            self, "Save model", str(Path(folder) / f"{self.family_key}-model.keras"),
            "Keras models (*.keras)")
        if path:
            self.save_model_to(path)

    def save_model_to(self, path) -> bool:
        try:
            saved = self.trained.save(path)
        except storage.StorageError as exc:
            self.show_error(str(exc))
            return False
        settings.save_json(self._key("last_dir"), str(Path(saved).parent))
        self.hide_error()
        self.log_message(f"Saved the model to {saved}.")
        return True

    def load_dialog(self) -> None:
        if self.is_running():
            return
        folder = settings.load_json(self._key("last_dir"), str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Load model", folder,
                                              "Keras models (*.keras);;All files (*)")
        if path:
            self.load_model_from(path)

    def load_model_from(self, path, shipped: bool = False, remember: bool = True) -> bool:
        """Load a saved model; on any problem say so and keep the current model. A model
        that ships with the app (`shipped`) leaves the autosaves alone; one from the app's
        own folders (shipped, or the last trained) is not remembered as the last folder."""
        try:
            trained = self.module.load(path)
        except storage.StorageError as exc:
            self.show_error(f"Could not load {Path(path).name}: {exc}")
            return False
        self.hide_error()
        self.trained, self.model = trained, trained.model
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
        self.shipped_model = shipped
        if remember and not shipped:
            settings.save_json(self._key("last_dir"), str(Path(path).parent))
        self.now_label.setText(f"Loaded {Path(path).name}: trained "
                               f"{len(trained.history)} epochs on "
                               f"{meta.get('dataset_description', meta.get('dataset', '?'))}.")
        self.log_message(f"Loaded the model from {path}. The form shows the settings it "
                         "was trained with.")
        self._set_state("idle")
        self.model_changed.emit(self.model)
        self.loaded.emit(trained)
        return True
