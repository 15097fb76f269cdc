"""A form generated from a family's config dataclass: one editor per field, with tooltips."""
from __future__ import annotations

import dataclasses

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QAbstractSpinBox, QCheckBox, QComboBox, QDoubleSpinBox,
                               QFormLayout, QLineEdit, QSpinBox, QWidget)

from nets.config import ParamSpec, from_dict, specs


class ConfigForm(QWidget):
    changed = Signal()

    def __init__(self, config_cls, parent=None):
        super().__init__(parent)
        self.config_cls = config_cls
        self.editors: dict[str, QWidget] = {}
        self._running = False  # while a run goes on, only live fields can be edited
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for spec in specs(config_cls):
            editor = self._editor(spec)
            tip = spec.info.help
            if spec.info.minimum is not None:
                tip += f"\nRange: {spec.info.minimum} to {spec.info.maximum}."
            tip += f"\nDefault: {spec.default}."
            if spec.info.live:
                tip += "\nApplies at once, also while training."
            editor.setToolTip(tip)
            editor.setObjectName(spec.name)
            self.editors[spec.name] = editor
            layout.addRow(spec.info.label, editor)
        self.changed.connect(self._update_relevance)
        self.set_config(config_cls())

    def set_running(self, running: bool) -> None:
        """While a run goes on, only the fields declared live stay editable."""
        self._running = running
        self._update_relevance()

    def _update_relevance(self) -> None:
        """Grey out fields that do not apply to the current choice of another field, and
        those a run in progress cannot take."""
        values = self.values()
        for spec in specs(self.config_cls):
            usable = spec.info.live or not self._running
            if spec.info.when:
                field_name, allowed = spec.info.when
                usable = usable and values.get(field_name) in allowed
            self.editors[spec.name].setEnabled(usable)

    def live_values(self) -> dict:
        """The values of the fields that may change while a run goes on."""
        values = self.values()
        return {s.name: values[s.name] for s in specs(self.config_cls) if s.info.live}

    def _editor(self, spec: ParamSpec) -> QWidget:
        i = spec.info
        if i.choices is not None:
            w = QComboBox()
            w.addItems([str(c) for c in i.choices])
            w.currentIndexChanged.connect(self.changed)
        elif spec.type is bool:
            w = QCheckBox()
            w.toggled.connect(self.changed)
        elif spec.type is int:
            w = QSpinBox()
            w.setRange(int(i.minimum if i.minimum is not None else -2**31),
                       int(i.maximum if i.maximum is not None else 2**31 - 1))
            w.valueChanged.connect(self.changed)
        elif spec.type is float:
            w = QDoubleSpinBox()
            w.setDecimals(i.decimals)
            w.setRange(i.minimum if i.minimum is not None else -1e9,
                       i.maximum if i.maximum is not None else 1e9)
            if i.step:
                w.setSingleStep(i.step)
            else:
                w.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
            w.valueChanged.connect(self.changed)
        else:
            w = QLineEdit()
            w.textChanged.connect(self.changed)
        return w

    def config(self):
        values = {}
        for spec in specs(self.config_cls):
            w = self.editors[spec.name]
            if isinstance(w, QComboBox):
                values[spec.name] = spec.info.choices[w.currentIndex()]
            elif isinstance(w, QCheckBox):
                values[spec.name] = w.isChecked()
            elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
                values[spec.name] = w.value()
            else:
                values[spec.name] = w.text()
        return self.config_cls(**values)

    def set_config(self, config) -> None:
        for spec in specs(self.config_cls):
            w, v = self.editors[spec.name], getattr(config, spec.name)
            if isinstance(w, QComboBox):
                choices = [str(c) for c in spec.info.choices]
                w.setCurrentIndex(choices.index(str(v)) if str(v) in choices else 0)
            elif isinstance(w, QCheckBox):
                w.setChecked(bool(v))
            elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
                w.setValue(v)
            else:
                w.setText(str(v))
        self._update_relevance()

    def set_values(self, values: dict) -> None:
        """Apply stored values (settings, a loaded model); unusable ones keep defaults."""
        self.set_config(from_dict(self.config_cls, values or {}))

    def values(self) -> dict:
        return dataclasses.asdict(self.config())
