"""The experiment panel's Data box: which dataset (including a person's own image folder),
a note on what that choice will load, and the random seed.

What the datasets are, and which a family offers, is nets.data's to say; this box only
shows it and remembers the person's choice. A family whose data is a game keeps only the
seed, in a box titled "Run".
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QFormLayout, QGroupBox, QLabel, QSpinBox

from app import settings
from nets import data as datasets


class DatasetChooser(QGroupBox):
    changed = Signal(str)  # the key of the dataset now chosen

    def __init__(self, family, parent=None):
        """`family`: the family's declaration (nets.registry.Family)."""
        super().__init__("Data", parent)
        self.family = family
        self.family_key = family.key
        form = QFormLayout(self)
        self.combo = QComboBox()
        self.combo.setObjectName("dataset")
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(18)
        for choice in datasets.choices_for(datasets.offered_keys(family.datasets)):
            self._add_item(self.combo.count(), choice.label, choice.key, choice.help)
        self._add_item(self.combo.count(), datasets.FOLDER_LABEL, "", datasets.FOLDER_HELP)
        self.combo.activated.connect(self._activated)
        self.combo.currentIndexChanged.connect(self._index_changed)
        form.addRow("Dataset", self.combo)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: gray")
        form.addRow(self.note)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("Random seed: the same seed, data and settings give the same "
                             "run. Change it to see how much results vary by chance.")
        form.addRow("Seed", self.seed)
        if not datasets.offers_choice(family.datasets):  # the data is a game: keep the seed
            self.combo.hide()
            form.labelForField(self.combo).hide()
            self.note.hide()
            self.setTitle("Run")

    def _add_item(self, index: int, label: str, key: str, tooltip: str) -> None:
        self.combo.insertItem(index, label, key)
        self.combo.setItemData(index, tooltip, Qt.ItemDataRole.ToolTipRole)

    def _key(self, name: str) -> str:
        return f"{self.family_key}/{name}"

    # ------------------------------------------------------------ the choice
    def key(self) -> str:
        return self.combo.currentData() or datasets.DEFAULT_KEY

    def select(self, key: str) -> None:
        folder = datasets.folder_of(key)
        if folder is not None:
            self._add_folder_item(folder)
            return
        i = self.combo.findData(key)
        if i >= 0:
            self.combo.setCurrentIndex(i)

    def set_busy(self, busy: bool) -> None:
        """No other data or seed while a run uses them (the box's title stays readable)."""
        self.combo.setEnabled(not busy)
        self.seed.setEnabled(not busy)

    def _add_folder_item(self, folder: str) -> None:
        key = datasets.folder_key(folder)
        i = self.combo.findData(key)
        if i < 0:
            i = self.combo.count() - 1  # just before "Image folder…"
            self._add_item(i, datasets.folder_label(folder), key, folder)
        self.combo.setCurrentIndex(i)

    def _activated(self, index: int) -> None:
        if self.combo.itemText(index) != datasets.FOLDER_LABEL:
            return
        last = settings.load_json(self._key("last_folder"), str(Path.home()))
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder with one sub-folder "
                                                  "per class", last)
        if folder:
            settings.save_json(self._key("last_folder"), folder)
            self._add_folder_item(folder)
        else:
            self.combo.setCurrentIndex(0)

    def _index_changed(self, _index: int) -> None:
        self.describe()
        self.changed.emit(self.key())

    def describe(self) -> None:
        self.note.setText(datasets.note(self.key()))

    # ------------------------------------------------------------ settings
    def restore(self) -> None:
        """The seed and dataset the person used last time."""
        self.seed.setValue(int(settings.load_json(self._key("seed"), 0) or 0))
        key = settings.load_json(self._key("dataset"),
                                 datasets.default_key(self.family.datasets))
        if isinstance(key, str):
            self.select(key)
        self.describe()

    def save(self) -> None:
        settings.save_json(self._key("seed"), self.seed.value())
        settings.save_json(self._key("dataset"), self.key())
