"""Train the models that ship in resources/pretrained/ and write their manifest.

    .venv/bin/python packaging/make_pretrained.py            # all of them
    .venv/bin/python packaging/make_pretrained.py dqn-cartpole
    .venv/bin/python packaging/make_pretrained.py --adopt dqn-pong pong.keras \
        --seconds 540 --command "python main.py --backend jax train dqn --game Pong ..."

Each model is trained by the project's own command line (`main.py train ...`, run as a
subprocess exactly as the manifest records it), then scored on data or games its training
never saw, and the manifest gets the command, the score, the time, the versions and the
file's SHA-256. Run it from the repository root; it needs no network.

A model this machine cannot train in reasonable time (the Pong agent: hours on a CPU) is
trained on a GPU machine by the same command line (benchmarks/device/README.md) and then
*adopted*: scored here, on the CPU, on games its training never saw, and shipped as its
weights alone (the optimiser's state stays behind), with the command, wall time, steps and
the backend and device it was trained on (recorded in the file) in its entry.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from nets import pretrained  # noqa: E402
from nets.storage import file_digest  # noqa: E402


def greedy_returns(path: str, games: int) -> list[float]:
    """The scores of a saved agent's greedy games on seeds its training never used."""
    from nets.config import from_dict
    from nets.families import dqn

    trained = dqn.load(path)
    return dqn.evaluate(trained.model, from_dict(dqn.Config, trained.meta["config"]),
                        episodes=games)


def score_dqn(path: str) -> str:
    import numpy as np

    returns = greedy_returns(path, 20)
    return (f"average return {np.mean(returns):.1f} (lowest {min(returns):.0f}) over 20 "
            "greedy games on seeds training never used (500 is the most CartPole gives)")


def score_atari(path: str, games: int = 10) -> str:
    import numpy as np

    returns = greedy_returns(path, games)
    return (f"average score {np.mean(returns):+.1f} (from {min(returns):+.0f} to "
            f"{max(returns):+.0f}) over {games} greedy games on seeds training never used "
            "(random play scores about -20.4, the best +21)")


def learning_curve(meta: dict, rows: int = 12) -> str:
    """Return per game against agent steps, averaged over `rows` equal stretches."""
    import numpy as np

    returns = np.asarray(meta.get("training", {}).get("returns", []), float)
    steps = np.asarray(meta.get("training", {}).get("episode_steps", []), float)
    if not len(returns):
        return "no game ended during training"
    edges = np.linspace(0, max(steps.max(), 1), rows + 1)
    lines = ["| agent steps up to | games | average return |", "|---|---|---|"]
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = returns[(steps > lo) & (steps <= hi)]
        if len(inside):
            lines.append(f"| {hi:,.0f} | {len(inside)} | {inside.mean():+.1f} |")
    return "\n".join(lines)


def score_vae(path: str) -> str:
    from nets.families import vae

    last = vae.load(path).history[-1]
    return (f"held-out loss {last['val_loss']:.1f} per digit (reconstruction "
            f"{last['val_reconstruction']:.1f} + KL {last['val_kl']:.2f} nats) on the "
            "1,000 bundled digits kept out of training")


def score_cnn(path: str) -> str:
    from nets.families import cnn

    last = cnn.load(path).history[-1]
    return (f"held-out accuracy {last['val_accuracy']:.1%} on the 1,000 bundled digits "
            "kept out of training")


MODELS = {
    "dqn-cartpole": dict(
        family="dqn", title="CartPole agent",
        description="A deep Q-network that balances the pole; press Watch agent.",
        args=["train", "dqn", "--seed", "1"], score=score_dqn),
    "vae-digits": dict(
        family="vae", title="VAE with a 2-D map of the digits",
        description="A convolutional VAE trained for 60 epochs on the bundled digits: "
                    "drag through its map at once.",
        args=["train", "vae", "--architecture", "conv", "--epochs", "60"], score=score_vae),
    # the GAN tab's judge: it names the digit each sample looks like (nets.families.gan.
    # judge), and the CNN tab offers it too
    "cnn-digits": dict(
        family="cnn", title="Convnet that reads digits",
        description="The default convnet trained for 30 epochs on the bundled digits, "
                    "varied by augmentation; the GAN tab scores its samples with it.",
        args=["train", "cnn", "--dataset", "mnist-5k", "--epochs", "30"], score=score_cnn),
}


# Trained on a GPU machine by `main.py train` and adopted (above): not trained here.
ADOPTED = {
    "dqn-pong": dict(
        family="dqn", title="Pong agent (trained on a GPU)",
        description="A deep Q-network that plays Pong from the screen's pixels, trained "
                    "on a GPU; press Watch agent (the Atari games must be installed).",
        score=score_atari),
}


