"""DRAW's figures on the bundled digits, beside the VAE tab's: held-out minus ELBO (nats per
digit, on the 1,000 held-out digits, never training data) with and without attention, and
seconds per epoch, on the CPU.

1. Binarised digits (each pixel 0 or 1 at 0.5; the family's default, the paper's kind of
   data): DRAW with attention and without (the family's defaults otherwise), and the VAE
   tab's default model (dense, 2-D latent, 30 epochs) trained on the same binarised
   digits, and the same with a 20-D latent. References, full binarised MNIST: Gregor et al. 2015, <= 80.97 nats with
   attention (T = 64); a student reproduction at T = 10, 30 epochs: 93.8 without
   attention, 105.5 with, 102.9 for a plain VAE.
2. Grey digits (the grey values as probabilities, what the VAE tab trains on): DRAW with
   and without attention beside the VAE family's own run, the figure benchmarks/RESULTS.md
   gives as 171.4 (dense, 2-D latent, 30 epochs). Grey pixels never reach zero
   cross-entropy, so these figures are not likelihoods of binary images; compare them
   only with each other.

The held-out figure is the mean of --passes evaluations (each a fresh sample of every z_t),
so that one noisy sample does not decide it. Seconds per epoch: the median epoch after the
first (which compiles), as the app trains (its live views included).

    .venv/bin/python benchmarks/draw.py                  # both tables (~15 min on 2 cores)
    .venv/bin/python benchmarks/draw.py --tables 1       # binarised only
    .venv/bin/python benchmarks/draw.py --quick          # a smoke pass: 1 epoch, tiny nets
    .venv/bin/python benchmarks/draw.py --set epochs=40 --set units=256

Prints markdown tables and writes them to benchmarks/results/draw.md (and .json); --out ''
writes nothing.
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import common  # noqa: F401  (the project on the path, a scratch home)
import numpy as np

VAE_RESULTS_FIGURE = 171.4  # benchmarks/RESULTS.md: dense, 2-D latent, 30 epochs, grey


class Stamps:
    """A ListReporter that keeps the seconds of each epoch."""

    def __init__(self):
        from nets.progress import ListReporter

        self.inner = ListReporter()
        self.controls = self.inner.controls
        self.seconds: list[float] = []

    def emit(self, event) -> None:
        from nets.progress import EpochMetrics

        self.inner.emit(event)
        if isinstance(event, EpochMetrics) and event.seconds:
            self.seconds.append(event.seconds)


def pace(seconds: list[float]) -> float:
    later = seconds[1:] or seconds
    return statistics.median(later) if later else float("nan")


def held_out(model, x: np.ndarray, passes: int) -> dict[str, float]:
    from nets.families import draw

    runs = [draw.elbo_terms(model, x) for _ in range(passes)]
    return {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}


def run_draw(config, seed: int, passes: int) -> dict:
    from nets import data, runner
    from nets.families import draw

    reporter = Stamps()
    t0 = time.perf_counter()
    done = runner.execute(runner.RunRequest("draw", config, "mnist-5k", seed,
                                            autosave=False), reporter)
    wall = time.perf_counter() - t0
    if done.status != "finished":
        raise RuntimeError(f"DRAW {config}: {done.status}: {done.message}\n"
                           f"{done.detail[-2000:]}")
    x_val = draw.pixels_of(data.load("mnist-5k").x_val, config.pixels)
    return {**held_out(done.result.model, x_val, passes), "pace": pace(reporter.seconds),
            "wall": wall}


def run_vae_family(seed: int, epochs: int | None) -> dict:
    """The VAE tab's own run (grey pixels): its default config, through the family."""
    from nets import data, runner
    from nets.families import vae

    config = vae.Config() if epochs is None else vae.Config(epochs=epochs)
    reporter = Stamps()
    t0 = time.perf_counter()
    done = runner.execute(runner.RunRequest("vae", config, "mnist-5k", seed,
                                            autosave=False), reporter)
    wall = time.perf_counter() - t0
    if done.status != "finished":
        raise RuntimeError(f"VAE: {done.status}: {done.message}")
    terms = vae.elbo_terms(done.result.model, data.load("mnist-5k").x_val)
    return {**terms, "pace": pace(reporter.seconds), "wall": wall, "config": config}


