"""Neurons, non-linearities and backpropagation: a playground of small networks that
classify points on a plane (after TensorFlow Playground, Smilkov & Carter 2016).

One neuron computes h = f(W^T x + b). A single sigmoid neuron is logistic regression; a
single threshold neuron is the perceptron, trained by its own rule (backpropagation cannot
train it: a step's slope is zero). Neurons stacked in layers make a multi-layer
perceptron, trained here by plain gradient descent on the cross-entropy, in Keras. The
learning rate, batch size and the L1/L2 penalty may change while it trains (declared
`live`); the run reads them between steps.

The package: planar.py (the data and input features), by_hand.py (the same network in
numpy, for stepping through backpropagation and for drawing); here, the settings, the
Keras model, training, loading and the family's declaration.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from nets import backend, storage
from nets.config import epochs_param, param
from nets.errors import SettingsError
from nets.families.neurons import by_hand, planar
from nets.loop import Loop
from nets.progress import (Artifact, BatchMetrics, Done, EpochMetrics, Started,
                           StopRequested, TrainingDiverged)
from nets.registry import Family
from nets.runner import TrainedModel, config_meta, read_saved, seed_everything

MAX_LAYERS, MAX_UNITS = 8, 64
SNAPSHOTS_PER_S = 30  # weights sent to the window this often while training
HIDDEN_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
INITS = ("glorot", "small", "zeros")


@dataclass
class Config:
    data: str = param("spiral", "Data", "The points to separate: a disc inside a ring, XOR "
                      "quadrants, two Gaussian blobs, two interleaved spirals, or your own "
                      "(click on the plane to add points).",
                      choices=planar.SHAPES + (planar.OWN,))
    points: int = param(500, "Points", "How many points the generated sets have.",
                        minimum=10, maximum=planar.MAX_POINTS,
                        when=("data", planar.SHAPES))
    noise: int = param(0, "Noise (%)", "Blurs the classes into each other: some points "
                       "land on the other side, and no boundary gets them all.",
                       minimum=0, maximum=50, when=("data", planar.SHAPES))
    train_share: int = param(50, "Training share (%)", "The share of points trained on; "
                             "the rest are held out to test the boundary on points it "
                             "never saw.", minimum=10, maximum=90)
    points_file: str = param("", "Your points file", "A CSV of x, y, label (0 or 1) rows: "
                             "the playground writes it as you click.",
                             when=("data", (planar.OWN,)))
    features: str = param("x, y", "Input features", "What the first layer sees, from: "
                          + ", ".join(planar.FEATURES) + ". With x² and y² one neuron "
                          "can draw a circle; with x, y alone it takes hidden layers.")
    hidden: str = param("8, 8, 8, 8", "Hidden layers", "Neurons in each hidden layer, e.g. "
                        "'4, 2'; empty for a single neuron. 'name' after a number picks that "
                        "layer's activation: '4 relu, 2'.")
    activation: str = param("relu", "Activation", "The non-linearity f of the hidden "
                            "neurons (a layer may name its own in Hidden layers). Without "
                            "one (linear), any depth draws only a straight line.",
                            choices=HIDDEN_ACTIVATIONS)
    output: str = param("sigmoid", "Output neuron", "sigmoid: a probability, trained by "
                        "gradient descent on the cross-entropy (alone, it is logistic "
                        "regression). threshold: 0 or 1, the perceptron, trained by its "
                        "own rule; only without hidden layers.",
                        choices=("sigmoid", "threshold"))
    init: str = param("glorot", "Initial weights", "glorot: random, scaled to the "
                      "layer's size (Glorot & Bengio 2010). small: random with spread "
                      "0.1. zeros: every neuron of a layer starts the same and stays the "
                      "same: they never become different.", choices=INITS)
    learning_rate: float = param(0.03, "Learning rate", "Step size α of W ← W − α dC/dW. "
                                 "Too large and the loss jumps about or explodes.",
                                 minimum=1e-5, maximum=10.0, decimals=5, live=True)
    batch_size: int = param(10, "Batch size", "Points per gradient step: 1 is stochastic "
                            "gradient descent, all of them is batch descent.", minimum=1,
                            maximum=planar.MAX_POINTS, live=True)
    regularisation: str = param("none", "Regularisation", "A penalty on large weights "
                                "added to the loss: L1 (sum |w|) pushes weights to zero, "
                                "L2 (sum w²) keeps them small.", choices=("none", "L1", "L2"),
                                live=True)
    regularisation_rate: float = param(0.001, "Regularisation rate", "How much the "
                                       "penalty weighs against the cross-entropy.",
                                       minimum=0.0, maximum=1.0, decimals=5, live=True)
    epochs: int = epochs_param(600, "Passes over the training points.")


# ---------------------------------------------------------------- settings in words
def hidden_layers(config: Config) -> list[tuple[int, str]]:
    """'4 relu, 2' -> [(4, 'relu'), (2, config.activation)]; SettingsError in words."""
    layers = []
    for part in [p.strip() for p in str(config.hidden).replace(";", ",").split(",")]:
        if not part:
            continue
        words = part.split()
        try:
            units = int(words[0])
        except ValueError:
            raise SettingsError(f"Hidden layers: {part!r} does not start with a number of "
                                "neurons (write e.g. '4, 2').") from None
        f = words[1].lower() if len(words) > 1 else config.activation
        if len(words) > 2 or f not in HIDDEN_ACTIVATIONS + ("threshold",):
            raise SettingsError(f"Hidden layers: {part!r}: after the number comes one of "
                                f"{', '.join(HIDDEN_ACTIVATIONS)}.")
        if units < 1:
            raise SettingsError("Every hidden layer needs at least one neuron (remove the "
                                "layer instead).")
        if units > MAX_UNITS:
            raise SettingsError(f"At most {MAX_UNITS} neurons in a layer here.")
        layers.append((units, f))
    if len(layers) > MAX_LAYERS:
        raise SettingsError(f"At most {MAX_LAYERS} hidden layers here.")
    if any(f == "threshold" for _, f in layers):
        raise SettingsError(NO_BACKPROP_THROUGH_THRESHOLDS)
    if config.output == "threshold" and layers:
        raise SettingsError("A threshold output neuron trains by the perceptron rule, "
                            "which knows no hidden layers. " + NO_BACKPROP_THROUGH_THRESHOLDS)
    return layers


def hidden_text(layers: list[tuple[int, str]], activation: str) -> str:
    """The inverse of hidden_layers: [(4, 'relu'), (2, 'tanh')], 'tanh' -> '4 relu, 2'."""
    return ", ".join(str(n) if f == activation else f"{n} {f}" for n, f in layers)


NO_BACKPROP_THROUGH_THRESHOLDS = (
    "Backpropagation cannot train threshold neurons: a step's slope is zero everywhere "
    "(and undefined at the jump), so the chain rule sends back zero and no weight below it "
    "would ever change. Use a threshold for a single neuron (no hidden layers), or sigmoid, "
    "tanh or ReLU neurons, whose smooth slope lets the error flow back.")


def activations(config: Config) -> list[str]:
    """Each layer's f, the output's last."""
    return [f for _, f in hidden_layers(config)] + [config.output]


def penalty_weights(config: Config) -> tuple[float, float]:
    rate = float(config.regularisation_rate)
    return (rate if config.regularisation == "L1" else 0.0,
            rate if config.regularisation == "L2" else 0.0)


# ---------------------------------------------------------------- the Keras model
def threshold(z):
    """The step function 1[z > 0] (the perceptron's activation), with keras.ops."""
    from keras import ops

    return ops.cast(ops.greater(z, 0), z.dtype)


def build_model(config: Config, inputs: int, seed: int = 0):
    """The network: Dense layers named hidden1..., then one output neuron."""
    import keras

    def init(k):
        return {"glorot": keras.initializers.GlorotUniform(seed=seed + k),
                "small": keras.initializers.RandomNormal(stddev=0.1, seed=seed + k),
                "zeros": keras.initializers.Zeros()}[config.init]

    model = keras.Sequential([keras.Input((inputs,), name="features")], name="playground")
    for k, (units, f) in enumerate(hidden_layers(config)):
        model.add(keras.layers.Dense(units, activation=f, kernel_initializer=init(k),
                                     name=f"hidden{k + 1}"))
    model.add(keras.layers.Dense(
        1, activation=threshold if config.output == "threshold" else "sigmoid",
        kernel_initializer=init(99), name="output"))
    return model


def penalised(model):
    """A model around `model` that also gives the L1 and L2 sums of its weight matrices.
    They must be read inside the model's call: on JAX only there are they the step's
    traced weights, whose gradient the penalty then has. Its rates come in each batch, so
    a person may change them while it trains without anything being recompiled."""
    import keras
    from keras import ops

    class Penalised(keras.Model):
        def __init__(self, net):
            super().__init__(name="penalised")
            self.net = net

        def call(self, x, training=False):
            kernels = [layer.kernel for layer in self.net.layers]
            sums = ops.stack([sum(ops.sum(ops.abs(k)) for k in kernels),
                              sum(ops.sum(ops.square(k)) for k in kernels)])
            return self.net(x, training=training), sums

    wrapper = Penalised(model)
    wrapper(np.zeros((1, model.input_shape[-1]), np.float32))
    return wrapper


def penalised_loss(call, x, y, l1, l2):
    """The mean cross-entropy of a batch plus the penalty, with keras.ops; `call` runs a
    `penalised` model (by_hand.backward computes the same by hand)."""
    from keras import ops

    out, sums = call(x)
    p = ops.clip(out[:, 0], by_hand.EPSILON, 1 - by_hand.EPSILON)
    return ops.mean(-(y * ops.log(p) + (1 - y) * ops.log(1 - p))) + l1 * sums[0] + \
        l2 * sums[1]


def make_step(model, optimizer):
    """step(x, y, l1, l2) -> the batch's penalised loss, one compiled SGD step."""
    return backend.gradient_step(penalised(model), optimizer, penalised_loss)


class KerasGradients:
    """Keras' automatic gradients of a network of this config's shape, for any weights:
    what the backprop view checks its hand-worked numbers against. Build it where no
    training runs at the same time (the window builds it on its own thread when idle):
    building a model while another thread runs one has crashed TensorFlow here; calling
    the compiled function afterwards, from any thread, has not."""

    def __init__(self, config: Config, inputs: int):
        self.model = build_model(config, inputs)
        self._grads = backend.gradients(penalised(self.model), penalised_loss)
        self(self.model.get_weights(), np.zeros((1, inputs)), [0.0])  # compile now

    def __call__(self, weights, x, y, l1: float = 0.0, l2: float = 0.0):
        """(loss, [dC/dW1, dC/db1, ...]) of the network with these weights on x, y."""
        self.model.set_weights([np.asarray(w, np.float32) for w in weights])
        return self._grads(np.asarray(x, np.float32), np.asarray(y, np.float32),
                           np.float32(l1), np.float32(l2))


# ---------------------------------------------------------------- data
@dataclass
class Points:
    """The run's points, their features and split."""

    xy: np.ndarray
    labels: np.ndarray
    train: np.ndarray  # indices
    test: np.ndarray
    names: tuple  # feature names

    def inputs(self, idx) -> np.ndarray:
        return planar.features(self.xy[idx], self.names)


def load_points(config: Config, seed: int) -> Points:
    if config.data == planar.OWN:
        xy, labels = planar.read_points(config.points_file)
    else:
        xy, labels = planar.make(config.data, config.points, config.noise / 100, seed)
    planar.check_two_classes(labels)
    train, test = planar.split(labels, config.train_share / 100, seed)
    return Points(xy, labels, train, test, planar.parse_features(config.features))


def evaluate(predict, pts: Points, idx, l1=0.0, l2=0.0, weights=None) -> dict:
    """Cross-entropy (+ penalty) and accuracy of the model on the points idx."""
    if len(idx) == 0:
        return {}
    p = np.clip(predict(pts.inputs(idx))[:, 0].astype(np.float64), by_hand.EPSILON,
                1 - by_hand.EPSILON)
    y = pts.labels[idx]
    loss = float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))
    if weights is not None:
        loss += by_hand.penalty(weights, l1, l2)
    return {"loss": loss, "accuracy": float(np.mean((p > 0.5) == y))}


