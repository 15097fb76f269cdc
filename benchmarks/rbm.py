"""The RBM family's figures, all on held-out digits, on the CPU:

1. exact held-out log-likelihood (nats) on binarised 8x8 digits, 16 hidden units, 30
   epochs, for CD-1, CD-10 and PCD-1 over seeds, beside the independent-pixel baseline
   (the issue's numpy reference: baseline -25.20, CD-1 -19.96, CD-10 -19.82, PCD -20.57);
2. AIS against exact: log Z of one of those 16-hidden RBMs by annealed importance
   sampling (several runs/steps, with its +-3 s.e. interval and seconds) vs the exact sum;
   and for a 100-hidden RBM on binarised mnist-5k, the AIS log Z and the held-out
   log-likelihood it gives (Salakhutdinov & Murray 2008: -86.34 nats, CD-25, 500 hidden,
   full MNIST);
3. ours vs scikit-learn's BernoulliRBM, the same fit (PCD-1, no momentum, no weight
   decay, 100 hidden, 10 epochs, batch 10, learning rate 0.1) on the binarised mnist-5k
   training digits: fit seconds, their ratio, and the held-out pseudo-log-likelihood of
   each scored both ways (sklearn's score_samples and likelihood.pseudo_log_likelihood);
4. RBM features + logistic regression on the 8x8 digits (scikit-learn's
   plot_rbm_logistic_classification: 100 components, learning rate 0.06, 10 epochs,
   LogisticRegression C=6000; raw pixels C=100) with sklearn's RBM and with ours, on the
   family's split (360 held out);
5. a deep belief net pretrained vs the same net from random weights, fine-tuned on 100
   and on all labels, over seeds;
6. Gibbs-chain steps per second of gibbs.Chains (36 chains, numpy, one core) on the
   100-hidden MNIST RBM and on the deep belief net.

    .venv/bin/python benchmarks/rbm.py                 # the full run (~10 min on 2 cores)
    .venv/bin/python benchmarks/rbm.py --quick         # a smoke pass: tiny epochs, 1 seed
    .venv/bin/python benchmarks/rbm.py --sections 1,3  # some of them (2 needs 1)

Prints markdown tables and writes them to benchmarks/results/rbm.md (and .json); --out ''
writes nothing.
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import common  # noqa: F401  (the project on the path, a scratch home)
import numpy as np

REFERENCE = {"baseline": -25.20, "CD-1": -19.96, "CD-10": -19.82, "PCD-1": -20.57}


# ---------------------------------------------------------------- running the family
class StampedReporter:
    """A ListReporter that notes when training starts (after the data are loaded and the
    model built) and when the last epoch's figures arrive."""

    def __init__(self):
        from nets.progress import ListReporter

        self.inner = ListReporter()
        self.controls = self.inner.controls
        self.started = self.last_epoch = None

    def emit(self, event) -> None:
        from nets.progress import EpochMetrics, Started

        self.inner.emit(event)
        if isinstance(event, Started):
            self.started = time.perf_counter()
        elif isinstance(event, EpochMetrics):
            self.last_epoch = time.perf_counter()


def train(config, dataset: str, seed: int):
    """runner.execute on the family; returns (Done, reporter, seconds of the whole call,
    note)."""
    from nets import runner

    reporter = StampedReporter()
    t0 = time.perf_counter()
    done = runner.execute(runner.RunRequest("rbm", config, dataset, seed, autosave=False),
                          reporter)
    seconds = time.perf_counter() - t0
    if done.status != "finished":
        raise RuntimeError(f"{dataset} {config}: {done.status}: {done.message}\n"
                           f"{done.detail[-2000:]}")
    return done, reporter, seconds, ""


def rbm_config(**values):
    from nets.families import rbm

    return rbm.Config(**{"fine_tune": "none", **values})


def spread(values, fmt: str) -> dict:
    v = np.asarray(values, float)
    return {"mean ± spread (sd)": f"{v.mean():{fmt}} ± {v.std():{fmt}}",
            "min .. max": f"{v.min():{fmt}} .. {v.max():{fmt}}",
            "each seed": ", ".join(f"{x:{fmt}}" for x in v)}


