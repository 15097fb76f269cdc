"""A soak of live plot updates. PySide6 6.12.0 + pyqtgraph 0.14.0 on Python 3.11 dies with
`Fatal Python error: none_dealloc` (../shared/FACTS.md): each update of this loop gives up
~120 references to None (and ~9 to True) that it never took, until None's ~16,500 (after
these imports) run out, ~130 updates in; the "~16,000 repaints" first reported is most
likely that count of references. So the soak watches the cause as well as the crash:
the reference counts of None, True and False must not fall while the plot updates (6.11.3
adds a steady 8 to None's per update, a harmless miscount: nothing leaks). That catches
a net loss however slow, in far fewer updates than a crash needs. It runs in a child
process so that a crash fails the test rather than killing the whole test run. The
100,000-update memory soak is benchmarks/soak.py."""
import os
import subprocess
import sys

UPDATES = 5000
WARM_UP = 100  # first paints fill caches: references taken then are not a trend

SOAK = r"""
import sys
import numpy as np, pyqtgraph as pg
from PySide6 import QtWidgets
updates, warm_up = int(sys.argv[1]), int(sys.argv[2])
app = QtWidgets.QApplication([])
w = pg.PlotWidget(); w.resize(300, 200); w.show()
curve = w.plot()
x = np.arange(200, dtype=float)
for i in range(updates):
    curve.setData(x, np.sin(x / 10 + i / 50))
    app.processEvents()
    if i + 1 == warm_up:
        before = [sys.getrefcount(v) for v in (None, True, False)]
after = [sys.getrefcount(v) for v in (None, True, False)]
print("survived", i + 1)
print("references lost", *(b - a for b, a in zip(before, after)))
"""


def test_live_plot_updates_neither_crash_nor_give_up_references_to_none():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    r = subprocess.run([sys.executable, "-c", SOAK, str(UPDATES), str(WARM_UP)], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"survived {UPDATES}" in r.stdout
    lost = [int(n) for n in r.stdout.split("references lost")[1].split()]
    # a net loss of one reference per 50 updates would show as 98; chance moves a few
    assert all(n < 50 for n in lost), f"references to None, True, False lost: {lost}"
