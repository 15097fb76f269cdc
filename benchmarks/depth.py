"""What the "Why deep nets stalled" tab teaches, measured on the 8x8 digits (held-out
figures never on training data):

1. each layer's gradient norm at initialisation (the tab's probe: 256 training digits),
   for sigmoid / tanh / ReLU units x small / Glorot weights, and Glorot without its x4 for
   sigmoid units (plain Glorot uniform), with the input layer first;
2. held-out accuracy, mean and spread over seeds, of the deep sigmoid net with no fix and
   with each one-click fix, after the same number of epochs (the defaults), and seconds.

    .venv/bin/python benchmarks/depth.py                   # 3 seeds, the tab's defaults
    .venv/bin/python benchmarks/depth.py --seeds 0,1,2,3,4 --set epochs=60

Prints markdown tables; --out also writes them (md and json) to a folder.
"""
from __future__ import annotations

import argparse
import time

import common  # noqa: F401  (the project on the path, a scratch home)
import numpy as np


def gradient_table(ds, base, seed: int) -> list[dict]:
    import dataclasses

    import keras

    from nets import runner
    from nets.families.depth import model as M

    rows = []
    cases = [(a, i) for a in ("sigmoid", "tanh", "relu") for i in ("small", "glorot")]
    cases.insert(2, ("sigmoid", "glorot x1"))
    for activation, init in cases:
        config = dataclasses.replace(base, activation=activation,
                                     init="glorot" if init.startswith("glorot") else init)
        runner.seed_everything(seed)
        saved = dict(M.GLOROT_GAIN)
        if init == "glorot x1":
            M.GLOROT_GAIN["sigmoid"] = 1.0
        try:
            model = M.build_model(config, ds.input_shape, ds.num_classes)
        finally:
            M.GLOROT_GAIN.update(saved)
        norms = M.GradientProbe(model, ds.x_train[:256], ds.y_train[:256]).norms()
        ratio = np.exp(np.mean(np.log(norms[1:] / norms[:-1])))
        rows.append({"units": activation, "weights": init,
                     **{name: f"{v:.2g}" for name, v in zip(M.layer_names(model), norms)},
                     "x per layer towards the output": f"{ratio:.2f}"})
        keras.backend.clear_session()
    return rows


def accuracy_table(base, seeds: list[int]) -> list[dict]:
    import keras

    from nets import runner
    from nets.families import depth
    from nets.progress import ListReporter

    rows = []
    for fix in depth.FIXES:
        config = depth.with_fix(base, fix)
        scores, seconds = [], []
        for seed in seeds:
            t0 = time.monotonic()
            done = runner.execute(runner.RunRequest("depth", config, "digits-8x8", seed,
                                                    autosave=False), ListReporter())
            seconds.append(time.monotonic() - t0)
            assert done.status == "finished", done.message
            scores.append(done.result.history[-1]["val_accuracy"])
            keras.backend.clear_session()
        s = np.array(scores)
        rows.append({"net": depth.variant_name(config),
                     "held-out accuracy": f"{s.mean():.1%} ± {s.std():.1%}",
                     "min .. max": f"{s.min():.1%} .. {s.max():.1%}",
                     "each seed": ", ".join(f"{v:.1%}" for v in s),
                     "seconds a run": f"{np.mean(seconds):.1f}"})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a setting other than the tab's default (repeatable)")
    parser.add_argument("--out", default=str(common.RESULTS),
                        help="where the tables are written (md and json)")
    args = parser.parse_args()
    from nets import backend, data

    backend.start()
    from nets.families import depth

    base = common.config_with(depth.Config, args.set)
    seeds = [int(s) for s in args.seeds.split(",")]
    ds = data.load("digits-8x8")
    tables = common.Tables()
    tables.add(f"Gradient norm of each layer at initialisation "
               f"({base.hidden_layers}x{base.width}, 8x8 digits, seed {seeds[0]})",
               gradient_table(ds, base, seeds[0]))
    tables.add(f"Held-out accuracy after {base.epochs} epochs of plain SGD (learning rate "
               f"{base.learning_rate:g}, batch {base.batch_size}; pretraining: "
               f"{base.pretrain_epochs} more epochs a layer first), {len(seeds)} seeds, "
               f"{len(ds.y_val)} held-out digits",
               accuracy_table(base, seeds))
    if args.out:
        tables.write(args.out, "depth")


if __name__ == "__main__":
    main()
