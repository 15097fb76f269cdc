"""Write THIRD-PARTY-LICENSES.txt for an installer bundle: every Python distribution the
bundle's environment holds, its version, licence and licence texts, plus the Python
interpreter and what the bundle deliberately leaves out, and why.

    python packaging/third_party_licences.py OUT.txt     # run with the build environment

The build scripts run it with the environment they froze, so the file lists what that
bundle carries. A distribution's own licence files (in its .dist-info) are copied in
full; where a wheel ships none, the standard text of its licence is taken from
packaging/licences/ (the LGPL with the GPL it builds on, for PySide6; Apache-2.0).
"""
from __future__ import annotations

import importlib.metadata as md
import re
import sys
import sysconfig
from pathlib import Path

HERE = Path(__file__).resolve().parent
STANDARD_TEXTS = {"LGPL-3.0": ["LGPL-3.0.txt", "GPL-3.0.txt"], "Apache": ["Apache-2.0.txt"]}

# Tools that build the bundle but are not in it (PyInstaller's bootloader is: see below).
BUILD_ONLY = {"pip", "setuptools", "wheel", "pyinstaller-hooks-contrib", "altgraph",
              "macholib", "pefile", "pywin32-ctypes", "deep-learning-explorer"}
# Installed in the environment, left out of the bundle on purpose (explorer.spec).
NOT_BUNDLED = {
    "ale-py": "The Arcade Learning Environment is GPL-2.0-only, which the FSF considers "
              "incompatible with TensorFlow's Apache-2.0 licence in one combined work, and "
              "its Atari ROMs belong to their publishers. The bundle does not carry it: "
              "File > Atari games… (or `main.py kit atari`) fetches it from PyPI into your "
              "own folder when you want Atari games.",
}
PYINSTALLER_NOTE = (
    "The program that starts the app is PyInstaller's bootloader (GPL-2.0 with an "
    "exception that allows distributing it with programs of any licence): "
    "https://github.com/pyinstaller/pyinstaller/blob/develop/COPYING.txt")
QT_NOTE = (
    "PySide6 and the Qt libraries it contains are used under the GNU Lesser General Public "
    "License 3 (texts below). They are unmodified, and they sit in this folder as separate "
    "shared libraries (PySide6/, shiboken6/, and Qt's libraries beside them), so you may "
    "replace them with other builds of the same version. Their source code: "
    "https://download.qt.io/official_releases/QtForPython/ and https://code.qt.io/.")


def key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def licence_of(dist) -> str:
    meta = dist.metadata
    expression = meta.get("License-Expression")
    if expression:
        return expression
    text = (meta.get("License") or "").strip()
    if text and len(text) < 120 and "\n" not in text:
        return text
    classifiers = [c.split(" :: ")[-1] for c in meta.get_all("Classifier") or []
                   if c.startswith("License ::")]
    return ", ".join(classifiers) or (text.splitlines()[0] if text else "")


def licence_texts(dist) -> list[tuple[str, str]]:
    """(file name, text) of the licence files a distribution ships, or the standard text
    of its licence from packaging/licences when it ships none."""
    found = []
    for f in dist.files or []:
        name = f.name.upper()
        in_metadata = ".dist-info" in str(f.parent) and any(
            word in name for word in ("LICEN", "COPYING", "NOTICE"))
        if in_metadata or name.startswith(("LICEN", "COPYING", "NOTICE")):
            try:
                found.append((str(f), Path(f.locate()).read_text(encoding="utf-8",
                                                                 errors="replace")))
            except (OSError, ValueError):
                continue
    if not found:
        licence = licence_of(dist)
        for marker, files in STANDARD_TEXTS.items():
            if marker in licence:
                found = [(f"standard text: {n}", (HERE / "licences" / n).read_text())
                         for n in files]
                break
    return found


def bundled_distributions() -> list:
    seen, out = set(), []
    for dist in sorted(md.distributions(), key=lambda d: key(d.metadata["Name"] or "")):
        name = key(dist.metadata["Name"] or "")
        if not name or name in seen or name in BUILD_ONLY or name in NOT_BUNDLED:
            continue
        seen.add(name)
        out.append(dist)
    return out


def python_licence() -> str:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for candidate in (stdlib / "LICENSE.txt", Path(sys.base_prefix) / "LICENSE.txt"):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8", errors="replace")
    return "Python Software Foundation License: https://docs.python.org/3/license.html"


def write(out: Path) -> list[str]:
    """Write the file; returns the names of the distributions it lists."""
    rule = "=" * 78
    parts = [f"Third-party software in this Deep Learning Explorer bundle\n{rule}\n",
             "Deep Learning Explorer itself is MIT-licensed. It carries the following "
             "software, each under its own licence. Data sets and photos are credited in "
             "the app (Help > About) and in resources/data/README.md.\n",
             f"{PYINSTALLER_NOTE}\n", f"{QT_NOTE}\n", "Left out of this bundle:"]
    parts += [f"  {name}: {why}" for name, why in NOT_BUNDLED.items()]
    dists = bundled_distributions()
    parts.append(f"\nContents: Python {sys.version.split()[0]} and {len(dists)} packages:")
    parts += [f"  {d.metadata['Name']} {d.version}: {licence_of(d) or 'see below'}"
              for d in dists]
    parts.append(f"\n{rule}\nPython {sys.version.split()[0]}\n{rule}\n{python_licence()}")
    for d in dists:
        parts.append(f"\n{rule}\n{d.metadata['Name']} {d.version}\nLicence: "
                     f"{licence_of(d) or 'not stated in its metadata'}\n"
                     f"Home: {d.metadata.get('Home-page') or ''}\n{rule}")
        texts = licence_texts(d)
        if not texts:
            parts.append("(This package ships no licence file; its licence is named above.)")
        for name, text in texts:
            parts.append(f"--- {name} ---\n{text.strip()}\n")
    out.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return [d.metadata["Name"] for d in dists]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    names = write(Path(sys.argv[1]))
    print(f"{sys.argv[1]}: {len(names)} packages and Python")