# ---------------------------------------------------------------- training
@dataclass(frozen=True)
class Snapshot:
    """What the window draws while training: the weights at a moment, and where."""

    epoch: int  # epochs done
    weights: tuple  # numpy arrays, Keras' order


def train(request, reporter) -> Done:
    run = Loop.begin(request, reporter, Config, every=100)
    config, seed = run.config, run.request.seed
    hidden_layers(config)  # settings that cannot work fail here, in words
    seed_everything(seed)
    pts = load_points(config, seed)
    import keras

    model = build_model(config, len(pts.names), seed)
    perceptron = config.output == "threshold"
    optimizer = keras.optimizers.SGD(learning_rate=config.learning_rate)
    step = None if perceptron else make_step(model, optimizer)
    run.meta.update(input_shape=[len(pts.names)], points=_points_meta(pts))
    start = run.restore(model)
    history = list(run.saved.get("history", []))[:start]
    predict = backend.predictor(model)
    what = ("a perceptron (one threshold neuron, the perceptron rule)" if perceptron else
            f"a network of {_describe(config)}")
    reporter.emit(Started(total_steps=config.epochs, first_step=start, per="epoch",
                          description=f"Training {what} on {len(pts.train)} "
                                      f"{config.data} points ({len(pts.test)} held out)."))
    reporter.emit(Artifact("network", config))
    reporter.emit(Artifact("points", pts))
    reporter.emit(Artifact("model", model))
    live = dataclasses.asdict(config)
    rng = np.random.default_rng(seed)
    x_train, y_train = pts.inputs(pts.train), pts.labels[pts.train].astype(np.float32)
    t0 = last_shown = last_loss = last_metrics = time.monotonic()
    epoch, status, message = start, "finished", ""
    run.good(model)

    def show(epoch: int) -> None:
        reporter.emit(Artifact("snapshot", Snapshot(epoch, tuple(model.get_weights()))))

    try:
        show(start)
        for epoch in range(start + 1, config.epochs + 1):
            if changes := reporter.controls.changes():
                live.update(changes)
                optimizer.learning_rate.assign(float(live["learning_rate"]))
            l1, l2 = penalty_weights(dataclasses.replace(config, **{
                k: live[k] for k in ("regularisation", "regularisation_rate")}))
            if perceptron:
                w, b = (np.array(v) for v in model.get_weights())
                by_hand.perceptron_epoch(w, b, x_train, y_train,
                                         float(live["learning_rate"]), rng)
                model.set_weights([w, b])
            else:
                order = rng.permutation(len(x_train))
                size = int(live["batch_size"])
                for i in range(0, len(order), size):
                    batch = order[i:i + size]
                    loss = step(x_train[batch], y_train[batch], np.float32(l1),
                                np.float32(l2))
                    run.check(loss, f"epoch {epoch}")
                    run.checkpoint()  # an epoch of 2,000 single points takes a second
                    if time.monotonic() - last_shown >= 1 / SNAPSHOTS_PER_S:
                        last_shown = time.monotonic()  # mid-epoch: the plane moves on
                        show(epoch - 1)  # at the pace of the clock, not of the epochs
                    time.sleep(0)  # let the window's thread have the GIL if it waits
            weights = model.get_weights()
            train_m = evaluate(predict, pts, pts.train, l1, l2, weights)
            test_m = evaluate(predict, pts, pts.test, l1, l2, weights)
            run.check(train_m["loss"], f"epoch {epoch}")
            metrics = {**train_m, **{f"val_{k}": v for k, v in test_m.items()}}
            history.append(metrics)
            run.good(model)
            now = time.monotonic()
            last = epoch == config.epochs
            if now - last_shown >= 1 / SNAPSHOTS_PER_S or last:
                last_shown = now
                show(epoch)
            # the curves need fewer points than the plane: each update of a plot costs the
            # window's thread a few milliseconds
            if now - last_loss >= 0.25 or last:
                last_loss = now
                reporter.emit(BatchMetrics(step=epoch, epoch=epoch - 1,
                                           metrics={"loss": train_m["loss"]}))
            if now - last_metrics >= 0.5 or last:
                last_metrics = now
                reporter.emit(EpochMetrics(epoch=epoch - 1, epochs=config.epochs,
                                           metrics=metrics))
            run.autosave(model, epoch, history=history)
            run.checkpoint()
    except StopRequested:
        status = "stopped"
        epoch = len(history)
        message = f"Stopped by you after {epoch} of {config.epochs} epochs."
        run.autosave(model, epoch, force=True, history=history)
    except TrainingDiverged as exc:
        status = "failed"
        run.back_to_good(model)
        del history[epoch - 1:]
        message = (f"{exc} Training was stopped; the network keeps the weights of its last "
                   "good epoch. A smaller learning rate usually fixes this.")
    show(len(history))
    seconds = time.monotonic() - t0
    if status == "finished":
        message = f"Trained {config.epochs - start} epochs in {seconds:.1f} s."
    # the settings it ended with: a learning rate changed on the way is the one kept
    ended = dataclasses.replace(run.request, config=Config(**live))
    meta = config_meta(ended, **run.meta)
    result = TrainedModel(model, "neurons", meta, history, seconds, extra=pts)
    return Done(status, message, result=result, headline=headline(history))


