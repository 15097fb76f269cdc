"""Sparse coding: an image patch as a sparse sum of learnt basis patches, x ~ sum_i a_i phi_i.

The dictionary of k unit-norm atoms phi_i and the codes a are found by minimising
||x - sum_i a_i phi_i||^2 + lambda * sum_i |a_i| (Olshausen & Field 1996), alternating
two steps on mini-batches: the codes by FISTA (Beck & Teboulle 2009: gradient steps plus
soft thresholding, with momentum) and the atoms by block-coordinate descent on the
running statistics of codes and patches (Mairal, Bach, Ponce & Sapiro 2009, the method
scikit-learn's MiniBatchDictionaryLearning uses). Mairal et al. project each atom back into
the unit ball (norm <= 1); here it is rescaled to norm exactly 1, where the atoms in use
end up anyway. Both steps are compiled Keras ops, so they run on any backend.
Unlike an autoencoder, coding a new image is itself an optimisation: the tab times both.
"""
from __future__ import annotations

import contextlib
import functools
import time
from dataclasses import dataclass

import numpy as np

from nets import patches as P
from nets import storage
from nets.config import param
from nets.registry import Family
from nets.progress import (Artifact, BatchMetrics, Done, EpochMetrics, ImageEvent, Log,
                           Started, StopRequested)

PREPROCESSING = ("normalise", "centre", "none")
ACTIVE = 1e-6  # a coefficient counts as non-zero above this


@dataclass
class Config:
    patch_size: int = param(28, "Patch size W", "Width of the square patches. The image "
                            "size (28 for digits) codes whole images; 8 to 12 suits "
                            "photos.", minimum=2, maximum=64)
    atoms: int = param(256, "Atoms k", "Basis patches in the dictionary. More than the "
                       "pixels in a patch makes it overcomplete.", minimum=2, maximum=2048)
    sparsity: float = param(0.1, "Sparsity penalty (lambda)", "Weight of the L1 penalty "
                            "on the coefficients: larger gives fewer active atoms and a "
                            "rougher reconstruction. 0 is plain least squares.",
                            minimum=0.0, maximum=10.0, step=0.01, decimals=4)
    preprocessing: str = param("normalise", "Preprocessing", "normalise: remove each "
                               "patch's mean brightness and scale it to unit length (lambda "
                               "then means the same for any patch size). centre: remove the "
                               "mean only. none: raw pixels.", choices=PREPROCESSING)
    init: str = param("random patches", "Initial atoms", "random patches: atoms start as "
                      "training patches (converges fastest). noise: they start as random "
                      "noise, so everything they show was learnt (needs more epochs).",
                      choices=("random patches", "noise"))
    patches: int = param(20_000, "Patches", "Training patches cut from the training images. "
                         "At most one per image when the patch is as large as the image "
                         "(28 for digits): the patch is then the whole image.", minimum=10,
                         maximum=1_000_000)
    coding_iterations: int = param(60, "FISTA iterations", "Optimisation steps to find the "
                                   "codes of each batch.", minimum=1, maximum=2000)
    batch_size: int = param(256, "Batch size", "Patches per alternation of a coding and a "
                            "dictionary step.", minimum=1, maximum=65536)
    epochs: int = param(5, "Epochs", "Passes over the training patches.", minimum=1,
                        maximum=500)


