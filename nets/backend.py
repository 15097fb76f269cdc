"""The Keras backend: choosing it, starting it quietly, naming its device, and the few
things that differ per backend.

Family code is written with `keras.ops`, Keras layers and models; what cannot be said that
way is here, once for each backend:

- `compiled(fn)`: a function of tensors compiled for speed (`tf.function`, `jax.jit`;
  PyTorch runs it as it is).
- `predictor(model)`: the model's inference, compiled, returning numpy.
- `gradient_step(model, optimizer, loss_fn)`: one optimiser step of a hand-written
  training loop, where Keras' own `fit` does not fit; a step whose loss or gradient is not
  finite is never applied.

Choosing: `choose(name)` sets KERAS_BACKEND before Keras is imported (Keras reads it once,
at import). TensorFlow is the default; JAX and PyTorch come with the extras
`pip install -e ".[jax]"` and `".[torch]"`.

TensorFlow's native start-up writes lines to the terminal that a person need not worry
about (oneDNN's notice, "Could not find cuda drivers", a failed cuInit on machines with no
GPU), before its own logging can be told to be quiet. `start()` imports it with the
process's stderr caught and passes on every line that is not one of those.
"""
from __future__ import annotations

import importlib.util
import os
import re
import sys
import tempfile
from typing import Callable

import numpy as np

DEFAULT = "tensorflow"
# backend -> (its module, the name people know it by, the pip extra that installs it)
BACKENDS = {
    "tensorflow": ("tensorflow", "TensorFlow", ""),
    "jax": ("jax", "JAX", "jax"),
    "torch": ("torch", "PyTorch", "torch"),
}

# Lines of TensorFlow's start-up that say nothing wrong: on a machine without a GPU, that
# there is none; on any machine, that oneDNN is on and that logging is not set up yet.
NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|port\.cc:\d+\] oneDNN custom operations are on"
    r"|cudart_stub\.cc:\d+\] Could not find cuda drivers"
    r"|cuda_platform\.cc:\d+\] failed call to cuInit"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered"
    r"|TF-TRT Warning: Could not find TensorRT")


# ---------------------------------------------------------------- choosing
def label(name: str) -> str:
    """The backend's name as people know it ("JAX")."""
    return BACKENDS.get(name, (name, name, ""))[1]


def installed(name: str) -> bool:
    return name in BACKENDS and importlib.util.find_spec(BACKENDS[name][0]) is not None


def first_installed() -> str:
    """The default backend where it is installed, else the first that is (a bundle built
    on JAX has no TensorFlow)."""
    return next((b for b in (DEFAULT, *BACKENDS) if installed(b)), DEFAULT)


def install_hint(name: str) -> str:
    extra = BACKENDS[name][2]
    return (f'pip install -e ".[{extra}]"' if extra else 'pip install -e "."')


def choose(name: str | None) -> str:
    """Make `name` (or KERAS_BACKEND, or the default) the backend Keras will load, before
    Keras is imported. Returns a sentence for the person when the wish cannot be met (an
    unknown or missing backend: the default is used), else "". Once Keras is imported its
    backend is fixed: a different wish is then only reported."""
    wish = (name or os.environ.get("KERAS_BACKEND") or DEFAULT).strip().lower()
    fallback = first_installed()
    note = ""
    if wish not in BACKENDS:
        note = (f"Unknown backend {wish!r} (known: {', '.join(BACKENDS)}); using "
                f"{label(fallback)}.")
        wish = fallback
    elif not installed(wish):
        if name or os.environ.get("KERAS_BACKEND", DEFAULT) != DEFAULT:  # asked for
            note = (f"{label(wish)} is not installed, so the app uses {label(fallback)}. "
                    f"To use {label(wish)}: {install_hint(wish)} (see the README for GPU "
                    "builds).")
        wish = fallback
    if "keras" in sys.modules:
        current = name_now()
        if current != wish:
            return (f"Keras is already running on {label(current)}; {label(wish)} applies "
                    "at the next start.")
        return note
    os.environ["KERAS_BACKEND"] = wish
    if wish == "tensorflow":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return note


