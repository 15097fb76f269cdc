"""What the benchmark scripts share: the project on the path, a scratch home (so a run
never touches the person's settings and autosaves), offscreen Qt, and markdown tables.

Import it before anything from nets/ or app/.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
SCRATCH = Path(tempfile.mkdtemp(prefix="dle-bench-"))
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
