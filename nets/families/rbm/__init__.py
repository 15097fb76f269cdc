"""Restricted Boltzmann machines and deep belief nets (Hinton 2002, "Training products of
experts by minimizing contrastive divergence"; Hinton, Osindero & Teh 2006; Hinton 2010,
"A practical guide to training restricted Boltzmann machines").

A Bernoulli-Bernoulli RBM, p(v, h) = e^-E(v, h) / Z with E = -v.b - h.c - v W h, learns by
contrastive divergence: the log-likelihood gradient dF(v)/dtheta minus its expectation
under the model, the second term estimated from a Gibbs chain k steps long started at the
data (CD-k) or carried on from the last batch (persistent CD, Tieleman 2008). The step is
written with keras.ops and compiled for the backend (nets.backend.compiled); the loop is
hand-written and uses nets.loop's services. Several hidden sizes stack RBMs greedily into a
deep belief net, each trained on the hidden probabilities of the one below; the stack then
becomes a sigmoid classifier, fine-tuned with backpropagation on a few or on all labels,
beside the same net from random weights.

The package: machine.py (the Keras model and the compiled CD update), likelihood.py (free
energy, exact and AIS log Z, pseudo-likelihood; numpy), gibbs.py (chains for watching it
dream), fine_tuning.py (the stack as a classifier, beside random weights and a ReLU net);
here, the settings, the training loop, loading and the family's declaration.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from nets import storage
from nets.config import param
from nets.errors import DataError, SettingsError
from nets.families.rbm import likelihood as lik
from nets.families.rbm import machine
from nets.families.rbm.gibbs import up
from nets.families.rbm.machine import (CHUNK, RANDOM_BUDGET, backend_numpy,  # noqa: F401
                                       chunks, filters, layers_of, make_cd_steps,
                                       pixels_of, set_rbm)
from nets.progress import (Artifact, BatchMetrics, Done, EpochMetrics, ImageEvent, Log,
                           Started, StopRequested, TrainingDiverged)
from nets.registry import Family

MAX_LAYERS = 3
MONITOR = 1000  # training and held-out digits the per-epoch figures are measured on


@dataclass
class Config:
    hidden: str = param("100", "Hidden units", "Hidden units of the RBM. Several numbers "
                        "('256, 256') stack RBMs into a deep belief net, each trained on the "
                        "hidden probabilities of the one below. With 20 or fewer (one "
                        "layer) the exact likelihood is shown as it trains.")
    method: str = param("CD", "Method", "CD: each negative phase starts a Gibbs chain at "
                        "the data. PCD (persistent): the chains carry on from batch to "
                        "batch, wandering further from the data.", choices=("CD", "PCD"))
    k: int = param(1, "Gibbs steps k", "Steps of the Gibbs chain per update (CD-k). More "
                   "is a better estimate of the model's expectation, and slower.",
                   minimum=1, maximum=50)
    learning_rate: float = param(0.05, "Learning rate", "Step size of each update of W and "
                                 "the biases (the guide suggests about 1e-3 of the weights' "
                                 "size per update).", minimum=1e-6, maximum=10.0,
                                 decimals=6)
    momentum: float = param(0.5, "Momentum", "Keeps a share of the last update; the "
                            "practical guide uses 0.5 and then 0.9.", minimum=0.0,
                            maximum=0.99, decimals=2)
    weight_decay: float = param(0.0002, "Weight decay", "Pulls the weights towards zero "
                                "(L2), which keeps the chains mixing and the filters "
                                "clean.", minimum=0.0, maximum=0.1, decimals=5)
    batch_size: int = param(20, "Batch size", "Digits per update.", minimum=1,
                            maximum=4096)
    epochs: int = param(10, "Epochs", "Passes over the training digits, for each RBM of "
                        "the stack.", minimum=1, maximum=1000)
    pixels: str = param("binarised", "Pixels", "binarised: each pixel 0 or 1 (at 0.5), what "
                        "a Bernoulli RBM models and what its likelihood is of. grey: the "
                        "grey values as probabilities.", choices=("binarised", "grey"))
    fine_tune: str = param("1000", "Fine-tune with labels", "After pretraining, turn the "
                           "stack into a classifier (a softmax on top) and train it with "
                           "backprop on this many labelled digits, beside the same net from "
                           "random weights.", choices=("none", "100", "1000", "all"))
    fine_tune_epochs: int = param(20, "Fine-tuning epochs", "Epochs of backprop for both "
                                  "nets.", minimum=1, maximum=500,
                                  when=("fine_tune", ("100", "1000", "all")))


def hidden_sizes(config: Config) -> list[int]:
    try:
        sizes = [int(p) for p in str(config.hidden).replace(";", ",").split(",")
                 if p.strip()]
    except ValueError:
        raise SettingsError(f"Hidden units: write numbers separated by commas, e.g. "
                            f"'100' or '256, 256' (got {config.hidden!r}).") from None
    if not sizes:
        raise SettingsError("Hidden units: give the size of at least one layer.")
    if any(n < 1 for n in sizes):
        raise SettingsError("Every layer needs at least one hidden unit.")
    if any(n > 4096 for n in sizes) or len(sizes) > MAX_LAYERS:
        raise SettingsError(f"At most {MAX_LAYERS} layers of up to 4,096 units here.")
    return sizes


# ---------------------------------------------------------------- the model
def build_model(config: Config, input_shape, classes: int, seed: int | None = None):
    """The stack of RBMs of this config's sizes, with a softmax on top."""
    return machine.build_model(hidden_sizes(config), input_shape, classes, seed)


