"""How much the app prints to the terminal during a session of use: a workshop helper
reads that terminal, and nothing in it should look like trouble when there is none.

Starts the whole app (main window, every tab) in a child process, uses every tab the way
a person would for a few minutes (trains each with its defaults for a while, stops, opens
its shipped model where there is one, draws, drags and watches where the tab has that),
and counts the lines that reach stdout and stderr, by kind. Also runs `--selftest`.

    python benchmarks/terminal_noise.py              # about 5 minutes on 2 cores
    python benchmarks/terminal_noise.py --seconds 5  # a quick pass
"""
from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import textwrap

from common import ROOT, SCRATCH  # first: sets up the environment

SESSION = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    import numpy as np
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest
    from app.main_window import MainWindow, make_application
    from app.widgets.canvas import DrawingCanvas

    SECONDS = {seconds}
    app = make_application([])
    window = MainWindow()
    window.resize(1400, 860)
    window.show()

    def wait(condition, limit):
        t0 = time.monotonic()
        while not condition() and time.monotonic() - t0 < limit:
            app.processEvents()
            time.sleep(0.01)

    def use(tab):
        panel = tab.panel
        window.tab_widget.setCurrentWidget(tab)
        if panel.dataset_combo.findData("mnist-5k") >= 0:
            panel.select_dataset("mnist-5k")
        for i in range(panel.views.count()):  # every view is shown while it trains
            panel.views.setCurrentIndex(i)
            wait(lambda: False, 0.2)
        panel.start()
        wait(lambda: not panel.is_running(), SECONDS)
        panel.stop()
        wait(lambda: not panel.is_running(), 120)
        for canvas in tab.findChildren(DrawingCanvas):  # draw a stroke, as with a mouse
            window.tab_widget.setCurrentWidget(tab)
            QTest.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(140, 60))
            for t in np.linspace(0, 1, 30):
                QTest.mouseMove(canvas, QPoint(140 + int(60 * np.sin(6 * t)), 60 + int(160 * t)))
                app.processEvents()
            QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(140, 220))
            wait(lambda: False, 0.5)
        if panel.pretrained_button is not None:
            for action in panel.pretrained_button.menu().actions():
                panel.load_pretrained(action.data())
        for i in range(panel.views.count()):
            panel.views.setCurrentIndex(i)
            wait(lambda: False, 0.3)
        print("used", type(tab).__name__, flush=True)

    wait(lambda: bool(window.tabs), 120)
    for tab in window.tabs:
        use(tab)
    window.close()
    wait(lambda: False, 1)
    print("session over", flush=True)
""")

NOISE_KINDS = [
    ("TensorFlow native log (I/W/E0000 ...)", re.compile(r"^[IWEF]\d{4} ")),
    ("numpy / Python warning", re.compile(r"Warning:|warnings\.warn")),
    ("Qt message", re.compile(r"^(qt\.|QObject|QPainter|This plugin|QWidget)")),
    ("traceback", re.compile(r"^Traceback|^\s+File \"")),
]


def classify(lines: list[str]) -> collections.Counter:
    kinds = collections.Counter()
    for line in lines:
        kind = next((name for name, pattern in NOISE_KINDS if pattern.search(line)),
                    "other")
        kinds[kind] += 1
    return kinds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=90.0,
                        help="training time per tab at most (default 90: about 5 minutes in "
                             "all, as most runs end sooner)")
    args = parser.parse_args()
    env = {**os.environ, "XDG_CONFIG_HOME": str(SCRATCH / "config")}
    rows = []
    session = subprocess.run(
        [sys.executable, "-c", SESSION.format(root=str(ROOT), seconds=args.seconds)],
        env=env, capture_output=True, text=True, timeout=3600, cwd=SCRATCH)
    ours = re.compile(r"^(used |session over)")
    printed = [line for line in (session.stdout + session.stderr).splitlines()
               if line.strip() and not ours.match(line)]
    used = session.stdout.count("used ")
    rows.append(("using every tab", f"{used} tabs, {args.seconds:.0f} s of training each",
                 len(printed), classify(printed)))
    selftest = subprocess.run([sys.executable, str(ROOT / "main.py"), "--selftest"],
                              env=env, capture_output=True, text=True, timeout=600,
                              cwd=SCRATCH)
    report = re.compile(r"^(Deep Learning Explorer .* self-test|  \[ok\] |All \d+ checks)")
    extra = [line for line in (selftest.stdout + selftest.stderr).splitlines()
             if line.strip() and not report.match(line)]
    rows.append(("--selftest", f"exit status {selftest.returncode}", len(extra),
                 classify(extra)))
    print("| session | what | lines printed beyond the app's own | by kind |")
    print("|---|---|---|---|")
    for name, what, count, kinds in rows:
        by_kind = ", ".join(f"{k}: {v}" for k, v in kinds.most_common()) or "none"
        print(f"| {name} | {what} | {count} | {by_kind} |")
    for line in (printed + extra)[:40]:
        print("    " + line[:160])
    return 0 if session.returncode == 0 and selftest.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
