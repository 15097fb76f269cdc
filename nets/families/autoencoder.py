"""Autoencoders: plain, stacked (greedy layer-wise, then fine-tuned), and denoising, each
of them sparse when asked.

An autoencoder maps an input X through a code Z and back to X', trained by gradient
descent on the reconstruction cost C(X) = ||X' - X||^2 (here its mean over pixels). The
sparse autoencoder of Ng's UFLDL notes adds weight decay and a penalty that holds each
sigmoid unit's average activation near a small target rho; its units then become pen
strokes on digits and edges on natural-image patches. Each hidden unit is shown as the
input that activates it most under a unit-norm constraint, x_j = W_ij / sqrt(sum_j W_ij^2).
The lesson ends by putting a softmax on the learnt code and fine-tuning the whole network
with few labels, next to the same network from random weights.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nets import data as datasets
from nets import patches as P
from nets import storage
from nets.config import batch_size_param, epochs_param, optimizer_param, param
from nets.registry import Family
from nets.progress import Artifact, BatchMetrics, Done, ImageEvent, Log, Started


CORRUPTIONS = ("masking", "gaussian", "salt_and_pepper")
PHOTO_PATCHES = 20_000  # training patches cut from the sample photos
PHOTO_HELD_OUT = 2_000  # held-out patches, from every fifth column of each photo
PHOTO_WHITENING = 10.0  # the whitening's regulariser, in mean eigenvalues of the patches
# What natural-image patches need instead of the digits' defaults: the sparse
# autoencoder with a linear decoder of the UFLDL notes (rho 0.035, beta 5, lambda 3e-3),
# with 100 units and 30 epochs. With the digits' 196 units at rho 0.1 the features stay
# noisy; after 100 epochs some units drift to smooth shading.
PHOTO_SETTINGS = {"hidden": 100, "sparsity_target": 0.035, "sparsity": 5.0,
                  "weight_decay": 0.003, "epochs": 30}
# The few-labels recipe, measured by benchmarks/autoencoder_lessons.py: the softmax alone
# first, then the whole network; both networks get exactly this.
FEW_LABEL_PROBE_EPOCHS = 100
FEW_LABEL_FINETUNE_EPOCHS = 100
FEW_LABEL_BATCH = 32
WARMUP = 0.05  # the share of an autoencoder's steps over which its learning rate rises


@dataclass
class Config:
    kind: str = param("plain", "Kind", "plain: one hidden layer. stacked: layers trained "
                      "one at a time, then together. denoising: one hidden layer that learns "
                      "to undo corruption (stacked and denoising cannot be combined yet).",
                      choices=("plain", "stacked", "denoising"))
    hidden: int = param(196, "Hidden units", "Size of the code (first hidden layer). More "
                        "units than pixels (784) makes it overcomplete: a plain one can then "
                        "just copy its input, unless denoising or sparsity stops it.", minimum=1,
                        maximum=4096)
    layers: int = param(2, "Stacked layers", "Hidden layers of a stacked autoencoder; each "
                        "has half the units of the one below.", minimum=2, maximum=3,
                        when=("kind", ("stacked",)))
    activation: str = param("sigmoid", "Non-linearity", "Activation of the hidden units "
                            "(the sparsity penalty needs sigmoid units).",
                            choices=("sigmoid", "tanh", "relu"))
    sparsity: float = param(3.0, "Sparsity weight (beta)", "Sigmoid units only: the "
                            "penalty beta * sum_j KL(rho || rho_hat_j), where rho_hat_j is "
                            "unit j's average activation over a batch, pushes every unit to "
                            "be active for only a few inputs, so each one specialises (a "
                            "pen stroke, an edge). 0 turns it off.", minimum=0.0,
                            maximum=100.0, step=0.5, decimals=2,
                            when=("activation", ("sigmoid",)))
    sparsity_target: float = param(0.1, "Target activation (rho)", "Sigmoid units only: "
                                   "the average activation the sparsity penalty asks of "
                                   "each hidden unit (0.1: active for about one input in "
                                   "ten).", minimum=0.001, maximum=0.999, step=0.01,
                                   decimals=3, when=("activation", ("sigmoid",)))
    weight_decay: float = param(0.003, "Weight decay (lambda)", "Adds (lambda/2) ||W||^2, "
                                "the squared weights (not the biases), to the cost: small "
                                "weights give smooth features on a flat background. 0 "
                                "turns it off.", minimum=0.0, maximum=1.0, decimals=5)
    corruption: str = param("masking", "Corruption", "Denoising only: how inputs are "
                            "damaged. masking zeroes pixels, gaussian adds noise, "
                            "salt_and_pepper sets pixels to 0 or 1.", choices=CORRUPTIONS,
                            when=("kind", ("denoising",)))
    corruption_level: float = param(0.3, "Corruption level", "Denoising only: fraction of "
                                    "pixels damaged (noise std for gaussian).", minimum=0.0,
                                    maximum=1.0, step=0.05, decimals=2,
                                    when=("kind", ("denoising",)))
    patch_size: int = param(8, "Photo patch size", "Photos only: the autoencoder learns "
                            "from W x W greyscale patches of the photos, whitened so that "
                            "edges carry the variance, not smooth shading.", minimum=4,
                            maximum=16)
    optimizer: str = optimizer_param()
    learning_rate: float = param(0.1, "Learning rate", "Step size of the first weight "
                                 "updates; it falls to 0 along a cosine by the last epoch "
                                 "(of each stage), so a large start settles down. Too large "
                                 "and the loss explodes.", minimum=1e-6, maximum=10.0,
                                 decimals=6)
    batch_size: int = batch_size_param(256)
    epochs: int = epochs_param(150, "Passes over the training set (per stage when "
                                   "stacked).")
    few_labels: int = param(100, "Labels for the classifier", "After training: a softmax "
                            "is put on the code, trained alone on this many labelled "
                            "examples, then the whole network is fine-tuned on them; the "
                            "same network from random weights is trained the same way, for "
                            "comparison (0 skips it).", minimum=0, maximum=4000)


# Fields a file saved before they existed was trained without: such a file loads with
# these values, not the new defaults, so its config says how it was trained.
ABSENT_IN_OLD_FILES = {"sparsity": 0.0, "weight_decay": 0.0}


def layer_sizes(config: Config) -> list[int]:
    if config.kind != "stacked":
        return [config.hidden]
    return [max(1, config.hidden // 2 ** k) for k in range(config.layers)]


def is_sparse(config: Config) -> bool:
    return config.activation == "sigmoid" and config.sparsity > 0


# ---------------------------------------------------------------- corruption
def corrupt(x, kind: str, level: float, seed=None, pixels: bool = True):
    """Damage a batch (keras ops, so it runs inside training graphs as well as on numpy).
    `pixels`: the values are pixels in [0, 1] (noise is clipped to them, salt is 1);
    otherwise (whitened patches, mean 0) noise is not clipped and salt is +-1."""
    import keras
    from keras import ops

    x = ops.convert_to_tensor(x, "float32")
    if level <= 0:
        return x
    if seed is None or isinstance(seed, int):
        # an int seed would give every draw below the same numbers: salt would then fall
        # exactly on the hit pixels
        seed = keras.random.SeedGenerator(seed)
    if kind == "gaussian":
        noisy = x + level * keras.random.normal(ops.shape(x), seed=seed)
        return ops.clip(noisy, 0.0, 1.0) if pixels else noisy
    hit = keras.random.uniform(ops.shape(x), seed=seed) < level
    if kind == "masking":
        return ops.where(hit, 0.0, x)
    if kind == "salt_and_pepper":
        salt = keras.random.uniform(ops.shape(x), seed=seed) < 0.5
        return ops.where(hit, ops.where(salt, 1.0, 0.0 if pixels else -1.0), x)
    raise ValueError(f"Unknown corruption '{kind}'. Known: {', '.join(CORRUPTIONS)}.")


def _corruption_layer(kind: str, level: float, pixels: bool = True):
    import keras

    class Corrupt(keras.layers.Layer):
        """Corrupts its input while training; passes it through untouched otherwise."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed = keras.random.SeedGenerator(1)

        def call(self, x, training=False):
            return corrupt(x, kind, level, self.seed, pixels) if training else x

    return Corrupt(name="corrupt")


