"""Pretrained models that ship with the app, for demos that should not wait for training.

`resources/pretrained/manifest.json` lists them. Each entry names the model file, its
family, the command of this project that trained it (run by
`packaging/make_pretrained.py`), what it reached on data it never trained on, and the
file's SHA-256, which is checked before the file is handed to the family's loader (a
weights-only loader, like every model file the app opens).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from nets.data import RESOURCES
from nets.storage import StorageError

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


def sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def entries(family: str | None = None, manifest: Path | None = None) -> list[Entry]:
    """The shipped models (of one family); an unreadable manifest lists none."""
    try:
        raw = json.loads(Path(manifest or MANIFEST).read_text(encoding="utf-8"))
        found = [Entry(**item) for item in raw["models"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [e for e in found if family is None or e.family == family]


def checked_path(entry: Entry) -> Path:
    """The entry's file once its checksum matches the manifest; StorageError otherwise."""
    path = entry.path
    try:
        actual = sha256(path)
    except OSError as exc:
        raise StorageError(f"The pretrained model {entry.file} is missing from this "
                           f"installation ({exc.strerror}).") from exc
    if actual != entry.sha256:
        raise StorageError(f"The pretrained model {entry.file} is damaged: its checksum "
                           "does not match the one it shipped with. Reinstall the app.")
    return path
