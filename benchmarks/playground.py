"""The neurons playground's figures: the spiral with the default network (held-out accuracy,
and epochs and seconds to reach 90%), and the tab while it trains (decision-surface
redraws per second, GUI event-loop lag).

    .venv/bin/python benchmarks/playground.py [--seeds 3] [--gui-seconds 10]

Prints markdown tables and writes them to benchmarks/results/playground.md (and .json).
"""
from __future__ import annotations

import argparse
import statistics
import time

from common import RESULTS, LagProbe, Tables


def spiral_runs(seeds: int) -> list[dict]:
    from nets import runner
    from nets.families.neurons import Config
    from nets.progress import Artifact, ListReporter

    rows = []
    for seed in range(seeds):
        reporter = ListReporter()
        stamps = []  # (epoch, seconds since start) of each weights snapshot

        def emit(event, _orig=reporter.emit):
            _orig(event)
            if isinstance(event, Artifact) and event.name == "snapshot":
                stamps.append((event.value.epoch, time.perf_counter() - t0))

        reporter.emit = emit
        t0 = time.perf_counter()
        done = runner.execute(runner.RunRequest("neurons", Config(), "", seed=seed,
                                                autosave=False), reporter)
        history = done.result.history
        reached = next((i + 1 for i, m in enumerate(history) if m["val_accuracy"] >= 0.9),
                       None)
        at = next((s for e, s in stamps if reached and e >= reached), None)
        rows.append({"seed": seed, "held-out accuracy": f"{history[-1]['val_accuracy']:.1%}",
                     "training accuracy": f"{history[-1]['accuracy']:.1%}",
                     "epochs to 90% held-out": reached or "not reached",
                     "seconds to 90% held-out": f"{at:.1f}" if at else "—",
                     "seconds, whole run": f"{done.result.fit_seconds:.1f}",
                     "epochs": len(history)})
    return rows


def gui_run(seconds: float) -> dict:
    from app.main_window import make_application
    from app.tabs.neurons import NeuronsTab
    from nets import backend

    qapp = make_application([])
    backend.start()  # as the app does at start-up, before any run
    tab = NeuronsTab()
    tab.resize(1400, 860)
    tab.show()
    redraws = []
    original = tab.redraw

    def counted(*args, **kwargs):
        original(*args, **kwargs)
        if tab.panel.is_running():
            redraws.append(time.perf_counter())

    tab.redraw = counted
    tab.panel.events.disconnect(tab._on_events)  # reconnect to see the counted redraw
    tab.panel.events.connect(tab._on_events)
    probe = LagProbe(settle_s=3.0)  # not the run's first second: Keras compiles its step
    probe.start()
    tab.panel.start()
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end and tab.panel.is_running():
        qapp.processEvents()
        time.sleep(0.001)
    probe.stop()
    tab.panel.stop()
    while tab.panel.is_running():
        qapp.processEvents()
        time.sleep(0.01)
    later = [t for t in redraws if t - redraws[0] > 2.0] if redraws else []
    rate = (len(later) - 1) / (later[-1] - later[0]) if len(later) > 2 else 0.0
    lags = sorted(1000 * v for v in probe.lags)
    tab.shutdown()
    return {"surface redraws per second while training (target >= 20)": f"{rate:.1f}",
            "event-loop lag p50 ms": f"{statistics.median(lags):.1f}",
            "event-loop lag p99 ms (target <= 50)":
                f"{lags[min(len(lags) - 1, int(0.99 * len(lags)))]:.1f}",
            "seconds measured": f"{seconds:.0f}"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--gui-seconds", type=float, default=10.0)
    args = parser.parse_args()
    tables = Tables()
    tables.add("Spiral, default network (4 x 8 ReLU, inputs x and y, SGD 0.03, batch 10, "
               "600 epochs; 250 points trained, 250 held out)", spiral_runs(args.seeds))
    tables.add("The tab while it trains the default network", [gui_run(args.gui_seconds)])
    tables.write(RESULTS, "playground")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
