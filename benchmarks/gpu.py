"""Every family on a GPU (issue 20): seconds per epoch (per 1,000 steps for the step-counted
ones, per run for K-means and sparse coding) and each family's main figure, on the JAX and
PyTorch backends, to set beside the same table measured on 2 CPU cores.

Needs neither TensorFlow nor PySide6 (the GPU machine has neither). Each backend runs in a
process of its own that stays up for every family (a family that crashes it costs only
that family); the backends take turns family by family, so a run cut short by its budget
still has each family it reached on every backend. Results are written after each family.

    python benchmarks/gpu.py --backends jax,torch --budget 210 --out gpu.json
        # on an H200: sized for 3-4 minutes; the budget stops it cleanly in any case
    python benchmarks/gpu.py --backends tensorflow,jax,torch --out cpu.json
        # the CPU reference: about 15 minutes on 2 cores
    python benchmarks/gpu.py --quick --backends jax --only cnn,gan   # a smoke pass, 1 min
    python benchmarks/gpu.py --compare benchmarks/gpu-cpu-reference.json gpu.json
        # the side-by-side markdown table
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from backends import QUICK as BACKENDS_QUICK, RUNS as BACKENDS_RUNS, WALL
from common import ROOT, SCRATCH, Tables

TEXT = "resources/text/python-LICENSE.txt"  # bundled; relative to the project root
# One fixed setting per family, the same on every backend and device: meant to take a few
# seconds on a GPU, and took 2-39 s on 2 CPU cores. Families needing data get the bundled
# 5,000 digits; the others make their own (points, scenes, sequences, CartPole).
RUNS = {
    "neurons": dict(epochs=300),
    "depth": dict(batch_norm=True, epochs=8),
    **{key: BACKENDS_RUNS[key] for key in ("kmeans", "sparse_coding", "autoencoder")},
    "vae": dict(epochs=8),
    "rbm": dict(epochs=3, fine_tune_epochs=5),
    "rnn": dict(corpus="shakespeare", units=64, epochs=2),
    "gates": dict(lengths="10, 25", steps=300, stop_when_solved=False),
    "draw": dict(epochs=3, batch_size=100),
    "cnn": dict(epochs=3, augment=False),
    "captions": dict(epochs=3, scenes_per_epoch=1024),
    "dqn": dict(total_steps=5_000),
    "gan": dict(steps=1_000, score_every=500),
}
QUICK = {
    "neurons": dict(epochs=3, points=100),
    "depth": dict(hidden_layers=2, width=16, epochs=2),
    **BACKENDS_QUICK,
    "rbm": dict(hidden="16", epochs=1, fine_tune="100", fine_tune_epochs=1),
    "rnn": dict(corpus="file", text_path=TEXT, units=16, embedding=8, sequence_length=50,
                batch_size=32, epochs=2),
    "gates": dict(lengths="5", units=8, steps=20, batch_size=32, stop_when_solved=False),
    "draw": dict(epochs=2, steps=3, units=16, latent_dim=2, write_size=3, batch_size=500),
    "cnn": dict(epochs=2, filters=4, conv_blocks=1, augment=False),
    "captions": dict(epochs=2, filters=4, units=16, embedding=8, attention=8,
                     scenes_per_epoch=64, batch_size=32, max_objects=2),
    "dqn": dict(total_steps=300, learning_starts=100, batch_size=16),
    "gan": dict(steps=40, score_every=20, g_width=8, d_width=8, latent_size=8,
                batch_size=16),
}

# The number in a family's headline that is its main figure (the first match; for the
# gates sweep, the mean of its cells' accuracies), all measured on held-out data except
# the Q-learner's return (its own training episodes) and the GAN's share of samples a
# shipped digit reader recognises with confidence.
NUMBER = r"(-?\d+(?:\.\d+)?)"
FIGURES = {"dqn": r"episodes: " + NUMBER, "gan": NUMBER + r"% recognised",
           "captions": r"BLEU-4 " + NUMBER, "gates": NUMBER + "%"}
MEAN = ("gates",)
# How far a figure may move between two runs that differ only in the order of their
# floating-point sums (one backend or device against another), in the figure's units:
# about twice the spread seen across TensorFlow, JAX and PyTorch on the CPU.
NOISE = {"neurons": 4.0, "depth": 4.0, "kmeans": 1.0, "sparse_coding": 0.01,
         "autoencoder": 0.003, "vae": 4.0, "rbm": 5.0, "rnn": 0.4, "gates": 10.0,
         "draw": 6.0, "cnn": 2.5, "captions": 0.15, "dqn": 60.0, "gan": 15.0}

# A process per backend: it says which device it computes on, then runs each family sent
# to it (one JSON line on stdin) and answers with one RESULT line.
SERVE = """
import gc, json, sys, time
sys.path.insert(0, sys.argv[1])
from nets import backend, registry, runner
from nets.progress import EpochMetrics, ListReporter
info = backend.start()
import keras
info["tensor_device"] = str(getattr(keras.ops.zeros((1,)), "device", "?"))
if info["backend"] == "jax":
    import jax
    info["devices"] = [str(d) for d in jax.devices()]
