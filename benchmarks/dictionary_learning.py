"""Measure the dictionary-learning tabs against scikit-learn and against the paper.

1. K-means: our TensorFlow mini-batch K-means against scikit-learn's MiniBatchKMeans on
   the same whitened 6x6 patches of the bundled digits, K = 100, 400, 1600: seconds and
   inertia (sum of squared distances, both measured by the same function afterwards).
2. The study on the bundled digits: held-out accuracy for K in {50, ..., 800}, hard and
   triangle encoding, with and without ZCA whitening (Coates, Lee & Ng 2011, figure 3).
3. CIFAR-10 at K = 1600 (77.9% in the paper) when the dataset is in the Keras cache.
4. Sparse coding: objective and seconds against MiniBatchDictionaryLearning on the same
   patches, both dictionaries scored by the same FISTA coder on held-out patches; then
   the time to code one image against an autoencoder encoder's forward pass.

    python benchmarks/dictionary_learning.py            # about 10 minutes on 2 cores
    python benchmarks/dictionary_learning.py --quick    # a smoke pass
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

from common import RESULTS, Tables  # first: sets up the environment

import numpy as np

from nets import data, runner
from nets.families import kmeans
from nets import patches as P
from nets.families import sparse_coding as sc
from nets.progress import Artifact, ListReporter

TABLES = Tables()


def whitened_digit_patches(count: int, seed: int = 0) -> np.ndarray:
    ds = data.load("mnist-5k")
    rng = np.random.default_rng(seed)
    p = P.normalise(P.sample_patches(ds.x_train, 6, count, rng))
    return P.Whitening.fit(p, 0.1).apply(p)


def bench_kmeans_speed(quick: bool, ks: tuple = (100, 400, 1600)) -> list[dict]:
    """Seconds each needs for its clustering; ours runs 1, 2, ... passes (each run timed
    afresh) until its inertia is no higher than scikit-learn's, and that run is compared.
    scikit-learn runs with its defaults (k-means++, batches of 1,024, its own early stop)."""
    from sklearn.cluster import MiniBatchKMeans

    x = whitened_digit_patches(20_000 if quick else 100_000)
    kmeans.fit_kmeans(x[:5000], 8, epochs=1)  # compile once, outside the timings
    batch = kmeans.Config().kmeans_batch
    rows = []
    for k in ks[:1] if quick else ks:
        t0 = time.perf_counter()
        theirs = MiniBatchKMeans(k, random_state=0).fit(x)
        t_theirs = time.perf_counter() - t0
        i_theirs = kmeans.inertia(x, theirs.cluster_centers_)
        for passes in range(1, 21):
            t0 = time.perf_counter()
            ours = kmeans.fit_kmeans(x, k, epochs=passes, batch_size=batch,
                                     rng=np.random.default_rng(0))
            t_ours = time.perf_counter() - t0
            i_ours = kmeans.inertia(x, ours.centers)
            if i_ours <= i_theirs:
                break
        rows.append({"K": k, "patches": len(x), "ours passes": passes,
                     "ours s": round(t_ours, 2), "scikit-learn s": round(t_theirs, 2),
                     "time ratio (target <= 1.0)": round(t_ours / t_theirs, 2),
                     "ours inertia": round(i_ours), "scikit-learn inertia": round(i_theirs),
                     "inertia ratio (<= 1.0)": round(i_ours / i_theirs, 4)})
    TABLES.add("K-means: ours (TensorFlow, batches of 4,096) vs scikit-learn "
               "MiniBatchKMeans, same whitened 6x6 digit patches", rows)
    return rows


def bench_study(quick: bool) -> None:
    cfg = kmeans.Config(mode="study", study_clusters="20,50" if quick else
                        "50,100,200,400,800",
                        patches=20_000 if quick else 100_000,
                        kmeans_epochs=3 if quick else 10,
                        classifier_epochs=5 if quick else 30)
    rep = ListReporter()
    t0 = time.perf_counter()
    done = runner.execute(runner.RunRequest("kmeans", cfg, "mnist-5k", autosave=False), rep)
    if done.status != "finished":
        raise RuntimeError(done.message + done.detail)
    rows = [a.value for a in rep.of(Artifact) if a.name == "study"][-1]
    out = []
    for k in sorted({r["K"] for r in rows}):
        line = {"K": k}
        for w in (False, True):
            for e in ("hard", "triangle"):
                hit = next(r for r in rows if (r["K"], r["encoding"], r["whiten"]) == (k, e, w))
                line[f"{e}{' + ZCA' if w else ''}"] = f"{hit['accuracy']:.1%}"
        out.append(line)
    TABLES.add(f"Study on the bundled digits (4,000 train / 1,000 held out), held-out "
               f"accuracy, whole grid in {time.perf_counter() - t0:.0f} s", out)


def bench_cifar(quick: bool) -> None:
    cached = any((d / "cifar-10-batches-py").exists() or (d / "cifar-10-batches-py.tar.gz")
                 .exists() for d in data.keras_cache_dirs())
    if quick or not cached:
        TABLES.add("CIFAR-10, K = 1600, triangle", [{
            "result": "not measured", "why": "quick pass" if quick else
            "CIFAR-10 is not in the Keras cache and this machine has no network"}])
        return
    cfg = kmeans.Config(clusters=1600, patches=400_000, kmeans_epochs=10)
    rep = ListReporter()
    t0 = time.perf_counter()
    done = runner.execute(runner.RunRequest("kmeans", cfg, "cifar10", autosave=False), rep)
    TABLES.add("CIFAR-10, K = 1600, triangle (paper: 77.9%)", [{
        "result": done.message, "seconds": round(time.perf_counter() - t0)}])


def bench_sparse_coding(quick: bool) -> tuple[list[dict], list[dict]]:
    from sklearn.decomposition import MiniBatchDictionaryLearning

    cfg = sc.Config(patch_size=8, atoms=64 if quick else 128, sparsity=0.1,
                    patches=2000 if quick else 20_000, epochs=1 if quick else 5)
    ds = data.load("photos")
    rng = np.random.default_rng(0)
    x = sc.preprocess(sc.training_patches(ds.x_train, 8, cfg.patches, rng),
                      cfg.preprocessing).x
    held = sc.preprocess(sc.training_patches(ds.x_train, 8, 2000, np.random.default_rng(9)),
                         cfg.preprocessing).x
    model = sc.build_model(cfg)
    sc.learn(dataclasses.replace(cfg, epochs=1, patches=500), x[:500], None, model,
             np.random.default_rng(1), ListReporter())  # compile once, outside the timing
    t0 = time.perf_counter()
    sc.learn(cfg, x, None, model, np.random.default_rng(0), ListReporter())
    t_ours = time.perf_counter() - t0
    # scikit-learn minimises 1/2 ||x - a D||^2 + alpha |a|_1: alpha = lambda / 2 is ours
    t0 = time.perf_counter()
    theirs = MiniBatchDictionaryLearning(n_components=cfg.atoms, alpha=cfg.sparsity / 2,
                                         batch_size=cfg.batch_size,
                                         max_iter=cfg.epochs, random_state=0).fit(x)
    t_sk = time.perf_counter() - t0

    def held_out_objective(atoms):
        atoms = np.asarray(atoms, np.float32)
        atoms = atoms / np.maximum(np.linalg.norm(atoms, axis=1, keepdims=True), 1e-12)
        codes = sc.encode(held, atoms, cfg.sparsity, 500)
        return float(sc.objective(held, codes, atoms, cfg.sparsity))

    rows = [{"method": "ours (FISTA + block coordinate descent, TensorFlow)",
             "seconds": round(t_ours, 2),
             "held-out objective": round(held_out_objective(model.atoms), 4)},
            {"method": "scikit-learn MiniBatchDictionaryLearning", "seconds": round(t_sk, 2),
             "held-out objective": round(held_out_objective(theirs.components_), 4)}]
    TABLES.add(f"Sparse coding: {cfg.atoms} atoms, {len(x):,} 8x8 photo patches, "
               f"lambda {cfg.sparsity}, {cfg.epochs} passes; both dictionaries scored "
               "by the same coder (500 FISTA iterations) on 2,000 other patches", rows)
    timing_rows = []
    for patch, atoms in ((8, cfg.atoms), (28, 256)):
        c = dataclasses.replace(cfg, patch_size=patch, atoms=atoms)
        m = sc.build_model(c)
        m.set_atoms(np.linalg.qr(np.random.default_rng(0).standard_normal(
            (patch * patch, atoms)))[0].T if atoms <= patch * patch else
            np.random.default_rng(0).standard_normal((atoms, patch * patch)))
        t = sc.encoding_times(m, c, repeats=10 if quick else 100)
        timing_rows.append({"input": f"{patch}x{patch}", "code size": atoms,
                            "sparse coding ms": round(1000 * t["sparse_coding"], 3),
                            "FISTA iterations": t["iterations"],
                            "autoencoder encoder ms": round(1000 * t["autoencoder"], 3),
                            "ratio": round(t["sparse_coding"] / t["autoencoder"], 1)})
    TABLES.add("Coding one image: optimisation vs one forward pass (median)",
               timing_rows)
    return rows, timing_rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke pass")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    import tensorflow as tf

    print(f"TensorFlow {tf.__version__}, devices: "
          f"{[d.device_type for d in tf.config.list_physical_devices()]}, "
          f"{os.cpu_count()} CPU cores\n", flush=True)
    for bench in (bench_kmeans_speed, bench_study, bench_cifar, bench_sparse_coding):
        bench(args.quick)
    TABLES.write(args.out, "dictionary_learning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