# ---------------------------------------------------------------- 1. exact likelihood
def likelihood_table(seeds, epochs: int, keep: dict) -> list[dict]:
    from nets import data
    from nets.families import rbm
    from nets.families.rbm import likelihood as lik

    ds = data.load("digits-8x8")
    x, xv = rbm.pixels_of(ds.x_train, "binarised"), rbm.pixels_of(ds.x_val, "binarised")
    keep["digits"] = (x, xv)
    baseline = lik.pixel_baseline(x, xv)
    rows = [{"method": "independent pixels (baseline)",
             "mean ± spread (sd)": f"{baseline:.2f}", "min .. max": "", "each seed": "",
             "vs baseline": "", "issue's reference": f"{REFERENCE['baseline']:.2f}",
             "seconds a run": "", "note": ""}]
    for method, k in (("CD", 1), ("CD", 10), ("PCD", 1)):
        name = f"{method}-{k}"
        scores, seconds, notes = [], [], set()
        for seed in seeds:
            config = rbm_config(hidden="16", method=method, k=k, epochs=epochs)
            done, _, s, note = train(config, "digits-8x8", seed)
            scores.append(done.result.history[-1]["val_log_likelihood"])
            seconds.append(s)
            notes.add(note)
            if name == "CD-1" and "rbm16" not in keep:
                keep["rbm16"] = (rbm.layers_of(done.result.model)[0], seed)
        rows.append({"method": name, **spread(scores, ".2f"),
                     "vs baseline": f"{np.mean(scores) - baseline:+.2f}",
                     "issue's reference": f"{REFERENCE[name]:.2f}",
                     "seconds a run": f"{np.mean(seconds):.1f}",
                     "note": "; ".join(sorted(n for n in notes if n))})
    return rows


# ---------------------------------------------------------------- 2. AIS
def ais_row(what, W, b, c, base, xv, runs, steps, exact=None) -> dict:
    from nets.families.rbm import likelihood as lik

    t0 = time.perf_counter()
    est = lik.ais_log_z(W, b, c, base, runs, steps, np.random.default_rng(runs + steps))
    seconds = time.perf_counter() - t0
    neg_f = float(np.mean(-lik.free_energy(xv, W, b, c)))
    row = {"RBM": what, "runs": runs, "steps": steps,
           "AIS log Z": f"{est.log_z:.3f}",
           "±3 s.e. interval": f"{est.low:.3f} .. {est.high:.3f}",
           "exact log Z": f"{exact:.3f}" if exact is not None else "—",
           "AIS − exact": f"{est.log_z - exact:+.3f}" if exact is not None else "—",
           "exact inside": ("yes" if est.low <= exact <= est.high else "NO")
           if exact is not None else "—",
           "held-out log-likelihood (AIS)": f"{neg_f - est.log_z:.2f} "
                                             f"({neg_f - est.high:.2f} .. {neg_f - est.low:.2f})",
           "held-out (exact)": f"{neg_f - exact:.2f}" if exact is not None else "—",
           "seconds": f"{seconds:.1f}"}
    return row


def ais_small_table(keep, settings) -> list[dict]:
    from nets.families.rbm import likelihood as lik

    (W, b, c), seed = keep["rbm16"]
    x, xv = keep["digits"]
    exact = lik.exact_log_z(W, b, c)
    base = lik.base_bias(x)
    return [ais_row(f"16 hidden, CD-1, seed {seed}", W, b, c, base, xv, r, s, exact)
            for r, s in settings]