# ---------------------------------------------------------------- sparsity
def kl_sparsity(rho: float, rho_hat):
    """sum_j KL(rho || rho_hat_j) between Bernoulli distributions (keras ops):
    rho log(rho / rho_hat_j) + (1 - rho) log((1 - rho) / (1 - rho_hat_j)), summed over j."""
    from keras import ops

    rho_hat = ops.clip(ops.convert_to_tensor(rho_hat, "float32"), 1e-6, 1.0 - 1e-6)
    return ops.sum(rho * ops.log(rho / rho_hat)
                   + (1.0 - rho) * ops.log((1.0 - rho) / (1.0 - rho_hat)))


def _sparsity_layer(rho: float, weight: float, name: str):
    import keras
    from keras import ops

    class SparsityPenalty(keras.layers.Layer):
        """Passes the code through and adds weight * sum_j KL(rho || rho_hat_j) to the
        loss, rho_hat_j being unit j's mean activation over the batch. (Keras' own
        activity regulariser would see one example at a time; this needs the batch.)"""

        def call(self, h):
            self.add_loss(weight * kl_sparsity(rho, ops.mean(h, axis=0)))
            return h

    return SparsityPenalty(name=name)


# ---------------------------------------------------------------- models
class Autoencoder:
    """The layers of an autoencoder and the Keras models made of them.

    `model` is the whole network (pixels -> code(s) -> pixels). For a stacked autoencoder,
    `stage(k)` is the one-hidden-layer autoencoder of layer k alone, sharing its weights,
    trained on the codes of the layers below it.

    The cost of layer k's autoencoder in the UFLDL notes is (1/2) ||X' - X||^2 summed over
    its d inputs, + (lambda/2) ||W||^2 + beta sum_j KL(rho || rho_hat_j). Keras' loss here
    is the mean squared error, that cost's first term divided by d/2, so the penalties are
    divided by d/2 as well: beta and lambda keep the values of the notes.

    `linear_output` gives the last layer no sigmoid (UFLDL's "linear decoder"), for
    inputs that are not pixels in [0, 1], such as whitened photo patches.
    """

    def __init__(self, config: Config, input_shape, linear_output: bool = False):
        import keras
        from keras import layers

        self.config = config
        self.input_shape = tuple(input_shape)
        self.linear_output = linear_output
        pixels = int(np.prod(input_shape))
        sizes = layer_sizes(config)
        self.sizes = sizes
        below = [pixels] + sizes[:-1]

        def decay(k):
            scale = 2.0 / below[k]
            return (keras.regularizers.L2(config.weight_decay / 2 * scale)
                    if config.weight_decay > 0 else None)

        self.encoders = [layers.Dense(n, activation=config.activation, name=f"encode{k + 1}",
                                      kernel_regularizer=decay(k))
                         for k, n in enumerate(sizes)]
        output = None if linear_output else "sigmoid"
        self.decoders = [layers.Dense(below[k], name=f"decode{k + 1}",
                                      activation=output if k == 0 else config.activation,
                                      kernel_regularizer=decay(k))
                         for k in range(len(sizes))]
        # a layer without weights after each encoder: the same objects serve the whole
        # model and each greedy stage, so a penalty is counted wherever its layer trains
        self.penalties = [_sparsity_layer(config.sparsity_target,
                                          config.sparsity * 2.0 / below[k], f"sparsity{k + 1}")
                          if is_sparse(config) else None for k in range(len(sizes))]
        inputs = keras.Input(self.input_shape, name="image")
        x = layers.Flatten(name="flatten")(inputs)
        if config.kind == "denoising":
            x = _corruption_layer(config.corruption, config.corruption_level,
                                  pixels=not linear_output)(x)
        for k, enc in enumerate(self.encoders):
            x = self._penalised(k, enc(x))
        for dec in reversed(self.decoders):
            x = dec(x)
        outputs = layers.Reshape(self.input_shape, name="image_out")(x)
        self.model = keras.Model(inputs, outputs, name=f"{config.kind}_autoencoder")
        compile_model(self.model, config)

    def _penalised(self, k: int, h):
        return self.penalties[k](h) if self.penalties[k] is not None else h

    def stage(self, k: int, steps: int | None = None):
        """Layer k's own autoencoder: codes of layer k-1 -> layer k -> back (its learning
        rate decaying over `steps` when given)."""
        import keras

        width = self.decoders[k].units
        inputs = keras.Input((width,))
        m = keras.Model(inputs, self.decoders[k](self._penalised(k, self.encoders[k](inputs))),
                        name=f"stage{k + 1}")
        compile_model(m, self.config, steps)
        return m

    def codes_below(self, x: np.ndarray, k: int) -> np.ndarray:
        """The input of layer k: pixels for k = 0, else the codes of layer k - 1."""
        from keras import ops

        h = x.reshape(len(x), -1).astype(np.float32)
        for enc in self.encoders[:k]:
            h = np.concatenate([ops.convert_to_numpy(enc(h[i:i + 2048]))
                                for i in range(0, len(h), 2048)])
        return h

    # ------------------------------------------------------------ what it learnt
    def features(self, layer: int = 0) -> np.ndarray:
        """Each unit of `layer` as the unit-norm input that activates it most, as images.

        Layer 0 uses x_j = W_ij / sqrt(sum_j W_ij^2). A deeper unit is shown through the
        layers below it, linearly: its weights multiplied by the weights beneath. That
        ignores the non-linearities and biases in between, so it only approximates the
        input that excites the unit most.
        """
        w = np.asarray(self.encoders[0].kernel)  # (pixels, units)
        for enc in self.encoders[1:layer + 1]:
            w = w @ np.asarray(enc.kernel)
        return norm_features(w).reshape(-1, *self.input_shape[:2])

    def mean_activation(self, x: np.ndarray) -> float:
        """The first layer's units' activation averaged over x and over the units."""
        return float(self.codes_below(x, 1).mean())

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        from keras import ops

        return ops.convert_to_numpy(self.model(np.asarray(x, np.float32), training=False))

    def top_activating(self, x: np.ndarray, layer: int, unit: int, n: int = 8) -> np.ndarray:
        """Indices of the n images of x that drive one hidden unit hardest."""
        h = self.codes_below(x, layer + 1)[:, unit]
        return np.argsort(-h)[:n]


