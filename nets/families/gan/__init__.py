"""Generative adversarial nets (Goodfellow et al. 2014): a generator G turns noise z into
images and a discriminator D tells them from real ones; each step D learns a little, then
G learns to fool the D of that moment. Here a narrow DCGAN on the bundled digits (or
Fashion-MNIST, or a person's folder), optionally conditional (Mirza & Osindero 2014), with
the losses of losses.py, one-sided label smoothing (Salimans et al. 2016) and k D steps per
G step, on the loop services of nets/loop.py.

The package: images.py (the two nets, the wrapper both play in, the compiled steps),
losses.py (the game's losses, shared with the 2-D game of plane.py), judge.py (scoring
samples with the app's own digit reader), explore.py (interpolation, latent directions,
the nearest training image); here, the settings, training, loading and the family's
declaration.

Why these sizes and settings: a keras.io-sized DCGAN took 0.26 s a step on this
laptop-class CPU (FACTS.md); these nets have 32 filters. Measured with benchmarks/gan.py
on 2 shared CPU cores (load average 5 to 8), seed 0: with DCGAN's own settings (batch 64,
Adam 2e-4 for both, smoothing 0.1) 53 ms a step, and after 10 minutes all ten digits with
64% of samples read with >= 90% confidence by the app's digit reader; with the defaults
here (batch 8, G's rate 1e-3, no smoothing) 14 ms a step, 54% after 1 minute and 72%
after 10: many small steps serve a CPU better than a few large ones.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np

from nets import storage
from nets.config import param
from nets.families.gan import losses
from nets.families.gan.images import (COLUMNS, SAMPLES, Game, as_grid_images, build_gan,
                                      fixed_noise, one_hot)
from nets.families.gan.judge import SCORED_SAMPLES, judge_for, score
from nets.progress import (Artifact, BatchMetrics, Done, ImageEvent, Log, Started,
                           StopRequested, TrainingDiverged)
from nets.registry import Family

SAMPLES_PER_S = 4  # the fixed-noise grid is sent at most this often
METRICS_PER_S = 10


@dataclass
class Config:
    latent_size: int = param(64, "Latent size", "Dimensions of the noise z the generator "
                             "starts from (drawn from N(0, I)).", minimum=1, maximum=256)
    g_width: int = param(32, "Generator width", "Filters of the generator's last hidden "
                         "layer (its first has twice as many). Wider draws better digits "
                         "and takes longer per step.", minimum=4, maximum=256)
    batch_norm: bool = param(False, "Batch norm in G", "Normalise the generator's hidden "
                             "layers over each batch, as DCGAN did: steadier, and digits "
                             "sooner.")
    d_width: int = param(32, "Discriminator width", "Filters of the discriminator's first "
                         "layer (its second has twice as many).", minimum=4, maximum=256)
    g_learning_rate: float = param(1e-3, "G learning rate", "Adam step size of the "
                                   "generator (2e-4 in the DCGAN paper; five times that "
                                   "drew recognisable digits sooner here).", minimum=1e-6,
                                   maximum=1.0, decimals=6, live=True)
    d_learning_rate: float = param(2e-4, "D learning rate", "Adam step size of the "
                                   "discriminator.", minimum=1e-6, maximum=1.0,
                                   decimals=6, live=True)
    beta1: float = param(0.5, "Adam beta1", "Adam's momentum; DCGAN lowered it from 0.9 to "
                         "0.5, which steadied training.", minimum=0.0, maximum=0.999,
                         step=0.05, decimals=3)
    batch_size: int = param(8, "Batch size", "Real images (and as many fakes) per step. "
                            "Small batches make many more steps a second on a CPU, which "
                            "served better here than DCGAN's 128.", minimum=2,
                            maximum=1024)
    label_smoothing: float = param(0.0, "Label smoothing", "One-sided (Salimans et al. "
                                   "2016): D's target for real images is 1 minus this, for "
                                   "fakes still 0; keeps D from growing overconfident. Not "
                                   "used by the Wasserstein critic.", minimum=0.0,
                                   maximum=0.5, step=0.05, decimals=2, live=True)
    conditional: bool = param(False, "Conditional", "Give both nets the class (Mirza & "
                              "Osindero 2014): then you choose which digit to draw, and "
                              "each column of samples is one class.")
    loss: str = param("non-saturating", "Loss", "minimax: the paper's game, G minimises "
                      "log(1 - D(G(z))), whose gradient vanishes when D wins; "
                      "non-saturating: G maximises log D(G(z)) instead; least squares: "
                      "LSGAN (Mao et al. 2017); wasserstein: a critic with clipped weights "
                      "(Arjovsky et al. 2017; slow: try 5 D steps and RMS-sized rates).",
                      choices=losses.LOSSES, live=True)
    d_steps: int = param(1, "D steps per G step", "Discriminator steps before each "
                         "generator step (WGAN used 5).", minimum=1, maximum=10, live=True)
    steps: int = param(30_000, "Steps", "Generator steps in all (each after D steps per G "
                       "step discriminator steps).", minimum=1, maximum=10_000_000)
    score_every: int = param(500, "Score every", f"Generator steps between scorings of "
                             f"{SCORED_SAMPLES} samples by the judge.", minimum=1,
                             maximum=100_000)
    autosave_every: int = param(5000, "Autosave every", "Steps between autosaves (what "
                                "closing mid-training can lose).", minimum=1,
                                maximum=1_000_000)


# Settings that collapse the generator onto one or two digits in its first few hundred
# steps: a generator learning ten times faster than a narrow discriminator (8 filters),
# no label smoothing, scored every 100 steps so that the histogram catches it. Measured
# (seed 0): at step 250, 494 of 500 samples read as 8 and 2 classes in all; at step 500,
# 6 classes, mostly 5 and 8; from step 750 on all ten again, the game wandering (the weak
# discriminator cannot hold the generator anywhere for long). benchmarks/gan.py --collapse.
MODE_COLLAPSE = dict(g_learning_rate=2e-3, d_learning_rate=2e-4, d_width=8, batch_size=64,
                     loss="non-saturating", label_smoothing=0.0, conditional=False,
                     score_every=100)


# ---------------------------------------------------------------- training
def train(request, reporter) -> Done:
    from nets.runner import TrainedModel, config_meta, prepare

    prep = prepare(request, reporter, Config, every=request.config.autosave_every)
    request, config, ds, run = prep.request, prep.config, prep.dataset, prep.loop
    shape, classes = tuple(ds.input_shape), max(ds.num_classes, 1)
    gan = build_gan(config, shape, classes)
    run.meta.update(classes=list(ds.class_names), input_shape=list(shape),
                    dataset_description=ds.description)
    start = run.restore(gan)
    history = list(run.saved.get("history", []))
    rng = np.random.default_rng(request.seed + start)
    game = Game(gan, classes, rng)
    z_fixed, label_fixed = fixed_noise(config.latent_size, classes, request.seed)
    reporter.emit(Started(config.steps, f"A GAN on {ds.description}: {config.steps:,} "
                          f"generator steps, {config.d_steps} D step(s) each, batch "
                          f"{config.batch_size}.", first_step=start, metric="g_loss"))
    reporter.emit(Artifact("model", gan))
    reporter.emit(Artifact("training_images", (ds.x_train, ds.y_train)))
    if history:
        reporter.emit(Artifact("history", history))
    judge, judged = judge_for(ds, request.seed, reporter.controls.checkpoint)
    reporter.emit(Log(judged))
    reporter.emit(Artifact("judge", judge))
    live = dataclasses.asdict(config)
    x, y = ds.x_train, ds.y_train
    t0 = time.monotonic()
    last = {"samples": 0.0, "metrics": 0.0}
    status, message, step = "finished", "", start
    losses_now = {"g_loss": math.nan, "d_loss": math.nan}
    latest = None

    def show_samples(step: int) -> None:
        images = as_grid_images(game.generate(z_fixed, label_fixed))
        reporter.emit(ImageEvent("samples", images, note=f"Step {step:,}: the same "
                                 f"{SAMPLES} noise vectors z every time."))

    def judge_now(step: int):
        if judge is None:
            return None
        z, label = game.noise(SCORED_SAMPLES, np.arange(SCORED_SAMPLES) % classes)
        asked = np.arange(SCORED_SAMPLES) % classes if gan.conditional else None
        s = score(judge.probabilities(game.generate(z, label)), step, asked)
        reporter.emit(BatchMetrics(step, 0, s.as_metrics()))
        reporter.emit(Artifact("scores", s))
        reporter.emit(Log(f"Step {step:,}: {s.words()}."))
        return s

    run.good(gan)
    try:
        show_samples(start)
        for step in range(start + 1, config.steps + 1):
            if changes := reporter.controls.changes():
                live.update(changes)
                gan.g_optimizer.learning_rate.assign(float(live["g_learning_rate"]))
                gan.d_optimizer.learning_rate.assign(float(live["d_learning_rate"]))
                reporter.emit(Log("Now: " + ", ".join(f"{k.replace('_', ' ')} {v}"
                                                      for k, v in changes.items()) + "."))
            kind = live["loss"]
            for _ in range(int(live["d_steps"])):
                idx = rng.integers(0, len(x), config.batch_size)
                losses_now["d_loss"] = game.d_step(kind, x[idx], y[idx],
                                                   float(live["label_smoothing"]))
                _check(losses_now["d_loss"], step, "discriminator")
            losses_now["g_loss"] = game.g_step(kind, config.batch_size)
            _check(losses_now["g_loss"], step, "generator")
            now = time.monotonic()
            if now - last["metrics"] >= 1 / METRICS_PER_S or step == config.steps:
                last["metrics"] = now
                idx = rng.integers(0, len(x), config.batch_size)
                reporter.emit(BatchMetrics(step, 0, {**losses_now,
                                                     **game.look(kind, x[idx], y[idx])}))
            if now - last["samples"] >= 1 / SAMPLES_PER_S or step == config.steps:
                last["samples"] = now
                show_samples(step)
            if step % config.score_every == 0 or step == config.steps:
                if not _finite(gan):
                    raise TrainingDiverged(f"The weights became NaN or infinite by step "
                                           f"{step:,}.")
                latest = judge_now(step) or latest
                history.append({"step": step, **losses_now,
                                **(latest.as_metrics() if latest else {})})
                run.good(gan)
            run.autosave(gan, step, history=history)
            run.checkpoint()
    except StopRequested:
        status = "stopped"
        message = f"Stopped by you after {step:,} of {config.steps:,} steps."
        run.autosave(gan, step, force=True, history=history)
    except TrainingDiverged as exc:
        status = "failed"
        run.back_to_good(gan)
        message = (f"{exc} The game blew up; the GAN keeps the weights of its last good "
                   "scoring. Lower learning rates, or the least-squares loss, usually "
                   "steady it.")
    seconds = time.monotonic() - t0
    if status != "failed":
        show_samples(step)
    if status == "finished":
        message = (f"Trained {config.steps - start:,} steps in {seconds:.0f} s "
                   f"({seconds / max(config.steps - start, 1) * 1000:.0f} ms a step).")
    ended = dataclasses.replace(request, config=Config(**live))
    result = TrainedModel(gan, "gan", config_meta(ended, **run.meta, step=step), history,
                          seconds)
    return Done(status, message, result=result, headline=headline(latest))


def _check(loss: float, step: int, player: str) -> None:
    """A GAN's losses rise and fall by design (the guard of other families would stop a
    healthy game); only a loss that is no longer a number ends the run. Such a step was
    not applied, so the weights are still good."""
    if not math.isfinite(loss):
        raise TrainingDiverged(f"The {player}'s loss became {loss} at step {step:,}.")


def _finite(gan) -> bool:
    return all(np.isfinite(w).all() for w in gan.get_weights())


def headline(scores) -> str:
    if scores is None:
        return ""
    return f"Samples: {scores.words()}."


# ---------------------------------------------------------------- loading
def load(path):
    """A saved GAN, rebuilt from its stored settings; only weights are read."""
    from nets.runner import TrainedModel, read_saved

    meta, config, shape = read_saved(path, "gan", Config, "a GAN")
    try:
        classes = max(len(meta["classes"]), 1)
    except (KeyError, TypeError) as exc:
        raise storage.damaged_description(path, exc) from exc
    gan = build_gan(config, shape, classes)
    storage.load_weights(gan, path)
    return TrainedModel(gan, "gan", meta, list(meta.get("history", [])))


def sample_grid(gan, seed: int = 0) -> np.ndarray:
    """The fixed-noise grid of a (loaded) GAN: (SAMPLES, h, w[, 3])."""
    from nets.families.gan.explore import Sampler

    sampler = Sampler(gan)
    z, label = fixed_noise(sampler.latent, gan.classes, seed)
    return sampler.images(z, label.argmax(1))


FAMILY = Family(key="gan", title="Generative adversarial nets",
                summary="A generator learns to draw digits that a discriminator cannot tell "
                        "from real ones; the game also played in 2-D, where all of it shows.",
                config=Config, train=train, load=load, length_field="steps",
                event_interval_ms=50)

__all__ = ["Config", "train", "load", "FAMILY", "COLUMNS", "MODE_COLLAPSE", "one_hot",
           "sample_grid"]
