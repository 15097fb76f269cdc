"""A soak of live plot updates: PySide6 6.12.0 + pyqtgraph 0.14.0 on Python 3.11 died with
`Fatal Python error: none_dealloc` after ~16,000 repaints (../shared/FACTS.md). The pinned
PySide6 range must survive 30,000. Run in a child process so a crash fails the test rather
than killing the whole test run."""
import os
import subprocess
import sys

SOAK = r"""
import numpy as np, pyqtgraph as pg
from PySide6 import QtWidgets
app = QtWidgets.QApplication([])
w = pg.PlotWidget(); w.resize(300, 200); w.show()
curve = w.plot()
x = np.arange(200, dtype=float)
for i in range(30000):
    curve.setData(x, np.sin(x / 10 + i / 50))
    app.processEvents()
print("survived", i + 1)
"""


def test_thirty_thousand_live_plot_updates_do_not_crash():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    r = subprocess.run([sys.executable, "-c", SOAK], env=env, capture_output=True, text=True,
                       timeout=400)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "survived 30000" in r.stdout