def name_now() -> str:
    """The backend Keras runs on (importing Keras)."""
    import keras

    return keras.backend.backend()


# ---------------------------------------------------------------- starting
def start() -> dict:
    """Import Keras and its backend (quietly, once) and describe them and the device:
    {"backend": "jax", "backend_label": "JAX", "backend_version": ..., "keras": ...,
     "device": "CPU (no GPU found)"}."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not _STARTED:  # the backend is fixed once Keras is imported
        _STARTED.update(_quietly(_load))
    return dict(_STARTED)


_STARTED: dict = {}


def describe(info: dict) -> str:
    """One line for the status bar and --selftest: backend, versions and device."""
    return (f"{info['backend_label']} {info['backend_version']} · Keras {info['keras']} · "
            f"{info['device']}")


def _load() -> dict:
    import keras

    name = keras.backend.backend()
    module = importlib.import_module(BACKENDS.get(name, (name,))[0])
    return {"backend": name, "backend_label": label(name),
            "backend_version": getattr(module, "__version__", "?"),
            "keras": keras.__version__, "device": _device(name)}


def _device(name: str) -> str:
    gpus: list[str] = []
    if name == "tensorflow":
        import tensorflow as tf

        for gpu in tf.config.list_physical_devices("GPU"):
            try:
                gpus.append(tf.config.experimental.get_device_details(gpu)
                            .get("device_name") or gpu.name)
            except (RuntimeError, ValueError):
                gpus.append(gpu.name)
    elif name == "jax":
        import jax

        gpus = [d.device_kind for d in jax.devices() if d.platform != "cpu"]
    elif name == "torch":
        import torch

        if torch.cuda.is_available():
            gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            gpus = ["Apple GPU (MPS)"]
    if not gpus:
        return "CPU (no GPU found)"
    return f"GPU: {gpus[0]}" + (f" (+{len(gpus) - 1} more)" if len(gpus) > 1 else "")


def _quietly(fn):
    """fn() with file descriptor 2 caught; afterwards the lines that are not NOISE are
    written to stderr. Where stderr is not a real file (a windowed app), fn() runs as is."""
    try:
        sys.stderr and sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        return fn()
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            return fn()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            lines = caught.read().decode("utf-8", "replace").splitlines()
            kept = [line for line in lines if line.strip() and not NOISE.search(line)]
            if kept and sys.stderr:
                sys.stderr.write("\n".join(kept) + "\n")
                sys.stderr.flush()


# ---------------------------------------------------------------- what differs per backend
def compiled(fn: Callable) -> Callable:
    """`fn`, a function of tensors only (no Keras variables inside: pass them in), compiled
    for the backend. It may be called with numpy arrays."""
    name = name_now()
    if name == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, reduce_retracing=True)
    if name == "jax":
        import jax

        return jax.jit(fn)
    return fn


def predictor(model, training: bool = False) -> Callable:
    """x -> the model's outputs on x as numpy (a list for several outputs), compiled for
    the backend; it always uses the model's current weights."""
    import keras

    name = name_now()
    to_numpy = keras.ops.convert_to_numpy
    if name == "tensorflow":
        import tensorflow as tf

        call = tf.function(lambda x: model(x, training=training), reduce_retracing=True)
    elif name == "jax":
        import jax

        pure = jax.jit(lambda tv, ntv, x: model.stateless_call(tv, ntv, x,
                                                               training=training)[0])

        def call(x):
            return pure([v.value for v in model.trainable_variables],
                        [v.value for v in model.non_trainable_variables], x)
    else:
        import torch

        def call(x):
            with torch.no_grad():
                return model(keras.ops.convert_to_tensor(x), training=training)

    def predict(x):
        out = call(x)
        return [to_numpy(o) for o in out] if isinstance(out, (list, tuple)) else to_numpy(out)

    return predict


