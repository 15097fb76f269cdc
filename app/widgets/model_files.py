"""The experiment panel's model files: Save / Load model, the pretrained models that ship
with the app, and the offer of the model this tab trained last time.

It keeps `trained`, the last complete model (what Save writes), and reads models from
files; showing a model it read is the panel's (the `opened` signal, delivered before
load_model_from returns). Problems and news go out as signals too.
"""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QMenu, QPushButton,
                               QVBoxLayout, QWidget)

from app import settings
from nets import pretrained, runner, storage


class ModelFiles(QWidget):
    opened = Signal(object, str)  # a runner.TrainedModel read from a file, and the file
    saved = Signal(str)  # the file the model was written to
    problem = Signal(str)  # something went wrong, in words for the person
    status = Signal(str)  # a sentence for the status line

    def __init__(self, family, is_running, parent=None):
        """`family`: the family's declaration (nets.registry.Family); `is_running`: says
        whether a run is under way (no saving or loading then)."""
        super().__init__(parent)
        self.family = family
        self.family_key = family.key
        self.is_running = is_running
        self.trained: runner.TrainedModel | None = None  # the last complete model
        self.shipped_model = False  # the last model loaded came with the app

        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
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

    def _key(self, name: str) -> str:
        return f"{self.family_key}/{name}"

    def set_busy(self, busy: bool) -> None:
        self.save_button.setEnabled(not busy and self.trained is not None)
        self.load_button.setEnabled(not busy)
        if self.pretrained_button is not None:
            self.pretrained_button.setEnabled(not busy)

    # ------------------------------------------------------------ pretrained models
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
            self.problem.emit(str(exc))
            return False
        if not self.load_model_from(path, shipped=True):
            return False
        self.status.emit(f"Loaded the pretrained {entry.title}: {entry.result}.")
        return True

    # ------------------------------------------------------------ the last model
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
            self.status.emit(self.last_label.text().replace(
                "The model you trained here last", "Opened the model you trained here last"))

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
            self.problem.emit(str(exc))
            return False
        settings.save_json(self._key("last_dir"), str(Path(saved).parent))
        self.saved.emit(str(saved))
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
            trained = self.family.load(path)
        except storage.StorageError as exc:
            self.problem.emit(f"Could not load {Path(path).name}: {exc}")
            return False
        self.trained = trained
        self.shipped_model = shipped
        if remember and not shipped:
            settings.save_json(self._key("last_dir"), str(Path(path).parent))
        self.opened.emit(trained, str(path))
        return True