elif info["backend"] == "torch":
    import torch
    info["devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    info["cuda"] = torch.version.cuda
print("READY " + json.dumps(info), flush=True)
for line in sys.stdin:
    key, settings = json.loads(line)
    fam = registry.family(key)
    config = fam.config(**settings)
    rep = ListReporter()
    t0 = time.monotonic()
    done = runner.execute(runner.RunRequest(key, config, "" if fam.datasets == () else
                                            "mnist-5k", seed=0, autosave=False), rep)
    wall = time.monotonic() - t0
    print("RESULT " + json.dumps({
        "status": done.status, "message": done.message, "detail": done.detail[-1500:],
        "headline": done.headline, "wall": wall, "length": fam.length(config),
        "unit": fam.unit, "epoch_seconds": [e.seconds for e in rep.of(EpochMetrics)],
        "fit_seconds": getattr(done.result, "fit_seconds", 0.0)}), flush=True)
    del done, rep
    gc.collect()
"""


class Cut(Exception):
    """The wall budget ran out while waiting on a backend's process."""


class Worker:
    """One backend's process; `run` sends it a family and waits for its answer."""

    def __init__(self, backend: str):
        env = {**os.environ, "KERAS_BACKEND": backend,
               # two backends share one GPU: JAX must not take 75% of it up front
               "XLA_PYTHON_CLIENT_MEM_FRACTION": os.environ.get(
                   "XLA_PYTHON_CLIENT_MEM_FRACTION", ".4")}
        self.stderr_path = SCRATCH / f"{backend}-{time.monotonic_ns()}.err"
        with open(self.stderr_path, "w") as stderr:
            self.proc = subprocess.Popen([sys.executable, "-c", SERVE, str(ROOT)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=stderr, text=True, env=env, cwd=ROOT)
        self.t0 = time.monotonic()
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.info: dict | None = None

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)  # the process ended

    def _answer(self, prefix: str, timeout: float | None) -> dict | None:
        """The next line that starts with `prefix`, as a dict; None if the process died;
        Cut (the process killed) if `timeout` seconds pass first."""
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=None if end is None else
                                      max(0.0, end - time.monotonic()))
            except queue.Empty:
                self.close()
                raise Cut() from None
            if line is None:
                return None
            if line.startswith(prefix):
                return json.loads(line[len(prefix):])

    def ready(self, timeout: float | None) -> dict | None:
        if self.info is None:
            self.info = self._answer("READY ", timeout)
            if self.info is not None:
                self.info["start_seconds"] = round(time.monotonic() - self.t0, 2)
        return self.info

    def run(self, key: str, settings: dict, timeout: float | None) -> dict:
        t0 = time.monotonic()
        if self.ready(timeout) is None:
            return self.crashed()
        spent = time.monotonic() - t0
        self.proc.stdin.write(json.dumps([key, settings]) + "\n")
        self.proc.stdin.flush()
        result = self._answer("RESULT ", None if timeout is None else timeout - spent)
        return result if result is not None else self.crashed()

    def crashed(self) -> dict:
        self.proc.wait()
        tail = self.stderr_path.read_text(errors="replace").strip()[-1500:]
        return {"status": "crashed", "message": f"exit code {self.proc.returncode}",
                "detail": tail}

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.alive:
            self.proc.kill()
        self.proc.wait()