def ais_mnist_table(keep, epochs: int, settings) -> list[dict]:
    from nets import data
    from nets.families import rbm
    from nets.families.rbm import likelihood as lik

    ds = data.load("mnist-5k")
    x, xv = rbm.pixels_of(ds.x_train, "binarised"), rbm.pixels_of(ds.x_val, "binarised")
    keep["mnist"] = (x, xv, ds)
    config = rbm_config(hidden="100", epochs=epochs)  # the family's defaults: CD-1
    done, rep, seconds, _ = train(config, "mnist-5k", 0)
    W, b, c = rbm.layers_of(done.result.model)[0]
    keep["rbm100"] = (W, b, c)
    what = f"100 hidden, CD-1, {epochs} epochs, family defaults"
    rows = []
    family = done.result.meta.get("ais")
    if family:  # the estimate the run itself makes and shows
        rows.append({"RBM": what + " (the run's own estimate)", "runs": family["runs"],
                     "steps": family["steps"], "AIS log Z": f"{family['log_z']:.3f}",
                     "±3 s.e. interval": "", "exact log Z": "—", "AIS − exact": "—",
                     "exact inside": "—",
                     "held-out log-likelihood (AIS)": f"{family['val_log_likelihood']:.2f} "
                                                      f"({family['low']:.2f} .. "
                                                      f"{family['high']:.2f})",
                     "held-out (exact)": "—",
                     "seconds": f"{seconds - (rep.last_epoch - rep.started):.1f} "
                                "(run − training)"})
    base = lik.base_bias(x)
    rows += [ais_row(what, W, b, c, base, xv, r, s) for r, s in settings]
    rows.append({"RBM": "independent pixels (baseline), mnist-5k", "runs": "", "steps": "",
                 "AIS log Z": "", "±3 s.e. interval": "", "exact log Z": "",
                 "AIS − exact": "", "exact inside": "",
                 "held-out log-likelihood (AIS)": f"{lik.pixel_baseline(x, xv):.2f} (exact)",
                 "held-out (exact)": "", "seconds": ""})
    return rows


# ---------------------------------------------------------------- 3. vs scikit-learn
def sklearn_twin(W, b, c, seed: int = 0):
    """A BernoulliRBM holding (W, b, c), to score with sklearn's own score_samples."""
    from sklearn.neural_network import BernoulliRBM

    twin = BernoulliRBM(n_components=W.shape[1], random_state=seed)
    twin.components_ = np.asarray(W.T, np.float64)
    twin.intercept_hidden_ = np.asarray(c, np.float64)
    twin.intercept_visible_ = np.asarray(b, np.float64)
    twin.h_samples_ = np.zeros((1, W.shape[1]))
    twin.n_features_in_ = W.shape[0]
    return twin


def versus_sklearn_table(keep, epochs: int, draws: int, ais: tuple | None) -> list[dict]:
    from sklearn.neural_network import BernoulliRBM

    from nets import data
    from nets.families import rbm
    from nets.families.rbm import likelihood as lik

    if "mnist" not in keep:
        ds = data.load("mnist-5k")
        keep["mnist"] = (rbm.pixels_of(ds.x_train, "binarised"),
                         rbm.pixels_of(ds.x_val, "binarised"), ds)
    x, xv, _ = keep["mnist"]
    lr, batch, hidden = 0.1, 10, 100  # BernoulliRBM's default learning rate
    sk = BernoulliRBM(n_components=hidden, learning_rate=lr, batch_size=batch,
                      n_iter=epochs, random_state=0)
    t0 = time.perf_counter()
    sk.fit(x)
    sk_seconds = time.perf_counter() - t0
    config = rbm_config(hidden=str(hidden), method="PCD", k=1, momentum=0.0,
                        weight_decay=0.0, learning_rate=lr, batch_size=batch,
                        epochs=epochs)
    done, rep, whole, note = train(config, "mnist-5k", 0)
    ours = rbm.layers_of(done.result.model)[0]
    ours_train = rep.last_epoch - rep.started
    models = {"scikit-learn BernoulliRBM": (sk.components_.T, sk.intercept_visible_,
                                            sk.intercept_hidden_),
              "ours (runner.execute)": ours}
    rows = []
    for name, (W, b, c) in models.items():
        ours_score = [lik.pseudo_log_likelihood(xv, W, b, c, np.random.default_rng(d))
                      for d in range(draws)]
        sk_score = [sklearn_twin(W, b, c, d).score_samples(xv).mean() for d in range(draws)]
        row = {"model": name}
        if name.startswith("scikit"):
            row["fit seconds"] = f"{sk_seconds:.1f}"
            row["ours / sklearn"] = ""
        else:
            row["fit seconds"] = (f"{ours_train:.1f} (Started → last epoch; whole "
                                  f"execute {whole:.1f}, loop alone "
                                  f"{done.result.fit_seconds:.1f})")
            row["ours / sklearn"] = f"{ours_train / sk_seconds:.2f}"
        row["held-out PLL, sklearn score_samples (random_state 0)"] = f"{sk_score[0]:.2f}"
        row[f"held-out PLL, sklearn score_samples, {draws} draws"] = \
            f"{np.mean(sk_score):.2f} ± {np.std(sk_score):.2f}"
        row[f"held-out PLL, likelihood.pseudo_log_likelihood, {draws} draws"] = \
            f"{np.mean(ours_score):.2f} ± {np.std(ours_score):.2f}"
        if ais:
            runs, steps = ais
            est = lik.ais_log_z(W, b, c, lik.base_bias(x), runs, steps,
                                np.random.default_rng(1))
            neg_f = float(np.mean(-lik.free_energy(xv, W, b, c)))
            row[f"held-out log-likelihood, AIS {runs}x{steps}"] = \
                f"{neg_f - est.log_z:.2f} ({neg_f - est.high:.2f} .. {neg_f - est.low:.2f})"
        row["note"] = note if not name.startswith("scikit") else ""
        rows.append(row)
    return rows


