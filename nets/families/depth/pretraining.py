"""Greedy layer-wise pretraining of the deep classifier (Hinton et al. 2006 with RBMs,
Bengio et al. 2007 with autoencoders; here autoencoders): each hidden layer in turn, from
the input up, learns to rebuild its own input (the codes of the layer below) through a
small decoder, with the recipe of the Autoencoders family (mean squared error, Adam with a
warm-up and a cosine decay: autoencoder.compile_model). The hidden layers keep what they
learnt; the decoders are thrown away; the whole net is then fine-tuned on the labels.

The Autoencoders family's `Autoencoder` class is not used itself: its stacked layers
halve in width and stop at three, while this net has equal widths and up to ten layers.
"""
from __future__ import annotations

import numpy as np

from nets import backend
from nets.progress import BatchMetrics, Log

PRETRAIN_RATE = 0.03  # Adam's rate for each layer's autoencoder (benchmarks/depth.py)


def blocks(model, hidden_layers: int) -> list[list]:
    """The layers of each hidden layer: [Dense, (BatchNormalization,) Activation]."""
    names = {layer.name: layer for layer in model.layers}
    out = []
    for k in range(1, hidden_layers + 1):
        block = [names[f"hidden{k}"]]
        if f"norm{k}" in names:
            block.append(names[f"norm{k}"])
        block.append(names[f"act{k}"])
        out.append(block)
    return out


def codes(block: list, h: np.ndarray) -> np.ndarray:
    """A hidden layer's output for inputs h, its batch norm (if any) using the statistics
    of h itself."""
    import keras
    from keras import ops

    out = ops.convert_to_tensor(h)
    for layer in block:
        if isinstance(layer, keras.layers.BatchNormalization):
            values = ops.convert_to_numpy(out)
            layer.moving_mean.assign(values.mean(axis=0))
            layer.moving_variance.assign(values.var(axis=0))
        out = layer(out, training=False)
    return ops.convert_to_numpy(out)


def stage_model(block: list, width_below: int, activation: str, first: bool, epochs: int,
                steps: int):
    """Layer k's autoencoder: its input -> the hidden layer (shared with the classifier)
    -> a decoder back to its input, compiled as the Autoencoders family compiles one."""
    import keras

    from nets.families import autoencoder

    inputs = keras.Input((width_below,))
    x = inputs
    for layer in block:
        x = layer(x)
    # pixels and sigmoid codes lie in [0, 1]: a sigmoid decoder; other codes: linear
    bounded = first or activation == "sigmoid"
    decoder = keras.layers.Dense(width_below, activation="sigmoid" if bounded else None)
    model = keras.Model(inputs, decoder(x))
    settings = autoencoder.Config(kind="stacked", activation=activation, sparsity=0.0,
                                  weight_decay=0.0, optimizer="adam",
                                  learning_rate=PRETRAIN_RATE, epochs=epochs)
    autoencoder.compile_model(model, settings, steps * epochs)
    return model


def reconstruction(call, x):
    from keras import ops

    return ops.mean(ops.square(call(x) - x))


def pretrain(model, config, x: np.ndarray, reporter, rng: np.random.Generator,
             first_step: int = 0) -> int:
    """Pretrain each hidden layer of `model` on the training images x, greedily; emits a
    BatchMetrics per batch ("reconstruction") and a Log per layer, obeys stop and pause.
    Returns the global step reached."""
    h = x.reshape(len(x), -1).astype(np.float32)
    batch = min(config.batch_size, len(h))
    steps = int(np.ceil(len(h) / batch))
    step = first_step
    layers = blocks(model, config.hidden_layers)
    for k, block in enumerate(layers):
        stage = stage_model(block, h.shape[1], config.activation, k == 0,
                            config.pretrain_epochs, steps)
        update = backend.gradient_step(stage, stage.optimizer, reconstruction)
        means = []
        for epoch in range(config.pretrain_epochs):
            order = rng.permutation(len(h))
            total = 0.0
            for s in range(steps):
                xb = h[order[s * batch:(s + 1) * batch]]
                loss = update(xb)
                total += loss * len(xb)
                step += 1
                reporter.emit(BatchMetrics(step, 0, {"reconstruction": loss}))
                reporter.controls.checkpoint()
            means.append(total / len(h))
        reporter.emit(Log(f"Pretraining layer {k + 1} of {len(layers)}: it learnt to "
                          f"rebuild {'the pixels' if k == 0 else f'the codes of layer {k}'}"
                          f" through {config.width} units; reconstruction error "
                          f"{means[0]:.4f} -> {means[-1]:.4f}."))
        h = codes(block, h)
    return step