def adopt(name: str, source: Path, command: str, seconds: float) -> dict:
    """Score a model trained elsewhere and ship its weights; returns its manifest entry."""
    import keras

    from nets import runner

    spec = ADOPTED[name]
    trained = runner.family(spec["family"]).load(source)  # weights only: no code runs
    meta = trained.meta
    print(f"== {name}: {meta.get('step', '?'):,} steps, trained with "
          f"{meta.get('trained_with', 'an unknown backend')}", flush=True)
    print(learning_curve(meta), flush=True)
    result = spec["score"](str(source))
    print(f"   {result}", flush=True)
    target = pretrained.FOLDER / f"{name}.keras"
    with tempfile.TemporaryDirectory(prefix=".adopt-", dir=pretrained.FOLDER) as scratch:
        made = trained.save(Path(scratch) / target.name)  # the weights, without optimiser
        entry = dict(name=name, family=spec["family"], file=target.name, title=spec["title"],
                     description=spec["description"], command=command, result=result,
                     sha256=file_digest(made),
                     trained=f"{datetime.date.today()}, "
                             f"{meta.get('trained_with', 'unknown device')}",
                     seconds=round(seconds, 1), steps=meta.get("step"),
                     versions={"keras": keras.__version__, "scored on": "TensorFlow CPU",
                               "python": platform.python_version()})
        os.replace(made, target)
    return entry


def make(name: str, spec: dict, scratch: Path) -> tuple[dict, Path]:
    """Train and score one model into `scratch`; returns its manifest entry and file."""
    target = pretrained.FOLDER / f"{name}.keras"
    args = [*spec["args"], "--no-autosave", "--save", str(target.relative_to(ROOT))]
    print(f"== {name}: python main.py {shlex.join(args)}", flush=True)
    made = scratch / target.name  # the same command, saving aside until all succeeded
    t0 = time.monotonic()
    subprocess.run([sys.executable, "main.py", *args[:-1], str(made)], cwd=ROOT, check=True,
                   env={**os.environ, "DLE_HOME": str(scratch / "home")})
    seconds = time.monotonic() - t0
    result = spec["score"](str(made))
    print(f"   {result}", flush=True)
    import keras
    import tensorflow as tf

    entry = dict(name=name, family=spec["family"], file=target.name, title=spec["title"],
                 description=spec["description"],
                 command=f"python main.py {shlex.join(args)}", result=result,
                 sha256=file_digest(made),
                 trained=f"{datetime.date.today()}, {os.cpu_count()} CPU cores, "
                         f"{platform.system()}",
                 seconds=round(seconds, 1),
                 versions={"tensorflow": tf.__version__, "keras": keras.__version__,
                           "python": platform.python_version()})
    return entry, made


def write_manifest(entries: dict) -> None:
    models = [entries[n] for n in [*MODELS, *ADOPTED] if n in entries]
    tmp = pretrained.MANIFEST.with_suffix(".tmp")
    tmp.write_text(json.dumps({"models": models}, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, pretrained.MANIFEST)
    print(f"Wrote {pretrained.MANIFEST.relative_to(ROOT)}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"models to train: {', '.join(MODELS)}")
    parser.add_argument("--adopt", nargs=2, metavar=("NAME", "FILE.keras"),
                        help=f"score and ship a model trained elsewhere: "
                             f"{', '.join(ADOPTED)}")
    parser.add_argument("--command", help="with --adopt: the command that trained it")
    parser.add_argument("--seconds", type=float, help="with --adopt: its wall time")
    args = parser.parse_args(argv)
    names = args.names
    unknown = [n for n in names if n not in MODELS]
    if unknown or (args.adopt and (args.adopt[0] not in ADOPTED or not args.command
                                   or args.seconds is None)):
        parser.error(f"train one of {', '.join(MODELS)}, or --adopt one of "
                     f"{', '.join(ADOPTED)} with --command and --seconds")
    pretrained.FOLDER.mkdir(exist_ok=True)
    # the other models' entries stay as they are; a manifest that cannot be read stops
    # the run rather than silently dropping them
    kept = ({item["name"]: item for item in pretrained.read_manifest()}
            if pretrained.MANIFEST.exists() else {})
    if args.adopt:
        name, source = args.adopt
        kept[name] = adopt(name, Path(source), args.command, args.seconds)
        write_manifest(kept)
        return 0
    # beside the shipped files, so that moving them into place is an atomic rename
    with tempfile.TemporaryDirectory(prefix=".make-", dir=pretrained.FOLDER) as scratch:
        made = {}
        for name in names or MODELS:
            kept[name], made[name] = make(name, MODELS[name], Path(scratch))
        # only now, with every model trained and scored, replace the shipped files
        for name, path in made.items():
            os.replace(path, pretrained.FOLDER / path.name)
    write_manifest(kept)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
