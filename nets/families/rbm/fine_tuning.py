"""Fine-tuning a pretrained stack as a classifier, beside the same net from random weights
and a ReLU net of the same sizes: the 2006 lesson and what came after it.
"""
from __future__ import annotations

import numpy as np

from nets import backend
from nets.families.rbm.machine import build_model, pixels_of
from nets.progress import Log


def labelled(y: np.ndarray, how: str, seed: int) -> np.ndarray:
    """Indices of the labelled digits for fine-tuning: `how` per 10 classes, spread."""
    if how == "all":
        return np.arange(len(y))
    rng = np.random.default_rng(seed + 7)
    n = int(how) // len(np.unique(y))
    return np.concatenate([rng.permutation(np.flatnonzero(y == c))[:n]
                           for c in np.unique(y)])


def fine_tune(model, config, ds, seed: int, reporter) -> dict:
    """Backprop on labelled digits from the pretrained stack, from random weights (the
    same net, N(0, 0.01) weights, zero biases) and, for comparison, a ReLU net of the same
    sizes (relu_net), the same way: Adam, cross-entropy."""
    from nets.runner import make_optimizer

    idx = labelled(ds.y_train, config.fine_tune, seed)
    x, y = ds.x_train[idx], ds.y_train[idx]
    xv, yv = ds.x_val, ds.y_val
    out = {"labels": int(len(idx))}
    sizes = [int(layer.units) for layer in model.layers if layer.name.startswith("rbm")]
    pretrained = build_model(sizes, ds.input_shape, ds.num_classes)
    pretrained.set_weights(model.get_weights())  # a copy: the RBMs themselves stay as learnt
    nets = (("pretrained", pretrained),
            ("random", build_model(sizes, ds.input_shape, ds.num_classes, seed + 1)),
            ("relu", relu_net(sizes, ds.input_shape, ds.num_classes, seed + 2)))
    for name, net in nets:
        reporter.emit(Log(f"Fine-tuning the {name} net on {len(idx):,} labelled digits "
                          f"({config.fine_tune_epochs} epochs) ..."))
        if name != "relu":
            out[f"{name}_gradient_norms"] = gradient_norms(
                net, pixels_of(x[:256], config.pixels).reshape(x[:256].shape), y[:256])
        net.compile(make_optimizer("adam", 1e-3), "sparse_categorical_crossentropy",
                    metrics=["accuracy"])
        stopper = stop_callback(reporter)
        net.fit(pixels_of(x, config.pixels).reshape(x.shape), y,
                epochs=config.fine_tune_epochs, batch_size=32, verbose=0,
                callbacks=[stopper])
        _, acc = net.evaluate(pixels_of(xv, config.pixels).reshape(xv.shape), yv,
                              verbose=0)
        out[name] = float(acc)
    reporter.emit(Log(f"Held-out accuracy after fine-tuning: pretrained {out['pretrained']:.1%}"
                      f", from random weights {out['random']:.1%}; the same shape of ReLU "
                      f"net with Glorot weights (the later fix) {out['relu']:.1%}."))
    return out


def relu_net(sizes: list[int], input_shape, classes: int, seed: int):
    """The later way round the problem pretraining solved: the same layer sizes of ReLU
    units with Glorot weights, from random (the Neurons and depth tabs' fix)."""
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input(tuple(input_shape)), keras.layers.Flatten()]
        + [keras.layers.Dense(n, activation="relu") for n in sizes]
        + [keras.layers.Dense(classes, activation="softmax")], name="relu_net")


def label_loss(call, x, y):
    """The mean cross-entropy of the labels (module level: TensorFlow's AutoGraph warns
    about a nested function that closes over modules imported in its parent)."""
    import keras

    return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, call(x)))


def gradient_norms(model, x, y) -> list[float]:
    """||dLoss/dW|| of each layer's weights (the RBMs', then the softmax's) on a batch,
    before fine-tuning: the vanishing-gradient view's measure, for a pretrained net and a
    random one."""
    kernels = [layer.W for layer in model.layers if layer.name.startswith("rbm")]
    kernels.append(model.get_layer("labels").kernel)
    wanted = [next(i for i, v in enumerate(model.trainable_variables) if v is k)
              for k in kernels]
    _, grads = backend.gradients(model, label_loss)(np.asarray(x, np.float32),
                                                    np.asarray(y, np.int32))
    return [float(np.linalg.norm(grads[i])) for i in wanted]


def stop_callback(reporter):
    import keras

    class Stop(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            reporter.controls.checkpoint()

    return Stop()
