"""What the autoencoder tab's lessons show, measured: the default run's time, and the
few-labels gap between the pretrained network and the same network from random weights,
over several seeds, on the 1,000 held-out bundled digits (never on training data).

    .venv/bin/python benchmarks/autoencoder_lessons.py                  # 3 seeds, defaults
    .venv/bin/python benchmarks/autoencoder_lessons.py --seeds 0,1,2,3,4 \
        --finetune-epochs 30,100,200
    .venv/bin/python benchmarks/autoencoder_lessons.py --set few_labels=20 --set epochs=50
    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/autoencoder_lessons.py \\
        --screenshot benchmarks/results/autoencoder-features-after.png
    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/autoencoder_lessons.py \
        --screenshot benchmarks/results/autoencoder-features-photos.png --dataset photos

Each seed runs exactly what the tab runs with its defaults (nets.runner.execute, bundled
digits); `--finetune-epochs` then repeats the few-labels comparison on the same pretrained
autoencoder with other fine-tuning lengths, to check that the scratch network is not
judged at a bad epoch count. Prints markdown tables.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def config_from(settings: list[str]):
    from nets.families import autoencoder as aes
    from nets.config import from_dict

    values = {}
    for item in settings:
        key, _, value = item.partition("=")
        values[key.strip()] = value.strip()
    config = from_dict(aes.Config, values, strict=True)
    unknown = set(values) - set(vars(config))
    if unknown:
        raise SystemExit(f"Unknown settings: {', '.join(sorted(unknown))}")
    return config


def mean_std(values) -> str:
    v = 100 * np.asarray(values, float)
    return f"{v.mean():.1f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.1f}"


def lessons(config, seeds: list[int], finetune_epochs: list[int]) -> None:
    from nets.families import autoencoder as aes
    from nets import data, runner
    from nets.progress import Artifact, EpochMetrics, ImageEvent, ListReporter

    ds = data.load("mnist-5k")
    rows, sweep = [], {}
    for seed in seeds:
        rep = ListReporter()
        t0 = time.monotonic()
        done = runner.execute(runner.RunRequest("autoencoder", config, "mnist-5k", seed=seed,
                                                autosave=False), rep)
        total = time.monotonic() - t0
        if done.status != "finished":
            raise SystemExit(f"seed {seed}: {done.status}: {done.message}")
        scores = [e.value for e in rep.of(Artifact) if e.name == "few_labels"][-1]
        note = [e.note for e in rep.of(ImageEvent) if e.name == "features1"][-1]
        metrics = rep.of(EpochMetrics)[-1].metrics
        rows.append(dict(seed=seed, fit=done.result.fit_seconds, total=total,
                         rec=metrics.get("val_reconstruction", metrics["val_loss"]),
                         active=note.split(": ")[-1], **scores))
        print(f"seed {seed}: pretrained {scores['pretrained']:.1%}, scratch "
              f"{scores['scratch']:.1%}, run {total:.0f} s", file=sys.stderr, flush=True)
        for epochs in finetune_epochs:
            if epochs == scores["finetune_epochs"]:
                got = scores
            else:
                got = aes.compare_few_labels(done.result.extra, config, ds, ListReporter(),
                                             finetune_epochs=epochs, seed=seed)
            sweep.setdefault(epochs, []).append(got)

    labels = rows[0]["labels"]
    print(f"\n### Autoencoder defaults, {len(seeds)} seeds (bundled digits: 4,000 train, "
          f"1,000 held out)\n")
    print(f"Settings: {config}\n")
    print(f"Few labels: {labels} labelled digits; each network trained the same way: the "
          f"softmax alone for {rows[0]['probe_epochs']} epochs, then the whole network for "
          f"{rows[0]['finetune_epochs']} epochs. Held-out accuracy on the 1,000 held-out "
          "digits.\n")
    print("| seed | pretraining fit (s) | whole run (s) | held-out reconstruction MSE | "
          "layer-1 mean activation | pretrained | from random weights | gap (points) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['seed']} | {r['fit']:.1f} | {r['total']:.1f} | {r['rec']:.4f} | "
              f"{r['active']} | {100 * r['pretrained']:.1f} % | {100 * r['scratch']:.1f} % | "
              f"{100 * (r['pretrained'] - r['scratch']):+.1f} |")
    gaps = [r["pretrained"] - r["scratch"] for r in rows]
    print(f"| mean ± std | {np.mean([r['fit'] for r in rows]):.1f} | "
          f"{np.mean([r['total'] for r in rows]):.1f} | "
          f"{np.mean([r['rec'] for r in rows]):.4f} | | "
          f"{mean_std([r['pretrained'] for r in rows])} % | "
          f"{mean_std([r['scratch'] for r in rows])} % | {mean_std(gaps)} |")
    if len(sweep) > 1 or (sweep and next(iter(sweep)) != rows[0]["finetune_epochs"]):
        print(f"\nFine-tuning length (softmax alone {rows[0]['probe_epochs']} epochs first; "
              f"same seeds, same pretrained autoencoders):\n")
        print("| fine-tuning epochs | pretrained | from random weights | gap (points) |")
        print("|---|---|---|---|")
        for epochs, got in sorted(sweep.items()):
            print(f"| {epochs} | {mean_std([g['pretrained'] for g in got])} % | "
                  f"{mean_std([g['scratch'] for g in got])} % | "
                  f"{mean_std([g['pretrained'] - g['scratch'] for g in got])} |")


def screenshot(path: Path, dataset: str = "mnist", settings: dict | None = None) -> None:
    """A default run in the tab, offscreen; then the Features view is saved as a PNG."""
    import tempfile

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      tempfile.mkdtemp())  # never the person's own settings
    app = QApplication.instance() or QApplication([])
    from app.tabs.autoencoder import AutoencoderTab

    tab = AutoencoderTab()
    tab.resize(1300, 800)
    tab.show()
    tab.panel.select_dataset(dataset)
    if settings:
        tab.panel.form.set_values({**tab.panel.form.values(), **settings})
    ended = []
    tab.panel.finished.connect(ended.append)
    t0 = time.monotonic()
    tab.panel.start()
    while not ended:
        app.processEvents()
        time.sleep(0.01)
    print(f"{ended[0].status}: {ended[0].message} Whole run in the tab: "
          f"{time.monotonic() - t0:.1f} s.")
    views = tab.panel.views
    views.setCurrentIndex(next(i for i in range(views.count())
                               if views.tabText(i) == "Features"))
    for _ in range(50):
        app.processEvents()
        time.sleep(0.01)
    path.parent.mkdir(parents=True, exist_ok=True)
    tab.grab().save(str(path))
    view = path.with_name(f"{path.stem}-view{path.suffix}")  # the Features view alone
    tab.features.grab().save(str(view))
    print(f"Saved {path} and {view}")
    print(tab.few.text.text())
    tab.shutdown()
    tab.panel.worker.wait(10000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting of the autoencoder's Config (repeatable)")
    parser.add_argument("--finetune-epochs", default="",
                        help="also compare with these fine-tuning lengths, e.g. 30,100,200")
    parser.add_argument("--screenshot", type=Path,
                        help="instead: a default run in the tab, Features view saved here")
    parser.add_argument("--dataset", default="mnist", help="with --screenshot: the dataset")
    args = parser.parse_args()
    if args.screenshot:
        from nets.families import autoencoder as aes

        settings = dict(aes.PHOTO_SETTINGS) if args.dataset == "photos" else {}
        config_from(args.set)  # checks the names and values
        settings.update(item.split("=", 1) for item in args.set)
        screenshot(args.screenshot, args.dataset, settings)
        return
    config = config_from(args.set)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    finetune = [int(s) for s in args.finetune_epochs.split(",") if s.strip()]
    lessons(config, seeds, finetune)


if __name__ == "__main__":
    main()
