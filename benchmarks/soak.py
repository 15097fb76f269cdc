"""A soak: does the app's memory stay flat over a long session?

1. 100,000 live-plot updates (the panel's loss plot, cleared every 2,000 points as when a
   new run starts), resident memory sampled as it goes.
2. Twenty minutes of training with every live view on: the convnet tab (loss plot, epoch
   plots, filters, an autosave each epoch) and the deep Q-learning tab on CartPole (game
   screen, Q-values, curves) at the same time, in one process, as a person would leave it.

Growth is measured from the end of a warm-up (the first 10% of each part: TensorFlow's
graphs, caches, the replay memory filling) to the end; the target is at most 10%.

    python benchmarks/soak.py                        # about 22 minutes
    python benchmarks/soak.py --minutes 2 --updates 10000

Linux only (it reads /proc/self/status).
"""
from __future__ import annotations

import argparse
import sys
import time

from common import RESULTS, Tables  # first: sets up the environment

TABLES = Tables()


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def growth_row(name: str, samples: list[tuple[float, float]], work: str,
               warm_fraction=0.1) -> dict:
    """samples: (progress 0..1, MB). Growth from the first sample after warm-up to the end."""
    after = [mb for p, mb in samples if p >= warm_fraction]
    start, end, peak = after[0], after[-1], max(after)
    return {"part": name, "work done": work, "MB after warm-up": round(start),
            "MB at the end": round(end), "MB peak": round(peak),
            "growth % (target <= 10)": round(100 * (end - start) / start, 1)}


def soak_plot(app, updates: int) -> dict:
    import numpy as np

    from app.widgets.plots import BatchLossPlot

    plot = BatchLossPlot()
    plot.resize(600, 300)
    plot.show()
    rng = np.random.default_rng(0)
    samples = []
    t0 = time.perf_counter()
    for i in range(updates):
        if i % 2000 == 0:
            plot.clear_data()
        plot.add(i, float(np.exp(-(i % 2000) / 500) + 0.05 * rng.standard_normal()))
        plot.refresh()
        app.processEvents()
        if i % 2500 == 0 or i == updates - 1:
            samples.append((i / updates, rss_mb()))
    seconds = time.perf_counter() - t0
    plot.close()
    row = growth_row("live loss-plot updates", samples,
                     f"{updates:,} updates in {seconds:.0f} s")
    print(row, flush=True)
    return row


def soak_training(app, minutes: float) -> dict:
    from app.tabs.cnn import CNNTab
    from app.tabs.dqn import DQNTab

    cnn, dqn = CNNTab(), DQNTab()
    for tab in (cnn, dqn):
        tab.resize(1400, 860)
        tab.show()
    cnn.panel.form.editors["epochs"].setValue(100_000)
    cnn.panel.select_dataset("mnist-5k")
    cnn.panel.views.setCurrentWidget(cnn.filters)
    form = dqn.panel.form
    form.set_values({**form.values(), "game": "CartPole-v1", "total_steps": 50_000_000})
    cnn.panel.start()
    dqn.panel.start()
    samples = []
    seconds = 60 * minutes
    t0 = time.perf_counter()
    next_sample = t0
    while (now := time.perf_counter()) - t0 < seconds:
        app.processEvents()
        time.sleep(0.002)
        if now >= next_sample:
            samples.append(((now - t0) / seconds, rss_mb()))
            next_sample = now + 5
        if not (cnn.panel.is_running() and dqn.panel.is_running()):
            raise RuntimeError("a run ended early: " + cnn.panel.log.toPlainText()[-500:]
                               + dqn.panel.log.toPlainText()[-500:])
    samples.append((1.0, rss_mb()))
    for tab in (cnn, dqn):
        tab.shutdown()
    while cnn.panel.is_running() or dqn.panel.is_running():
        app.processEvents()
        time.sleep(0.01)
    row = growth_row(f"{minutes:g} min training, CNN and DQN tabs at once, live views on",
                     samples, f"CNN: {cnn.panel.loss_plot.steps.n:,} batches plotted; DQN: "
                              f"{len(dqn.curves.returns):,} episodes")
    print(row, flush=True)
    for tab in (cnn, dqn):
        tab.close()
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=100_000)
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    from app.main_window import make_application

    app = make_application([])
    rows = [soak_plot(app, args.updates), soak_training(app, args.minutes)]
    TABLES.add("Soak: resident memory over a long session", rows)
    TABLES.write(args.out, "soak")
    return 0 if all(r["growth % (target <= 10)"] <= 10 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
