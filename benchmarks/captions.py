"""Visual attention captioning on the app's scenes: exact match and BLEU-1..4 of the greedy
captions on 1,000 fixed test scenes and on 1,000 scenes with colour-shape pairs never seen
in training, after 2, 5 and 10 minutes of training with the family's defaults (as the app
trains: its live panel included); the share of attention inside the object each word names;
and the latency of captioning one composed scene (greedy and beam search).

Minutes are the training's own wall time: the clock stops while the benchmark scores the
model. Reference: Xu et al. 2015, Flickr8k BLEU-4 19.5 (soft attention) / 21.3 (hard);
target here: >= 90% exact match on test scenes within 10 minutes of CPU, captioning
latency <= 100 ms p95.

    .venv/bin/python benchmarks/captions.py                 # seed 0, 2/5/10 minutes
    .venv/bin/python benchmarks/captions.py --seeds 0,1,2   # the same over three seeds
    .venv/bin/python benchmarks/captions.py --quick         # a smoke pass: seconds
    .venv/bin/python benchmarks/captions.py --set units=256 --minutes 5,10

Prints markdown tables and writes them to benchmarks/results/captions.md (and .json);
--out '' writes nothing.
"""
from __future__ import annotations

import argparse
import time

import common  # noqa: F401  (the project on the path, a scratch home)
import numpy as np

SCORED = 1000
COMPOSED = 200  # scenes captioned one at a time for the latency


class Checkpoints:
    """A reporter that, at the first live panel past each checkpoint (training minutes),
    scores the model there, in the training thread, with its clock stopped meanwhile; and
    stops the run after the last one."""

    def __init__(self, minutes: list[float], kind: str, max_objects: int, scored: int):
        from nets.progress import ListReporter

        self.inner = ListReporter()
        self.controls = self.inner.controls
        self.left = sorted(minutes)
        self.kind, self.max_objects, self.scored = kind, max_objects, scored
        self.t0 = time.monotonic()
        self.paused = 0.0
        self.rows: list[dict] = []
        self.decoder = None

    def training_seconds(self) -> float:
        return time.monotonic() - self.t0 - self.paused

    def emit(self, event) -> None:
        from nets.progress import Artifact

        self.inner.emit(event)
        if isinstance(event, Artifact) and event.name == "model":
            self.model = event.value
        if not (isinstance(event, Artifact) and event.name == "captions") or not self.left:
            return
        trained = self.training_seconds()
        if trained < 60 * self.left[0]:
            return
        t = time.monotonic()
        self.rows.append({"minutes": self.left.pop(0), "trained_s": trained,
                          "step": event.value.step, **self.score()})
        self.paused += time.monotonic() - t
        if not self.left:
            self.controls.stop()

    def score(self) -> dict:
        from nets.families import captions
        from nets.families.captions.sources import scene_max_words, scene_vocabulary

        if self.decoder is None:
            self.decoder = captions.Decoder(self.model, scene_max_words(self.max_objects))
        report = captions.scene_report(self.decoder, scene_vocabulary(), self.kind,
                                       self.max_objects, self.scored)
        return {"test": report.test, "held": report.held_out, "looking": report.looking}


