"""The GPU benchmark script (benchmarks/gpu.py), checked without a GPU and without training:
its settings cover every family, it reads each family's figure out of its headline, it
stops cleanly when its wall budget is spent, and its comparison flags a quality mismatch.
It runs in child processes: the benchmark's common module sets its own scratch home."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu.py"

CHECKS = """
import json, sys
sys.path.insert(0, sys.argv[1])
import gpu
from nets import registry
print(json.dumps({
    "runs": sorted(gpu.RUNS), "quick": sorted(gpu.QUICK), "registry": sorted(registry.keys()),
    "noise": sorted(gpu.NOISE),
    "figures": [gpu.figure(k, h) for k, h in [
        ("cnn", "Held-out accuracy: 91.3%"),
        ("draw", "Held-out -ELBO 207.6 nats per image (reconstruction 207.6 + KL 0.0)"),
        ("rbm", "Held-out log-likelihood: -185.90 nats; fine-tuned on 100 labels: ..."),
        ("dqn", "Average return of the last 20 training episodes: 162.7"),
        ("gan", "Samples: 9 of 10 classes among 500 samples, 61% recognised with confidence."),
        ("gates", "At length 25, right on fresh sequences: plain RNN 20%, LSTM 40%, GRU 90%"),
        ("captions", "Test scenes: 1.0% captioned exactly right (BLEU-4 0.250)"),
        ("vae", "")]],
    "paces": [gpu.pace(k, r) for k, r in [
        ("cnn", dict(status="finished", unit="epochs", length=3, wall=9.0, fit_seconds=8.0,
                     epoch_seconds=[5.0, 1.0, 2.0])),
        ("neurons", dict(status="finished", unit="epochs", length=100, wall=4.0,
                         fit_seconds=2.0, epoch_seconds=[0.0, 0.0])),
        ("dqn", dict(status="finished", unit="steps", length=5000, wall=12.0,
                     fit_seconds=10.0, epoch_seconds=[])),
        ("kmeans", dict(status="finished", unit="epochs", length=2, wall=8.0,
                        fit_seconds=0.0, epoch_seconds=[0.0, 1.0, 1.0])),
        ("cnn", dict(status="failed"))]]}))
"""


def run(*args, **kwargs):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120, **kwargs)


def test_settings_cover_every_family_and_figures_come_out_of_headlines():
    r = run("-c", CHECKS, ROOT / "benchmarks")
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["runs"] == out["quick"] == out["noise"] == out["registry"]
    assert out["figures"] == [91.3, 207.6, -185.9, 162.7, 61.0, 50.0, 0.25, None]
    assert out["paces"] == [[1.5, "s/epoch"], [0.02, "s/epoch"], [2.0, "s/1k steps"],
                            [8.0, "s/run"], [None, ""]]


def test_a_spent_budget_stops_the_run_and_still_writes_what_it_has(tmp_path):
    out = tmp_path / "gpu.json"
    r = run(SCRIPT, "--quick", "--only", "neurons,cnn", "--backends", "jax",
            "--budget", "0.05", "--out", out)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert [(row["family"], row["status"]) for row in rows] == [("neurons", "cut"),
                                                                ("cnn", "skipped")]
    assert not list(tmp_path.glob("*.part"))


def row(family, backend, pace, figure, settings=None):
    return {"family": family, "backend": backend, "settings": settings or {"epochs": 3},
            "status": "finished", "pace": pace, "pace_unit": "s/epoch", "figure": figure}


def report(device, rows):
    return {"machine": {"cpus": 2, "load_before": [1.0, 1.0, 1.0]},
            "backends": {"jax": {"device": device}}, "rows": rows}


def test_the_comparison_shows_speed_ups_and_flags_a_quality_mismatch(tmp_path):
    cpu = report("CPU (no GPU found)", [row("cnn", "jax", 3.0, 91.0),
                                        row("vae", "jax", 0.4, 197.0)])
    gpu = report("GPU: NVIDIA H200", [row("cnn", "jax", 0.1, 90.5),
                                      row("vae", "jax", 0.2, 230.0, {"epochs": 8})])
    paths = []
    for name, data in (("cpu", cpu), ("gpu", gpu)):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(data))
    r = run(SCRIPT, "--compare", *paths)
    assert r.returncode == 0, r.stderr[-2000:]
    cnn, vae = [line for line in r.stdout.splitlines() if line.startswith(("| cnn", "| vae"))]
    assert "jax 30×" in cnn and "NO" not in cnn and "| yes" in cnn
    assert "NO: jax off by 33" in vae and "the CPU ran another setting" in vae
    assert "GPU: NVIDIA H200" in r.stdout