# ---------------------------------------------------------------- data
def check_pixels(x: np.ndarray) -> None:
    if not len(x) or float(x.max()) <= 0.0:
        raise DataError("Every training image is black (all pixels 0): an RBM would learn "
                        "that no pixel is ever on, and its filters would be blank. Choose "
                        "other images.")


# ---------------------------------------------------------------- training
def epoch_figures(W, b, c, x_mon, xv, rng, exact: bool, base: float) -> dict:
    """The per-epoch monitor: reconstruction error, free energy and pseudo-log-likelihood
    of training (a fixed 1,000) and held-out digits, and the exact log-likelihood when it
    is computable (val_ = held out)."""
    out = {}
    for prefix, v in (("", x_mon), ("val_", xv)):
        if not len(v):
            continue
        rebuilt = lik.sigmoid(lik.sigmoid(v @ W + c) @ W.T + b)
        out[prefix + "reconstruction"] = float(np.mean(np.sum((v - rebuilt) ** 2, 1)))
        out[prefix + "free_energy"] = float(np.mean(lik.free_energy(v, W, b, c)))
        out[prefix + "pseudo_log_likelihood"] = lik.pseudo_log_likelihood(v, W, b, c, rng)
    if exact:
        log_z = lik.exact_log_z(W, b, c)
        out["log_likelihood"] = lik.log_likelihood(x_mon, W, b, c, log_z)
        if len(xv):
            out["val_log_likelihood"] = lik.log_likelihood(xv, W, b, c, log_z)
    return out


