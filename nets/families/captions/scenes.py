"""Captioned scenes the app makes itself: small colour images with one to three objects
(circles, squares, triangles and, optionally, handwritten digits from the bundled set)
and one caption each from a small grammar, e.g. "a small red circle left of a large blue 7".

The caption is a function of the scene, so a model can get it exactly right: objects are
named in order along one axis (left to right, or top to bottom), each as "a <size>
<colour> <shape>", joined by "left of" or "above". Scenes are seeded and practically never
repeat. A few colour-shape pairs (HELD_OUT) never appear in training scenes, so test
scenes with them measure whether the model composes words it learnt apart.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIZE = 64  # scenes are SIZE x SIZE x 3
COLOURS = {"red": (235, 50, 45), "green": (40, 200, 70), "blue": (70, 110, 255),
           "yellow": (240, 220, 40), "purple": (180, 70, 230)}
SHAPES = ("circle", "square", "triangle")
DIGITS = tuple("0123456789")
EXTENTS = {"small": (12, 15), "large": (20, 24)}  # an object's height and width in pixels
RELATIONS = {"x": ("left", "of"), "y": ("above",)}
HELD_OUT = (("green", "triangle"), ("yellow", "square"), ("red", "7"), ("blue", "3"))
KINDS = ("shapes", "digits", "shapes and digits")
MARGIN = 2  # pixels between objects along the caption's axis, and to the edges
MAX_OBJECTS = 3


@dataclass(frozen=True)
class Thing:
    """One object of a scene: what the caption says about it and where it is."""

    shape: str  # a SHAPES name or a digit "0".."9"
    colour: str
    size: str  # "small" or "large"
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels (x1, y1 excluded)

    @property
    def words(self) -> list[str]:
        return ["a", self.size, self.colour, self.shape]

    @property
    def centre(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return (x0 + x1) / 2, (y0 + y1) / 2


@dataclass(frozen=True)
class Scene:
    things: tuple[Thing, ...]  # in the caption's order
    axis: str  # "x" (named left to right) or "y" (top to bottom)

    @property
    def words(self) -> list[str]:
        out = list(self.things[0].words)
        for thing in self.things[1:]:
            out += [*RELATIONS[self.axis], *thing.words]
        return out

    @property
    def caption(self) -> str:
        return " ".join(self.words)


def vocabulary_words() -> list[str]:
    """Every word the grammar can say, in a fixed order."""
    return ["a", *EXTENTS, *COLOURS, *SHAPES, *DIGITS, "left", "of", "above"]


def shapes_of(kind: str) -> tuple[str, ...]:
    return {"shapes": SHAPES, "digits": DIGITS, "shapes and digits": SHAPES + DIGITS}[kind]


def parse(words: list[str] | str) -> list[tuple[str, str, str]] | None:
    """The (size, colour, shape) of each object a caption names, in order, and None when
    the words are not a sentence of the grammar (what a half-trained model may say)."""
    words = words.split() if isinstance(words, str) else list(words)
    things, i, relation = [], 0, None
    while True:
        if words[i:i + 1] != ["a"] or len(words) < i + 4:
            return None
        size, colour, shape = words[i + 1:i + 4]
        if size not in EXTENTS or colour not in COLOURS or shape not in SHAPES + DIGITS:
            return None
        things.append((size, colour, shape))
        i += 4
        if i == len(words):
            return things
        for axis, rel in RELATIONS.items():
            if tuple(words[i:i + len(rel)]) == rel and relation in (None, axis):
                relation, i = axis, i + len(rel)
                break
        else:
            return None


class SceneMaker:
    """Draws scenes for one split: "train" (digits from the training digits; no held-out
    pair), "test" (digits never trained on; no held-out pair) or "held-out" (every scene
    has at least one HELD_OUT pair)."""

    def __init__(self, kind: str = "shapes and digits", split: str = "train",
                 max_objects: int = MAX_OBJECTS, digits=None):
        self.kind, self.split = kind, split
        self.shapes = shapes_of(kind)
        self.max_objects = max(1, min(MAX_OBJECTS, int(max_objects)))
        self.pairs = [(c, s) for c in COLOURS for s in self.shapes]
        self.unseen = [p for p in self.pairs if p in HELD_OUT]
        self.seen = [p for p in self.pairs if p not in HELD_OUT]
        if split == "held-out" and not self.unseen:
            raise ValueError(f"no held-out colour-shape pair uses {kind}")
        self.glyphs = None
        if any(s in DIGITS for s in self.shapes):
            self.glyphs = digit_glyphs(split if digits is None else digits)

    def scene(self, rng: np.random.Generator) -> Scene:
        n = int(rng.integers(1, self.max_objects + 1))
        axis = "x" if rng.random() < 0.5 or n == 1 else "y"
        pairs = [self.pair(rng) for _ in range(n)]
        if self.split == "held-out":
            pairs[int(rng.integers(n))] = self.unseen[int(rng.integers(len(self.unseen)))]
        for _ in range(100):
            sizes = [("small", "large")[int(rng.integers(2))] for _ in range(n)]
            extents = [int(rng.integers(EXTENTS[s][0], EXTENTS[s][1] + 1)) for s in sizes]
            boxes = place(extents, axis, rng)
            if boxes is not None:
                return Scene(tuple(Thing(shape, colour, size, box) for (colour, shape), size,
                                   box in zip(pairs, sizes, boxes)), axis)
        raise RuntimeError("could not place the objects")  # never with SIZE 64 and 3 objects

    def pair(self, rng: np.random.Generator) -> tuple[str, str]:
        """A colour and a shape never held out; with shapes and digits, a shape half the
        time and a digit half the time (not 3 in 13: digits are harder to tell apart)."""
        seen = self.seen
        if self.kind == "shapes and digits":
            digit = rng.random() < 0.5
            seen = [p for p in seen if (p[1] in DIGITS) == digit]
        return seen[int(rng.integers(len(seen)))]

    def render(self, scene: Scene, rng: np.random.Generator) -> np.ndarray:
        """The scene as uint8 (SIZE, SIZE, 3); each digit a random handwritten one of its
        class."""
        def glyph(_, thing):
            choices = self.glyphs[int(thing.shape)]
            return choices[int(rng.integers(len(choices)))]

        return render(scene, glyph)

    def batch(self, count: int, rng: np.random.Generator):
        """`count` scenes and their images (uint8, (count, SIZE, SIZE, 3)); each scene is
        drawn before the next is made, so the first k of a batch from a seed are the
        batch of k from it."""
        scenes, images = [], []
        for _ in range(count):
            scenes.append(self.scene(rng))
            images.append(self.render(scenes[-1], rng))
        return scenes, np.stack(images)


def render(scene: Scene, glyph_of=None) -> np.ndarray:
    """A scene as uint8 (SIZE, SIZE, 3) on black. `glyph_of(i, thing)` gives the ink
    (a 2-D float array in [0, 1], e.g. 28 x 28) of the i-th object when it is a digit."""
    image = np.zeros((SIZE, SIZE, 3), np.float32)
    for i, thing in enumerate(scene.things):
        x0, y0, x1, y1 = thing.box
        if thing.shape in DIGITS:
            mask = fit_glyph(glyph_of(i, thing), x1 - x0, y1 - y0)
        else:
            mask = shape_mask(thing.shape, x1 - x0, y1 - y0)
        patch = image[y0:y1, x0:x1]
        colour = np.asarray(COLOURS[thing.colour], np.float32)
        patch[:] = patch * (1 - mask[..., None]) + colour * mask[..., None]
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def arrange(things) -> Scene | None:
    """Objects placed anywhere (by a person) as a scene of the grammar: in order along the
    axis on which each neighbour is further along than across, as the scene maker places
    them; None when neither axis works (e.g. objects on a diagonal, or on top of each
    other), as the grammar then has no sentence for it."""
    things = list(things)
    if len(things) == 1:
        return Scene(tuple(things), "x")
    for axis, (a, c) in (("x", (0, 1)), ("y", (1, 0))):
        ordered = sorted(things, key=lambda t: t.centre[a])
        if all(abs(t1.centre[c] - t0.centre[c]) + 2 < t1.centre[a] - t0.centre[a]
               for t0, t1 in zip(ordered, ordered[1:])):
            return Scene(tuple(ordered), axis)
    return None


def place(extents: list[int], axis: str, rng: np.random.Generator):
    """Boxes for objects of these extents, in order along `axis`, each pair of neighbours
    further apart along it than across it (so "left of" or "above" is plainly true); None
    when they do not fit."""
    free = SIZE - sum(extents) - MARGIN * (len(extents) + 1)
    if free < 0:
        return None
    for _ in range(20):
        gaps = rng.dirichlet(np.ones(len(extents) + 1)) * free
        along, pos = [], MARGIN + gaps[0]
        for e, g in zip(extents, gaps[1:]):
            along.append(int(round(pos)))
            pos += e + MARGIN + g
        across = [int(rng.integers(MARGIN, SIZE - MARGIN - e + 1)) for e in extents]
        centres = [(a + e / 2, c + e / 2) for a, c, e in zip(along, across, extents)]
        if all(abs(c1 - c0) + 2 < a1 - a0 for (a0, c0), (a1, c1) in zip(centres, centres[1:])):
            if axis == "x":
                return [(a, c, a + e, c + e) for a, c, e in zip(along, across, extents)]
            return [(c, a, c + e, a + e) for a, c, e in zip(along, across, extents)]
    return None


def shape_mask(shape: str, w: int, h: int) -> np.ndarray:
    """A shape filling a w x h box, as coverage in [0, 1] (4 x 4 supersampled edges)."""
    s = 4
    ys, xs = np.mgrid[0:h * s, 0:w * s]
    u = (xs + 0.5) / (w * s)  # 0..1 across the box
    v = (ys + 0.5) / (h * s)
    if shape == "circle":
        inside = (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25
    elif shape == "square":
        inside = np.ones_like(u, bool)
    elif shape == "triangle":  # point up
        inside = np.abs(u - 0.5) <= v / 2
    else:
        raise ValueError(f"unknown shape {shape!r}")
    return inside.reshape(h, s, w, s).mean(axis=(1, 3)).astype(np.float32)


def fit_glyph(glyph: np.ndarray, w: int, h: int) -> np.ndarray:
    """A digit's ink (float in [0, 1]) cropped to itself and scaled into a w x h box,
    keeping its proportions and centred."""
    from PIL import Image

    rows, cols = np.flatnonzero(glyph.max(1) > 0.2), np.flatnonzero(glyph.max(0) > 0.2)
    if len(rows) and len(cols):
        glyph = glyph[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    gh, gw = glyph.shape
    scale = min(h / gh, w / gw)
    nh, nw = max(1, round(gh * scale)), max(1, round(gw * scale))
    img = Image.fromarray((glyph * 255).astype(np.uint8)).resize((nw, nh),
                                                                 Image.Resampling.BILINEAR)
    out = np.zeros((h, w), np.float32)
    top, left = (h - nh) // 2, (w - nw) // 2
    out[top:top + nh, left:left + nw] = np.asarray(img, np.float32) / 255.0
    return out


_GLYPHS: dict[str, list[np.ndarray]] = {}


def digit_glyphs(split: str) -> list[np.ndarray]:
    """The bundled digits by class: training digits for training scenes, held-out digits
    for test scenes (so a test scene's 7 is one the model never saw)."""
    if split not in _GLYPHS:
        from nets import data

        ds = data.load_bundled_digits()
        x, y = (ds.x_train, ds.y_train) if split == "train" else (ds.x_val, ds.y_val)
        _GLYPHS[split] = [x[y == d, ..., 0] for d in range(10)]
    return _GLYPHS[split]