def norm_features(w: np.ndarray) -> np.ndarray:
    """(inputs, units) weights -> (units, inputs): each column divided by its norm."""
    norms = np.sqrt((w ** 2).sum(axis=0, keepdims=True))
    return (w / np.where(norms > 0, norms, 1)).T


def compile_model(model, config: Config, steps: int | None = None):
    """Mean squared error and the config's optimiser. Over `steps` optimiser steps, when
    given, the learning rate rises from 0 to its set value in the first WARMUP of them,
    then falls back to 0 along a cosine. (Without the warm-up, a large rate's first steps
    can saturate every sigmoid unit of a network that no weight decay holds back, for
    good.)"""
    import keras

    from nets.runner import make_optimizer

    rate = config.learning_rate
    if steps:
        warmup = max(1, int(WARMUP * steps))
        rate = keras.optimizers.schedules.CosineDecay(
            0.0, max(1, int(steps) - warmup), warmup_target=config.learning_rate,
            warmup_steps=warmup)
    # with penalties in the loss, the reconstruction error alone is worth its own curve
    penalised = is_sparse(config) or config.weight_decay > 0
    model.compile(optimizer=make_optimizer(config.optimizer, rate), loss="mse",
                  metrics=[keras.metrics.MeanSquaredError(name="reconstruction")]
                  if penalised else None)