def train(request, reporter) -> Done:
    from nets.runner import TrainedModel, config_meta, prepare

    prep = prepare(request, reporter, Config)
    request, config, ds = prep.request, prep.config, prep.dataset
    run = prep.loop
    sizes = hidden_sizes(config)
    x, xv = pixels_of(ds.x_train, config.pixels), pixels_of(ds.x_val, config.pixels)
    check_pixels(x)
    shape = ds.input_shape
    model = build_model(config, shape, ds.num_classes, request.seed)
    run.meta.update(config_meta(request, classes=ds.class_names, input_shape=list(shape)))
    run.restore(model)
    # where the autosave left off, by layer: resuming may ask for more epochs per layer,
    # which moves where each layer starts in the run's count
    done_layer = int(run.saved.get("layer", 0))
    done_epochs = int(run.saved.get("layer_epochs", 0))
    start = done_layer * config.epochs + min(done_epochs, config.epochs)
    history = list(run.saved.get("history", []))
    rng = np.random.default_rng(request.seed)
    batch = min(config.batch_size, len(x))
    steps = int(np.ceil(len(x) / batch))  # batches an epoch
    total = len(sizes) * config.epochs
    exact = len(sizes) == 1 and sizes[0] <= lik.EXACT_MAX_HIDDEN and config.pixels == \
        "binarised"
    baseline = lik.pixel_baseline(x, xv) if len(xv) else float("nan")
    reporter.emit(Started(total_steps=total * steps, first_step=start * steps,
                          metric="reconstruction",
                          description=f"Training {describe(config, sizes)} on "
                                      f"{ds.description}."))
    reporter.emit(Artifact("model", model))
    if exact:
        reporter.emit(Artifact("baseline", baseline))
        reporter.emit(Log(f"Held-out log-likelihood of independent pixels (the baseline): "
                          f"{baseline:.2f} nats per digit."))
    for e, metrics in enumerate(history):
        reporter.emit(EpochMetrics(e, total, metrics))
    cd = {persistent: make_cd_steps(config.k, persistent) for persistent in (False, True)}
    t0 = time.monotonic()
    position, status, message = start, "finished", ""
    try:
        for layer, units in enumerate(sizes):
            first = done_epochs if layer == done_layer else 0
            if layer < done_layer or first >= config.epochs:
                continue  # done before the autosave this run resumes from
            stack = layers_of(model)
            below = up(stack, x, layer).astype(np.float32)  # the pixels, or layer codes
            below_v = up(stack, xv, layer).astype(np.float32)
            W, b, c = stack[layer]
            if first == 0:  # a fresh layer: the guide's start
                b = lik.base_bias(below).astype(np.float32)
                c = np.zeros_like(c)
            reporter.emit(Artifact("stage", {"layer": layer, "layers": len(sizes)}))
            if len(sizes) > 1:
                reporter.emit(Log(f"Layer {layer + 1} of {len(sizes)}: an RBM of "
                                  f"{units} hidden units on "
                                  f"{'the pixels' if layer == 0 else f'layer {layer} codes'}."))
            params = [W, b, c, np.zeros_like(W), np.zeros_like(b), np.zeros_like(c)]
            persistent = config.method == "PCD"
            per_call = max(1, min(CHUNK, RANDOM_BUDGET // (
                config.k * batch * (below.shape[1] + units))))
            chains = below[rng.choice(len(below), batch)]  # PCD's; CD ignores them
            x_mon = below[:MONITOR]
            position = layer * config.epochs + first
            for epoch in range(first, config.epochs):
                e0 = time.monotonic()
                done_steps = position * steps
                for idx in chunks(rng.permutation(len(below)), batch, per_call):
                    n = idx.shape[1]  # the last, short batch goes alone
                    uh = rng.random((len(idx), config.k, n, units), dtype=np.float32)
                    uv = rng.random((len(idx), config.k, n, below.shape[1]), np.float32)
                    *params, chain_end, error = cd[persistent](
                        *params, below[idx], chains[:n], uh, uv,
                        np.float32(config.learning_rate), np.float32(config.momentum),
                        np.float32(config.weight_decay))
                    error = float(backend_numpy(error))
                    run.check(error, f"layer {layer + 1}, epoch {epoch + 1}")
                    if persistent:
                        chains[:n] = backend_numpy(chain_end)
                    done_steps += len(idx)
                    reporter.emit(BatchMetrics(done_steps, position,
                                               {"reconstruction": error}))
                    run.checkpoint()
                W, b, c = (backend_numpy(p) for p in params[:3])
                if not all(np.isfinite(a).all() for a in (W, b, c)):
                    raise TrainingDiverged(f"The weights became NaN or infinite in layer "
                                           f"{layer + 1}, epoch {epoch + 1}.")
                set_rbm(model, layer, W, b, c)
                run.good(model)
                figures = epoch_figures(W, b, c, x_mon, below_v, rng, exact, baseline)
                history.append(figures)
                position += 1
                reporter.emit(EpochMetrics(position - 1, total, figures,
                                           time.monotonic() - e0))
                reporter.emit(ImageEvent("filters", filters(layers_of(model)[:layer + 1],
                                                             shape[:2]),
                                         note=f"Layer {layer + 1}, epoch {epoch + 1}"))
                done_layer, done_epochs = layer, epoch + 1
                run.autosave(model, position, history=history, layer=layer,
                             layer_epochs=epoch + 1)
                params = [W, b, c] + [backend_numpy(p) for p in params[3:]]
        seconds = time.monotonic() - t0
        result = TrainedModel(model, "rbm", run.meta, history, seconds)
        estimate = None
        if len(sizes) == 1 and not exact and config.pixels == "binarised" and len(xv):
            estimate = estimate_likelihood(layers_of(model)[0], x, xv, rng, reporter)
            result.meta = {**result.meta, "ais": estimate}
        message = (f"Pretrained {len(sizes)} RBM{'s' if len(sizes) > 1 else ''} in "
                   f"{seconds:.1f} s." + warning(history, baseline, estimate))
        comparison = None
        if config.fine_tune != "none" and ds.num_classes > 1:
            from nets.families.rbm.fine_tuning import fine_tune

            comparison = fine_tune(model, config, ds, request.seed, reporter)
            reporter.emit(Artifact("comparison", comparison))
            result.meta = {**result.meta, "comparison": comparison}
        return Done(status, message, result=result,
                    headline=headline(history, comparison, estimate))
    except StopRequested:
        status = "stopped"
        run.autosave(model, position, force=True, history=history, layer=done_layer,
                     layer_epochs=done_epochs)
        message = f"Stopped by you after {position} of {total} epochs."
    except TrainingDiverged as exc:
        status = "failed"
        run.back_to_good(model)
        message = (f"{exc} Training was stopped; the RBM keeps the weights of its last good "
                   "epoch. A smaller learning rate usually fixes this.")
    result = TrainedModel(model, "rbm", run.meta, history, time.monotonic() - t0)
    return Done(status, message, result=result, headline=headline(history))