def latency(model, max_objects: int, count: int, width: int) -> list[float]:
    """Seconds from a composed scene (objects placed at random, arranged by the grammar)
    to its caption and attention maps, one scene at a time, after a warm-up."""
    from nets.families import captions
    from nets.families.captions import scenes as sc
    from nets.families.captions.sources import as_input, scene_max_words

    decoder = captions.Decoder(model, scene_max_words(max_objects))
    maker = sc.SceneMaker("shapes and digits", "test", max_objects)
    rng = np.random.default_rng(7)
    out = []
    for i in range(count + 5):
        things = maker.scene(rng).things
        t = time.perf_counter()
        scene = sc.arrange(things)
        image = as_input(sc.render(scene, lambda _, thing: maker.glyphs[int(thing.shape)][0]))
        if width == 1:
            decoder.greedy(image[None])
        else:
            decoder.beam(image, width)
        if i >= 5:
            out.append(time.perf_counter() - t)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke pass: tiny net, "
                        "seconds of training")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--minutes", default="2,5,10")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a setting of the family's Config (repeatable)")
    parser.add_argument("--out", default=str(common.RESULTS),
                        help="where the tables are written (md and json); '' for nowhere")
    args = parser.parse_args()
    from nets import backend, runner
    from nets.families import captions

    info = backend.start()
    base = {}  # the defaults: a run as long as the app's (it stops at the last minute)
    minutes = [float(m) for m in args.minutes.split(",")]
    scored, composed = SCORED, COMPOSED
    if args.quick:
        base.update(epochs=3, filters=4, units=16, embedding=8, attention=8, scenes_per_epoch=128,
                    batch_size=32, max_objects=2)
        minutes, scored, composed = [0.1, 0.2, 9], 64, 10
    config = common.config_with(captions.Config, args.set, base)
    settings = ", ".join(f"{k} {v}" for k, v in vars(config).items()
                         if k not in ("epochs", "folder", "source"))
    tables = common.Tables()
    print(f"Settings: {settings}. Device: {backend.describe(info)}.", flush=True)
    scores, looks = [], []
    model = None
    for seed in (int(s) for s in args.seeds.split(",")):
        reporter = Checkpoints(minutes, config.scene_kind, config.max_objects, scored)
        done = runner.execute(runner.RunRequest("captions", config, "", seed,
                                                autosave=False), reporter)
        if done.status == "failed":
            raise SystemExit(f"seed {seed}: {done.message}\n{done.detail[-2000:]}")
        model = done.result.model
        if reporter.left:  # the run ended before the last checkpoint: score it at its end
            reporter.rows.append({"minutes": reporter.training_seconds() / 60,
                                  "trained_s": reporter.training_seconds(),
                                  "step": int(model.optimizer.iterations),
                                  **reporter.score()})
        for r in reporter.rows:
            test, held, look = r["test"], r["held"], r["looking"]
            scores.append({"seed": seed, "minutes": f"{r['minutes']:.3g}",
                           "trained (s)": f"{r['trained_s']:.0f}", "steps": r["step"],
                           **cells("test", test), **cells("held-out pairs", held)})
            looks.append({"seed": seed, "minutes": f"{r['minutes']:.3g}",
                          "attention inside the named object (%)":
                              f"{100 * look.inside:.1f}",
                          "uniform (%)": f"{100 * look.uniform:.1f}", "words": look.words})
            print(scores[-1], looks[-1], flush=True)
    tables.add(f"Exact match and BLEU (%) of greedy captions on {scored:,} test scenes and "
               f"{scored:,} scenes with held-out pairs", scores)
    tables.add("Where it looks, for the size, colour and shape words of exactly right "
               "captions", looks)
    greedy = latency(model, config.max_objects, composed, 1)
    beam = latency(model, config.max_objects, max(composed // 2, 5), 3)
    tables.add("Captioning latency of one composed scene (ms): arrange, render, encode, "
               "decode", [{"decoding": name, "p50": ms(xs, 0.5), "p95": ms(xs, 0.95),
                           "max": ms(xs, 1.0), "scenes": len(xs)}
                          for name, xs in (("greedy", greedy), ("beam search, width 3",
                                                                beam))])
    if args.out:
        tables.write(args.out, "captions" + ("-quick" if args.quick else ""))


def cells(name: str, s) -> dict:
    if s is None:
        return {f"{name} exact": "-"}
    return {f"{name} exact": f"{100 * s.exact:.1f}",
            **{f"BLEU-{n}" + (" (held)" if "held" in name else ""):
               f"{100 * s.bleu[f'bleu{n}']:.1f}" for n in range(1, 5)}}


def ms(xs, q) -> str:
    return f"{1000 * float(np.quantile(xs, q)):.1f}"


if __name__ == "__main__":
    main()
