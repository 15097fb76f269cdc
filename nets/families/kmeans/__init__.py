"""K-means dictionary learning and single-layer image features (Coates, Lee & Ng 2011).

Cut W x W patches from the training images, normalise and (optionally) ZCA-whiten them,
cluster them with mini-batch K-means into K centroids: the dictionary. An image is then
described by its patches (stride S): each patch becomes a K-vector, hard (1 for the
nearest centroid) or triangle (f_k = max(0, mean(z) - z_k), z_k the distance to centroid
k), summed over the four quadrants of the image into 4K features, and a linear classifier
is trained on those. The clustering runs in Keras ops, so on the GPU when there is one.
The paper clustered with full-batch K-means from random centroids; here it is mini-batch
K-means (Sculley 2010) from k-means++ (Arthur & Vassilvitskii 2007) by default.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from nets import patches as P
from nets import storage
from nets.config import param
from nets.errors import DataError, SettingsError
from nets.registry import Family
from nets.progress import (Artifact, BatchMetrics, Done, EpochMetrics, ImageEvent, Log,
                           Started, StopRequested)

from .clustering import (INITS, KMeansResult, fit_kmeans, initial_centers, inertia,
                         kmeans_ops, nearest)
from .features import (ENCODINGS, all_features, build_model, confusion_matrix,
                       dictionary_images, feature_chunk, hard_encode, patch_grid,
                       pooled_features, triangle_encode)

__all__ = ["Config", "FAMILY", "INITS", "ENCODINGS", "KMeansResult", "all_features",
           "build_model", "confusion_matrix", "dictionary_images", "feature_chunk",
           "fit_kmeans", "hard_encode", "inertia", "initial_centers", "kmeans_ops", "load",
           "nearest", "patch_grid", "pooled_features", "run_study", "study_table",
           "study_values", "train", "triangle_encode"]


@dataclass
class Config:
    mode: str = param("single run", "Mode", "single run: one dictionary and one classifier. "
                      "study: the grid of K values x hard/triangle x whitening on/off, as in "
                      "the paper's figures.", choices=("single run", "study"))
    patch_size: int = param(6, "Patch size W", "Width of the square patches, in pixels "
                            "(Coates et al. found 6 to 8 best on CIFAR-10).", minimum=2,
                            maximum=32)
    patches: int = param(100_000, "Patches", "Random patches taken from the training images "
                         "to learn the dictionary; at most as many as there are different "
                         "ones (a patch as large as the image is the whole image: one per "
                         "image).", minimum=100, maximum=2_000_000)
    whiten: bool = param(True, "ZCA whitening", "Decorrelate the pixels of the patches "
                         "first. Without it, K-means mostly learns blurry blobs.")
    whiten_epsilon: float = param(0.1, "Whitening epsilon", "Added to each variance before "
                                  "whitening: larger keeps noise from being amplified.",
                                  minimum=1e-5, maximum=10.0, decimals=5,
                                  when=("whiten", (True,)))
    clusters: int = param(400, "Clusters K", "Number of centroids: the size of the "
                          "dictionary. Each image gets 4K features.", minimum=2,
                          maximum=8000)
    init: str = param("k-means++", "Initialisation", "k-means++ spreads the first centroids "
                      "out (far points are likelier picks); random patches picks them "
                      "anywhere.", choices=INITS)
    kmeans_batch: int = param(4096, "K-means batch", "Patches per mini-batch update. At "
                              "least the number of patches: exact full-batch (Lloyd) "
                              "iterations.", minimum=16, maximum=2_000_000)
    kmeans_epochs: int = param(10, "K-means passes", "Passes over the patches.",
                               minimum=1, maximum=500)
    stride: int = param(1, "Stride S", "Step between patches when describing an image.",
                        minimum=1, maximum=16)
    encoding: str = param("triangle", "Encoding", "triangle: how much closer than average a "
                          "patch is to each centroid (soft). hard: 1 for the nearest "
                          "centroid, 0 elsewhere.", choices=ENCODINGS,
                          when=("mode", ("single run",)))
    classifier_epochs: int = param(30, "Classifier epochs", "Passes of the linear "
                                   "classifier over the training features.", minimum=1,
                                   maximum=500)
    l2: float = param(1e-3, "L2 penalty", "Weight decay of the linear classifier: against "
                      "overfitting the 4K features.", minimum=0.0, maximum=1.0,
                      decimals=6)
    study_clusters: str = param("50,100,200,400,800", "Study: K values", "Study mode: the "
                                "numbers of clusters to compare, separated by commas.",
                                when=("mode", ("study",)))


def study_values(text: str) -> list[int]:
    try:
        values = sorted({int(v) for v in text.replace(";", ",").split(",") if v.strip()})
    except ValueError:
        raise SettingsError(f"Study K values must be whole numbers separated by commas (got "
                        f"{text!r}).") from None
    if not values or min(values) < 2 or max(values) > 8000:
        raise SettingsError("Study K values must be between 2 and 8000.")
    return values


def load(path):
    """A saved K-means model, rebuilt in code from its stored config; only weights are read."""
    from nets.runner import TrainedModel, read_saved

    meta, config, shape = read_saved(path, "kmeans", Config, "a K-means model")
    classes = meta.get("classes")
    if not isinstance(classes, list):
        raise storage.StorageError("The model description in the file has no classes.")
    try:
        model = build_model(config, shape, len(classes))
    except DataError as exc:
        raise storage.damaged_description(path, exc) from exc
    storage.load_weights(model, path)
    return TrainedModel(model, "kmeans", meta, list(meta.get("history", [])))


# ---------------------------------------------------------------- a run
def learn_dictionary(config: Config, x_train: np.ndarray, x_val: np.ndarray, model,
                     rng: np.random.Generator, reporter, *, live: bool = True,
                     run=None) -> KMeansResult:
    """Sample, normalise and whiten patches, run K-means, store it all in `model`.

    With `run` (nets.loop.Loop) each pass is autosaved, and a resumed run goes on from
    its autosave's centroids (the patches are drawn again from the same seed: the same)."""
    size = config.patch_size
    patches = P.normalise(P.draw_patches(x_train, size, config.patches, rng))
    whitening = (P.Whitening.fit(patches, config.whiten_epsilon) if config.whiten
                 else P.Whitening.identity(patches.shape[1]))
    patches = whitening.apply(patches)
    val = None
    if len(x_val):
        val = whitening.apply(P.normalise(P.draw_patches(
            x_val, size, min(20_000, max(config.patches // 5, 100)), rng)))
    if config.clusters > len(patches):
        raise SettingsError(f"K = {config.clusters} clusters is more than the {len(patches)} "
                        "patches to cluster. Use more patches or fewer clusters.")
    steps = config.kmeans_epochs * (1 if config.kmeans_batch >= len(patches) else
                                    int(np.ceil(len(patches) / config.kmeans_batch)))
    supply = P.supply_note(np.shape(x_train), size, config.patches)
    if live and supply:
        reporter.emit(Log(supply))
    import keras

    centers, counts, history = None, None, []
    if run is not None and run.position:
        run.restore(model)
        centers = keras.ops.convert_to_numpy(model.centers)
        counts = np.asarray(run.saved.get("counts", np.ones(config.clusters)), np.float32)
        history = list(run.saved.get("inertia", []))[:run.position]
    per_epoch = steps // max(config.kmeans_epochs, 1)
    if live:
        reporter.emit(Started(steps, f"Step 1 of 3: clustering {len(patches):,} "
                              f"{size}x{size} patches into K = {config.clusters} centroids.",
                              first_step=len(history) * per_epoch, metric="inertia"))
        for i, value in enumerate(history):
            reporter.emit(EpochMetrics(i, config.kmeans_epochs, {"inertia": value}))
    last_image = [0.0]

    def show(centers, counts=None, force=False):
        now = time.monotonic()
        if not live or (not force and now - last_image[0] < 0.5):
            return
        last_image[0] = now
        model.set_dictionary(whitening, centers)
        order = np.argsort(-counts, kind="stable") if counts is not None else None
        note = ("Centroids, most used first, un-whitened to look like image patches."
                if config.whiten else "Centroids, most used first.")
        reporter.emit(ImageEvent("centroids", dictionary_images(model, False, order),
                                 note=note))
        if config.whiten:
            reporter.emit(ImageEvent("centroids_whitened", dictionary_images(
                model, True, order), note="Centroids as K-means sees them, in the "
                "whitened space: edges and bars stand out."))

    def on_batch(step, value):
        if live:
            reporter.emit(BatchMetrics(step, 0, {"inertia": value}))

    done = list(history)

    def on_epoch(epoch, value, centers, counts, running):
        metrics = {"inertia": value}
        if val is not None:
            metrics["val_inertia"] = inertia(val, centers) / len(val)
        if live:
            reporter.emit(EpochMetrics(epoch, config.kmeans_epochs, metrics))
        show(centers, counts, force=True)
        done.append(value)
        if run is not None:
            model.set_dictionary(whitening, centers)
            run.autosave(model, epoch + 1, inertia=done,
                         counts=[float(c) for c in running])

    result = fit_kmeans(patches, config.clusters, init=config.init,
                        batch_size=config.kmeans_batch, epochs=config.kmeans_epochs, rng=rng,
                        on_batch=on_batch, on_epoch=on_epoch,
                        checkpoint=reporter.controls.checkpoint, centers=centers,
                        counts=counts, history=history)
    model.set_dictionary(whitening, result.centers)
    if result.reseeded:
        reporter.emit(Log(f"Re-seeded {result.reseeded} empty clusters with badly explained "
                          "patches."))
    return result


def train_classifier(model, config: Config, ds, reporter, *, live: bool = True):
    """Features of every image, standardised, then the softmax trained on them.

    Returns (Done of the fit, held-out accuracy or None, confusion matrix or None).
    """
    import keras

    from nets.runner import fit_keras, make_optimizer

    chunk = feature_chunk(model)
    steps = int(np.ceil(len(ds.x_train) / chunk)) + int(np.ceil(len(ds.x_val) / chunk))
    done_chunks = [0]

    def on_chunk():
        done_chunks[0] += 1
        if live:
            reporter.emit(BatchMetrics(done_chunks[0], 0, {}))
        reporter.controls.checkpoint()

    if live:
        reporter.emit(Started(steps, f"Step 2 of 3: describing {len(ds.x_train):,} + "
                              f"{len(ds.x_val):,} images by their patches (4 x "
                              f"{config.clusters} features each).", metric=""))
    f_train = all_features(model, ds.x_train, on_chunk)
    f_val = all_features(model, ds.x_val, on_chunk)
    # Standardise with the training features' statistics; +0.01 as in Coates et al.
    mean, scale = f_train.mean(0), np.sqrt(f_train.var(0) + 0.01)
    model.feature_mean.assign(mean)
    model.feature_scale.assign(scale)
    f_train, f_val = (f_train - mean) / scale, (f_val - mean) / scale
    clf = keras.Sequential([keras.Input((f_train.shape[1],)), model.classifier],
                           name="linear_classifier")
    clf.compile(optimizer=make_optimizer("adam", 1e-3),
                loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    validation = (f_val, ds.y_val) if len(ds.y_val) else None
    if live:
        done = fit_keras(clf, family_key="kmeans", meta={}, x=f_train, y=ds.y_train,
                         validation=validation, epochs=config.classifier_epochs,
                         batch_size=128, reporter=reporter, autosave=False,
                         description="Step 3 of 3: training the linear classifier on the "
                                     "features.")
    else:
        clf.fit(f_train, ds.y_train, epochs=config.classifier_epochs, batch_size=128,
                verbose=0, callbacks=[_obey(reporter)])
        done = Done("finished")
    if not len(ds.y_val):
        return done, None, None
    guess = np.concatenate([keras.ops.convert_to_numpy(clf(f_val[i:i + 1024],
                                                           training=False)).argmax(1)
                            for i in range(0, len(f_val), 1024)])
    return (done, float((guess == ds.y_val).mean()),
            confusion_matrix(ds.y_val, guess, ds.num_classes))


def _obey(reporter):
    """A Keras callback that honours Stop and Pause after every batch."""
    import keras

    class Obey(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            reporter.controls.checkpoint()

    return Obey()


def train(request, reporter):
    from nets.runner import TrainedModel, config_meta, prepare

    prep = prepare(request, reporter, Config)
    request = prep.request  # a resumed run's settings; the caller's request is unchanged
    config, ds = prep.config, prep.dataset
    if config.mode == "study":
        return run_study(config, ds, request.seed, reporter)
    rng = np.random.default_rng(request.seed)
    model = build_model(config, ds.input_shape, ds.num_classes)
    meta = config_meta(request, classes=ds.class_names, input_shape=list(ds.input_shape),
                       dataset_description=ds.description, classifier_trained=False)
    prep.loop.meta.update(meta)
    t0 = time.monotonic()
    result = learn_dictionary(config, ds.x_train, ds.x_val, model, rng, reporter,
                              run=prep.loop)
    trained = TrainedModel(model, "kmeans", meta,
                           [{"inertia": v} for v in result.inertia_history])
    reporter.emit(Artifact("model", model))
    if result.stopped:
        return Done("stopped", f"Stopped by you while clustering, after "
                    f"{len(result.inertia_history)} passes: the centroids so far are kept; "
                    "there is no classifier.", result=trained)
    if not ds.num_classes:
        return Done("finished", f"Learnt {config.clusters} centroids in "
                    f"{time.monotonic() - t0:.1f} s. The {ds.description} have no classes, "
                    "so there is nothing to classify.", result=trained)
    try:
        done, accuracy, confusion = train_classifier(model, config, ds, reporter)
    except StopRequested:
        return Done("stopped", "Stopped by you while describing the images: the centroids "
                    "are kept; there is no classifier.", result=trained)
    meta["classifier_trained"] = done.status == "finished"
    if done.status == "finished":  # the whole run is done: nothing left to resume
        prep.loop.autosave(model, FAMILY.length(config), force=True,
                           inertia=result.inertia_history, classifier_trained=True)
    if done.status == "failed":
        return dataclasses.replace(done, result=trained)
    words = ""
    if accuracy is not None:
        meta["accuracy"] = accuracy
        reporter.emit(Artifact("confusion", (confusion, list(ds.class_names), accuracy)))
        words = f" Held-out accuracy {accuracy:.1%} ({len(ds.y_val):,} images)."
    lead = "Stopped by you during the classifier's training" \
        if done.status == "stopped" else "Done"
    return Done(done.status, f"{lead} after {time.monotonic() - t0:.1f} s: K = "
                f"{config.clusters}, {config.encoding} encoding, {4 * config.clusters:,} "
                f"features per image.{words}", result=trained,
                headline=f"Held-out accuracy: {accuracy:.1%}" if accuracy is not None
                else "")


# ---------------------------------------------------------------- the study
def run_study(config: Config, ds, seed: int, reporter) -> Done:
    """The paper's comparison on this dataset: every K x {hard, triangle} x whitening
    {off, on}, each dictionary learnt from the same patches and scored on held-out data."""
    import keras

    if not ds.num_classes or not len(ds.y_val):
        raise DataError("The study compares held-out accuracy, so it needs a dataset with "
                        "classes and held-out images (the sample photos have none).")
    ks = study_values(config.study_clusters)
    cells = len(ks) * 2 * len(ENCODINGS)
    reporter.emit(Started(cells, f"Study: {cells} runs (K in {ks}, hard and triangle, "
                          "with and without whitening), each scored on held-out images.",
                          metric=""))
    rows: list[dict] = []
    reporter.emit(Artifact("study", []))  # an empty table to fill
    try:
        for whiten in (False, True):
            for k in ks:
                cfg = dataclasses.replace(config, whiten=whiten, clusters=k)
                t0 = time.monotonic()
                # the same seed for every cell: every dictionary sees the same patches
                rng = np.random.default_rng(seed)
                models = {e: build_model(cfg, ds.input_shape, ds.num_classes, e)
                          for e in ENCODINGS}
                first = models[ENCODINGS[0]]
                learn_dictionary(cfg, ds.x_train, ds.x_val, first, rng, reporter,
                                 live=False)
                dictionary_seconds = time.monotonic() - t0
                for encoding, model in models.items():
                    t1 = time.monotonic()
                    model.set_dictionary(first.whitening(),
                                         keras.ops.convert_to_numpy(first.centers))
                    _, accuracy, _ = train_classifier(model, cfg, ds, reporter, live=False)
                    row = {"K": k, "whiten": whiten, "encoding": encoding,
                           "accuracy": accuracy,
                           "seconds": dictionary_seconds + time.monotonic() - t1}
                    rows.append(row)
                    reporter.emit(Artifact("study_row", row))
                    reporter.emit(BatchMetrics(len(rows), 0, {}))
                    reporter.emit(Log(f"K = {k}, {encoding}, whitening "
                                      f"{'on' if whiten else 'off'}: held-out accuracy "
                                      f"{accuracy:.1%}"))
    except StopRequested:
        reporter.emit(Artifact("study", rows))
        return Done("stopped", f"Stopped by you after {len(rows)} of {cells} runs.")
    reporter.emit(Artifact("study", rows))
    reporter.emit(Log("Held-out accuracy (rows: K; columns: encoding, whitening):\n"
                      + study_table(rows)))
    best = max(rows, key=lambda r: r["accuracy"])
    return Done("finished", f"Study done: best {best['accuracy']:.1%} with K = {best['K']}, "
                f"{best['encoding']} encoding, whitening {'on' if best['whiten'] else 'off'}.",
                headline=f"Best held-out accuracy: {best['accuracy']:.1%}")


def study_table(rows: list[dict]) -> str:
    """The study's accuracies as a text table, one row per K."""
    columns = [(e, w) for w in (False, True) for e in ENCODINGS]
    head = "K      " + "".join(f"{e + (' +ZCA' if w else ''):>16s}" for e, w in columns)
    lines = [head]
    for k in sorted({r["K"] for r in rows}):
        cells = []
        for e, w in columns:
            hit = [r for r in rows if r["K"] == k and r["encoding"] == e and r["whiten"] == w]
            cells.append(f"{hit[0]['accuracy']:>15.1%} " if hit else f"{'':>16s}")
        lines.append(f"{k:<7d}" + "".join(cells))
    return "\n".join(lines)


FAMILY = Family(key="kmeans", title="K-means",
                summary="Cluster image patches into a dictionary, describe images by it, "
                        "and classify them with a linear model.",
                config=Config, train=train, load=load,
                datasets=("mnist", "mnist-5k", "mnist-full", "fashion-mnist", "cifar10",
                          "photos"),
                length_field="kmeans_epochs",
                # its passes of K-means, then describing the images and the classifier
                run_length=lambda c: c.kmeans_epochs + 1)