def gradient_step(model, optimizer, loss_fn: Callable, variables=None) -> Callable:
    """A compiled optimiser step for a hand-written loop: step(*batch) -> the loss (a
    float; NaN when the step was not finite and so not applied: the weights stay).

    `loss_fn(call, *batch)` computes the loss of a batch with keras.ops, where `call(x)`
    runs `model` on x in training mode (its only way to use the model's weights: other
    tensors, e.g. a target network's values, come in the batch). `variables`, a sub-list
    of model.trainable_variables, are the ones the step updates (a GAN's discriminator's,
    its generator's: both play in one model); the rest count in the loss as they are.
    None: all of them."""
    import keras

    name = name_now()
    variables = list(model.trainable_variables if variables is None else variables)
    known = {id(v) for v in model.trainable_variables}
    if not variables or not all(id(v) in known for v in variables):
        raise ValueError("gradient_step: `variables` must be trainable variables of the "
                         "model")
    optimizer.build(variables)
    if name == "tensorflow":
        return _tf_step(model, optimizer, loss_fn, variables)
    if name == "jax":
        return _jax_step(model, optimizer, loss_fn, variables)
    return _torch_step(model, optimizer, loss_fn, variables, keras)


def _tf_step(model, optimizer, loss_fn, variables):
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def step(*batch):
        with tf.GradientTape() as tape:
            loss = loss_fn(lambda x: model(x, training=True), *batch)
        grads = tape.gradient(loss, variables)
        finite = tf.math.is_finite(loss) & tf.math.is_finite(tf.linalg.global_norm(grads))

        def apply():
            optimizer.apply(grads, variables)
            return tf.constant(True)

        tf.cond(finite, apply, lambda: tf.constant(False))
        return tf.where(finite, loss, tf.constant(float("nan"), loss.dtype))

    return lambda *batch: float(step(*batch))


def _jax_step(model, optimizer, loss_fn, variables):
    import jax
    import jax.numpy as jnp

    every = model.trainable_variables
    chosen = {id(v) for v in variables}
    order = [id(v) for v in every]  # where each chosen and each other variable goes

    def whole(tv, rest):
        """The model's trainable values in its order, from the chosen and the others."""
        chosen_values, other_values = iter(tv), iter(rest)
        return [next(chosen_values) if i in chosen else next(other_values) for i in order]

    def loss_of(tv, rest, ntv, *batch):
        updated = [ntv]

        def call(x):
            y, updated[0] = model.stateless_call(whole(tv, rest), ntv, x, training=True)
            return y

        return loss_fn(call, *batch), updated[0]

    grad_fn = jax.value_and_grad(loss_of, has_aux=True)

    @jax.jit
    def pure(tv, rest, ntv, ov, *batch):
        (loss, ntv2), grads = grad_fn(tv, rest, ntv, *batch)
        tv2, ov2 = optimizer.stateless_apply(ov, grads, tv)
        finite = jnp.isfinite(loss) & jnp.all(jnp.array(
            [jnp.all(jnp.isfinite(g)) for g in jax.tree_util.tree_leaves(grads)]))

        def pick(new, old):
            return jax.tree_util.tree_map(lambda a, b: jnp.where(finite, a, b), new, old)

        return (jnp.where(finite, loss, jnp.nan), pick(tv2, tv), pick(ntv2, ntv),
                pick(ov2, ov))

    def step(*batch):
        tvars, ntvars = variables, model.non_trainable_variables
        ovars = optimizer.variables
        rest = [v.value for v in model.trainable_variables if id(v) not in chosen]
        loss, tv, ntv, ov = pure([v.value for v in tvars], rest,
                                 [v.value for v in ntvars], [v.value for v in ovars], *batch)
        for group, values in ((tvars, tv), (ntvars, ntv), (ovars, ov)):
            for v, value in zip(group, values):
                v.assign(value)
        return float(loss)

    return step