# ---------------------------------------------------------------- photo patches
def photo_patches(photos, size: int, count: int | None = None,
                  held_out: int | None = None, seed: int = 0):
    """The sample photos as a dataset of size x size greyscale patches, prepared as for
    the sparse autoencoder with a linear decoder in the UFLDL notes: each patch's mean
    brightness removed, then ZCA-whitened, so that edges rather than smooth shading carry
    the variance. The whitening's regulariser (PHOTO_WHITENING times the mean eigenvalue)
    is large on purpose: it leaves the finest, noisiest frequencies of the JPEGs damped.
    Each photo is cut into 32-pixel columns; every fifth column gives the held-out
    patches, the rest the training patches. The patches depend on `seed` only, so a saved
    model finds the same ones again."""
    count, held_out = count or PHOTO_PATCHES, held_out or PHOTO_HELD_OUT
    grey = np.asarray(photos.x_train, np.float32).mean(axis=-1)  # (photos, h, w)
    width = 32
    columns = [g[:, i:i + width] for g in grey for i in range(0, g.shape[1] - width + 1,
                                                               width)]
    train_cols = np.stack([c for k, c in enumerate(columns) if k % 5 != 2])
    val_cols = np.stack([c for k, c in enumerate(columns) if k % 5 == 2])
    rng = np.random.default_rng(seed)

    def centred(p):
        return p - p.mean(axis=1, keepdims=True)

    train = centred(P.sample_patches(train_cols, size, count, rng))
    val = centred(P.sample_patches(val_cols, size, held_out, rng))
    mean_eigenvalue = float(np.trace(np.cov(train, rowvar=False))) / train.shape[1]
    whitening = P.Whitening.fit(train, PHOTO_WHITENING * mean_eigenvalue)
    train, val = whitening.apply(train), whitening.apply(val)
    return datasets.Dataset(
        photos.key, f"{count:,} whitened {size}x{size} greyscale patches of the "
        f"{photos.description}, {held_out:,} more held out", train.reshape(-1, size, size, 1),
        np.zeros(len(train), np.int64), val.reshape(-1, size, size, 1),
        np.zeros(len(val), np.int64), [])


