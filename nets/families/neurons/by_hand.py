"""The playground's network worked out by hand, in numpy: the forward pass neuron by
neuron, the loss, backpropagation by the chain rule, one gradient-descent update, and the
perceptron rule for a single threshold neuron.

Training runs in Keras (see the package); this module is what the person steps through,
and what the window draws the decision surface and every neuron's map with. The tests
check its gradients against Keras' automatic ones.

Weights are Keras' order: [W1, b1, W2, b2, ...], W of shape (inputs, outputs); each layer
computes a = f(z), z = a_below @ W + b. The output is one neuron; its loss the
cross-entropy C = -(y ln a + (1 - y) ln(1 - a)), plus l1 * sum|W| + l2 * sum W^2 over the
weight matrices (not the biases), as in Keras' L1 and L2 regularizers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear", "threshold")
EPSILON = 1e-7  # Keras clips probabilities to [eps, 1 - eps] in its cross-entropy


def activate(name: str, z: np.ndarray) -> np.ndarray:
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-np.clip(z, -60, 60)))
    if name == "linear":
        return z
    if name == "threshold":
        return (z > 0).astype(z.dtype)
    raise ValueError(f"unknown activation {name!r}")


def slope(name: str, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """f'(z), written with the activation a = f(z) where that is simpler. A threshold's
    slope is zero wherever it is defined: nothing flows back through it."""
    if name == "tanh":
        return 1 - a * a
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if name == "sigmoid":
        return a * (1 - a)
    if name == "linear":
        return np.ones_like(z)
    if name == "threshold":
        return np.zeros_like(z)
    raise ValueError(f"unknown activation {name!r}")


@dataclass
class Trace:
    """Everything one pass computes, layer by layer (index 0 = first hidden layer)."""

    x: np.ndarray  # (n, inputs)
    z: list  # weighted sums, (n, units) per layer
    a: list  # activations
    loss: float = 0.0
    data_loss: float = 0.0  # the cross-entropy alone, without the penalty
    dc_da: np.ndarray | None = None  # dC/d(output), (n, 1)
    deltas: list | None = None  # dC/dz per layer
    grads: list | None = None  # [dW1, db1, ...] like the weights


def layers_of(weights) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.asarray(weights[i]), np.asarray(weights[i + 1]))
            for i in range(0, len(weights), 2)]


def forward(weights, activations, x) -> Trace:
    """The forward pass; `activations` names each layer's f (the output's last)."""
    a = np.asarray(x, np.float64)
    trace = Trace(x=a, z=[], a=[])
    for (w, b), f in zip(layers_of(weights), activations, strict=True):
        z = a @ w + b
        a = activate(f, z)
        trace.z.append(z)
        trace.a.append(a)
    return trace


def penalty(weights, l1: float, l2: float) -> float:
    kernels = [w for w, _ in layers_of(weights)]
    return float(sum(l1 * np.abs(w).sum() + l2 * (w * w).sum() for w in kernels))


def backward(weights, activations, x, y, l1: float = 0.0, l2: float = 0.0) -> Trace:
    """Forward, the loss (mean over the examples), and backpropagation:
    delta_out = dC/da * f'(z); delta_below = (delta @ W^T) * f'(z_below);
    dC/dW = a_below^T @ delta / n (+ the penalty's l1 sign(W) + 2 l2 W); dC/db = mean delta.
    """
    t = forward(weights, activations, x)
    y = np.asarray(y, np.float64).reshape(-1, 1)
    n = len(y)
    out = np.clip(t.a[-1], EPSILON, 1 - EPSILON)
    t.data_loss = float(np.mean(-(y * np.log(out) + (1 - y) * np.log(1 - out))))
    t.loss = t.data_loss + penalty(weights, l1, l2)
    t.dc_da = (-(y / out) + (1 - y) / (1 - out)) / n
    layers = layers_of(weights)
    deltas = [None] * len(layers)
    grads = [None] * (2 * len(layers))
    delta = t.dc_da * slope(activations[-1], t.z[-1], t.a[-1])
    for k in range(len(layers) - 1, -1, -1):
        w, _ = layers[k]
        deltas[k] = delta
        below = t.a[k - 1] if k else t.x
        grads[2 * k] = below.T @ delta + l1 * np.sign(w) + 2 * l2 * w
        grads[2 * k + 1] = delta.sum(0)
        if k:
            delta = (delta @ w.T) * slope(activations[k - 1], t.z[k - 1], t.a[k - 1])
    t.deltas, t.grads = deltas, grads
    return t


def update(weights, grads, learning_rate: float) -> list[np.ndarray]:
    """One step of gradient descent: W <- W - learning_rate * dC/dW, for every array."""
    return [np.asarray(w) - learning_rate * g for w, g in zip(weights, grads, strict=True)]


def perceptron_epoch(w: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray,
                     learning_rate: float, rng) -> int:
    """One pass of the perceptron rule over the examples in a random order, in place:
    for each mistake, w += rate * (y - y_hat) * x and b += rate * (y - y_hat). Returns the
    number of mistakes. On separable data it stops making them after finitely many
    (Novikoff 1962); no gradient is needed, which is why a threshold unit can learn alone."""
    mistakes = 0
    for i in rng.permutation(len(x)):
        guess = float(x[i] @ w[:, 0] + b[0] > 0)
        error = float(y[i]) - guess
        if error:
            mistakes += 1
            w[:, 0] += learning_rate * error * x[i]
            b[0] += learning_rate * error
    return mistakes


def initial_weights(sizes: list[int], init: str, seed: int = 0) -> list[np.ndarray]:
    """Weights for a network of layer sizes [inputs, ..., 1], drawn the way the Keras
    model draws its own (Glorot uniform, normal with spread 0.1, or zeros; biases 0):
    for showing a network before it trains. They are not the numbers training starts
    from, which Keras draws itself."""
    rng = np.random.default_rng(seed)
    out = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        if init == "glorot":
            limit = np.sqrt(6 / (n_in + n_out))
            w = rng.uniform(-limit, limit, (n_in, n_out))
        elif init == "small":
            w = rng.normal(0, 0.1, (n_in, n_out))
        else:
            w = np.zeros((n_in, n_out))
        out += [w.astype(np.float32), np.zeros(n_out, np.float32)]
    return out