def _torch_step(model, optimizer, loss_fn, variables, keras):
    import torch

    def step(*batch):
        batch = [keras.ops.convert_to_tensor(b) for b in batch]
        model.zero_grad()
        loss = loss_fn(lambda x: model(x, training=True), *batch)
        loss.backward()
        grads = [v.value.grad for v in variables]
        finite = bool(torch.isfinite(loss.detach())) and all(
            g is None or bool(torch.isfinite(g).all()) for g in grads)
        if not finite:
            return float("nan")
        with torch.no_grad():
            optimizer.apply(grads, variables)
        return float(loss.detach())

    return step


def gradients(model, loss_fn: Callable) -> Callable:
    """grads(*batch) -> (loss, [dLoss/dW as numpy, one per trainable variable, in the
    order of model.trainable_variables]), compiled for the backend; the weights are not
    changed. `loss_fn(call, *batch)` is as for gradient_step (here `call` runs the model
    in inference mode, so dropout and batch statistics do not change what is measured)."""
    import keras

    name = name_now()
    to_numpy = keras.ops.convert_to_numpy
    variables = model.trainable_variables
    if name == "tensorflow":
        import tensorflow as tf

        @tf.function(reduce_retracing=True)
        def compute(*batch):
            with tf.GradientTape() as tape:
                loss = loss_fn(lambda x: model(x, training=False), *batch)
            return loss, tape.gradient(loss, variables)
    elif name == "jax":
        import jax

        def loss_of(tv, ntv, *batch):
            return loss_fn(lambda x: model.stateless_call(tv, ntv, x, training=False)[0],
                           *batch)

        pure = jax.jit(jax.value_and_grad(loss_of))

        def compute(*batch):
            return pure([v.value for v in variables],
                        [v.value for v in model.non_trainable_variables], *batch)
    else:
        def compute(*batch):
            batch = [keras.ops.convert_to_tensor(b) for b in batch]
            model.zero_grad()
            loss = loss_fn(lambda x: model(x, training=False), *batch)
            loss.backward()
            return loss.detach(), [v.value.grad for v in variables]

    def grads(*batch):
        loss, g = compute(*batch)
        return float(to_numpy(loss)), [np.zeros(v.shape, np.float32) if x is None
                                       else to_numpy(x) for v, x in zip(variables, g)]

    return grads


def input_gradient(model, loss_fn: Callable) -> Callable:
    """grad(x, *rest) -> (loss, dLoss/dx as numpy, x's shape), compiled for the backend;
    the weights are not changed. `loss_fn(call, x, *rest)` returns a scalar, where `call`
    runs the model in inference mode: an adversarial image's direction, or where a GAN's
    generator would push each of its points (a sum over points gives each its own)."""
    import keras

    name = name_now()
    to_numpy = keras.ops.convert_to_numpy
    if name == "tensorflow":
        import tensorflow as tf

        @tf.function(reduce_retracing=True)
        def compute(x, *rest):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = loss_fn(lambda v: model(v, training=False), x, *rest)
            return loss, tape.gradient(loss, x)
    elif name == "jax":
        import jax

        def loss_of(x, tv, ntv, *rest):
            return loss_fn(lambda v: model.stateless_call(tv, ntv, v, training=False)[0],
                           x, *rest)

        pure = jax.jit(jax.value_and_grad(loss_of))

        def compute(x, *rest):
            return pure(x, [v.value for v in model.trainable_variables],
                        [v.value for v in model.non_trainable_variables], *rest)
    else:
        import torch

        def compute(x, *rest):
            x = keras.ops.convert_to_tensor(x).detach().requires_grad_(True)
            rest = [keras.ops.convert_to_tensor(r) for r in rest]
            loss = loss_fn(lambda v: model(v, training=False), x, *rest)
            return loss.detach(), torch.autograd.grad(loss, x)[0]

    def grad(x, *rest):
        loss, g = compute(keras.ops.convert_to_tensor(np.asarray(x, np.float32)), *rest)
        return float(to_numpy(loss)), to_numpy(g)

    return grad