# ---------------------------------------------------------------- 4. features + logistic
def nudge(x8, y):
    """sklearn's example: each image also moved one pixel up, down, left and right."""
    from scipy.ndimage import convolve

    kernels = [[[0, 1, 0], [0, 0, 0], [0, 0, 0]], [[0, 0, 0], [1, 0, 0], [0, 0, 0]],
               [[0, 0, 0], [0, 0, 1], [0, 0, 0]], [[0, 0, 0], [0, 0, 0], [0, 1, 0]]]
    shifted = [np.apply_along_axis(lambda im, w=w: convolve(im.reshape(8, 8), mode="constant",
                                                            weights=w).ravel(), 1, x8)
               for w in kernels]
    return np.concatenate([x8] + shifted), np.concatenate([y] * 5)


def features_table(epochs: int, with_example: bool) -> list[dict]:
    import warnings

    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import BernoulliRBM

    from nets import data
    from nets.families import rbm
    from nets.families.rbm import likelihood as lik

    ds = data.load("digits-8x8")
    x, xv = rbm.pixels_of(ds.x_train, "grey"), rbm.pixels_of(ds.x_val, "grey")
    y, yv = ds.y_train, ds.y_val

    rows = []

    def add(name, features_of, rbm_seconds, C, train_x=x, train_y=y, val_x=xv, val_y=yv,
            note=""):
        f, fv = features_of(train_x), features_of(val_x)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lbfgs may stop at max_iter, as in the example
            clf = LogisticRegression(C=C, max_iter=1000).fit(f, train_y)
        acc = float(np.mean(clf.predict(fv) == val_y))
        rows.append({"features": name, "logistic C": C,
                     "held-out accuracy": f"{acc:.1%}", "held-out digits": len(fv),
                     "RBM seconds": f"{rbm_seconds:.1f}" if rbm_seconds else "",
                     "logistic seconds": f"{time.perf_counter() - t0:.1f}", "note": note})

    add("raw pixels", lambda a: a, 0, 100.0)
    sk = BernoulliRBM(n_components=100, learning_rate=0.06, n_iter=epochs, random_state=0)
    t0 = time.perf_counter()
    sk.fit(x)
    add("scikit-learn BernoulliRBM (100, lr 0.06, batch 10, PCD-1)", sk.transform,
        time.perf_counter() - t0, 6000.0)
    for name, config in (
            ("ours, sklearn's fit (PCD-1, lr 0.06, batch 10, no momentum or decay)",
             rbm_config(hidden="100", pixels="grey", method="PCD", k=1, learning_rate=0.06,
                        momentum=0.0, weight_decay=0.0, batch_size=10, epochs=epochs)),
            ("ours, family defaults (CD-1, lr 0.05, momentum 0.5, batch 20)",
             rbm_config(hidden="100", pixels="grey", epochs=epochs))):
        done, rep, _, note = train(config, "digits-8x8", 0)
        W, b, c = rbm.layers_of(done.result.model)[0]
        add(name, lambda a, W=W, c=c: lik.sigmoid(a @ W + c),
            rep.last_epoch - rep.started, 6000.0, note=note)
    if with_example:  # the documented example itself: nudged x5, its own 80/20 split
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        digits = load_digits()
        xa = np.asarray(digits.data, "float32")
        xa, ya = nudge(xa, digits.target)
        xa = (xa - xa.min(0)) / (xa.max(0) + 1e-4)
        xt, xe, yt, ye = train_test_split(xa, ya, test_size=0.2, random_state=0)
        add("sklearn's example as documented: raw pixels", lambda a: a, 0, 100.0,
            xt, yt, xe, ye, "nudged x5, its own split (not the family's)")
        sk2 = BernoulliRBM(n_components=100, learning_rate=0.06, n_iter=10, random_state=0)
        t0 = time.perf_counter()
        sk2.fit(xt)
        add("sklearn's example as documented: BernoulliRBM", sk2.transform,
            time.perf_counter() - t0, 6000.0, xt, yt, xe, ye,
            "nudged x5, its own split (not the family's)")
    return rows


