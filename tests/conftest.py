"""Shared test set-up: offscreen Qt, private settings and autosave folders, thread checks."""
import os
import sys
import tempfile
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="dle-tests-"))
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ["DLE_HOME"] = str(_TMP / "home")  # autosaves never land in the user's folder
os.environ["KERAS_HOME"] = str(_TMP / "keras")  # nor downloads in the user's Keras cache
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_home(tmp_path, monkeypatch):
    """Each test gets its own autosave folder."""
    monkeypatch.setenv("DLE_HOME", str(tmp_path / "dle-home"))
    yield tmp_path
