"""What the benchmark scripts share: the project on the path, a scratch home (so a run
never touches the person's settings and autosaves), offscreen Qt, and markdown tables.

Import it before anything from nets/ or app/.
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # a run on another: set it
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
SCRATCH = Path(tempfile.mkdtemp(prefix="dle-bench-"))
atexit.register(shutil.rmtree, SCRATCH, ignore_errors=True)  # autosaves of the runs
os.environ["DLE_HOME"] = str(SCRATCH / "home")
RESULTS = ROOT / "benchmarks" / "results"


class Tables:
    """Named tables of rows (dicts), printed as markdown as they come, written at the end."""

    def __init__(self):
        self.tables: dict[str, list[dict]] = {}
        self.text = ""

    def add(self, name: str, rows: list[dict]) -> None:
        self.tables[name] = rows
        keys = list(rows[0])
        lines = [f"### {name}", "", "| " + " | ".join(keys) + " |",
                 "|" + "---|" * len(keys)]
        lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
        text = "\n".join(lines) + "\n\n"
        print(text, flush=True)
        self.text += text

    def write(self, out, stem: str) -> None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{stem}.md").write_text(self.text)
        (out / f"{stem}.json").write_text(json.dumps(self.tables, indent=1))


def config_with(config_cls, settings: list[str], base: dict | None = None):
    """A family's Config from `--set key=value` options over `base` (else the defaults);
    an unknown or bad setting stops the script in words."""
    from nets.config import from_dict

    values = dict(base or {})
    for item in settings:
        key, _, value = item.partition("=")
        values[key.strip()] = value.strip()
    unknown = set(values) - {f for f in config_cls.__dataclass_fields__}
    if unknown:
        raise SystemExit(f"Unknown settings: {', '.join(sorted(unknown))}")
    return from_dict(config_cls, values, strict=True)


def launch_times(**env_extra) -> tuple[float, float]:
    """Seconds from starting the app to its window showing, and to its backend being
    ready with every tab built (main.py's DLE_STARTUP_PROBE prints both, then quits)."""
    import subprocess

    env = {**os.environ, "DLE_STARTUP_PROBE": "1",
           "XDG_CONFIG_HOME": str(SCRATCH / "config"), **env_extra}
    t0 = time.time()
    out = subprocess.run([sys.executable, str(ROOT / "main.py")], env=env,
                         capture_output=True, text=True, timeout=300).stdout
    stamps = dict(line.split() for line in out.splitlines()
                  if line.startswith(("window_visible", "backend_ready")))
    return float(stamps["window_visible"]) - t0, float(stamps["backend_ready"]) - t0


def percentile(values, q: float) -> float:
    """The q-th percentile by nearest rank (values need not be sorted)."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


class LagProbe:
    """How late the GUI's event loop runs a 10 ms timer while something else works: a
    person feels p99 above ~50 ms as a stutter. Create, start(), work, stop(); the first
    `settle_s` seconds after start() are not counted (start-up)."""

    def __init__(self, settle_s: float = 0.0):
        from PySide6.QtCore import QTimer

        self.settle_s, self.lags = settle_s, []
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._beat)

    def start(self) -> None:
        self.t_start = self.t_last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _beat(self) -> None:
        now = time.perf_counter()
        if now - self.t_start > self.settle_s:
            self.lags.append(max(0.0, now - self.t_last - 0.010))
        self.t_last = now

    def ms(self, q: float) -> float:
        return round(1000 * percentile(self.lags, q), 1) if self.lags else float("nan")
