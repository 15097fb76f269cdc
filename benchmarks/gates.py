"""What the "Why gates" tab teaches, measured over seeds (held-out figures on fresh
sequences a net never trained on):

1. held-out accuracy of each cell at each sequence length, mean and spread over seeds,
   with each seed's figure, and how many of the seeds solved it (99% of the check set);
2. the steps and seconds each pair took (a pair moves on once solved);
3. how much of the gradient at the end reaches the first step, ||dLoss/dh_1|| /
   ||dLoss/dh_T||, untrained and trained, at each length (geometric mean over seeds).

    .venv/bin/python benchmarks/gates.py                  # 3 seeds, the tab's defaults
    .venv/bin/python benchmarks/gates.py --seeds 0,1,2,3,4 --set lengths=50,100,150
    .venv/bin/python benchmarks/gates.py --set task=adding

Prints markdown tables; --out also writes them (md and json) to a folder.
"""
from __future__ import annotations

import argparse
import time

import common  # noqa: F401  (the project on the path, a scratch home)
import numpy as np


def run_seeds(config, seeds: list[int]) -> tuple[list[dict], list[dict], list[float]]:
    import keras

    from nets import runner
    from nets.progress import ListReporter

    results, gradients, seconds = [], [], []
    for seed in seeds:
        t0 = time.monotonic()
        done = runner.execute(runner.RunRequest("gates", config, "", seed, autosave=False),
                              ListReporter())
        seconds.append(time.monotonic() - t0)
        assert done.status == "finished", done.message + done.detail
        results += [{**r, "seed": seed} for r in done.result.meta["results"]]
        gradients += [{**g, "seed": seed} for g in done.result.meta["gradients"]]
        print(f"seed {seed}: {seconds[-1]:.0f} s. {done.headline}", flush=True)
        keras.backend.clear_session()
    return results, gradients, seconds


def accuracy_table(results: list[dict], cells: list[str], lengths: list[int]) -> list[dict]:
    from nets.families.gates.model import CELLS

    rows = []
    for cell in cells:
        row = {"cell": CELLS[cell]}
        for n in lengths:
            acc = np.array([r["accuracy"] for r in results
                            if r["cell"] == cell and r["length"] == n])
            solved = sum(1 for r in results if r["cell"] == cell and r["length"] == n
                         and r["solved"])
            row[f"T={n}"] = (f"{acc.mean():.0%} ± {acc.std():.0%} "
                             f"({', '.join(f'{a:.0%}' for a in acc)}; solved {solved}/"
                             f"{len(acc)})")
        rows.append(row)
    return rows


def cost_table(results: list[dict], cells: list[str], lengths: list[int]) -> list[dict]:
    from nets.families.gates.model import CELLS

    rows = []
    for cell in cells:
        row = {"cell": CELLS[cell]}
        for n in lengths:
            mine = [r for r in results if r["cell"] == cell and r["length"] == n]
            row[f"T={n}"] = (f"{np.mean([r['steps'] for r in mine]):,.0f} steps, "
                             f"{np.mean([r['seconds'] for r in mine]):.1f} s")
        rows.append(row)
    return rows


def gradient_table(gradients: list[dict], cells: list[str],
                   lengths: list[int]) -> list[dict]:
    from nets.families.gates.model import CELLS

    rows = []
    for cell in cells:
        for phase in ("start", "end"):
            row = {"cell": CELLS[cell], "when": "untrained" if phase == "start"
                   else "trained"}
            for n in lengths:
                ratios = [max(g[phase][0], 1e-38) / max(g[phase][-1], 1e-38)
                          for g in gradients if g["cell"] == cell and g["length"] == n]
                ratio = np.exp(np.mean(np.log(ratios)))
                # below float32's smallest normal number the gradient has underflowed
                row[f"T={n}"] = f"{ratio:.2g}" if ratio > 1e-36 else "< 1e-36"
            rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a setting other than the tab's default (repeatable)")
    parser.add_argument("--out", default=str(common.RESULTS),
                        help="where the tables are written (md and json)")
    args = parser.parse_args()
    from nets import backend
    from nets.families import gates

    info = backend.start()
    config = common.config_with(gates.Config, args.set)
    seeds = [int(s) for s in args.seeds.split(",")]
    cells, lengths = gates.parse_cells(config), gates.parse_lengths(config)
    results, gradients, seconds = run_seeds(config, seeds)
    task = gates.task_of(config)
    what = (f"{task.title}, {config.units} units, up to {config.steps:,} steps of "
            f"{config.batch_size} fresh sequences, Adam {config.learning_rate:g} (plain "
            f"RNN {config.rnn_learning_rate:g}), "
            f"{len(seeds)} seeds ({', '.join(map(str, seeds))}), {backend.describe(info)}")
    tables = common.Tables()
    tables.add(f"Held-out accuracy on {gates.TEST_SIZE} fresh sequences by cell and "
               f"sequence length: {what}; chance {task.chance:.1%}",
               accuracy_table(results, cells, lengths))
    tables.add(f"Steps and seconds per pair (mean over seeds; whole sweep "
               f"{np.mean(seconds):.0f} s a seed)", cost_table(results, cells, lengths))
    tables.add("How much of the gradient at the last step reaches the first, "
               "||dLoss/dh_1|| / ||dLoss/dh_T|| (geometric mean over seeds; the flag or "
               "first mark at step 1)", gradient_table(gradients, cells, lengths))
    if args.out:
        tables.write(args.out, "gates" if not args.set else "gates-" + "-".join(
            s.replace("=", "_").replace(",", "_").replace(" ", "") for s in args.set))


if __name__ == "__main__":
    main()
