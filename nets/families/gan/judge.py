"""Scoring a GAN's samples with a classifier the app has, not with Inception (FID needs its
weights, which cannot be downloaded here): how many classes its samples cover, the share
it recognises with confidence, and the histogram of classes (mode collapse shows as
classes missing from it).

The judge of digits ships: resources/pretrained/cnn-digits.keras, a convnet of the CNN
tab trained on the bundled digits (98.7% held out; packaging/make_pretrained.py). For
other images (Fashion-MNIST, a person's folder) a small convnet is trained on the run's
own training images first, in seconds, and its held-out accuracy is said with the scores.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nets import backend

JUDGE_NAME = "cnn-digits"  # the shipped digit reader, by its manifest name
CONFIDENT = 0.9  # a sample counts as recognised when the judge gives one class this much
SCORED_SAMPLES = 500


@dataclass(frozen=True)
class Scores:
    """What the judge made of n samples."""

    step: int
    coverage: int  # classes that are the judge's guess for at least one sample
    classes: int
    confident: float  # share of samples whose top class has probability >= CONFIDENT
    histogram: tuple  # samples per guessed class
    agree: float | None = None  # conditional GAN: share guessed as the class asked for

    def as_metrics(self) -> dict:
        out = {"coverage": float(self.coverage), "confident": self.confident}
        if self.agree is not None:
            out["agree"] = self.agree
        return out

    def words(self) -> str:
        asked = f", {self.agree:.0%} the class asked for" if self.agree is not None else ""
        return (f"{self.coverage} of {self.classes} classes among {sum(self.histogram)} "
                f"samples, {self.confident:.0%} recognised with confidence{asked}")


def score(probabilities: np.ndarray, step: int = 0, asked=None) -> Scores:
    """Scores of samples from the judge's class probabilities (n, classes); `asked`: the
    classes a conditional generator was asked for."""
    p = np.asarray(probabilities, np.float64)
    guess = p.argmax(1)
    histogram = np.bincount(guess, minlength=p.shape[1])
    agree = None if asked is None else float(np.mean(guess == np.asarray(asked)))
    return Scores(step, int((histogram > 0).sum()), p.shape[1],
                  float(np.mean(p.max(1) >= CONFIDENT)) if len(p) else 0.0,
                  tuple(int(h) for h in histogram), agree)


@dataclass
class Judge:
    """A classifier of the GAN's images: probabilities(images) -> (n, classes)."""

    model: object
    names: list
    description: str  # what it is and how good, for the person
    _predict: object = field(default=None, repr=False)

    def probabilities(self, images: np.ndarray, batch: int = 500) -> np.ndarray:
        if self._predict is None:
            self._predict = backend.predictor(self.model)
        out = [np.asarray(self._predict(np.asarray(images[i:i + batch], np.float32)))
               for i in range(0, len(images), batch)]
        return np.concatenate(out) if out else np.zeros((0, len(self.names)))


def shipped_judge() -> Judge:
    """The digit reader that ships; StorageError in words when it is missing or damaged."""
    from nets import pretrained
    from nets.families import cnn
    from nets.storage import StorageError

    entry = next((e for e in pretrained.entries("cnn") if e.name == JUDGE_NAME), None)
    if entry is None:
        raise StorageError(f"The digit reader {JUDGE_NAME}.keras is not in this "
                           "installation's list of pretrained models.")
    trained = cnn.load(pretrained.checked_path(entry))
    return Judge(trained.model, [str(c) for c in trained.meta["classes"]],
                 f"the shipped digit reader ({entry.result})")


def fits(judge: Judge, shape, names) -> bool:
    """Whether a judge reads images of this shape and classes."""
    return (tuple(judge.model.input_shape[1:]) == tuple(shape)
            and list(judge.names) == [str(n) for n in names])


def quick_judge(dataset, seed: int = 0, epochs: int = 3, limit: int = 12_000,
                checkpoint=None) -> Judge:
    """A small convnet trained on (at most `limit` of) the dataset's training images for a
    few epochs: a judge for images no shipped model reads. `checkpoint()` between epochs
    (pause and stop)."""
    from nets.families import cnn

    x, y = dataset.x_train[:limit], dataset.y_train[:limit]
    config = cnn.Config(conv_blocks=2, filters=16, augment=False, dropout=0.3,
                        cosine_decay=False, epochs=epochs)
    model = cnn.build_model(config, dataset.input_shape, dataset.num_classes)
    for _ in range(epochs):
        model.fit(x, y, batch_size=128, epochs=1, verbose=0, shuffle=True)
        if checkpoint is not None:
            checkpoint()
    held = ""
    if len(dataset.y_val):
        probs = cnn.predict(model, dataset.x_val[:5000])
        acc = float(np.mean(probs.argmax(1) == dataset.y_val[:5000]))
        held = f", {acc:.1%} right on held-out images"
    return Judge(model, [str(n) for n in dataset.class_names],
                 f"a small convnet trained on these training images for {epochs} epochs "
                 f"just now{held}")


def judge_for(dataset, seed: int = 0, checkpoint=None) -> tuple[Judge | None, str]:
    """The judge for a run's images and a sentence saying which (or why there is none)."""
    from nets.storage import StorageError

    if dataset.num_classes < 2:
        return None, ("No scores: these images have no classes, and the scores need a "
                      "classifier of them.")
    try:
        judge = shipped_judge()
        if fits(judge, dataset.input_shape, dataset.class_names):
            return judge, f"Scores: samples are read by {judge.description}."
    except StorageError as exc:
        note = f" ({exc})"
    else:
        note = ""
    judge = quick_judge(dataset, seed, checkpoint=checkpoint)
    return judge, f"Scores: samples are read by {judge.description}{note}."