def headline(history) -> str:
    last = history[-1] if history else {}
    if "val_accuracy" not in last:
        return ""
    return (f"Held-out accuracy: {last['val_accuracy']:.1%} "
            f"(training points {last['accuracy']:.1%})")


def _describe(config: Config) -> str:
    layers = hidden_layers(config)
    if not layers:
        return "one sigmoid neuron (logistic regression)"
    sizes = " → ".join(f"{n} {f}" for n, f in layers)
    return f"{len(layers)} hidden layer{'s' if len(layers) > 1 else ''} ({sizes} → 1)"


def _points_meta(pts: Points) -> dict:
    return {"xy": np.round(pts.xy, 4).tolist(), "labels": pts.labels.tolist(),
            "train": pts.train.tolist()}


def points_from_meta(meta: dict, config: Config) -> Points | None:
    """The points a saved model was trained on (None when the file does not hold them)."""
    try:
        p = meta["points"]
        xy, labels = np.array(p["xy"], np.float32).reshape(-1, 2), np.array(p["labels"], int)
        train = np.array(p["train"], int)
        test = np.setdiff1d(np.arange(len(labels)), train)
        return Points(xy, labels, train, test, planar.parse_features(config.features))
    except (KeyError, TypeError, ValueError, SettingsError):
        return None


def load(path) -> TrainedModel:
    meta, config, shape = read_saved(path, "neurons", Config, "a playground network")
    try:
        model = build_model(config, shape[0])
    except SettingsError as exc:
        raise storage.damaged_description(path, exc) from exc
    storage.load_weights(model, path)
    return TrainedModel(model, "neurons", meta, list(meta.get("history", [])),
                        extra=points_from_meta(meta, config))


FAMILY = Family(key="neurons", title="Neurons and backprop",
                summary="One neuron, then layers of them, learning to separate points on a "
                        "plane; backpropagation worked out one example at a time.",
                config=Config, train=train, load=load, datasets=(),
                event_interval_ms=33)  # about 30 redraws a second