# ---------------------------------------------------------------- 5. deep belief net
def dbn_table(keep, hidden: str, seeds, epochs: int, fine_epochs: int) -> list[dict]:
    import keras

    from nets import data
    from nets.families import rbm
    from nets.progress import ListReporter

    ds = data.load("mnist-5k")
    results = {"100": ([], []), "all": ([], [])}
    seconds = {"pretraining": [], "100": [], "all": []}
    for seed in seeds:
        config = rbm_config(hidden=hidden, epochs=epochs, fine_tune_epochs=fine_epochs)
        done, rep, whole, _ = train(config, "mnist-5k", seed)
        seconds["pretraining"].append(whole)
        model = done.result.model
        if "dbn" not in keep:
            keep["dbn"] = rbm.layers_of(model)
        weights = model.get_weights()
        for labels in ("100", "all"):
            # each from the same pretrained stack: the family's own fine-tuning (Adam,
            # batch 32) of the stack and of the same net from random weights (seed + 1)
            net = rbm.build_model(dataclasses.replace(config, fine_tune=labels),
                                  ds.input_shape, ds.num_classes)
            net.set_weights(weights)
            t0 = time.perf_counter()
            out = rbm.fine_tune(net, dataclasses.replace(config, fine_tune=labels), ds,
                                seed, ListReporter())
            seconds[labels].append(time.perf_counter() - t0)
            results[labels][0].append(out["pretrained"])
            results[labels][1].append(out["random"])
        keras.backend.clear_session()
    rows = []
    for labels, (pre, rnd) in results.items():
        n = len(ds.y_train) if labels == "all" else int(labels)
        for name, accs in (("pretrained", pre), ("random weights", rnd)):
            rows.append({"labels": f"{n:,}", "start": name, **spread(accs, ".1%"),
                         "held-out error": f"{1 - np.mean(accs):.1%}",
                         "seconds (both nets)": f"{np.mean(seconds[labels]):.1f}"})
    rows.append({"labels": "—", "start": f"pretraining alone ({len(rbm.hidden_sizes(config))}"
                                          f" RBMs x {epochs} epochs)",
                 "mean ± spread (sd)": "", "min .. max": "", "each seed": "",
                 "held-out error": "", "seconds (both nets)":
                     f"{np.mean(seconds['pretraining']):.1f}"})
    return rows


# ---------------------------------------------------------------- 6. Gibbs chains
def gibbs_table(keep, seconds: float) -> list[dict]:
    from threadpoolctl import threadpool_limits

    from nets.families.rbm.gibbs import Chains

    rows = []
    stacks = []
    if "rbm100" in keep:
        stacks.append(("RBM 784-100 (mnist-5k)", [keep["rbm100"]]))
    if "dbn" in keep:
        stacks.append(("DBN 784-" + "-".join(str(l[0].shape[1]) for l in keep["dbn"])
                       + " (top RBM, carried down to pixels)", keep["dbn"]))
    for name, layers in stacks:
        for k in (1, 10):
            chains = Chains(layers, 36, np.random.default_rng(0))
            with threadpool_limits(1):
                chains.step(k)  # warm
                n, t0 = 0, time.perf_counter()
                while time.perf_counter() - t0 < seconds:
                    chains.step(k)
                    n += k
                rate = n / (time.perf_counter() - t0)
            rows.append({"model": name, "chains": 36, "steps per call": k,
                         "Gibbs steps per second": f"{rate:,.0f}",
                         "ms per step (36 chains)": f"{1000 / rate:.2f}"})
    return rows