# ---------------------------------------------------------------- patches in and out
@dataclass
class Prepared:
    """Patches as the dictionary sees them, and how to get the pixels back."""

    x: np.ndarray  # (n, d)
    mean: np.ndarray  # (n, 1)
    scale: np.ndarray  # (n, 1)

    def restore(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(z, np.float32) * self.scale + self.mean


def preprocess(x: np.ndarray, mode: str) -> Prepared:
    x = np.asarray(x, np.float32).reshape(len(x), -1)
    n, d = x.shape
    zero, one = np.zeros((n, 1), np.float32), np.ones((n, 1), np.float32)
    if mode == "none":
        return Prepared(x, zero, one)
    mean = x.mean(axis=1, keepdims=True)
    if mode == "centre":
        return Prepared(x - mean, mean, one)
    if mode != "normalise":
        raise ValueError(f"Unknown preprocessing {mode!r}. Known: {', '.join(PREPROCESSING)}.")
    # Contrast-normalised as in nets.patches (flat patches stay near zero), then / sqrt(d)
    # so that a typical patch has unit length whatever its size.
    scale = (np.sqrt((x - mean).var(axis=1, keepdims=True) + P.CONTRAST_EPSILON)
             * np.float32(np.sqrt(d))).astype(np.float32)
    return Prepared((x - mean) / scale, mean, scale)


def training_patches(images: np.ndarray, size: int, count: int,
                     rng: np.random.Generator) -> np.ndarray:
    """Greyscale patches (count, size*size) from random images at random places. When the
    images hold no more than `count` different patches, every one of them once, in random
    order: a patch as large as the image is the whole image, one per image."""
    images = np.asarray(images, np.float32)
    if images.ndim == 4 and images.shape[-1] == 3:
        images = images.mean(axis=-1)
    images = images.reshape(images.shape[:3])
    return P.draw_patches(images, size, count, rng)


def as_patch(image: np.ndarray, size: int) -> np.ndarray:
    """A person's image (2-D, any size, values in [0, 1]) resized to one size x size patch."""
    from PIL import Image

    a = np.asarray(image, np.float32)
    a = a.mean(axis=-1) if a.ndim == 3 else a
    if a.shape != (size, size):
        img = Image.fromarray(np.clip(a * 255, 0, 255).astype(np.uint8))
        a = np.asarray(img.resize((size, size), Image.Resampling.LANCZOS), np.float32) / 255
    return np.clip(a, 0, 1).reshape(1, -1)


# ---------------------------------------------------------------- the optimisation
def lipschitz(atoms) -> float:
    """2 * largest eigenvalue of the Gram matrix: the gradient of ||x - aD||^2 changes at
    most this fast, so 1/L is a safe step size. The (k, k) eigenproblem is numpy's (Keras
    has eigh only, which also finds the eigenvectors: slow on JAX)."""
    from keras import ops

    gram = ops.convert_to_numpy(ops.matmul(atoms, ops.transpose(atoms)))
    with _one_blas_thread():
        return 2.0 * float(np.linalg.eigvalsh(gram)[-1])


@functools.cache
def _blas_threads():
    try:
        from threadpoolctl import ThreadpoolController  # comes with scikit-learn
    except ImportError:
        return None
    return ThreadpoolController()


def _one_blas_thread():
    """numpy's BLAS on one thread for a while: next to the backend's own busy threads its
    threads can make a 2 ms eigenproblem take half a second."""
    controller = _blas_threads()
    return (controller.limit(limits=1, user_api="blas") if controller is not None
            else contextlib.nullcontext())


def soft_threshold(v, threshold):
    from keras import ops

    return ops.sign(v) * ops.relu(ops.abs(v) - threshold)


def objective(x, codes, atoms, lam):
    """Mean over rows of ||x - a D||^2 + lambda * ||a||_1 (the slide's formula, per patch)."""
    from keras import ops

    x, codes, atoms = (ops.convert_to_tensor(a) for a in (x, codes, atoms))
    residual = x - ops.matmul(codes, atoms)
    return ops.mean(ops.sum(ops.square(residual), axis=1)
                    + lam * ops.sum(ops.abs(codes), axis=1))


class CodingOps:
    """The compiled pieces (nets.backend.compiled: on the backend's device); built once
    per process by `coding_ops()`."""

    def __init__(self):
        from keras import ops

        from nets.backend import compiled

        def fista(x, atoms, lam, iterations, step_size):
            """Codes minimising ||x - a D||^2 + lam * |a|_1 for every row of x at once;
            lam is a number or one per row, shape (n, 1)."""
            gram = ops.matmul(atoms, ops.transpose(atoms))
            b = ops.matmul(x, ops.transpose(atoms))
            # one threshold per row, shape (n, 1), whether lam came as a number or per row
            threshold = ops.reshape(lam, (-1, 1)) * step_size

            def step(_, state):
                a, y, t = state
                grad = 2.0 * (ops.matmul(y, gram) - b)
                a_next = soft_threshold(y - step_size * grad, threshold)
                t_next = (1.0 + ops.sqrt(1.0 + 4.0 * t * t)) / 2.0
                y = a_next + ((t - 1.0) / t_next) * (a_next - a)
                return a_next, y, t_next

            a = ops.zeros_like(b)
            return ops.fori_loop(0, iterations, step, (a, a, ops.ones((), b.dtype)))[0]

        def update_atoms(atoms, stat_a, stat_b):
            """One sweep of block-coordinate descent over the atoms (Mairal et al. 2009,
            algorithm 2): atom j moves to its least-squares best given the others, then
            to unit length (the paper: back into the unit ball, if outside). An atom no
            code uses, or one that would vanish, stays as it is.
            stat_a = sum a a^T (k, k), stat_b = sum a^T x (k, d)."""
            def sweep(j, atoms):
                a_j = ops.take(stat_a, j, axis=0)  # (k,)
                ajj = ops.take(a_j, j)
                atom = ops.take(atoms, j, axis=0)
                u = atom + (ops.take(stat_b, j, axis=0)
                            - ops.matmul(a_j, atoms)) / ops.maximum(ajj, 1e-10)
                norm = ops.sqrt(ops.sum(ops.square(u)))
                moved = ops.where((ajj > 1e-10) & (norm > 1e-10),
                                  u / ops.maximum(norm, 1e-10), atom)
                return ops.slice_update(atoms, (j, 0), moved[None, :])

            return ops.fori_loop(0, ops.shape(atoms)[0], sweep, atoms)

        self.fista = compiled(fista)
        self.update_atoms = compiled(update_atoms)


@functools.cache
def coding_ops() -> CodingOps:
    return CodingOps()


def encode(x: np.ndarray, atoms, lam, iterations: int, step_size=None) -> np.ndarray:
    """Sparse codes of prepared rows x for a dictionary (k, d)."""
    from keras import ops

    atoms = ops.convert_to_tensor(atoms, "float32")
    if step_size is None:
        step_size = 1.0 / lipschitz(atoms)
    return ops.convert_to_numpy(coding_ops().fista(
        ops.convert_to_tensor(x, "float32"), atoms, ops.convert_to_tensor(lam, "float32"),
        np.int32(iterations), np.float32(step_size)))


# ---------------------------------------------------------------- the model
def build_model(config: Config):
    """The dictionary as a Keras model (its atoms are a weight, so the usual .keras file
    holds it); calling it codes prepared patches."""
    import keras

    d, k = config.patch_size ** 2, config.atoms

    class SparseDictionary(keras.Model):
        def __init__(self):
            super().__init__(name="sparse_dictionary")
            self.atoms = self.add_weight(shape=(k, d), name="atoms", trainable=False,
                                         initializer="zeros")
            self._step = None
            self.built = True  # every weight exists now; loading may begin

        def set_atoms(self, atoms) -> None:
            self.atoms.assign(np.asarray(atoms, np.float32))
            self._step = None

        def step_size(self):
            if self._step is None:
                self._step = 1.0 / float(lipschitz(self.atoms.value))
            return self._step

        def codes(self, x, lam=None, iterations=None):
            return encode(x, self.atoms.value, config.sparsity if lam is None else lam,
                          iterations or config.coding_iterations, self.step_size())

        def call(self, x, training=False):
            return self.codes(x)

    return SparseDictionary()


def _numpy(tensor) -> np.ndarray:
    from keras import ops

    return ops.convert_to_numpy(tensor)


def atom_images(atoms: np.ndarray, size: int) -> np.ndarray:
    return P.as_images(_numpy(atoms), size, 1)


@dataclass
class Coded:
    """One image coded: what the tab shows for it."""

    image: np.ndarray  # (size, size) the pixels that were coded
    code: np.ndarray  # (k,)
    reconstruction: np.ndarray  # (size, size) in pixel values
    active: int  # non-zero coefficients
    error: float  # mean squared error per pixel of the reconstruction
    seconds: float  # time to code it (the optimisation)


def code_image(model, config: Config, patch: np.ndarray, lam: float) -> Coded:
    """Code one (1, d) patch of pixels and rebuild it."""
    prepared = preprocess(patch, config.preprocessing)
    t0 = time.perf_counter()
    code = model.codes(prepared.x, lam)
    seconds = time.perf_counter() - t0
    recon = prepared.restore(code @ _numpy(model.atoms))
    size = config.patch_size
    return Coded(np.asarray(patch, np.float32).reshape(size, size), code[0],
                 recon.reshape(size, size), int(np.sum(np.abs(code) > ACTIVE)),
                 float(np.mean((recon - patch) ** 2)), seconds)


def sparsity_sweep(model, config: Config, patch: np.ndarray, lams: np.ndarray):
    """(active atoms, error per pixel) of one patch for each lambda, all in one FISTA run."""
    prepared = preprocess(np.repeat(patch, len(lams), axis=0), config.preprocessing)
    codes = model.codes(prepared.x, np.asarray(lams, np.float32)[:, None])
    recon = prepared.restore(codes @ _numpy(model.atoms))
    return (np.sum(np.abs(codes) > ACTIVE, axis=1),
            np.mean((recon - patch) ** 2, axis=1))


def encoding_times(model, config: Config, repeats: int = 30) -> dict:
    """Median seconds to code one patch by optimisation, against one forward pass of an
    autoencoder encoder with the same code size (the Autoencoders tab's Dense layer; the
    time of a forward pass does not depend on what its weights are)."""
    import keras

    from nets.backend import predictor

    d, k = config.patch_size ** 2, config.atoms
    x = np.random.default_rng(0).random((1, d), np.float32)
    encoder = keras.Sequential([keras.Input((d,)), keras.layers.Dense(k, "sigmoid")])
    forward = predictor(encoder)

    def median(fn):
        np.asarray(fn())  # warm up (tracing)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            np.asarray(fn())
            times.append(time.perf_counter() - t0)
        return float(np.median(times))

    prepared = preprocess(x, config.preprocessing).x
    return {"sparse_coding": median(lambda: model.codes(prepared)),
            "autoencoder": median(lambda: forward(x)),
            "iterations": config.coding_iterations}


# ---------------------------------------------------------------- learning
def learn(config: Config, x: np.ndarray, val: np.ndarray | None, model,
          rng: np.random.Generator, reporter, run=None) -> list[dict]:
    """Alternate FISTA codes and dictionary sweeps over mini-batches; returns the history.

    Stop keeps the atoms reached so far (StopRequested is re-raised after storing them).
    With `run` (nets.loop.Loop) each epoch is autosaved, and a resumed run goes on from its
    autosave's atoms; the running statistics A and B, which are not saved, start afresh.
    """
    from keras import ops

    coding = coding_ops()
    n, d = x.shape
    k = config.atoms
    if config.init == "random patches":
        atoms = x[rng.choice(n, k, replace=k > n)].copy()
        atoms += 1e-3 * rng.standard_normal(atoms.shape).astype(np.float32)  # no zero rows
    else:
        atoms = rng.standard_normal((k, d)).astype(np.float32)
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    history: list[dict] = []
    if run is not None and run.position:
        run.restore(model)
        atoms = ops.convert_to_numpy(model.atoms)
        history = list(run.saved.get("history", []))[:run.position]
        reporter.emit(Log("The atoms go on from the autosave; the running statistics of "
                          "the codes (A and B) start afresh."))
    atoms = ops.convert_to_tensor(atoms)
    stat_a = ops.zeros((k, k))
    stat_b = ops.zeros((k, d))
    lam = np.float32(config.sparsity)
    iters = np.int32(config.coding_iterations)
    batch = min(config.batch_size, n)
    steps = int(np.ceil(n / batch))
    seen, last_image = 0, 0.0

    def show(force=False):
        nonlocal last_image
        if force or time.monotonic() - last_image > 0.5:
            last_image = time.monotonic()
            reporter.emit(ImageEvent("atoms", atom_images(ops.convert_to_numpy(atoms),
                                                          config.patch_size)))

    fewer = f" (not {config.patches:,}: see the log)" if n < config.patches else ""
    reporter.emit(Started(config.epochs * steps, f"Learning {k} atoms from {n:,} "
                          f"{config.patch_size}x{config.patch_size} patches{fewer}, lambda = "
                          f"{config.sparsity:g}.", first_step=len(history) * steps,
                          metric="objective"))
    for epoch, metrics in enumerate(history):  # the curves so far of a resumed run
        reporter.emit(EpochMetrics(epoch, config.epochs, metrics))
    show(force=True)
    try:
        for epoch in range(len(history), config.epochs):
            t0 = time.monotonic()
            order = rng.permutation(n)
            total, active = 0.0, 0.0
            for s in range(steps):
                xb = ops.convert_to_tensor(x[order[s * batch:(s + 1) * batch]])
                step_size = np.float32(1.0 / lipschitz(atoms))
                codes = coding.fista(xb, atoms, lam, iters, step_size)
                value = float(ops.convert_to_numpy(objective(xb, codes, atoms, lam)))
                # Mairal's forgetting factor: old statistics fade as the atoms improve
                m = int(xb.shape[0])
                seen += 1
                theta = m * seen if seen < m else m * m + seen - m
                beta = (theta + 1.0 - m) / (theta + 1.0)
                stat_a = beta * stat_a + ops.matmul(ops.transpose(codes), codes) / m
                stat_b = beta * stat_b + ops.matmul(ops.transpose(codes), xb) / m
                atoms = coding.update_atoms(atoms, stat_a, stat_b)
                atoms = _reseed_unused(atoms, stat_a, xb, rng)
                total += value * m
                active += float(np.sum(np.abs(ops.convert_to_numpy(codes)) > ACTIVE))
                reporter.emit(BatchMetrics(epoch * steps + s + 1, epoch, {"objective": value}))
                show()
                reporter.controls.checkpoint()
            metrics = {"objective": total / n, "active atoms": active / n}
            if val is not None and len(val):
                vcodes = encode(val, atoms, config.sparsity, config.coding_iterations)
                metrics["val_objective"] = float(ops.convert_to_numpy(
                    objective(val, vcodes, atoms, lam)))
                metrics["val_active atoms"] = float(np.mean(np.sum(np.abs(vcodes) > ACTIVE, 1)))
            history.append(metrics)
            reporter.emit(EpochMetrics(epoch, config.epochs, metrics,
                                       time.monotonic() - t0))
            show(force=True)
            if run is not None:
                model.set_atoms(ops.convert_to_numpy(atoms))
                run.autosave(model, epoch + 1, history=history)
    finally:
        model.set_atoms(ops.convert_to_numpy(atoms))
    return history


def _reseed_unused(atoms, stat_a, xb, rng):
    """An atom no code uses (zero diagonal of A) gets a random patch of the batch, so no
    atom stays dead."""
    from keras import ops

    unused = np.flatnonzero(np.diagonal(ops.convert_to_numpy(stat_a)) <= 1e-10)
    if not len(unused):
        return atoms
    rows = ops.convert_to_numpy(xb)[rng.choice(len(xb), len(unused))]
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    rows = np.where(norms > 1e-6, rows / np.maximum(norms, 1e-6),
                    rng.standard_normal(rows.shape) / np.sqrt(rows.shape[1]))
    atoms = np.array(ops.convert_to_numpy(atoms))
    atoms[unused] = rows
    return ops.convert_to_tensor(atoms)


def train(request, reporter):
    from nets.runner import TrainedModel, config_meta, prepare

    prep = prepare(request, reporter, Config)
    request = prep.request  # a resumed run's settings; the caller's request is unchanged
    config, ds = prep.config, prep.dataset
    rng = np.random.default_rng(request.seed)
    size = config.patch_size
    x = preprocess(training_patches(ds.x_train, size, config.patches, rng),
                   config.preprocessing).x
    supply = P.supply_note(ds.x_train.shape, size, config.patches)
    if supply:
        reporter.emit(Log(supply))
    if config.atoms > len(x):
        reporter.emit(Log(f"{config.atoms} atoms but only {len(x)} training patches: some "
                          "atoms start as copies (with a little noise) and will differ."))
    val = None
    if len(ds.x_val):
        val = preprocess(training_patches(ds.x_val, size, min(2000, config.patches), rng),
                         config.preprocessing).x
    model = build_model(config)
    meta = config_meta(request, input_shape=[size, size, 1],
                       dataset_description=ds.description)
    prep.loop.meta.update(meta)
    reporter.emit(Artifact("model", model))
    samples = training_patches(ds.x_val if len(ds.x_val) else ds.x_train, size, 64,
                               np.random.default_rng(1))
    reporter.emit(Artifact("samples", samples.reshape(-1, size, size)))
    t0 = time.monotonic()
    status, word = "finished", "Learnt"
    history: list[dict] = []
    try:
        history = learn(config, x, val, model, rng, reporter, run=prep.loop)
    except StopRequested:
        status, word = "stopped", "Stopped by you; kept"
    trained = TrainedModel(model, "sparse_coding", meta, history)
    last = history[-1] if history else {}
    headline = (f"Held-out objective {last['val_objective']:.4f} with "
                f"{last['val_active atoms']:.1f} active atoms per patch on average"
                if "val_objective" in last else "")
    return Done(status, f"{word} {config.atoms} atoms in {time.monotonic() - t0:.1f} s.",
                result=trained, headline=headline)


def load(path):
    """A saved dictionary, rebuilt from its stored config; only weights are read."""
    from nets.runner import TrainedModel, read_saved

    meta, config, shape = read_saved(path, "sparse_coding", Config, "a sparse-coding "
                                     "dictionary")
    if shape != (config.patch_size, config.patch_size, 1):
        raise storage.StorageError("The dictionary's patch size does not match its "
                                   "description in the file.")
    model = build_model(config)
    storage.load_weights(model, path)
    model.set_atoms(_numpy(model.atoms))
    return TrainedModel(model, "sparse_coding", meta, list(meta.get("history", [])))


FAMILY = Family(key="sparse_coding", title="Sparse coding",
                summary="Learn basis patches so that each input is a sparse sum of a few "
                        "of them.",
                config=Config, train=train, load=load,
                datasets=("mnist", "mnist-5k", "mnist-full", "fashion-mnist", "photos"))
