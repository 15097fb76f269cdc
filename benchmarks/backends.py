"""Every family on every installed Keras backend, side by side: seconds per epoch (per
1,000 steps for the Q-learner) and each family's main figure, plus launch to window and
to "backend ready" per backend. Each backend runs in its own process (Keras picks its
backend once, at import).

    .venv/bin/python benchmarks/backends.py            # about 25 minutes on 2 cores
    .venv/bin/python benchmarks/backends.py --quick    # a smoke pass, a few minutes
    .venv/bin/python benchmarks/backends.py --only cnn,vae --backends tensorflow,jax
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from common import RESULTS, ROOT, SCRATCH, Tables, launch_times

# The run measured per family: its default settings on the bundled digits, shortened where
# the default takes minutes (same settings on every backend).
RUNS = {
    "cnn": dict(epochs=3),
    "vae": dict(epochs=5),
    "autoencoder": dict(epochs=5),
    "kmeans": dict(patches=50_000, clusters=200),
    "sparse_coding": dict(),
    "dqn": dict(total_steps=10_000),
}
QUICK = {
    "cnn": dict(epochs=1, filters=8),
    "vae": dict(epochs=1),
    "autoencoder": dict(epochs=1, few_labels=0),
    "kmeans": dict(patches=5_000, clusters=32, kmeans_epochs=2, classifier_epochs=3),
    "sparse_coding": dict(atoms=32, patches=1_000, epochs=2),
    "dqn": dict(total_steps=1_000),
}

ONE_FAMILY = """
import json, sys, time
sys.path.insert(0, sys.argv[3])
from nets import backend, registry, runner
from nets.progress import EpochMetrics, ListReporter
backend.start()
key, settings = sys.argv[1], json.loads(sys.argv[2])
fam = registry.family(key)
rep = ListReporter()
t0 = time.monotonic()
done = runner.execute(runner.RunRequest(key, fam.config(**settings),
                      "" if fam.datasets == () else "mnist-5k", seed=0, autosave=False), rep)
wall = time.monotonic() - t0
epochs = [e.seconds for e in rep.of(EpochMetrics) if e.seconds]
import keras
print("RESULT " + json.dumps({"backend": keras.backend.backend(), "status": done.status,
      "message": done.message, "headline": done.headline, "wall": wall,
      "epoch_seconds": epochs, "fit_seconds": getattr(done.result, "fit_seconds", 0)}))
"""


def run_family(backend: str, key: str, settings: dict) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "DLE_HOME": str(SCRATCH / "home")}
    out = subprocess.run([sys.executable, "-c", ONE_FAMILY, key, json.dumps(settings),
                          str(ROOT)], capture_output=True, text=True, env=env,
                         timeout=3600, cwd=ROOT)
    lines = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
    if not lines:
        return {"status": "crashed", "message": out.stderr.strip()[-300:]}
    return json.loads(lines[-1][7:])


# Families whose epochs are not what their run's time is spent on (K-means: its passes
# report no time, then describing the images; sparse coding: one epoch is most of it):
# their whole run's wall time is the figure to compare.
WALL = ("kmeans", "sparse_coding")


def pace(key: str, settings: dict, result: dict) -> str:
    """Seconds per epoch (the median of the run's epochs, the first one's compiling left
    out), per 1,000 steps, or per run; with the whole run's wall time."""
    if result.get("status") != "finished":
        return "—"
    wall = f"{result['wall']:.0f} s run"
    if key == "dqn":
        return f"{1000 * result['fit_seconds'] / settings['total_steps']:.1f} s/1k steps " \
               f"({wall})"
    epochs = (result.get("epoch_seconds") or [])[1:]
    if epochs and key not in WALL:
        return f"{statistics.median(epochs):.2f} s/epoch ({wall})"
    return wall


def startup(backend: str, repeats: int) -> tuple[float, float]:
    visible, ready = zip(*(launch_times(KERAS_BACKEND=backend) for _ in range(repeats)))
    return statistics.median(visible), statistics.median(ready)


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from nets import backend as nb

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="families, comma-separated")
    parser.add_argument("--backends", help="backends, comma-separated (default: installed)")
    args = parser.parse_args()
    runs = QUICK if args.quick else RUNS
    keys = args.only.split(",") if args.only else list(runs)
    backends = (args.backends.split(",") if args.backends else
                [b for b in nb.BACKENDS if nb.installed(b)])
    tables = Tables()
    rows = []
    for key in keys:
        row = {"family": key, "run": ", ".join(f"{k}={v}" for k, v in runs[key].items())
               or "defaults"}
        for b in backends:
            result = run_family(b, key, runs[key])
            row[f"{b} pace"] = pace(key, runs[key], result)
            row[f"{b} figure"] = (result.get("headline") or result.get("message", ""))[:130]
            print(f"{key} on {b}: {result.get('status')} {row[f'{b} pace']} "
                  f"{row[f'{b} figure']}", flush=True)
        rows.append(row)
    tables.add("Every family on every backend (2 CPU cores, bundled digits)", rows)
    starts = []
    for b in backends:
        visible, ready = startup(b, 1 if args.quick else 3)
        starts.append({"backend": b, "launch to window (s)": round(visible, 2),
                       "launch to backend ready, tabs built (s)": round(ready, 2)})
    tables.add("Start-up per backend (median)", starts)
    tables.write(RESULTS, "backends" + ("-quick" if args.quick else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