# ---------------------------------------------------------------- figures
def pace(key: str, result: dict) -> tuple[float | None, str]:
    """Seconds per epoch (the median of its epochs, the first one's compiling left out),
    per 1,000 steps, or per run (where epochs are not what the run's time goes on)."""
    if result.get("status") != "finished":
        return None, ""
    if result["unit"] == "steps":
        seconds = result["fit_seconds"] or result["wall"]
        return 1000 * seconds / result["length"], "s/1k steps"
    if key in WALL:
        return result["wall"], "s/run"
    epochs = [s for s in result["epoch_seconds"] if s][1:]
    if epochs:
        return statistics.median(epochs), "s/epoch"
    if result["fit_seconds"] and result["length"] > 1:  # a loop that times no epoch
        return result["fit_seconds"] / result["length"], "s/epoch"
    return result["wall"], "s/run"


def figure(key: str, headline: str) -> float | None:
    found = [float(x) for x in re.findall(FIGURES.get(key, NUMBER), headline or "")]
    if not found:
        return None
    return statistics.mean(found) if key in MEAN else found[0]


def setting_words(settings: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items()) or "defaults"


# ---------------------------------------------------------------- measuring
def write_atomically(path: Path, data: dict) -> None:
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(data, indent=1))
    os.replace(part, path)


def measure(args) -> int:
    runs = QUICK if args.quick else RUNS
    keys = args.only.split(",") if args.only else list(runs)
    unknown = set(keys) - set(runs)
    if unknown:
        raise SystemExit(f"Unknown families: {', '.join(sorted(unknown))}")
    backends = args.backends.split(",")
    deadline = None if args.budget is None else time.monotonic() + args.budget
    report = {"script": "benchmarks/gpu.py", "quick": args.quick, "budget": args.budget,
              "machine": {"host": platform.node(), "cpus": os.cpu_count(),
                          "python": platform.python_version(),
                          "load_before": os.getloadavg()},
              "backends": {}, "rows": []}
    workers = {b: Worker(b) for b in backends}  # they start up side by side
    table = []
    try:
        for key in keys:
            row = {"family": key, "setting": setting_words(runs[key])}
            for b in backends:
                left = None if deadline is None else deadline - time.monotonic()
                result = run_one(workers, b, key, runs[key], left)
                report["backends"][b] = workers[b].info or report["backends"].get(b)
                result.update(family=key, backend=b, settings=runs[key],
                              load=os.getloadavg()[0])
                result["pace"], result["pace_unit"] = pace(key, result)
                result["figure"] = figure(key, result.get("headline", ""))
                report["rows"].append(result)
                if args.out:
                    write_atomically(Path(args.out), report)
                row[f"{b} pace"] = (f"{result['pace']:.3g} {result['pace_unit']}"
                                    if result["pace"] is not None else result["status"])
                row[f"{b} figure"] = (result.get("headline") or result.get("message")
                                      or "")[:120]
                run = f" ({result['wall']:.1f} s run)" if "wall" in result else ""
                print(f"{key} on {b}: {result['status']}, {row[f'{b} pace']}{run}: "
                      f"{row[f'{b} figure']}", flush=True)
            table.append(row)
    finally:
        for worker in workers.values():
            worker.close()
    report["machine"]["load_after"] = os.getloadavg()
    if args.out:
        write_atomically(Path(args.out), report)
    devices = "; ".join(f"{b}: {(i or {}).get('device', '?')}"
                        for b, i in report["backends"].items())
    Tables().add(f"Every family per backend ({devices})", table)
    return 0


