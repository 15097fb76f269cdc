"""Measure deep Q-learning: CartPole learning (steps and time until the 20-episode average
return reaches 475, several seeds), Pong agent steps per second on this machine with 1, 2
and 4 games at once, and the GUI while it trains (event-loop lag, steps per second with
the live view on and off).

    python benchmarks/dqn.py            # about 20 minutes on 2 cores
    python benchmarks/dqn.py --only pong   # the games at once: about 8 minutes
    python benchmarks/dqn.py --quick    # a smoke pass
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time

from common import RESULTS, LagProbe, Tables  # first: sets up the environment

import numpy as np

from nets import runner
from nets.families import dqn
from nets.progress import Artifact, Controls, ListReporter

TABLES = Tables()


class StopAtTarget(ListReporter):
    """Stops the run once the average return of the last 20 episodes reaches the target."""

    def __init__(self, target: float):
        super().__init__(Controls())
        self.target, self.returns, self.solved_at = target, [], None
        self.t0 = time.perf_counter()

    def emit(self, event):
        if isinstance(event, Artifact) and event.name == "episode":
            self.returns.append(event.value["return"])
            if len(self.returns) >= 20 and np.mean(self.returns[-20:]) >= self.target \
                    and self.solved_at is None:
                self.solved_at = (event.value["step"], time.perf_counter() - self.t0)
                self.controls.stop()
        elif isinstance(event, Artifact):
            return  # screens and Q-values are not needed here
        super().emit(event)


def bench_cartpole(quick: bool) -> None:
    rows = []
    cfg = dqn.Config(total_steps=5_000 if quick else 100_000)
    for seed in ((0,) if quick else (0, 1, 2)):
        rep = StopAtTarget(475.0)
        done = runner.execute(runner.RunRequest("dqn", cfg, "", seed, autosave=False), rep)
        solved = rep.solved_at
        rows.append({"seed": seed, "reached 475": "yes" if solved else "no",
                     "steps": f"{solved[0]:,}" if solved else f"> {cfg.total_steps:,}",
                     "seconds": round(solved[1]) if solved else round(
                         time.perf_counter() - rep.t0),
                     "best 20-episode average": round(max(
                         np.convolve(rep.returns, np.ones(20) / 20, "valid"), default=0), 1),
                     "status": done.status})
    TABLES.add("CartPole-v1: steps until the average return of 20 episodes reaches 475 "
               "(default settings, training episodes with exploration)", rows)


def steps_per_second(cfg, seconds: float, live: bool = False, learning: bool = True) -> float:
    """Agent steps per second over `seconds` of one phase, learning or the warm-up before
    it (play that only fills the replay memory), measured from the stats events."""
    controls = Controls()
    stats = []

    class Rep(ListReporter):
        def emit(self, event):
            if isinstance(event, Artifact) and event.name == "display":
                event.value.live = live
            if isinstance(event, Artifact) and event.name == "stats" and \
                    event.value["learning"] == learning:
                stats.append((time.perf_counter(), event.value["step"]))
                if stats[-1][0] - stats[0][0] > seconds:
                    controls.stop()

    runner.execute(runner.RunRequest("dqn", cfg, "", autosave=False), Rep(controls))
    (t0, s0), (t1, s1) = stats[5], stats[-1]  # past the first half second
    return (s1 - s0) / (t1 - t0)


def bench_pong_speed(quick: bool) -> None:
    """Pong with 1, 2, 4 games at once, played in this process or each in a worker process
    (the app chooses processes from many.PROCESSES_FROM cores): agent steps/s while the
    memory fills (the default schedule's play, mostly random) and while learning late in a
    run (epsilon 0.01: nearly every action asks the network), at the same pace of one
    gradient step per 4 agent steps."""
    from nets.families.dqn import many

    rows, base = [], None
    seconds = 10 if quick else 40
    chosen = many.PROCESSES_FROM
    for envs, where in ([(1, "here"), (2, "here"), (2, "processes")] if quick else
                        [(1, "here"), (2, "here"), (2, "processes"), (4, "here"),
                         (4, "processes")]):
        many.PROCESSES_FROM = 1 if where == "processes" else 10**6
        cfg = dataclasses.replace(dqn.settings_for("Pong"), envs=envs,
                                  replay_capacity=20_000, total_steps=10**6)
        warm = steps_per_second(dataclasses.replace(cfg, learning_starts=10**6),
                                seconds, learning=False)
        learning = steps_per_second(dataclasses.replace(
            cfg, learning_starts=2_000, epsilon_start=0.01), seconds)
        base = base or (warm, learning)
        rows.append({"games at once": envs,
                     "played": "in worker processes" if where == "processes" else
                     "in the training process",
                     "agent steps/s, warm-up": round(warm),
                     "vs 1 game": f"{warm / base[0]:.2f}x",
                     "agent steps/s, learning": round(learning, 1),
                     "vs 1 game ": f"{learning / base[1]:.2f}x",
                     "hours for 10M steps": round(1e7 / learning / 3600)})
    many.PROCESSES_FROM = chosen
    TABLES.add(f"Pong training speed on this machine ({os.cpu_count()} cores; no live view; "
               "Nature DQN, minibatch 32, a gradient step every 4 agent steps; `--envs N`)",
               rows)


def bench_gui(quick: bool, seconds: float | None = None, rounds: int = 1) -> list[dict]:
    """The tab training Pong in-process: GUI event-loop lag and steps/s, live view on/off,
    alternated for `rounds` rounds (the median of each is reported, so that a machine
    slowing down or speeding up mid-run does not favour one side)."""
    from PySide6.QtWidgets import QApplication

    from app.tabs.dqn import DQNTab

    app = QApplication.instance() or QApplication([])
    seconds = seconds or (10 if quick else 40)
    runs = {True: [], False: []}
    order = [live for r in range(rounds) for live in ((True, False) if r % 2 == 0
                                                     else (False, True))]  # on off off on
    for live in order:
        tab = DQNTab()
        tab.resize(1400, 850)
        tab.show()
        form = tab.panel.form
        form.set_values({**form.values(), "game": "Pong", "total_steps": 10**6,
                         "learning_starts": 100 if quick else 500, "replay_capacity": 20_000,
                         "batch_size": 32, "train_every": 4})
        tab.play.live.setChecked(live)
        stats = []
        tab.panel.events.connect(lambda batch: stats.extend(
            (time.perf_counter(), e.value["step"]) for e in batch
            if isinstance(e, Artifact) and e.name == "stats" and e.value["learning"]))
        settle = 4 if quick else 15  # TF start-up and the warm-up first
        probe = LagProbe(settle_s=settle)
        tab.panel.start()
        probe.start()
        t_end = time.perf_counter() + settle + seconds
        while time.perf_counter() < t_end:
            app.processEvents()
            time.sleep(0.001)
        probe.stop()
        tab.panel.stop()
        while tab.panel.is_running():
            app.processEvents()
            time.sleep(0.01)
        tab.shutdown()
        tab.deleteLater()
        learning = [p for p in stats if p[0] > stats[0][0] + (1 if quick else 5)] \
            if stats else []
        sps = ((learning[-1][1] - learning[0][1]) / (learning[-1][0] - learning[0][0])
               if len(learning) > 1 else float("nan"))
        runs[live].append((sps, probe.ms(50), probe.ms(99)))
    rows = []
    for live in (True, False):
        sps, p50, p99 = (round(statistics.median(v), 1) for v in zip(*runs[live]))
        rows.append({"live view": "on" if live else "off",
                     "agent steps/s": round(sps, 1), "event-loop lag p50 ms": p50,
                     "event-loop lag p99 ms (target <= 50)": p99})
    rows.append({"live view": "ratio on/off (target >= 0.9)",
                 "agent steps/s": round(rows[0]["agent steps/s"] / rows[1]["agent steps/s"],
                                        2), "event-loop lag p50 ms": "",
                 "event-loop lag p99 ms (target <= 50)": ""})
    TABLES.add("The tab training Pong in a thread: GUI responsiveness and speed", rows)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=("cartpole", "pong", "gui"))
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    benches = {"cartpole": bench_cartpole, "pong": bench_pong_speed, "gui": bench_gui}
    chosen = [benches[args.only]] if args.only else list(benches.values())
    for bench in chosen:
        bench(args.quick)
    TABLES.write(args.out, "dqn")
    return 0


if __name__ == "__main__":
    sys.exit(main())