def warning(history, baseline: float, estimate: dict | None = None) -> str:
    """Words for a run that went wrong without blowing up (a learning rate far too large
    leaves every number finite, the model worse than counting pixels)."""
    if not history:
        return ""
    last = dict(history[-1])
    if estimate:  # the AIS estimate of a large RBM
        last.setdefault("val_log_likelihood", estimate["val_log_likelihood"])
    if last.get("val_log_likelihood", np.inf) < baseline:
        return (f" Its held-out log-likelihood ({last['val_log_likelihood']:.2f} nats) is "
                f"below that of independent pixels ({baseline:.2f}): it learnt less than "
                "counting how often each pixel is on. A smaller learning rate usually "
                "helps.")
    if len(history) > 1 and last["reconstruction"] > 1.2 * history[0]["reconstruction"]:
        return (" Its reconstruction error rose while it trained: the learning rate is "
                "probably too large.")
    return ""


def describe(config: Config, sizes) -> str:
    method = f"{'PCD' if config.method == 'PCD' else 'CD'}-{config.k}"
    if len(sizes) == 1:
        return f"an RBM of {sizes[0]} hidden units ({method})"
    return f"a deep belief net of {len(sizes)} RBMs ({' - '.join(map(str, sizes))}, {method})"


AIS_RUNS, AIS_STEPS = 100, 1000  # about 4 s for 100 hidden units of 784 pixels here


def estimate_likelihood(rbm_weights, x, xv, rng, reporter) -> dict:
    """The held-out log-likelihood of an RBM too large for the exact sum, with log Z
    estimated by annealed importance sampling from the independent-pixel model."""
    W, b, c = rbm_weights
    reporter.emit(Log(f"Estimating log Z by annealed importance sampling ({AIS_RUNS} runs "
                      f"of {AIS_STEPS} steps) ..."))
    est = lik.ais_log_z(W, b, c, lik.base_bias(x), AIS_RUNS, AIS_STEPS, rng,
                        checkpoint=reporter.controls.checkpoint)
    mean_neg_f = float(np.mean(-lik.free_energy(xv, W, b, c)))
    out = {"log_z": est.log_z, "val_log_likelihood": mean_neg_f - est.log_z,
           # a larger log Z means a lower likelihood: the interval swaps ends
           "low": mean_neg_f - est.high, "high": mean_neg_f - est.low,
           "runs": est.runs, "steps": est.steps}
    reporter.emit(Artifact("ais", out))
    reporter.emit(Log(f"Held-out log-likelihood by AIS: {out['val_log_likelihood']:.2f} "
                      f"nats per digit (between {out['low']:.2f} and {out['high']:.2f}; "
                      "AIS tends to overestimate it when its chains mix badly)."))
    return out


def headline(history, comparison=None, estimate=None) -> str:
    parts = []
    last = history[-1] if history else {}
    if "val_log_likelihood" in last:
        parts.append(f"Held-out log-likelihood: {last['val_log_likelihood']:.2f} nats")
    elif estimate:
        parts.append(f"Held-out log-likelihood ≈ {estimate['val_log_likelihood']:.2f} nats "
                     "(AIS)")
    elif "val_pseudo_log_likelihood" in last:
        parts.append(f"Held-out pseudo-log-likelihood: "
                     f"{last['val_pseudo_log_likelihood']:.1f}")
    if comparison:
        parts.append(f"fine-tuned on {comparison['labels']:,} labels: pretrained "
                     f"{comparison['pretrained']:.1%} vs random weights "
                     f"{comparison['random']:.1%} (ReLU net {comparison['relu']:.1%}) held "
                     "out")
    return "; ".join(parts)


def run_length(config: Config) -> int:
    """Epochs of the whole stack (each RBM trains `epochs`), as its autosaves count."""
    try:
        return config.epochs * len(hidden_sizes(config))
    except SettingsError:
        return config.epochs


def load(path):
    from nets.runner import TrainedModel, read_saved

    meta, config, shape = read_saved(path, "rbm", Config, "an RBM or deep belief net")
    try:
        model = build_model(config, shape, len(meta.get("classes", [])) or 10)
    except SettingsError as exc:
        raise storage.damaged_description(path, exc) from exc
    storage.load_weights(model, path)
    return TrainedModel(model, "rbm", meta, list(meta.get("history", [])))


FAMILY = Family(key="rbm", title="RBMs and deep belief nets",
                summary="A restricted Boltzmann machine learns digits by contrastive "
                        "divergence, dreams them in Gibbs chains, and stacks into a deep "
                        "belief net.",
                config=Config, train=train, load=load,
                run_length=run_length,
                datasets=("mnist", "mnist-5k", "digits-8x8", "fashion-mnist"))
