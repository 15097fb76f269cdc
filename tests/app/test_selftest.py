"""`main.py --selftest`: passes on a working install, names what fails otherwise."""
import io
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_selftest_passes_and_leaves_the_person_s_folders_alone(tmp_path):
    home = tmp_path / "person"
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_DATA_HOME": str(home / ".local")}
    env.pop("DLE_HOME", None)
    report = tmp_path / "report.txt"  # where a windowed app (no stdout) writes it
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "--selftest", str(report)],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    text = report.read_text()
    assert r.returncode == 0, text + r.stderr
    assert "All 8 checks passed" in text and "held-out accuracy" in text
    assert "CartPole agent" in text  # the shipped models were checked and loaded
    assert "Deep Q-learning" in text  # every tab was opened
    assert not home.exists() or not any(home.rglob("*.keras")) and not any(
        home.rglob("*.ini"))
    # what a workshop helper reads is the report, and nothing else: no TensorFlow start-up
    # notices, no Qt plugin warnings, no numpy overflow warnings
    assert r.stdout.strip() == "" and r.stderr.strip() == "", (r.stdout + r.stderr)[-3000:]


def test_a_failing_check_is_named_and_fails_the_run(monkeypatch):
    from app import selftest

    def broken(state):
        raise OSError("the bundled digits are missing")

    monkeypatch.setattr(selftest, "_digits", broken)
    monkeypatch.setattr(selftest, "_tabs", lambda scratch: "skipped here")
    out = io.StringIO()
    assert selftest.run(out) == 1
    text = out.getvalue()
    assert "[FAILED] bundled digits" in text and "the bundled digits are missing" in text
    assert "FAILED: bundled digits, train a tiny convnet" in text
