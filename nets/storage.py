"""Saving and loading models: atomic writes, weights-only loading, autosave and resume.

A saved model is a normal `.keras` archive plus one extra member, `explorer.json`, naming
the family and its config. Loading never deserialises the archive's own model config (a
stranger's file could smuggle code in through it): the family rebuilds the architecture
from `explorer.json` in code and reads only the weight arrays.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

FORMAT = "deep-learning-explorer/1"
META_MEMBER = "explorer.json"
KEEP_AUTOSAVES = 2


def _file_mode() -> int:
    """The mode a newly created file gets here (mkstemp would make it private)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()


class StorageError(Exception):
    """A save or load failed; the message is meant for the person."""


def file_digest(path, algorithm: str = "sha256") -> str:
    """The hex checksum of a file, read in blocks (hashlib.file_digest needs Python 3.11)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def app_home() -> Path:
    """Where the app keeps autosaves. `DLE_HOME` overrides it (tests use a temp folder)."""
    env = os.environ.get("DLE_HOME")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"),
                                                            ".local", "share")
    if os.name == "nt":
        base = os.environ.get("LOCALAPPDATA", base)
    return Path(base) / "DeepLearningExplorer"


def _explain_os_error(exc: OSError, path: Path, verb: str) -> str:
    if exc.errno == errno.ENOSPC:
        why = "the disk is full"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = "you do not have permission to write there"
    elif exc.errno == errno.ENOENT:
        why = "the folder does not exist"
    else:
        why = exc.strerror or str(exc)
    return f"Could not {verb} {path}: {why}."


def save_model(model, path, meta: dict) -> Path:
    """Write `model` and `meta` to `path` atomically: a crash leaves the old file intact."""
    path = Path(path).expanduser()
    if path.suffix != ".keras":
        path = path.with_name(path.name + ".keras")
    meta = {"format": FORMAT, **meta}
    try:
        payload = json.dumps(meta, indent=1)
    except TypeError as exc:
        raise StorageError(f"Internal error: model details are not storable ({exc}).") from exc
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".keras", dir=path.parent)
        os.close(fd)
        os.chmod(tmp, FILE_MODE)
        model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as z:
            z.writestr(META_MEMBER, payload)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise StorageError(_explain_os_error(exc, path, "save to")) from exc
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return path


def read_meta(path) -> dict:
    """The explorer.json of a saved model, checked; StorageError in plain words otherwise."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise StorageError(f"There is no file at {path}.")
    if path.stat().st_size == 0:
        raise StorageError(f"{path.name} is empty (0 bytes): it was not saved completely.")
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if META_MEMBER not in names:
                raise StorageError(
                    f"{path.name} is a Keras file, but not one saved by Deep Learning "
                    "Explorer, so the app cannot tell how to rebuild it safely.")
            if "model.weights.h5" not in names:
                raise StorageError(f"{path.name} has no weights in it.")
            meta = json.loads(z.read(META_MEMBER))
    except zipfile.BadZipFile as exc:
        raise StorageError(f"{path.name} is not a model file (or it is damaged or "
                           "truncated).") from exc
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise StorageError(f"{path.name} could not be read: {exc}.") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise StorageError(f"{path.name} was saved by an unknown version of the app.")
    return meta


def damaged_description(path, exc: Exception) -> StorageError:
    """A file whose description of its model (explorer.json) lacks or garbles a field."""
    if isinstance(exc, KeyError) and exc.args:
        why = f"it has no '{exc.args[0]}'"
    else:
        why = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
    return StorageError(f"{Path(path).name} does not describe a model this app can rebuild "
                        f"({why}).")


def load_weights(model, path) -> None:
    """Read only the weight arrays of a saved archive into a model built in code.

    The optimizer is built first so that its state (step count, moments) is restored
    too: a resumed run then continues its learning-rate schedule instead of restarting it.
    Keras only warns when layers find no weights in the file; here that is an error, as
    the model would otherwise keep random weights without anyone noticing.
    """
    try:
        opt = getattr(model, "optimizer", None)
        if opt is not None and not opt.built:
            opt.build(model.trainable_variables)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.load_weights(str(path))
    except Exception as exc:  # h5py and Keras raise many types for a bad archive
        raise StorageError(
            f"The weights in {Path(path).name} do not fit this model, or the file is "
            f"damaged ({str(exc).splitlines()[0][:200]}).") from exc
    missing = [str(w.message) for w in caught if "Skipping" in str(w.message)
               and "optimizer" not in str(w.message)]
    if missing:
        raise StorageError(f"The weights in {Path(path).name} do not fit this model "
                           f"({missing[0].splitlines()[0][:200]}).")


# ---------------------------------------------------------------- autosave
def autosave_dir(family: str) -> Path:
    return app_home() / "autosave" / family


def autosave(model, family: str, meta: dict, epoch: int) -> Path:
    """Save this epoch's state and keep only the last KEEP_AUTOSAVES."""
    folder = autosave_dir(family)
    folder.mkdir(parents=True, exist_ok=True)
    path = save_model(model, folder / f"epoch-{epoch:04d}.keras", meta)
    for old in list_autosaves(family)[:-KEEP_AUTOSAVES]:
        try:
            old.unlink()
        except OSError:
            pass
    return path


def list_autosaves(family: str) -> list[Path]:
    """Oldest first, by the number in the name (epoch-100000 comes after epoch-50000)."""
    folder = autosave_dir(family)
    if not folder.is_dir():
        return []

    def number(path: Path) -> int:
        digits = path.stem.removeprefix("epoch-")
        return int(digits) if digits.isdigit() else -1

    return sorted(folder.glob("epoch-*.keras"), key=number)


def latest_autosave(family: str) -> tuple[Path, dict] | None:
    """The newest readable autosave and its meta; a damaged one falls back to the older."""
    for path in reversed(list_autosaves(family)):
        try:
            return path, read_meta(path)
        except StorageError:
            continue
    return None


def clear_autosaves(family: str) -> None:
    for path in list_autosaves(family):
        try:
            path.unlink()
        except OSError:
            pass
