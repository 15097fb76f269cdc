"""The digit GAN on the bundled digits: class coverage and the share of samples the app's
digit reader (resources/pretrained/cnn-digits.keras) recognises with >= 90% confidence,
after 1, 3 and 10 minutes of training with the family's defaults (as the app trains), and
seconds per step; with --collapse, the same for the mode-collapse preset, whose histogram
should lose classes.

Minutes are the training's own wall time: the clock stops while the benchmark scores
1,000 new samples at each checkpoint. Target (issue 19): all 10 classes and >= 80%
confident within 10 minutes on a laptop CPU.

    .venv/bin/python benchmarks/gan.py                    # seed 0, 1/3/10 minutes
    .venv/bin/python benchmarks/gan.py --seeds 0,1 --minutes 1,3
    .venv/bin/python benchmarks/gan.py --collapse         # the mode-collapse preset too
    .venv/bin/python benchmarks/gan.py --quick            # a smoke pass: seconds
    .venv/bin/python benchmarks/gan.py --set conditional=true --set batch_norm=true

Prints markdown tables and writes them to benchmarks/results/gan.md (and .json); --out ''
writes nothing.
"""
from __future__ import annotations

import argparse
import time

import common  # noqa: F401  (the project on the path, a scratch home)
import numpy as np

SCORED = 1000


class Checkpoints:
    """A reporter that, at the first event past each checkpoint (training minutes), scores
    the generator there, in the training thread, with its clock stopped meanwhile; and
    stops the run after the last one."""

    def __init__(self, minutes: list[float], scored: int):
        from nets.progress import ListReporter

        self.inner = ListReporter()
        self.controls = self.inner.controls
        self.left = sorted(minutes)
        self.scored = scored
        self.t0 = time.monotonic()
        self.paused = 0.0
        self.rows: list[dict] = []
        self.model = self.judge = None
        self.step = 0

    def training_seconds(self) -> float:
        return time.monotonic() - self.t0 - self.paused

    def emit(self, event) -> None:
        from nets.progress import Artifact, BatchMetrics, Started

        if isinstance(event, Started):
            self.t0, self.paused = time.monotonic(), 0.0  # data and nets are ready
        if isinstance(event, Artifact) and event.name in ("model", "judge"):
            setattr(self, event.name, event.value)
        if isinstance(event, Artifact) and event.name == "judge":
            t = time.monotonic()  # the judge was loaded (or trained) before the first step
            self.t0 = t
        if not isinstance(event, BatchMetrics) or not self.left:
            return
        self.step = max(self.step, event.step)
        trained = self.training_seconds()
        if trained < 60 * self.left[0]:
            return
        t = time.monotonic()
        self.rows.append({"minutes": self.left.pop(0), "trained_s": trained,
                          "step": self.step, **self.score()})
        self.paused += time.monotonic() - t
        if not self.left:
            self.controls.stop()

    def score(self) -> dict:
        from nets.families.gan import judge
        from nets.families.gan.explore import Sampler

        sampler = Sampler(self.model)
        rng = np.random.default_rng(123)
        labels = np.arange(self.scored) % 10
        images = sampler.images(rng.standard_normal((self.scored, sampler.latent)), labels)
        if images.ndim == 3:
            images = images[..., None]
        s = judge.score(self.judge.probabilities(images), self.step,
                        labels if self.model.conditional else None)
        return {"scores": s}


def run(config, seed: int, minutes: list[float], scored: int, name: str) -> list[dict]:
    from nets import runner

    reporter = Checkpoints(minutes, scored)
    done = runner.execute(runner.RunRequest("gan", config, "mnist-5k", seed,
                                            autosave=False), reporter)
    if done.status == "failed":
        raise SystemExit(f"seed {seed}: {done.message}\n{done.detail[-2000:]}")
    if reporter.left and reporter.model is not None:  # ended before the last checkpoint
        reporter.rows.append({"minutes": reporter.training_seconds() / 60,
                              "trained_s": reporter.training_seconds(),
                              "step": reporter.step, **reporter.score()})
    rows = []
    for r in reporter.rows:
        s = r["scores"]
        rows.append({"settings": name, "seed": seed, "minutes": f"{r['minutes']:.3g}",
                     "steps": r["step"],
                     "s/step": f"{r['trained_s'] / max(r['step'], 1):.3f}",
                     "classes covered": f"{s.coverage}/{s.classes}",
                     "confident (%)": f"{100 * s.confident:.1f}",
                     **({"asked class (%)": f"{100 * s.agree:.1f}"}
                        if s.agree is not None else {}),
                     "histogram": " ".join(str(h) for h in s.histogram)})
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke pass: tiny nets, "
                        "seconds of training")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--minutes", default="1,3,10")
    parser.add_argument("--collapse", action="store_true",
                        help="also run the mode-collapse preset")
    parser.add_argument("--collapse-minutes", default="0.5,1,3",
                        help="its checkpoints: it collapses early")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a setting of the family's Config (repeatable)")
    parser.add_argument("--out", default=str(common.RESULTS),
                        help="where the tables are written (md and json); '' for nowhere")
    args = parser.parse_args()
    from nets import backend
    from nets.families import gan

    info = backend.start()
    base = {"steps": 10_000_000}  # as long as it takes: the run stops at the last minute
    minutes = [float(m) for m in args.minutes.split(",")]
    scored = SCORED
    if args.quick:
        base.update(g_width=8, d_width=8, latent_size=16, batch_size=32, score_every=50)
        minutes, scored = [0.02, 0.05], 100
    config = common.config_with(gan.Config, args.set, base)
    print(f"Settings: {config}. Device: {backend.describe(info)}.", flush=True)
    tables = common.Tables()
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        rows += run(config, seed, minutes, scored, "defaults" if not args.set else
                    ", ".join(args.set))
        if args.collapse:
            collapse = common.config_with(gan.Config, [f"{k}={v}" for k, v in
                                                       gan.MODE_COLLAPSE.items()],
                                          {**base, **{k: getattr(config, k) for k in
                                                      ("g_width", "latent_size",
                                                       "batch_size", "score_every")
                                                      if args.quick}})
            rows += run(collapse, seed, [0.02, 0.05] if args.quick else
                        [float(m) for m in args.collapse_minutes.split(",")], scored,
                        "mode-collapse preset")
    tables.add(f"Samples read by the app's digit reader ({scored:,} per checkpoint): "
               "classes covered, share read with >= 90% confidence, and how many of each "
               "class (0 to 9)", rows)
    if args.out:
        tables.write(args.out, "gan" + ("-quick" if args.quick else ""))


if __name__ == "__main__":
    main()
