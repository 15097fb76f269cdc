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
import re
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

from nets.errors import PlainError

FORMAT = "deep-learning-explorer/1"
META_MEMBER = "explorer.json"
KEEP_AUTOSAVES = 2


def _file_mode() -> int:
    """The mode a newly created file gets here (mkstemp would make it private)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()


class StorageError(PlainError):
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


def check_writable(path) -> str:
    """Why a model could not be saved at `path` ("" when it can): checked before a long
    run, so that it does not end in an error."""
    path = Path(path).expanduser()
    folder = path.parent
    if not folder.is_dir():
        return f"Cannot save to {path}: the folder {folder} does not exist."
    if path.is_dir():
        return f"Cannot save to {path}: it is a folder."
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"Cannot save to {path}: you do not have permission to write in {folder}."
    return ""


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
    remove_stale_temporaries(path.parent, path.stem)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-tmp{os.getpid()}-", suffix=".keras",
                                   dir=path.parent)
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


# A save in progress is `.<name>-tmp<pid>-<random>.keras` beside its target; one whose
# process has died (killed mid-save) is removed by the next save or run. Older versions
# named autosave temporaries `.epoch-<n>-<random>.keras`, without the pid.
_TEMPORARY = re.compile(r"^\.(?P<stem>.+)-tmp(?P<pid>\d+)-[A-Za-z0-9_]+\.keras$")
_OLD_AUTOSAVE_TEMPORARY = re.compile(r"^\.epoch-\d+-[A-Za-z0-9_]{8}\.keras$")


def remove_stale_temporaries(folder, stem: str | None = None) -> int:
    """Delete our own temporaries left in `folder` by a process that no longer runs
    (all of them, or those of one target `stem`). Nobody else's files are touched."""
    removed = 0
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    for name in names:
        match = _TEMPORARY.match(name)
        if match:
            stale = (stem is None or match["stem"] == stem) and \
                not _process_alive(int(match["pid"]))
        else:  # an old version's autosave temporary: only in our own autosave folders
            stale = stem is None and _OLD_AUTOSAVE_TEMPORARY.match(name) is not None \
                and "autosave" in Path(folder).parts
        if stale:
            try:
                os.unlink(os.path.join(folder, name))
                removed += 1
            except OSError:
                pass
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name == "nt":
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but is not ours to signal
        return True
    return True


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
        raise StorageError(f"The weights in {Path(path).name} do not fit this model, or the "
                           f"file is damaged: {_plain_load_error(str(exc))}.") from exc
    missing = [str(w.message) for w in caught if "Skipping" in str(w.message)
               and "optimizer" not in str(w.message)]
    if missing:
        raise StorageError(f"The weights in {Path(path).name} do not fit this model "
                           f"({missing[0].splitlines()[0][:200]}).")


def _plain_load_error(text: str) -> str:
    """Keras' message for weights that would not load, in a sentence: which layers, and
    what shape the file holds against what the model needs."""
    layers = re.findall(r"<\w+ name=([\w.-]+), built=\w+>", text.rpartition(
        "could not be loaded:")[2])
    shapes = re.search(r"variable\.shape=(\([^)]*\)), Received: value\.shape=(\([^)]*\))",
                       text)
    variable = re.search(r"<Variable path=([\w./-]+)", text)
    if shapes:
        name = variable.group(1).replace("/", "'s ") if variable else "a weight"
        said = (f"{name} has shape {shapes.group(2)} in the file, but the model described "
                f"in the file needs {shapes.group(1)}")
        if len(layers) > 1:
            said += f" ({len(layers)} layers do not fit: {', '.join(layers)})"
        return said
    if layers:
        return f"the layers {', '.join(layers)} could not take the weights in the file"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[0].rstrip(":") if lines else "unknown problem")[:200]


# ---------------------------------------------------------------- autosave
class AutosaveUnreadable(StorageError):
    """Autosaves exist, but none of them can be resumed from; the message says why."""


@dataclass
class FoundAutosave:
    path: Path
    meta: dict
    passed_over: list[str]  # newer autosaves that could not be used, in words

    @property
    def where(self) -> str:
        """How far the saved run got: "step 80,000" or "epoch 15"."""
        if isinstance(self.meta.get("step"), int):
            return f"step {self.meta['step']:,}"
        return f"epoch {self.meta.get('epoch', '?')}"


class AutosaveSlot:
    """The autosaves of one family, and of one variant of it where a setting changes what
    the model is (the game of a Q-learning agent): files of another family or variant are
    never offered, resumed or pruned here."""

    def __init__(self, family: str, variant: str = ""):
        self.family, self.variant = family, variant
        folder = app_home() / "autosave" / family
        self.folder = folder / _safe_name(variant) if variant else folder

    def save(self, model, meta: dict, number: int) -> Path:
        """Save this epoch's (or step's) state and keep only the last KEEP_AUTOSAVES."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(_explain_os_error(exc, self.folder, "create")) from exc
        path = save_model(model, self.folder / f"epoch-{number:04d}.keras",
                          {**meta, "family": self.family, "variant": self.variant})
        for old in self.paths()[:-KEEP_AUTOSAVES]:
            try:
                old.unlink()
            except OSError:
                pass
        return path

    def paths(self) -> list[Path]:
        """Oldest first, by the number in the name (epoch-100000 comes after epoch-50000)."""
        if not self.folder.is_dir():
            return []

        def number(path: Path) -> int:
            digits = path.stem.removeprefix("epoch-")
            return int(digits) if digits.isdigit() else -1

        return sorted(self.folder.glob("epoch-*.keras"), key=number)

    def latest(self) -> FoundAutosave | None:
        """The newest autosave this slot can resume from (None when there is none).

        A newer file that cannot be read, or that holds another family's or variant's
        model, is passed over and named in `passed_over`; when no file is usable at all,
        AutosaveUnreadable says why: a run never silently starts afresh instead.
        """
        problems = []
        for path in reversed(self.paths()):
            try:
                meta = read_meta(path)
            except StorageError as exc:
                problems.append(str(exc))
                continue
            if meta.get("family") != self.family:
                problems.append(f"{path.name} holds a {meta.get('family', 'unknown')!r} "
                                f"model, not a {self.family!r} one")
            elif meta.get("variant", "") != self.variant:
                problems.append(f"{path.name} was saved for {meta.get('variant')!r}, not "
                                f"{self.variant!r}")
            else:
                return FoundAutosave(path, meta, problems)
        if problems:
            raise AutosaveUnreadable(
                f"There is an autosave in {self.folder}, but it cannot be resumed from: "
                + "; ".join(p.rstrip(".") for p in problems) + ".")
        return None

    def remove_stale_temporaries(self) -> int:
        return remove_stale_temporaries(self.folder)

    def clear(self) -> None:
        for path in self.paths():
            try:
                path.unlink()
            except OSError:
                pass


def last_model_path(family: str) -> Path:
    """Where the app keeps the last model a tab trained, to offer it at the next start."""
    return app_home() / "last" / f"{family}.keras"


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text) or "_"