def run_vae_binarised(seed: int, epochs: int | None, passes: int, **settings) -> dict:
    """The VAE tab's model (its defaults, or these settings) trained the same way (Keras'
    fit, its compute_loss) on the binarised digits, which the family itself does not
    offer."""
    import keras

    from nets import data, runner
    from nets.families import draw, vae

    config = vae.Config(**settings, **({} if epochs is None else {"epochs": epochs}))
    runner.seed_everything(seed)
    ds = data.load("mnist-5k")
    x, x_val = draw.pixels_of(ds.x_train, "binarised"), draw.pixels_of(ds.x_val,
                                                                       "binarised")
    model = vae.build_model(config, ds.input_shape)
    seconds: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.t0)

    t0 = time.perf_counter()
    model.fit(x, x, batch_size=config.batch_size, epochs=config.epochs, verbose=0,
              validation_data=(x_val, x_val), callbacks=[Clock()])
    wall = time.perf_counter() - t0
    runs = [vae.elbo_terms(model, x_val) for _ in range(passes)]
    terms = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
    return {**terms, "pace": pace(seconds), "wall": wall, "config": config}


def row(model: str, settings: str, r: dict, note: str = "") -> dict:
    return {"model": model, "settings": settings,
            "held-out -ELBO (nats/digit)": f"{r['loss']:.1f}",
            "reconstruction + KL": f"{r['reconstruction']:.1f} + {r['kl']:.1f}",
            "s/epoch": f"{r['pace']:.2f}", "whole run (s)": f"{r['wall']:.0f}",
            "note": note}


def draw_settings(config) -> str:
    how = (f"attention, read {config.read_size}x{config.read_size}, write "
           f"{config.write_size}x{config.write_size}" if config.attention else
           "no attention")
    return (f"T = {config.steps}, {how}, {config.units} LSTM units, z {config.latent_dim} "
            f"per step, batch {config.batch_size}, Adam {config.learning_rate:g}, "
            f"{config.epochs} epochs")


def vae_settings(config) -> str:
    return (f"{config.architecture}, {config.hidden} hidden, {config.latent_dim}-D latent, "
            f"batch {config.batch_size}, {config.optimizer} {config.learning_rate:g}, "
            f"{config.epochs} epochs")


def draw_table(base, pixels: str, seed: int, passes: int, vae_epochs, quick: bool):
    rows = []
    for attention in (True, False):
        config = dataclasses.replace(base, attention=attention, pixels=pixels)
        r = run_draw(config, seed, passes)
        rows.append(row("DRAW", draw_settings(config), r))
        print(rows[-1], flush=True)
    if pixels == "binarised":
        r = run_vae_binarised(seed, vae_epochs, passes)
        rows.append(row("VAE (the VAE tab's model)", vae_settings(r["config"]), r,
                        "trained here on the same binarised digits"))
        r = run_vae_binarised(seed, vae_epochs, passes, latent_dim=20)
        rows.append(row("VAE, 20-D latent", vae_settings(r["config"]), r,
                        "the same, with a code as large as a plain VAE's usually is"))
    else:
        r = run_vae_family(seed, vae_epochs)
        note = "the VAE tab's own run"
        if not quick:
            note += f"; benchmarks/RESULTS.md: {VAE_RESULTS_FIGURE} nats/digit"
        rows.append(row("VAE (the VAE tab)", vae_settings(r["config"]), r, note))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke pass: 1 epoch, tiny "
                        "nets")
    parser.add_argument("--tables", default="1,2", help="1 binarised, 2 grey")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--passes", type=int, default=5, help="evaluations averaged for "
                        "each held-out figure")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a DRAW setting for every run (repeatable)")
    parser.add_argument("--out", default=str(common.RESULTS),
                        help="where the tables are written (md and json); '' for nowhere")
    args = parser.parse_args()
    from nets import backend

    info = backend.start()
    from nets.families import draw

    quick = dict(epochs=1, units=16, steps=3) if args.quick else {}
    base = common.config_with(draw.Config, args.set, quick)
    vae_epochs = 1 if args.quick else None
    passes = 1 if args.quick else args.passes
    tables = common.Tables()
    t_all = time.perf_counter()
    print(f"{backend.describe(info)}; {'quick pass' if args.quick else 'full run'}\n",
          flush=True)
    wanted = {int(t) for t in args.tables.split(",")}
    if 1 in wanted:
        tables.add("1. Binarised bundled digits (4,000 train / 1,000 held out): held-out "
                   "minus ELBO, nats per digit, lower is better (full binarised MNIST, for "
                   "context: Gregor et al. 2015 <= 80.97 with attention at T = 64; a "
                   "student reproduction at T = 10, 30 epochs: 93.8 without attention, "
                   "105.5 with, 102.9 for a plain VAE)",
                   draw_table(base, "binarised", args.seed, passes, vae_epochs,
                              args.quick))
    if 2 in wanted:
        tables.add("2. Grey bundled digits, as the VAE tab trains (cross-entropy of grey "
                   "values: compare only within this table)",
                   draw_table(base, "grey", args.seed, passes, vae_epochs, args.quick))
    print(f"Wall time: {time.perf_counter() - t_all:.0f} s", flush=True)
    if args.out:
        tables.write(args.out, "draw")


if __name__ == "__main__":
    main()