def training_data(ds, config: Config):
    """What the autoencoder learns from: the images, or patches of the sample photos."""
    return photo_patches(ds, config.patch_size) if ds.key == "photos" else ds


def held_out_examples(dataset_key: str, input_shape, seed: int = 0):
    """The first 1000 held-out inputs of a saved model's data (for the feature view)."""
    h, w, c = input_shape
    if dataset_key == "photos":
        ds = photo_patches(datasets.load("photos"), h)
    else:
        ds = datasets.load(dataset_key, image_size=(h, w), channels=c, seed=seed)
    return ds.x_val[:1000], ds.y_val[:1000]


# ---------------------------------------------------------------- few labels
def few_label_split(y: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Indices of n labelled examples, as even across classes as the data allows."""
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    per = max(1, n // len(classes))
    idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per] for c in classes])
    return rng.permutation(idx)[:n]


def classifier_on_code(ae: Autoencoder | None, config: Config, input_shape, classes: int):
    """A softmax on the encoder's code: from the autoencoder's encoder when given
    (pretrained), else from random weights. The two are the same network (weight decay
    included); only the starting weights differ."""
    import keras
    from keras import layers

    fresh = ae is None
    ae = ae or Autoencoder(config, input_shape)
    inputs = keras.Input(tuple(input_shape))
    x = layers.Flatten()(inputs)
    for enc in ae.encoders:
        x = enc(x)
    outputs = layers.Dense(classes, activation="softmax", name="softmax")(x)
    model = keras.Model(inputs, outputs, name="scratch" if fresh else "pretrained")
    model.encoders = ae.encoders
    return model


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    from keras import ops

    probs = np.concatenate([ops.convert_to_numpy(model(x[i:i + 1024], training=False))
                            for i in range(0, len(x), 1024)])
    return float((probs.argmax(1) == y).mean())


def train_classifier(model, x, y, *, probe_epochs: int, finetune_epochs: int, callbacks=()):
    """The few-labels recipe, the same for both networks: first the softmax alone, on the
    code as it is (Adam, 3e-3); then the whole network fine-tuned (Adam, 1e-3)."""
    import keras

    batch = min(FEW_LABEL_BATCH, len(x))
    for stage, (epochs, rate, encoders) in enumerate(((probe_epochs, 3e-3, False),
                                                      (finetune_epochs, 1e-3, True))):
        if not epochs:
            continue
        for enc in model.encoders:
            enc.trainable = encoders
        model.compile(optimizer=keras.optimizers.Adam(rate),
                      loss="sparse_categorical_crossentropy")
        model.fit(x, y, epochs=epochs, batch_size=batch, verbose=0, callbacks=list(callbacks))
    return model


def compare_few_labels(ae: Autoencoder, config: Config, ds, reporter,
                       probe_epochs: int | None = None, finetune_epochs: int | None = None,
                       seed: int = 0) -> dict:
    """Held-out accuracy of the pretrained network vs the same network from random
    weights, both trained by `train_classifier` on the same few labels. The pretrained
    encoder is copied, so the autoencoder itself is untouched. The phase announces itself
    with a Started event and moves the progress bar with BatchMetrics (no metric: the
    loss plot keeps the autoencoder's curve)."""
    import keras

    from nets.runner import seed_everything

    probe_epochs = FEW_LABEL_PROBE_EPOCHS if probe_epochs is None else probe_epochs
    finetune_epochs = FEW_LABEL_FINETUNE_EPOCHS if finetune_epochs is None else finetune_epochs
    idx = few_label_split(ds.y_train, config.few_labels, seed)
    x, y = ds.x_train[idx], ds.y_train[idx]
    copy = Autoencoder(config, ae.input_shape, ae.linear_output)
    copy.model.set_weights(ae.model.get_weights())
    steps = int(np.ceil(len(x) / min(FEW_LABEL_BATCH, len(x)))) * (probe_epochs
                                                                  + finetune_epochs)
    reporter.emit(Started(total_steps=2 * steps, metric="",
                          description=f"Few labels, {len(idx)} labelled examples: a softmax "
                                      f"on the code ({probe_epochs} epochs), then the whole "
                                      f"network fine-tuned ({finetune_epochs} epochs); "
                                      "pretrained, then from random weights."))

    class Progress(keras.callbacks.Callback):
        def __init__(self, first: int):
            super().__init__()
            self.step = first

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            reporter.emit(BatchMetrics(step=self.step, epoch=0, metrics={}))
            reporter.controls.checkpoint()

    results = {"labels": len(idx), "probe_epochs": probe_epochs,
               "finetune_epochs": finetune_epochs}
    for k, (name, source) in enumerate((("pretrained", copy), ("scratch", None))):
        seed_everything(seed)
        clf = classifier_on_code(source, config, ae.input_shape, ds.num_classes)
        progress = Progress(k * steps)
        train_classifier(clf, x, y, probe_epochs=probe_epochs,
                         finetune_epochs=finetune_epochs, callbacks=[progress])
        results[name] = accuracy(clf, ds.x_val, ds.y_val)
        reporter.emit(Log(f"Few labels ({len(idx)}), {name}: held-out accuracy "
                          f"{results[name]:.1%}"))
    return results


# ---------------------------------------------------------------- training
def train(request, reporter):
    from keras import ops

    from nets.runner import TrainedModel, config_meta, fit_keras, prepare

    prep = prepare(request, reporter, Config)
    request = prep.request  # a resumed run's settings; the caller's request is unchanged
    config = prep.config
    ds = training_data(prep.dataset, config)
    if ds is not prep.dataset:
        reporter.emit(Log(f"Learning from {ds.description}."))
    photos = ds.key == "photos"
    ae = Autoencoder(config, ds.input_shape, linear_output=photos)
    reporter.emit(Artifact("autoencoder", ae))
    reporter.emit(Artifact("held_out", (ds.x_val[:1000], ds.y_val[:1000])))
    meta = config_meta(request, classes=ds.class_names, input_shape=list(ds.input_shape),
                       dataset_description=ds.description)
    words = "patches" if photos else "digits" if ds.key.startswith("mnist") else "images"
    shown = ds.x_val[datasets.spread_indices(ds.y_val, 16)]
    probe = ds.x_val[:500] if len(ds.x_val) else ds.x_train[:500]
    shown_noisy = ops.convert_to_numpy(corrupt(shown, config.corruption,
                                               config.corruption_level, 7,
                                               pixels=not photos)) \
        if config.kind == "denoising" else shown

    def views(_model):
        layers = len(ae.encoders) if config.kind == "stacked" else 1
        active = ae.mean_activation(probe)
        target = (f" (target rho = {config.sparsity_target:g})" if is_sparse(config) else
                  " (no sparsity penalty)")
        note = (f"Average activation of the layer-1 units on {len(probe)} held-out "
                f"{words}: {active:.3f}{target}.")
        events = [ImageEvent(f"features{k + 1}", display_features(ae.features(k), photos),
                             note=note if k == 0 else "")
                  for k in range(layers)]
        if len(shown) == 0:
            return events
        rec = ae.reconstruct(shown_noisy)
        groups = np.stack([shown, shown_noisy, rec] if config.kind == "denoising" else
                          [shown, rec], 1)
        if photos:  # whitened patches are not pixels in [0, 1]: grey is 0
            groups = display_whitened(groups)
        images = _squeeze(groups.reshape(-1, *shown.shape[1:]))
        if config.kind == "denoising":
            events.append(ImageEvent("reconstructions", images,
                                     note="Each triple: clean, corrupted, reconstructed."))
        else:
            what = ("a held-out whitened photo patch" if photos else
                    f"a held-out {words[:-1]}")
            events.append(ImageEvent("reconstructions", images,
                                     note=f"Each pair: {what} and its reconstruction."))
        return events

    x, xv = ds.x_train, ds.x_val
    validation = (xv, xv) if len(xv) else None
    sparse = " sparse" if is_sparse(config) else ""
    what = {"plain": f"a{sparse} autoencoder", "stacked": f"a stacked{sparse} autoencoder",
            "denoising": f"a denoising{sparse} autoencoder ({config.corruption} "
                         f"{config.corruption_level:g})"}[config.kind]
    steps = int(np.ceil(len(x) / config.batch_size)) * config.epochs  # per stage
    if config.kind != "stacked":
        compile_model(ae.model, config, steps)
        prep.loop.restore(ae.model)
        done = fit_keras(ae.model, family_key="autoencoder", meta=meta, x=x, y=x,
                         validation=validation, epochs=config.epochs,
                         batch_size=config.batch_size, reporter=reporter, images=views,
                         autosave=request.autosave, initial_epoch=prep.initial_epoch,
                         history=prep.history,
                         description=f"Training {what} on {ds.description}.")
    else:
        # Every stage autosaves the whole network (the stages share its layers), numbered
        # by the epoch of the whole run; a resumed run skips the stages already done and
        # goes on in the one it stopped in (a greedy stage's optimizer starts afresh).
        total = FAMILY.length(config)
        stage, within = divmod(prep.initial_epoch, config.epochs)
        fine_tune = len(ae.encoders)  # the last stage
        if prep.initial_epoch and stage < fine_tune:
            prep.loop.restore(ae.model)
        for k in range(stage, len(ae.encoders)):
            reporter.emit(Artifact("stage", (f"layer {k + 1}", k * steps)))
            below = ae.codes_below(x, k)
            below_v = ae.codes_below(xv, k) if len(xv) else None
            done = fit_keras(ae.stage(k, steps), family_key="autoencoder", meta=meta, x=below,
                             y=below, validation=(below_v, below_v) if below_v is not None
                             else None, epochs=config.epochs, batch_size=config.batch_size,
                             reporter=reporter, images=views, autosave=request.autosave,
                             autosave_model=ae.model, announce=k == stage,
                             initial_epoch=within if k == stage else 0,
                             epoch_offset=k * config.epochs, total_epochs=total,
                             description=f"Stacked autoencoder on {ds.description}: "
                                         f"greedy training of layer {k + 1} of "
                                         f"{len(ae.encoders)}, on the codes below it.")
            if done.status != "finished":
                break
        else:
            reporter.emit(Artifact("stage", ("fine-tune", fine_tune * steps)))
            compile_model(ae.model, config, steps)
            if stage == fine_tune:  # with its optimizer state, when it had begun
                prep.loop.restore(ae.model)
            done = fit_keras(ae.model, family_key="autoencoder", meta=meta, x=x, y=x,
                             validation=validation, epochs=config.epochs,
                             batch_size=config.batch_size, reporter=reporter, images=views,
                             autosave=request.autosave, announce=stage == fine_tune,
                             initial_epoch=within if stage == fine_tune else 0,
                             history=prep.history if stage == fine_tune and within else None,
                             epoch_offset=fine_tune * config.epochs, total_epochs=total,
                             description="Fine-tuning all layers together, end to end.")
    history = done.result.history if done.result.model is ae.model else []
    result = TrainedModel(ae.model, "autoencoder", meta, history, done.result.fit_seconds,
                          extra=ae)
    if done.status == "finished" and config.few_labels:
        if ds.num_classes and len(ds.y_val):
            scores = compare_few_labels(ae, config, ds, reporter, seed=request.seed)
            reporter.emit(Artifact("few_labels", scores))
            result.meta["few_labels"] = scores
        else:
            what = ("the sample photos have" if ds.key == "photos" else
                    f"{ds.description} has")
            why = f"The few-labels comparison was skipped: {what} no classes to learn."
            reporter.emit(Log(why))
            reporter.emit(Artifact("few_labels_skipped", why))
    return Done(done.status, done.message, done.detail, result, headline(result))


def headline(result) -> str:
    """The run's main figures: the held-out reconstruction error (without the penalties
    that the loss adds) and, when it ran, what pretraining was worth with few labels."""
    last = result.history[-1] if result.history else {}
    error = last.get("val_reconstruction", last.get("val_loss"))
    words = [f"Held-out reconstruction error {error:.4f} per pixel"] if error is not None \
        else []
    scores = result.meta.get("few_labels")
    if scores:
        words.append(f"with {scores['labels']} labels: pretrained {scores['pretrained']:.1%}"
                     f", from random weights {scores['scratch']:.1%}")
    return "; ".join(words)


def _squeeze(images: np.ndarray) -> np.ndarray:
    return images[..., 0] if images.shape[-1] == 1 else images


def display_features(features: np.ndarray, centre: bool = False) -> np.ndarray:
    """Unit-norm features in [0, 1] for display, each on its own and with 0 as mid-grey
    (as UFLDL's display_network draws them): a feature's flat background stays grey and
    its stroke or edge shows dark and light on it.

    `centre` removes each feature's mean first: for photo patches, whose pixels always
    have the same mean, a feature's mean weight only acts as a second bias, and would
    otherwise paint the whole feature dark."""
    f = np.asarray(features, np.float32)
    if centre:
        f = f - f.mean(axis=tuple(range(1, f.ndim)), keepdims=True)
    peak = np.abs(f).max(axis=tuple(range(1, f.ndim)), keepdims=True)
    return 0.5 + 0.5 * f / np.where(peak > 0, peak, 1)


def display_whitened(groups: np.ndarray) -> np.ndarray:
    """Whitened patches in [0, 1] for display, 0 as mid-grey; each group (a patch, its
    reconstruction, ...) on one scale so that they can be compared."""
    g = np.asarray(groups, np.float32)
    peak = np.abs(g).max(axis=tuple(range(1, g.ndim)), keepdims=True)
    return 0.5 + 0.5 * g / np.where(peak > 0, peak, 1)


def load(path):
    """A saved autoencoder, rebuilt in code from its stored config; only weights are read."""
    from nets.config import from_dict
    from nets.runner import TrainedModel, read_saved

    meta, config, shape = read_saved(path, "autoencoder", Config, "an autoencoder")
    stored = meta.get("config", {})
    absent = {k: v for k, v in ABSENT_IN_OLD_FILES.items() if k not in stored}
    if absent:  # saved before sparsity and weight decay existed: trained without them
        config = from_dict(Config, {**stored, **absent}, strict=True)
    ae = Autoencoder(config, shape, linear_output=meta.get("dataset") == "photos")
    storage.load_weights(ae.model, path)
    return TrainedModel(ae.model, "autoencoder", meta, list(meta.get("history", [])),
                        extra=ae)


FAMILY = Family(key="autoencoder", title="Autoencoders",
                summary="Learn features without labels: plain, stacked, denoising and "
                        "sparse autoencoders.",
                config=Config, train=train, load=load,
                datasets=("mnist", "mnist-5k", "mnist-full", "fashion-mnist", "photos"),
                # a stacked run counts its epochs over all its stages
                run_length=lambda c: c.epochs * (c.layers + 1 if c.kind == "stacked" else 1))
