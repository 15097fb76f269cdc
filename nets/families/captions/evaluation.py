"""How good a captioner is: exact match and BLEU-1..4 of its greedy captions against the
truth, on test scenes and on scenes with colour-shape pairs it never saw; how much of its
attention, for the words naming an object, falls inside that object's box; and the panel
of test scenes the tab watches while it trains.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from nets.families.captions import scenes as sc
from nets.families.captions.bleu import bleu_scores
from nets.families.captions.decoding import Caption, Decoder
from nets.families.captions.sources import Scored, as_input, fixed_scenes

PANEL = 8  # test scenes captioned live
SCORED = 256  # test scenes (and as many held-out-pair scenes) scored live
BATCH = 128


def caption_all(decoder: Decoder, images: np.ndarray) -> list[Caption]:
    out = []
    for start in range(0, len(images), BATCH):
        out += decoder.greedy(as_input(images[start:start + BATCH]))
    return out


def score(vocab, captions: list[Caption], references: list[list[list[str]]]) -> Scored:
    said = [vocab.decode(c.ids) for c in captions]
    exact = float(np.mean([s in refs for s, refs in zip(said, references)])) if said else 0.0
    return Scored(exact, bleu_scores(references, said), len(said))


def box_share(alpha: np.ndarray, box, size: int = sc.SIZE) -> float:
    """The share of an attention map (grid_h, grid_w, summing to 1) that falls inside a
    box (x0, y0, x1, y1 in pixels), each grid cell counted by how much of it the box
    covers."""
    gh, gw = alpha.shape
    ch, cw = size / gh, size / gw
    x0, y0, x1, y1 = box
    cover_x = np.clip(np.minimum((np.arange(gw) + 1) * cw, x1)
                      - np.maximum(np.arange(gw) * cw, x0), 0, None) / cw
    cover_y = np.clip(np.minimum((np.arange(gh) + 1) * ch, y1)
                      - np.maximum(np.arange(gh) * ch, y0), 0, None) / ch
    return float((alpha * np.outer(cover_y, cover_x)).sum())


def object_words(scene: sc.Scene) -> list[tuple[int, sc.Thing]]:
    """(position in the caption, object) of each word naming an object: its size, colour
    and shape (not the "a" before them)."""
    out, i = [], 0
    for k, thing in enumerate(scene.things):
        out += [(i + 1, thing), (i + 2, thing), (i + 3, thing)]
        i += 4 + len(sc.RELATIONS[scene.axis])
    return out


@dataclass(frozen=True)
class Looking:
    inside: float  # mean attention share inside the named object's box
    uniform: float  # what looking everywhere alike would give: the box's share of the image
    words: int  # words counted (from captions the model got exactly right)


def attention_on_objects(vocab, scenes: list[sc.Scene], captions: list[Caption]) -> Looking:
    """Over the exactly right captions: for each word naming an object, the share of the
    attention for that word inside the object's box."""
    inside, uniform = [], []
    for scene, cap in zip(scenes, captions):
        if vocab.decode(cap.ids) != scene.words:
            continue
        for position, thing in object_words(scene):
            inside.append(box_share(cap.alphas[position], thing.box))
            x0, y0, x1, y1 = thing.box
            uniform.append((x1 - x0) * (y1 - y0) / sc.SIZE ** 2)
    if not inside:
        return Looking(0.0, 0.0, 0)
    return Looking(float(np.mean(inside)), float(np.mean(uniform)), len(inside))


@dataclass(frozen=True)
class Report:
    """Scores of a scene model on its fixed test and held-out-pair scenes."""

    test: Scored
    held_out: Scored | None  # None when no held-out pair uses the model's kind of scene
    looking: Looking


def scene_report(decoder: Decoder, vocab, kind: str, max_objects: int,
                 count: int = SCORED) -> Report:
    scenes, images = fixed_scenes(kind, "test", count, max_objects)
    caps = caption_all(decoder, images)
    test = score(vocab, caps, [[s.words] for s in scenes])
    held = None
    if any(p in sc.HELD_OUT for p in sc.SceneMaker(kind).pairs):
        h_scenes, h_images = fixed_scenes(kind, "held-out", count, max_objects)
        held = score(vocab, caption_all(decoder, h_images), [[s.words] for s in h_scenes])
    return Report(test, held, attention_on_objects(vocab, scenes, caps))


@dataclass(frozen=True)
class Panel:
    """What the run sends every few seconds and at each epoch's end."""

    seconds: float
    step: int
    images: np.ndarray  # float32 (PANEL, 64, 64, 3) in [0, 1]
    truth: tuple[str, ...]  # the right captions ("" where there is none)
    said: tuple[str, ...]  # the model's
    report: Report | None  # scores on the fixed scene sets (None for a person's folder)


class LivePanel:
    """Called by the fit bridge: the fixed panel captioned, and the scene scores."""

    def __init__(self, vocab, max_words: int, images, truth, scene_kind: str = "",
                 max_objects: int = sc.MAX_OBJECTS, scored: int = SCORED):
        self.vocab, self.max_words = vocab, max_words
        self.images, self.truth = as_input(images[:PANEL]), tuple(truth[:PANEL])
        self.kind, self.max_objects, self.scored = scene_kind, max_objects, scored
        self.decoder = None
        self.last: Panel | None = None  # the latest sent
        self.t0 = time.monotonic()

    def __call__(self, model) -> list:
        from nets.progress import Artifact

        if self.decoder is None:  # built in the training thread, once
            self.decoder = Decoder(model, self.max_words)
        said = tuple(" ".join(self.vocab.decode(c.ids))
                     for c in self.decoder.greedy(self.images))
        report = (scene_report(self.decoder, self.vocab, self.kind, self.max_objects,
                               self.scored) if self.kind else None)
        self.last = Panel(time.monotonic() - self.t0, int(model.optimizer.iterations),
                          self.images, self.truth, said, report)
        return [Artifact("captions", self.last)]
