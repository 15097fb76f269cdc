"""Train the models that ship in resources/pretrained/ and write their manifest.

    .venv/bin/python packaging/make_pretrained.py            # all of them
    .venv/bin/python packaging/make_pretrained.py dqn-cartpole

Each model is trained by the project's own command line (`main.py train ...`, run as a
subprocess exactly as the manifest records it), then scored on data or games its training
never saw, and the manifest gets the command, the score, the time, the versions and the
file's SHA-256. Run it from the repository root; it needs no network.
"""
from __future__ import annotations

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


def score_dqn(path: str) -> str:
    import numpy as np

    from nets.families import dqn
    from nets.config import from_dict

    trained = dqn.load(path)
    returns = dqn.evaluate(trained.model, from_dict(dqn.Config, trained.meta["config"]),
                           episodes=20)
    return (f"average return {np.mean(returns):.1f} (lowest {min(returns):.0f}) over 20 "
            "greedy games on seeds training never used (500 is the most CartPole gives)")


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


def main(names: list[str]) -> int:
    pretrained.FOLDER.mkdir(exist_ok=True)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        print(f"unknown: {', '.join(unknown)}; known: {', '.join(MODELS)}", file=sys.stderr)
        return 2
    # the other models' entries stay as they are; a manifest that cannot be read stops
    # the run rather than silently dropping them
    kept = ({item["name"]: item for item in pretrained.read_manifest()}
            if pretrained.MANIFEST.exists() else {})
    # beside the shipped files, so that moving them into place is an atomic rename
    with tempfile.TemporaryDirectory(prefix=".make-", dir=pretrained.FOLDER) as scratch:
        made = {}
        for name in names or MODELS:
            kept[name], made[name] = make(name, MODELS[name], Path(scratch))
        # only now, with every model trained and scored, replace the shipped files
        for name, path in made.items():
            os.replace(path, pretrained.FOLDER / path.name)
    models = [kept[n] for n in MODELS if n in kept]
    tmp = pretrained.MANIFEST.with_suffix(".tmp")
    tmp.write_text(json.dumps({"models": models}, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, pretrained.MANIFEST)
    print(f"Wrote {pretrained.MANIFEST.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
