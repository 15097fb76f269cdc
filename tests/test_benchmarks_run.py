"""The benchmark command still runs end to end (a smoke pass: its numbers are not judged
here; benchmarks/run.py without --quick measures them)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(900)
def test_every_benchmark_section_runs_and_writes_its_table(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick",
                        "--out", str(tmp_path)], env=env, capture_output=True, text=True,
                       timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    result = json.loads((tmp_path / "results.json").read_text())
    assert result["quick"] and not result["failed"]
    sections = {row["section"] for row in result["rows"]}
    assert sections == {"startup", "cnn", "autoencoders", "vae", "plots", "dictionaries",
                        "dqn"}
    for section in sections:
        peak = [row for row in result["rows"] if row["section"] == section
                and row["benchmark"].startswith("peak memory")]
        assert len(peak) == 1 and peak[0]["value"] > 50  # MB
    names = " ".join(row["benchmark"] for row in result["rows"])
    for expected in ("launch to window visible", "throughput in the app",
                     "event-loop lag while the CNN tab", "draw-to-prediction",
                     "latent-drag-to-image", "plot redraw with 100,000", "K-means fit time",
                     "DQN tab training Pong"):
        assert expected in names
    assert "| section | benchmark |" in (tmp_path / "results.md").read_text()