def run_one(workers: dict, backend: str, key: str, settings: dict,
            left: float | None) -> dict:
    """One family on one backend, within `left` seconds (None: no limit); a backend
    whose process died or was cut off gets a fresh one for its next family."""
    if left is not None and left <= 0:
        return {"status": "skipped", "message": "the wall budget was spent"}
    if not workers[backend].alive:
        workers[backend] = Worker(backend)
    try:
        return workers[backend].run(key, settings, left)
    except Cut:
        return {"status": "cut", "message": "stopped when the wall budget ran out"}


# ---------------------------------------------------------------- comparing
def compare(cpu_path: str, gpu_path: str) -> int:
    cpu, gpu = (json.loads(Path(p).read_text()) for p in (cpu_path, gpu_path))
    at = {(r["backend"], r["family"]): r for r in cpu["rows"]}
    on = {(r["backend"], r["family"]): r for r in gpu["rows"]}
    cpu_backends = list(dict.fromkeys(r["backend"] for r in cpu["rows"]))
    gpu_backends = list(dict.fromkeys(r["backend"] for r in gpu["rows"]))
    families = list(dict.fromkeys(r["family"] for r in gpu["rows"]))
    rows = []
    for key in families:
        first = next(on[b, key] for b in gpu_backends if (b, key) in on)
        setting = setting_words(first["settings"])
        if any(at[b, key]["settings"] != first["settings"] for b in cpu_backends
               if (b, key) in at):
            setting += " (the CPU ran another setting!)"
        unit = next((r["pace_unit"] for r in (*on.values(), *at.values())
                     if r["family"] == key and r["pace_unit"]), "")
        row = {"family": key, "setting": setting, "unit": unit,
               "CPU (" + " / ".join(cpu_backends) + ")": " / ".join(
                   number(at.get((b, key)), "pace") for b in cpu_backends)}
        speedups, qualities, flags = [], [], []
        for b in gpu_backends:
            here, there = at.get((b, key)), on.get((b, key))
            row[f"{b} GPU"] = number(there, "pace")
            if here and there and here["pace"] and there["pace"] and \
                    here["pace_unit"] == there["pace_unit"]:
                speedups.append(f"{b} {here['pace'] / there['pace']:.2g}×")
            if here and there:
                qualities.append(f"{b} {number(here, 'figure')} → {number(there, 'figure')}")
                flags.append(mismatch(key, b, here, there))
        row["speed-up (same backend)"] = ", ".join(speedups) or "—"
        row["quality CPU → GPU"] = "; ".join(qualities) or "—"
        row["within noise (tolerance)"] = (", ".join(f for f in flags if f) or "yes") \
            + f" (±{NOISE[key]:g})"
        rows.append(row)
    Tables().add(f"CPU ({describe(cpu)}) against GPU ({describe(gpu)})", rows)
    return 0


def number(result: dict | None, field: str) -> str:
    if not result:
        return "—"
    if result.get(field) is None:
        return result.get("status", "—") if result.get("status") != "finished" else "?"
    return f"{result[field]:.3g}"


def mismatch(key: str, backend: str, cpu: dict, gpu: dict) -> str:
    if cpu.get("figure") is None or gpu.get("figure") is None:
        return f"{backend}: no figure to compare"
    off = abs(gpu["figure"] - cpu["figure"])
    return f"NO: {backend} off by {off:.3g}" if off > NOISE[key] else ""


def describe(report: dict) -> str:
    devices = ", ".join(f"{b}: {i.get('device', '?')}" for b, i in report["backends"].items()
                        if i)
    load = report["machine"]["load_before"][0]
    return f"{report['machine']['cpus']} cores, load average {load:.1f}, {devices}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny settings: a smoke pass")
    parser.add_argument("--only", help="families, comma-separated (default: all)")
    parser.add_argument("--backends", default="jax,torch", help="comma-separated")
    parser.add_argument("--budget", type=float, help="wall seconds for the whole run; "
                        "the families left when it is spent are skipped")
    parser.add_argument("--out", help="a JSON file, rewritten after each family")
    parser.add_argument("--compare", nargs=2, metavar=("CPU.json", "GPU.json"),
                        help="print the side-by-side table of two runs and stop")
    args = parser.parse_args()
    if args.compare:
        return compare(*args.compare)
    return measure(args)


if __name__ == "__main__":
    sys.exit(main())
