"""Set up a virtual environment in .venv and run the app or the tests in it.

    python3 dev.py app     # install what the app needs (once), then launch it
    python3 dev.py test    # install the app and test tools (once), then run every test:
                           # all on TensorFlow, then tests/nets on JAX (less the files
                           # whose subject is the same on every backend) and the short
                           # training of every family on PyTorch

Only the standard library is used here, so it works on a fresh machine with Python 3.10+.
The environment is reinstalled when pyproject.toml changes.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
SMOKE = "tests/nets/test_every_backend.py"  # every family's short training and its files
# Files of tests/nets the JAX pass leaves to the TensorFlow one, to keep the suite near 15
# minutes on 2 cores: those whose subject does not change with the Keras backend (the
# command line in subprocesses, files, datasets, settings, the house rules: a minute of
# the JAX pass), and the two slowest families' own lesson tests (75 s), whose training on
# each backend test_every_backend.py runs.
LEFT_TO_TENSORFLOW = ("test_cli.py", "test_storage.py", "test_house_rules.py",
                         "test_digit_styles.py", "test_data.py", "test_addons.py",
                         "test_patches.py", "test_config.py", "test_registry.py",
                         "test_kit.py", "test_rnn_text.py", "test_autoencoder.py",
                         "test_kmeans.py", "test_dqn_many.py")


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_environment(extras: str) -> Path:
    py = venv_python()
    if not py.exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed-{extras or 'app'}"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != want:
        print("Installing packages (a few minutes the first time) ...", flush=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
        target = f".[{extras}]" if extras else "."
        subprocess.run([str(py), "-m", "pip", "install", "-q", "-e", target], cwd=ROOT,
                       check=True)
        stamp.write_text(want)
    return py


def main(argv: list[str]) -> int:
    what = argv[0] if argv else "app"
    rest = argv[1:]
    if what == "app":
        py = ensure_environment("")
        return subprocess.call([str(py), str(ROOT / "main.py"), *rest], cwd=ROOT)
    if what == "test":
        py = ensure_environment("test")
        options = rest or ["-q"]
        runs = [("tensorflow", [])]
        chosen = [a for a in options if (ROOT / a.split("::")[0]).exists()]
        if not chosen:  # the whole suite, not tests picked by path
            runs += [("jax", ["tests/nets", *(f"--ignore=tests/nets/{name}"
                                              for name in LEFT_TO_TENSORFLOW)]),
                     ("torch", [SMOKE])]
        worst = 0
        for backend, paths in runs:
            print(f"--- tests on {backend}{': ' + ' '.join(paths) if paths else ''}",
                  flush=True)
            env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "KERAS_BACKEND": backend}
            code = subprocess.call([str(py), "-m", "pytest", *options, *paths], cwd=ROOT,
                                   env=env)
            worst = worst or code
        return worst
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
