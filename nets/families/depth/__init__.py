"""Why deep nets stalled: a deep classifier of digits whose first layers hardly learn,
because the gradient that backpropagation hands them shrinks layer by layer (vanishing
gradients), and the fixes that came later: rectified units, careful initialisation, batch
normalisation, and greedy layer-wise pretraining before them.

A hand-written loop (plain SGD, nets.loop services) trains it and measures, besides loss
and accuracy, what the lesson is about. Both go out as `Artifact`s (plain dicts, not
metrics: one plot per layer would bury the epoch plots):

    Artifact("gradient_norms", {"step", "epoch", "phase", "layers", "norms"})
        ||dLoss/dW|| of each Dense layer (input side first) on a fixed probe batch of 256
        training digits, every PROBE_EVERY batches; phase "start" for the untrained net,
        "pretrained" after pretraining, "training" afterwards
    Artifact("weight_change", {"epoch", "layers", "change"})
        ||W_t - W_(t-1)|| / ||W_(t-1)|| of each Dense layer over epoch t
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from nets import backend, storage
from nets.config import batch_size_param, epochs_param, param
from nets.progress import (Artifact, BatchMetrics, Done, EpochMetrics, Log, Started,
                           StopRequested, TrainingDiverged)
from nets.registry import Family

from nets.families.depth.model import (GradientProbe, accuracy_and_loss, build_model,
                                       calibrate_batch_norm, cross_entropy, kernels,
                                       layer_names, relative_change)

PROBE_EVERY = 5  # batches between two gradient probes
PROBE_SIZE = 256  # digits in the fixed probe batch


@dataclass
class Config:
    hidden_layers: int = param(5, "Hidden layers", "How deep the net is. One hidden layer "
                               "learns well; with five, the layers near the input get a "
                               "gradient many times smaller than those near the output.",
                               minimum=1, maximum=10)
    width: int = param(30, "Units per layer", "Units in each hidden layer.", minimum=2,
                       maximum=512)
    activation: str = param("sigmoid", "Non-linearity", "sigmoid: the classic unit, whose "
                            "slope is at most 1/4, so every layer multiplies the gradient by "
                            "less than 1/4 of its weights. tanh: slope up to 1. relu: slope "
                            "exactly 1 where it is active (Glorot et al. 2011).",
                            choices=("sigmoid", "tanh", "relu"))
    init: str = param("small", "Initial weights", "small: random normal, std 0.1 (the "
                      "habit before 2010). glorot: Glorot & Bengio's normalised "
                      "initialisation, scaled so a signal keeps its size from layer to "
                      "layer (times 4 for sigmoid units, whose slope at 0 is 1/4).",
                      choices=("small", "glorot"))
    batch_norm: bool = param(False, "Batch normalisation", "Normalise each hidden layer's "
                             "inputs to mean 0 and variance 1 over the batch, before the "
                             "non-linearity (Ioffe & Szegedy 2015): the units stay where "
                             "their slope is large.")
    pretraining: bool = param(False, "Greedy pretraining", "Before training on the labels, "
                              "train each hidden layer in turn as an autoencoder of the "
                              "layer below (Hinton et al. 2006; Bengio et al. 2007), then "
                              "fine-tune the whole net.")
    pretrain_epochs: int = param(5, "Pretraining epochs", "Epochs of each layer's "
                                 "autoencoder (Adam, as in the Autoencoders tab).",
                                 minimum=1, maximum=100, when=("pretraining", (True,)))
    epochs: int = epochs_param(30, "Passes over the training set (after any pretraining).")
    learning_rate: float = param(0.1, "Learning rate", "Step size of plain SGD (no "
                                 "momentum): the same for every layer, so a layer with a "
                                 "tiny gradient takes tiny steps. Too large and the loss "
                                 "explodes.", minimum=1e-6, maximum=100.0, decimals=6)
    batch_size: int = batch_size_param(32)


# The one-click fixes of the tab: each changes one thing of the baseline (the deep sigmoid
# net with small weights). Separate settings rather than one "fix" choice, so that the
# form always says what the net is, and fixes can be combined.
BASELINE = {"activation": "sigmoid", "init": "small", "batch_norm": False,
            "pretraining": False}
FIXES = {
    "Baseline": {},
    "ReLU": {"activation": "relu"},
    "Glorot init": {"init": "glorot"},
    "Batch norm": {"batch_norm": True},
    "Pretraining": {"pretraining": True},
}


def with_fix(config: Config, fix: str) -> Config:
    """`config` with the baseline's units and weights and then one fix (FIXES) applied;
    depth, width, epochs, learning rate ... stay as they are."""
    return dataclasses.replace(config, **{**BASELINE, **FIXES[fix]})


def variant_name(config: Config) -> str:
    """What sets this net apart from the baseline, in a few words ("Baseline", "ReLU",
    "Batch norm + Glorot init", "Baseline, 3 layers")."""
    parts = []
    if config.activation != "sigmoid":
        parts.append({"relu": "ReLU", "tanh": "tanh"}[config.activation])
    if config.init == "glorot":
        parts.append("Glorot init")
    if config.batch_norm:
        parts.append("Batch norm")
    if config.pretraining:
        parts.append("Pretraining")
    name = " + ".join(parts) or "Baseline"
    shape = []
    if config.hidden_layers != Config.hidden_layers:
        shape.append(f"{config.hidden_layers} layers")
    if config.width != Config.width:
        shape.append(f"width {config.width}")
    return f"{name}, {', '.join(shape)}" if shape else name


def describe(config: Config) -> str:
    units = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU"}[config.activation]
    init = "small random" if config.init == "small" else "Glorot-initialised"
    extras = [w for w, on in (("batch norm", config.batch_norm),
                              (f"greedy pretraining ({config.pretrain_epochs} epochs a "
                               "layer)", config.pretraining)) if on]
    return (f"a {config.hidden_layers}x{config.width} {units} net with {init} weights"
            + (f", {' and '.join(extras)}" if extras else "") + ", plain SGD")


def _batches(n: int, batch: int, rng: np.random.Generator):
    order = rng.permutation(n)
    return [order[i:i + batch] for i in range(0, n, batch)]


def train(request, reporter):
    from nets.runner import TrainedModel, config_meta, prepare

    prep = prepare(request, reporter, Config)
    request, config, ds = prep.request, prep.config, prep.dataset
    run = prep.loop
    model = build_model(config, ds.input_shape, ds.num_classes)
    meta = config_meta(request, classes=ds.class_names, input_shape=list(ds.input_shape),
                       variant=variant_name(config))
    run.meta.update(meta)
    start = run.restore(model)
    history = list(run.saved.get("history", []))[:start]
    rng = np.random.default_rng(request.seed)
    x = ds.x_train.reshape(len(ds.x_train), -1).astype(np.float32)
    y = ds.y_train.astype(np.int32)
    xv = ds.x_val.reshape(len(ds.x_val), -1).astype(np.float32)
    yv = ds.y_val.astype(np.int32)
    batch = min(config.batch_size, len(x))
    steps = int(np.ceil(len(x) / batch))
    pretraining = config.pretraining and start == 0
    pre_steps = steps * config.pretrain_epochs * config.hidden_layers if pretraining else 0
    total = pre_steps + config.epochs * steps
    names = layer_names(model)
    probe_idx = np.random.default_rng(request.seed + 1).choice(len(x), min(PROBE_SIZE,
                                                                          len(x)), False)
    probe_x = x[probe_idx].reshape(-1, *ds.input_shape)
    probe = GradientProbe(model, probe_x, y[probe_idx])
    predict = backend.predictor(model)
    t0 = time.monotonic()

    def show_gradients(step: int, epoch: int, phase: str) -> None:
        if config.batch_norm and phase != "training":
            calibrate_batch_norm(model, probe_x)
        reporter.emit(Artifact("gradient_norms", {
            "step": step, "epoch": epoch, "phase": phase, "layers": names,
            "norms": probe.norms()}))

    reporter.emit(Artifact("model", model))
    reporter.emit(Started(total_steps=total, first_step=pre_steps + start * steps,
                          metric="reconstruction" if pretraining else "loss",
                          description=f"Training {describe(config)} on {ds.description}."))
    for epoch, metrics in enumerate(history):  # the curves so far of a resumed run
        reporter.emit(EpochMetrics(epoch, config.epochs, metrics))
    if start == 0:
        show_gradients(0, 0, "start")
        reporter.emit(Log("The faint bars of the Gradients view are the untrained net's: "
                          "the size of the gradient each layer gets, input layer on the "
                          "left."))
    step = pre_steps + start * steps
    epoch = start
    try:
        if pretraining:
            from nets.families.depth.pretraining import pretrain

            reporter.emit(Log(f"Phase 1, greedy pretraining: each of the "
                              f"{config.hidden_layers} hidden layers in turn learns, "
                              "without labels, to rebuild the layer below it; the loss "
                              "plot shows its reconstruction error."))
            pretrain(model, config, x, reporter, rng)
            show_gradients(pre_steps, 0, "pretrained")
            reporter.emit(Log("Phase 2, fine-tuning: the whole net, pretrained layers and "
                              "a new softmax on top, learns the labels with plain SGD."))
            reporter.emit(Started(total_steps=total, first_step=pre_steps, metric="loss",
                                  description=f"Fine-tuning {describe(config)}."))
        update = backend.gradient_step(model, model.optimizer, cross_entropy)
        run.good(model)
        for epoch in range(start, config.epochs):
            e0 = time.monotonic()
            before = kernels(model)
            losses = []
            for s, idx in enumerate(_batches(len(x), batch, rng)):
                loss = update(x[idx].reshape(-1, *ds.input_shape), y[idx])
                run.check(loss, f"epoch {epoch + 1}, batch {s + 1}")
                losses.append((loss, len(idx)))
                step += 1
                reporter.emit(BatchMetrics(step, epoch, {"loss": loss}))
                if step % PROBE_EVERY == 0:
                    show_gradients(step, epoch, "training")
                run.checkpoint()
            after = kernels(model)
            if not all(np.isfinite(w).all() for w in after):
                raise TrainingDiverged(f"The weights became NaN or infinite in epoch "
                                       f"{epoch + 1}.")
            acc, _ = accuracy_and_loss(predict, x.reshape(-1, *ds.input_shape), y)
            metrics = {"loss": float(sum(v * n for v, n in losses) / len(x)),
                       "accuracy": acc}
            if len(xv):
                val_acc, val_loss = accuracy_and_loss(predict, xv.reshape(
                    -1, *ds.input_shape), yv)
                metrics.update(val_loss=val_loss, val_accuracy=val_acc)
            history.append(metrics)
            run.good(model)
            reporter.emit(EpochMetrics(epoch, config.epochs, metrics, time.monotonic() - e0))
            reporter.emit(Artifact("weight_change", {"epoch": epoch, "layers": names,
                                                     "change": relative_change(before,
                                                                               after)}))
            show_gradients(step, epoch, "training")
            run.autosave(model, epoch + 1, history=history)
        status = "finished"
        message = (f"Trained {config.epochs - start} epochs in "
                   f"{time.monotonic() - t0:.1f} s.")
        detail = ""
    except StopRequested:
        if len(history) > start:  # a stop within pretraining leaves nothing to resume
            run.autosave(model, len(history), force=True, history=history)
        status = "stopped"
        message = f"Stopped by you after {len(history)} of {config.epochs} epochs."
        detail = ""
    except TrainingDiverged as exc:
        kept = ("the weights of the last good epoch" if len(history) > start
                else "the weights it started this run with")
        run.back_to_good(model)
        status, detail = "failed", ""
        message = (f"{exc} Training was stopped; the model keeps {kept}. A lower learning "
                   "rate usually fixes this.")
    trained = TrainedModel(model, "depth", meta, history, time.monotonic() - t0)
    return Done(status, message, detail, trained, headline(trained, config))


def headline(trained, config: Config) -> str:
    last = trained.history[-1] if trained.history else {}
    if "val_accuracy" not in last:
        return ""
    return f"Held-out accuracy: {last['val_accuracy']:.1%} ({variant_name(config)})"


def load(path):
    """A saved net, rebuilt in code from its stored config; only weights are read."""
    from nets.runner import TrainedModel, read_saved

    meta, config, shape = read_saved(path, "depth", Config, "a deep classifier")
    model = build_model(config, shape, len(meta.get("classes", [])) or 10)
    storage.load_weights(model, path)
    return TrainedModel(model, "depth", meta, list(meta.get("history", [])))


FAMILY = Family(key="depth", title="Why deep nets stalled",
                summary="Vanishing gradients: why deep nets hardly learnt before 2006, and "
                        "the fixes (pretraining, ReLU, careful initialisation, batch norm).",
                config=Config, train=train, load=load,
                datasets=("digits-8x8", "mnist-5k", "mnist"))