# ---------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke pass: tiny epochs, "
                        "1 seed, short AIS")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--sections", default="1,2,3,4,5,6")
    parser.add_argument("--dbn", default="256, 256", help="hidden sizes of section 5")
    parser.add_argument("--example", action="store_true", help="section 4 also runs "
                        "sklearn's documented example itself (nudged x5, its own split; "
                        "a few minutes more)")
    parser.add_argument("--out", default=str(common.RESULTS),
                        help="where the tables are written (md and json); '' for nowhere")
    args = parser.parse_args()
    from nets import backend

    info = backend.start()
    q = args.quick
    seeds = [0] if q else [int(s) for s in args.seeds.split(",")]
    sections = {int(s) for s in args.sections.split(",")}
    tables, keep = common.Tables(), {}
    t_all = time.perf_counter()
    print(f"{backend.describe(info)}; {'quick pass' if q else 'full run'}\n", flush=True)
    if 1 in sections or 2 in sections:
        e = 2 if q else 30
        tables.add(f"1. Exact held-out log-likelihood (nats per digit) on binarised 8x8 "
                   f"digits (1,437 train / 360 held out), 16 hidden units, {e} epochs, the "
                   f"family's defaults (lr 0.05, momentum 0.5, weight decay 2e-4, batch 20), "
                   f"{len(seeds)} seed(s)", likelihood_table(seeds, e, keep))
    if 2 in sections:
        settings = [(100, 100), (100, 1000)] if q else \
            [(100, 100), (100, 1000), (1000, 1000), (100, 10000)]
        tables.add("2a. AIS vs exact log Z, 16-hidden RBM of table 1 (8x8 digits; held-out "
                   "log-likelihood from each)", ais_small_table(keep, settings))
        tables.add("2b. AIS log Z and held-out log-likelihood (nats per digit, ±3 s.e. "
                   "interval of Z), 100-hidden RBM on binarised mnist-5k (4,000 train / "
                   "1,000 held out); Salakhutdinov & Murray 2008: -86.34, CD-25, 500 "
                   "hidden, full MNIST",
                   ais_mnist_table(keep, 1 if q else 10,
                                   [(100, 100)] if q else [(100, 300), (300, 1000)]))
    if 3 in sections:
        e = 1 if q else 10
        tables.add(f"3. Ours vs scikit-learn's BernoulliRBM: binarised mnist-5k, 100 hidden, "
                   f"PCD-1, lr 0.1, no momentum or weight decay, batch 10, {e} epochs; "
                   f"pseudo-log-likelihood (PLL) on the 1,000 held-out digits",
                   versus_sklearn_table(keep, e, 2 if q else 5,
                                        None if q else (100, 1000)))
    if 4 in sections:
        e = 2 if q else 10
        tables.add(f"4. RBM features + logistic regression, 8x8 digits in [0, 1] (family's "
                   f"split: 1,437 train / 360 held out), 100 hidden, {e} epochs",
                   features_table(e, args.example and not q))
    if 5 in sections:
        e, fe = (1, 1) if q else (10, 20)
        tables.add(f"5. Deep belief net {args.dbn} on mnist-5k ({e} epochs a layer), "
                   f"fine-tuned {fe} epochs (Adam 1e-3, batch 32) vs the same net from "
                   f"random weights, held-out accuracy on 1,000 digits, {len(seeds)} seed(s)",
                   dbn_table(keep, args.dbn, seeds, e, fe))
    if 6 in sections:
        tables.add("6. Gibbs sampling with gibbs.Chains, 36 chains, numpy on one core",
                   gibbs_table(keep, 0.5 if q else 3.0))
    print(f"Wall time: {time.perf_counter() - t_all:.0f} s", flush=True)
    if args.out:
        tables.write(args.out, "rbm")


if __name__ == "__main__":
    main()
