"""Pretrained models that ship with the app, for demos that should not wait for training.

`resources/pretrained/manifest.json` lists them. Each entry names the model file, its
family, the command of this project that trained it (run by
`packaging/make_pretrained.py`), what it reached on data it never trained on, and the
file's SHA-256, which is checked before the file is handed to the family's loader (a
weights-only loader, like every model file the app opens).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

from nets.data import RESOURCES
from nets.storage import StorageError, file_digest

FOLDER = RESOURCES / "pretrained"
MANIFEST = FOLDER / "manifest.json"


@dataclass(frozen=True)
class Entry:
    name: str
    family: str
    file: str
    title: str
    description: str
    command: str
    result: str
    sha256: str
    trained: str = ""
    seconds: float = 0.0
    versions: dict = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return FOLDER / self.file

    def tooltip(self) -> str:
        return (f"{self.description}\n\nReached: {self.result}\nTrained by: {self.command}"
                f"\n({self.seconds / 60:.1f} min on {self.trained})")


def read_manifest(manifest: Path | None = None) -> list[dict]:
    """The manifest's entries as written; OSError or ValueError if it cannot be read."""
    raw = json.loads(Path(manifest or MANIFEST).read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not isinstance(raw.get("models"), list):
        raise ValueError("the manifest has no list of models")
    return raw["models"]


def entries(family: str | None = None) -> list[Entry]:
    """The shipped models (of one family). An unreadable manifest lists none; an entry
    this version cannot read is left out; fields it does not know are ignored."""
    try:
        items = read_manifest()
    except (OSError, ValueError):
        return []
    known = {f.name for f in fields(Entry)}
    found = []
    for item in items:
        try:
            found.append(Entry(**{k: v for k, v in item.items() if k in known}))
        except (TypeError, AttributeError):
            continue
    return [e for e in found if family is None or e.family == family]


def checked_path(entry: Entry) -> Path:
    """The entry's file once its checksum matches the manifest; StorageError otherwise."""
    path = entry.path
    try:
        actual = file_digest(path)
    except OSError as exc:
        raise StorageError(f"The pretrained model {entry.file} is missing from this "
                           f"installation ({exc.strerror}).") from exc
    if actual != entry.sha256:
        raise StorageError(f"The pretrained model {entry.file} is damaged: its checksum "
                           "does not match the one it shipped with. Reinstall the app.")
    return path
