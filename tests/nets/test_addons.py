"""Atari games as an add-on: the right wheel is chosen, checked and unpacked, and bad
files are refused in words. No network: downloads are replaced by a local function."""
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from nets import addons

ROOT = Path(__file__).resolve().parents[2]
HERE = dict(python="cp311", system="Linux", machine="x86_64")
LINUX = "ale_py-0.12.1-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl"


def fake_wheel(with_package: bool = True) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        if with_package:
            z.writestr("ale_py/__init__.py", "FROM_THE_ADDON = True\n")
        z.writestr("ale_py-0.12.1.dist-info/METADATA", "Name: ale-py\n")
    return buffer.getvalue()


def this_computers_wheel_name() -> str:
    import platform

    py = f"cp{sys.version_info.major}{sys.version_info.minor}"
    tag = {"Linux": f"manylinux_2_28_{platform.machine()}", "Darwin": "macosx_13_0_arm64",
           "Windows": "win_amd64"}[platform.system()]
    return f"ale_py-0.12.1-{py}-{py}-{tag}.whl"


def test_the_wheel_for_this_python_and_computer_is_chosen():
    files = [{"filename": n, "packagetype": "bdist_wheel"} for n in (
        "ale_py-0.12.1-cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
        "ale_py-0.12.1-cp311-cp311-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl",
        "ale_py-0.12.1-cp311-cp311-win_amd64.whl", LINUX)]
    assert addons.pick_wheel(files, **HERE)["filename"] == LINUX
    assert addons.pick_wheel(files, python="cp311", system="Windows",
                             machine="AMD64")["filename"].endswith("win_amd64.whl")
    with pytest.raises(addons.AddonError, match="PyPI has no ale-py"):
        addons.pick_wheel(files, python="cp310", system="Linux", machine="x86_64")


def test_a_download_is_checked_then_unpacked_and_used_at_the_next_start(tmp_path):
    data = fake_wheel()
    name = this_computers_wheel_name()
    listing = {"releases": {addons.ALE_VERSION: [
        {"filename": name, "packagetype": "bdist_wheel", "url": "https://files/x.whl",
         "digests": {"sha256": hashlib.sha256(data).hexdigest()}}]}}

    def fetch(url):
        return json.dumps(listing).encode() if url == addons.PYPI_JSON else data

    where = addons.install_ale(fetch=fetch)
    assert (where / "ale_py" / "__init__.py").is_file()
    probe = ("from nets import addons; addons.activate(); import ale_py; "
             "print(ale_py.FROM_THE_ADDON)")
    r = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                       text=True, env={**os.environ}, timeout=60)
    assert r.stdout.strip() == "True", r.stderr  # the add-on wins over any other copy

    def damaged(url):
        return json.dumps(listing).encode() if url == addons.PYPI_JSON else data + b"x"

    with pytest.raises(addons.AddonError, match="arrived damaged"):
        addons.install_ale(fetch=damaged)
    assert (where / "ale_py" / "__init__.py").is_file()  # the good install is left alone


def test_bad_wheel_files_are_refused_in_words(tmp_path):
    wrong_platform = tmp_path / "ale_py-0.12.1-cp27-cp27-win32.whl"
    wrong_platform.write_bytes(fake_wheel())
    with pytest.raises(addons.AddonError, match="not an ale-py wheel for this computer"):
        addons.install_ale(wrong_platform)
    not_zip = tmp_path / this_computers_wheel_name()
    not_zip.write_bytes(b"not a zip")
    with pytest.raises(addons.AddonError, match="not a wheel"):
        addons.install_ale(not_zip)
    not_ale = tmp_path / "x" / this_computers_wheel_name()
    not_ale.parent.mkdir()
    not_ale.write_bytes(fake_wheel(with_package=False))
    with pytest.raises(addons.AddonError, match="no ale_py package"):
        addons.install_ale(not_ale)
    assert not addons.folder().exists()  # nothing half-installed


def test_choosing_an_atari_game_without_ale_py_says_how_to_get_it(monkeypatch):
    from nets.families import dqn
    from nets.errors import SettingsError

    monkeypatch.setitem(sys.modules, "ale_py", None)  # as in an installer's bundle
    monkeypatch.setattr(addons, "ale_available", lambda: False)
    with pytest.raises(SettingsError, match=r"File > Atari games… \(or `main.py kit atari`\)"):
        dqn.make_game(dqn.settings_for("Pong"), 0)
