"""Persistent settings (QSettings, INI format). Tests point the INI path at a temp folder."""
from __future__ import annotations

import json

from PySide6.QtCore import QSettings

from app import APP_NAME, ORG_NAME


def settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORG_NAME,
                     APP_NAME)


def load_json(key: str, default=None):
    """A JSON value stored under `key`; the default if it is missing or unreadable."""
    raw = settings().value(key)
    if raw is None:
        return default
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return default


def save_json(key: str, value) -> None:
    s = settings()
    s.setValue(key, json.dumps(value))
    s.sync()
