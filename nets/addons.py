"""What the installers leave out and the app fetches on request into the person's own
folder: today the Arcade Learning Environment (ale-py, with the Atari game ROMs).

ale-py is GPL-2.0-only, which the FSF holds incompatible with TensorFlow's Apache-2.0 in
one combined work, and the ROMs belong to their publishers: so the installer bundles do
not carry it. A person who wants Atari games gets the wheel from PyPI (or a file they
bring), checked against PyPI's published SHA-256, unpacked under the app's data folder;
`activate()` puts it on the import path at the next start. Installs from source have it
already (pip installs it with the app).
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import platform
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from nets.storage import app_home

ALE_VERSION = "0.12.1"  # the release the app is tested with (pyproject pins the range)
PYPI_JSON = "https://pypi.org/pypi/ale-py/json"
LICENCE_WORDS = ("The Arcade Learning Environment (ale-py, GPL-2.0-only, by Bellemare et "
                 "al.) with the Atari 2600 game ROMs, which belong to their publishers")


class AddonError(Exception):
    """An add-on could not be installed; the message is meant for the person."""


def folder() -> Path:
    return app_home() / "addons" / f"ale-py-{ALE_VERSION}"


def activate() -> bool:
    """Put an installed ale-py on the import path (call before anything imports it)."""
    where = folder()
    if (where / "ale_py" / "__init__.py").is_file():
        if str(where) not in sys.path:
            sys.path.insert(0, str(where))
        return True
    return False


def ale_available() -> bool:
    return importlib.util.find_spec("ale_py") is not None


def wheel_fits(filename: str, python: str | None = None, system: str | None = None,
               machine: str | None = None) -> bool:
    """Whether an ale-py wheel's file name fits this Python and this computer."""
    python = python or f"cp{sys.version_info.major}{sys.version_info.minor}"
    system = (system or platform.system()).lower()
    machine = (machine or platform.machine()).lower()
    parts = filename.removesuffix(".whl").split("-")
    if len(parts) < 5 or parts[0] != "ale_py" or parts[2] != python:
        return False
    tag = parts[-1]
    if system == "linux":
        return "manylinux" in tag and machine in tag
    if system == "darwin":
        return "macosx" in tag and ("arm64" in tag if machine == "arm64" else "x86_64" in tag)
    if system == "windows":
        return tag == ("win_amd64" if machine in ("amd64", "x86_64") else "win32")
    return False


def pick_wheel(release_files: list[dict], **tags) -> dict:
    """The entry of PyPI's release listing that fits this computer."""
    for entry in release_files:
        if entry.get("packagetype") == "bdist_wheel" and wheel_fits(entry["filename"], **tags):
            return entry
    raise AddonError(f"PyPI has no ale-py {ALE_VERSION} for Python "
                     f"{sys.version_info.major}.{sys.version_info.minor} on "
                     f"{platform.system()} {platform.machine()}.")


def _download(url: str) -> bytes:
    from urllib.request import urlopen

    with urlopen(url, timeout=60) as response:  # noqa: S310 - a fixed https address
        return response.read()


def install_ale(wheel: str | Path | None = None, fetch=_download) -> Path:
    """Unpack ale-py into folder(): from `wheel` (a file the person brings), else from PyPI
    with its SHA-256 checked. Returns the folder. AddonError in plain words otherwise."""
    if wheel is not None:
        wheel = Path(wheel).expanduser()
        if not wheel_fits(wheel.name):
            raise AddonError(f"{wheel.name} is not an ale-py wheel for this computer "
                             f"(Python {sys.version_info.major}.{sys.version_info.minor}, "
                             f"{platform.system()} {platform.machine()}).")
        try:
            data = wheel.read_bytes()
        except OSError as exc:
            raise AddonError(f"Could not read {wheel}: {exc.strerror or exc}.") from exc
    else:
        try:
            listing = json.loads(fetch(PYPI_JSON))
            files = listing["releases"][ALE_VERSION]
        except (OSError, ValueError, KeyError) as exc:
            raise AddonError(f"Could not ask PyPI for ale-py {ALE_VERSION} ({exc}). It needs "
                             "a network; or bring the wheel file and choose it.") from exc
        entry = pick_wheel(files)
        try:
            data = fetch(entry["url"])
        except OSError as exc:
            raise AddonError(f"Downloading {entry['filename']} failed ({exc}).") from exc
        if hashlib.sha256(data).hexdigest() != entry["digests"]["sha256"]:
            raise AddonError(f"{entry['filename']} arrived damaged (its SHA-256 is not the "
                             "one PyPI publishes); nothing was installed.")
    return _unpack(data)


def _unpack(data: bytes) -> Path:
    """Extract a wheel beside the target, then swap it in: a failure leaves no half."""
    target = folder()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise AddonError("That file is not a wheel (not a zip archive), or it is "
                         "damaged.") from exc
    with archive:
        if "ale_py/__init__.py" not in archive.namelist():
            raise AddonError("That file is not an ale-py wheel (it has no ale_py package).")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".ale-", dir=target.parent))
        except OSError as exc:
            raise AddonError(f"Could not write into {target.parent}: "
                             f"{exc.strerror or exc}.") from exc
        try:
            archive.extractall(staging)  # zipfile drops absolute paths and ".." parts
        except (OSError, zipfile.BadZipFile) as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise AddonError(f"Could not unpack the wheel: {exc}.") from exc
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target
