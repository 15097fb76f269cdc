"""Does the CNN read what people draw? The default convnet, trained as the app trains it,
scored on digits drawn in other styles than MNIST's.

The check set (nets/digit_styles.py) is made in code and never trained on: strokes as a
mouse draws them, very thick and very thin pens, small digits in a corner, strongly
slanted ones, blocky pixel digits and typed digits in fonts, each reduced by
nets.images.mnist_style as the Draw view reduces a drawing. Training is the app's own path
(nets.runner.execute with the family's default Config) on the bundled digits, one run per
seed; held-out MNIST is the 1,000 bundled digits kept out of training.

    python benchmarks/drawing_styles.py                  # 3 seeds, about 4 minutes here
    python benchmarks/drawing_styles.py --no-augment     # the same without augmentation
    python benchmarks/drawing_styles.py --seeds 2 --epochs 3 --per-digit 5   # a smoke pass
"""
from __future__ import annotations

import argparse
import dataclasses
import time

from common import RESULTS, Tables  # first: sets up the environment

import numpy as np

from nets import data, runner
from nets.families import cnn
from nets import digit_styles as styles
from nets.progress import EpochMetrics, ListReporter

TABLES = Tables()


class TimedReporter(ListReporter):
    """Notes when each epoch ends, for seconds per epoch."""

    def __init__(self):
        super().__init__()
        self.epoch_ends: list[float] = []

    def emit(self, event) -> None:
        if isinstance(event, EpochMetrics):
            self.epoch_ends.append(time.perf_counter())
        super().emit(event)


def train_one(config: cnn.Config, seed: int):
    rep = TimedReporter()
    t0 = time.perf_counter()
    done = runner.execute(runner.RunRequest("cnn", config, "mnist-5k", seed=seed,
                                            autosave=False), rep)
    if done.status != "finished":
        raise SystemExit(f"Training failed: {done.message}\n{done.detail}")
    ends = rep.epoch_ends
    # the first epoch includes building and compiling; the rest is the steady pace
    steady = float(np.median(np.diff(ends))) if len(ends) > 1 else float("nan")
    return done.result.model, steady, done.result.fit_seconds, time.perf_counter() - t0


def pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="training runs (seeds 0..n-1)")
    parser.add_argument("--epochs", type=int, help="override the default epochs")
    parser.add_argument("--per-digit", type=int, default=30,
                        help="drawings of each digit per style (hand-drawn: twice that)")
    parser.add_argument("--check-seed", type=int, default=0, help="seed of the check set")
    parser.add_argument("--no-augment", action="store_true",
                        help="train with augment=False, for comparison")
    parser.add_argument("--pillow-font-only", action="store_true",
                        help="use only the font that ships inside Pillow")
    parser.add_argument("--out", default=str(RESULTS), help="folder for the tables")
    args = parser.parse_args()

    config = cnn.Config()
    if args.epochs:
        config = dataclasses.replace(config, epochs=args.epochs)
    if args.no_augment:
        config = dataclasses.replace(config, augment=False)
    t0 = time.perf_counter()
    check = styles.make_check_set(per_digit=args.per_digit, seed=args.check_seed,
                                  use_system_fonts=not args.pillow_font_only)
    print(f"Check set: {len(check)} digits in {time.perf_counter() - t0:.1f} s; fonts: "
          f"{', '.join(check.fonts)}", flush=True)
    print("Config: " + ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(config).items()),
          flush=True)
    ds = data.load("mnist-5k")

    columns, by_source, pace = {}, {}, []
    for seed in range(args.seeds):
        model, steady, fit_s, total_s = train_one(config, seed)
        guesses = cnn.predict(model, check.images[..., None]).argmax(1)
        mnist = float((cnn.predict(model, ds.x_val).argmax(1) == ds.y_val).mean())
        columns[seed] = {**{s: a for s, (a, _) in styles.accuracy_by(check, guesses).items()},
                         "MNIST held-out": mnist}
        by_source[seed] = {s: a for s, (a, _) in
                           styles.accuracy_by(check, guesses, "sources").items()}
        pace.append((steady, fit_s / config.epochs))
        print(f"seed {seed}: trained in {total_s:.0f} s, MNIST held-out {pct(mnist)}, "
              f"hand-drawn {pct(columns[seed]['hand-drawn'])}, "
              f"font {pct(columns[seed]['font'])}", flush=True)

    counts = {s: n for s, (_, n) in styles.accuracy_by(check, check.labels).items()}
    counts["MNIST held-out"] = len(ds.y_val)
    rows = []
    for name in [*dict.fromkeys(check.styles.tolist()), "MNIST held-out"]:
        vals = [columns[s][name] for s in columns]
        rows.append({"style": name, "digits": counts[name],
                     **{f"seed {s}": pct(v) for s, v in zip(columns, vals)},
                     "mean": pct(float(np.mean(vals))), "worst": pct(float(np.min(vals)))})
    rows.append({"style": "seconds per epoch (steady; mean incl. first)", "digits": "",
                 **{f"seed {s}": f"{p[0]:.2f} ({p[1]:.2f})" for s, p in zip(columns, pace)},
                 "mean": f"{np.mean([p[0] for p in pace]):.2f} "
                         f"({np.mean([p[1] for p in pace]):.2f})", "worst": ""})
    TABLES.add(f"Accuracy by drawing style: default CNN (augment={config.augment}, "
               f"{config.epochs} epochs) on the bundled digits, {args.seeds} seeds", rows)

    TABLES.add("What each style is", [{"style": k, "drawn as": v}
                                      for k, v in styles.STYLE_HELP.items()])
    font_rows = []
    for name in check.fonts:
        vals = [by_source[s][name] for s in by_source]
        font_rows.append({"font": name, "digits": int((check.sources == name).sum()),
                          "mean": pct(float(np.mean(vals))), "worst": pct(float(np.min(vals)))})
    if font_rows:
        TABLES.add("Typed digits by font", font_rows)
    TABLES.write(args.out, "drawing_styles")


if __name__ == "__main__":
    main()
