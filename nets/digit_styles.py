"""A check set of digits drawn in styles other than MNIST's, made in code and never trained on.

Each digit is drawn on a 280x280 canvas the way the Draw view gets it (white ink on black)
and then reduced by `nets.images.mnist_style`, the canvas's own preprocessing, so a score
here is what a person drawing in that style would see. Styles: strokes as a mouse draws
them, very thick and very thin pens, small digits off in a corner, strongly slanted ones,
blocky low-resolution pixel digits, and typed digits in fonts (Pillow's own font always;
DejaVu fonts too when the machine has them). Nothing here may feed training: the numbers
are only honest while the network has never seen this generator's output.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CANVAS = 280  # the Draw view's canvas, in pixels
STYLES = ("hand-drawn", "thick pen", "thin pen", "off-centre", "slanted", "blocky", "font")
STYLE_HELP = {
    "hand-drawn": "strokes as drawn with the mouse: pen 12-24 px (the canvas default is "
                  "18), digit 150-240 px tall, wobble, slant up to ±11°",
    "thick pen": "the same strokes with a 30-40 px pen (40 is the canvas's widest)",
    "thin pen": "the same strokes with a 4-6 px pen (4 is the canvas's thinnest)",
    "off-centre": "small digits (70-120 px tall, pen 12-24 px) near a corner",
    "slanted": "sheared 17-29° either way and rotated up to ±12°",
    "blocky": "pixel digits 9-14 pixels tall, upscaled without smoothing; a fifth of "
              "them in Pillow's bitmap font",
    "font": "typed digits, 130-200 px, turned up to ±3°, three of each digit per font; "
            "Pillow's own font always, DejaVu fonts when installed",
}
# DejaVu fonts, used when present (Debian's fonts-dejavu-core/-extra put them here).
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"),
             Path("/usr/share/fonts/TTF"))
DEJAVU = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf",
          "DejaVuSans-ExtraLight.ttf", "DejaVuSansCondensed.ttf", "DejaVuSansMono.ttf",
          "DejaVuSansMono-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf",
          "DejaVuSerif-Italic.ttf", "DejaVuSerifCondensed.ttf")
PILLOW_FONT = "Pillow's own font (Aileron Regular)"


# ---------------------------------------------------------------- digit skeletons
# Strokes in a unit box: x from 0 (left) to 1 (right), y from 0 (top) to 1 (bottom).
def _arc(cx, cy, rx, ry, start, end, n=40):
    """Points of an elliptic arc; angles in degrees, 0 = right, 90 = down (y is down)."""
    t = np.radians(np.linspace(start, end, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1)


def _line(*points, n=8):
    """A polyline, subdivided so that the wobble can bend its straight parts."""
    p = np.asarray(points, float)
    parts = [p[i] + (p[i + 1] - p[i]) * np.linspace(0, 1, n, endpoint=False)[:, None]
             for i in range(len(p) - 1)]
    return np.concatenate(parts + [p[-1:]])


def _join(*pieces):
    return np.concatenate(pieces)


SKELETONS: dict[int, list[list[np.ndarray]]] = {
    0: [[_arc(0.5, 0.5, 0.5, 0.5, -90, 275)],
        [_arc(0.5, 0.5, 0.5, 0.5, -100, 250)]],
    1: [[_line((0.5, 0), (0.5, 1))],
        [_line((0.15, 0.25), (0.55, 0), (0.55, 1))],
        [_line((0.15, 0.25), (0.55, 0), (0.55, 1)), _line((0.15, 1), (0.95, 1))]],
    2: [[_join(_arc(0.5, 0.3, 0.47, 0.3, 190, 380), _line((0.9, 0.42), (0.0, 1), (1, 1)))],
        [_join(_arc(0.5, 0.28, 0.45, 0.28, 180, 400), _line((0.85, 0.46), (0.05, 0.98),
                                                               (0.3, 0.93), (1, 1)))]],
    3: [[_join(_arc(0.5, 0.26, 0.44, 0.26, 200, 440), _arc(0.48, 0.74, 0.5, 0.26, -110, 160))],
        [_join(_line((0.05, 0.02), (0.9, 0.02), (0.4, 0.42)),
               _arc(0.48, 0.71, 0.5, 0.29, -110, 160))]],
    4: [[_line((0.68, 0), (0, 0.66), (1, 0.66)), _line((0.72, 0.1), (0.72, 1))],
        [_line((0.1, 0), (0.05, 0.6), (1, 0.6)), _line((0.75, 0), (0.75, 1))]],
    5: [[_join(_line((0.15, 0), (0.1, 0.45)), _arc(0.48, 0.7, 0.48, 0.3, -135, 155)),
         _line((0.15, 0), (0.9, 0))],
        [_join(_line((0.9, 0), (0.15, 0), (0.1, 0.43)), _arc(0.48, 0.7, 0.48, 0.3, -140, 150))]],
    6: [[_join(_arc(0.8, 0.72, 0.75, 0.72, -90, -180), _arc(0.5, 0.72, 0.45, 0.28, 180, -170))],
        [_join(_line((0.75, 0), (0.1, 0.6)), _arc(0.5, 0.73, 0.42, 0.27, 200, -150))]],
    7: [[_line((0, 0), (1, 0), (0.35, 1))],
        [_line((0, 0), (1, 0), (0.35, 1)), _line((0.3, 0.52), (0.85, 0.52))],
        [_line((0.02, 0.15), (0.02, 0), (1, 0), (0.45, 1))]],
    8: [[_arc(0.5, 0.25, 0.38, 0.25, 0, 362), _arc(0.5, 0.74, 0.48, 0.26, -90, 272)],
        [_join(_arc(0.5, 0.25, 0.4, 0.25, -20, -270),
               _arc(0.5, 0.75, 0.48, 0.25, -90, 270),
               _line((0.5, 0.5), (0.88, 0.15)))]],
    9: [[_join(_arc(0.5, 0.28, 0.45, 0.28, 0, -360), _line((0.95, 0.28), (0.85, 1)))],
        [_join(_arc(0.5, 0.28, 0.45, 0.28, 10, -350),
               _arc(0.45, 0.55, 0.5, 0.45, -20, 80, n=20))]],
}


def _warp(strokes, rng, *, height, pen, slant, rotate, wobble, aspect=None,
          centre=None, canvas=CANVAS):
    """Unit-box strokes -> canvas pixel coordinates, with a smooth random wobble."""
    aspect = rng.uniform(0.55, 0.8) if aspect is None else aspect
    # a smooth displacement field: the hand drifts rather than shakes
    turn = rng.uniform(0, 2 * np.pi, (2, 2))  # (axis, wave): 0.5-1.5 cycles per unit
    k = rng.uniform(0.5, 1.5, (2, 2, 1)) * np.stack([np.cos(turn), np.sin(turn)], -1)
    phase = rng.uniform(0, 2 * np.pi, (2, 2))
    amp = wobble * rng.uniform(0.5, 1.0, (2, 2))
    c, s = math.cos(math.radians(rotate)), math.sin(math.radians(rotate))
    out = []
    for p in strokes:
        d = np.stack([sum(amp[a, w] * np.sin(2 * np.pi * p @ k[a, w] + phase[a, w])
                          for w in range(2)) for a in range(2)], 1)
        q = p + d
        x = (q[:, 0] - 0.5) * aspect + slant * (0.5 - q[:, 1])
        y = q[:, 1] - 0.5
        out.append(np.stack([c * x - s * y, s * x + c * y], 1) * height)
    pts = np.concatenate(out)
    lo, hi = pts.min(0) - pen / 2, pts.max(0) + pen / 2
    if centre is None:  # anywhere the whole digit fits
        centre = [rng.uniform(canvas / 2 - max(0.0, (canvas - (hi[i] - lo[i])) / 2 - 2),
                              canvas / 2 + max(0.0, (canvas - (hi[i] - lo[i])) / 2 - 2))
                  for i in range(2)]
    shift = np.asarray(centre) - (lo + hi) / 2
    return [q + shift for q in out]


def _paint(strokes, pen: float, size: int = CANVAS, supersample: int = 2,
           smooth: bool = True) -> np.ndarray:
    """Strokes with a round pen, as the canvas paints them; float (size, size) in [0, 1]."""
    from PIL import Image, ImageDraw

    f = supersample if smooth else 1
    img = Image.new("L", (size * f, size * f), 0)
    draw = ImageDraw.Draw(img)
    w = max(1, int(round(pen * f)))
    for q in strokes:
        pts = [tuple(v) for v in np.asarray(q) * f]
        if len(pts) > 1:
            draw.line(pts, fill=255, width=w, joint="curve")
        if w > 2:
            r = w / 2
            for x, y in (pts[0], pts[-1]):  # round caps
                draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    if f > 1:
        img = img.resize((size, size), Image.Resampling.BOX)
    return np.asarray(img, np.float32) / 255.0


# ---------------------------------------------------------------- the styles
def _pen_drawing(digit, rng, *, height, pen, slant=None, rotate=None, centre=None):
    strokes = SKELETONS[digit][rng.integers(len(SKELETONS[digit]))]
    slant = rng.uniform(-0.2, 0.2) if slant is None else slant
    rotate = rng.uniform(-5, 5) if rotate is None else rotate
    q = _warp(strokes, rng, height=height, pen=pen, slant=slant, rotate=rotate,
              wobble=0.025, centre=centre)
    return _paint(q, pen)


def _off_centre(digit, rng):
    height, pen = rng.uniform(70, 120), rng.uniform(12, 24)
    margin = height / 2 + pen + rng.uniform(4, 20)
    corner = rng.integers(4)
    cy = margin if corner < 2 else CANVAS - margin
    cx = margin * 0.75 if corner % 2 == 0 else CANVAS - margin * 0.75
    return _pen_drawing(digit, rng, height=height, pen=pen, centre=(cx, cy))


def _slanted(digit, rng):
    slant = rng.choice([-1, 1]) * rng.uniform(0.3, 0.55)  # shear 17-29 degrees
    return _pen_drawing(digit, rng, height=rng.uniform(150, 200), pen=rng.uniform(12, 24),
                        slant=slant, rotate=rng.uniform(-12, 12))


def _blocky(digit, rng):
    from PIL import Image

    if rng.random() < 0.2:  # Pillow's bitmap font: 6x11 pixel digits
        from PIL import ImageDraw, ImageFont

        small = Image.new("L", (12, 14), 0)
        ImageDraw.Draw(small).text((3, 1), str(digit), fill=255,
                                   font=ImageFont.load_default_imagefont())
        rows = 14
    else:  # the strokes drawn on a coarse grid without smoothing
        rows = int(rng.integers(9, 15))
        pen = 1 if rows < 12 else 2
        strokes = SKELETONS[digit][rng.integers(len(SKELETONS[digit]))]
        q = _warp(strokes, rng, height=rows - 1 - pen, pen=pen,
                  slant=rng.uniform(-0.15, 0.15), rotate=0, wobble=0.01,
                  centre=(rows / 2, rows / 2), canvas=rows)
        small = Image.fromarray((_paint(q, pen, size=rows, smooth=False) * 255)
                                .astype(np.uint8))
    cell = int((CANVAS * rng.uniform(0.6, 0.9)) // rows)
    big = small.resize((small.width * cell, small.height * cell), Image.Resampling.NEAREST)
    out = np.zeros((CANVAS, CANVAS), np.float32)
    h, w = min(big.height, CANVAS), min(big.width, CANVAS)
    top, left = (CANVAS - h) // 2, (CANVAS - w) // 2
    out[top:top + h, left:left + w] = np.asarray(big, np.float32)[:h, :w] / 255.0
    return out


def fonts() -> list[tuple[str, object]]:
    """(name, size -> ImageFont) for each font this machine has: Pillow's own always."""
    from PIL import ImageFont

    found = [(PILLOW_FONT, lambda size: ImageFont.load_default(size=size))]
    for folder in FONT_DIRS:
        for name in DEJAVU:
            path = folder / name
            if path.is_file() and not any(n == path.stem for n, _ in found):
                found.append((path.stem,
                              lambda size, p=str(path): ImageFont.truetype(p, size)))
    return found


def _typed(digit, rng, font) -> np.ndarray:
    from PIL import Image, ImageDraw

    img = Image.new("L", (CANVAS, CANVAS), 0)
    size = int(rng.integers(130, 200))
    ImageDraw.Draw(img).text((CANVAS / 2 + rng.uniform(-20, 20),
                              CANVAS / 2 + rng.uniform(-20, 20)),
                             str(digit), fill=255, font=font(size), anchor="mm")
    img = img.rotate(rng.uniform(-3, 3), resample=Image.Resampling.BICUBIC)
    return np.asarray(img, np.float32) / 255.0


def draw(style: str, digit: int, rng: np.random.Generator, font=None) -> np.ndarray:
    """One digit in one style on the canvas: float32 (280, 280) in [0, 1], ink high."""
    if style == "hand-drawn":
        return _pen_drawing(digit, rng, height=rng.uniform(150, 240), pen=rng.uniform(12, 24))
    if style == "thick pen":
        return _pen_drawing(digit, rng, height=rng.uniform(150, 230), pen=rng.uniform(30, 40))
    if style == "thin pen":
        return _pen_drawing(digit, rng, height=rng.uniform(150, 240), pen=rng.uniform(4, 6))
    if style == "off-centre":
        return _off_centre(digit, rng)
    if style == "slanted":
        return _slanted(digit, rng)
    if style == "blocky":
        return _blocky(digit, rng)
    if style == "font":
        return _typed(digit, rng, font or fonts()[0][1])
    raise ValueError(f"Unknown style {style!r}. Known: {', '.join(STYLES)}.")


# ---------------------------------------------------------------- the check set
@dataclass
class CheckSet:
    images: np.ndarray  # float32 (n, 28, 28) in [0, 1], as mnist_style returns them
    labels: np.ndarray  # int64 (n,)
    styles: np.ndarray  # str (n,): one of STYLES
    sources: np.ndarray  # str (n,): the font's name for typed digits, else the style
    fonts: list[str] = field(default_factory=list)  # the fonts it used

    def __len__(self) -> int:
        return len(self.labels)


def make_check_set(per_digit: int = 20, seed: int = 0, fonts_per_digit: int = 3,
                   styles=STYLES, use_system_fonts: bool = True) -> CheckSet:
    """`per_digit` drawings of each digit in each style (twice that for hand-drawn) and
    `fonts_per_digit` typed ones per font, all through `mnist_style`. Deterministic:
    each style draws from its own generator seeded by (seed, style)."""
    from nets.images import mnist_style

    font_list = fonts() if use_system_fonts else fonts()[:1]
    images, labels, kinds, sources = [], [], [], []
    for style in styles:
        rng = np.random.default_rng([seed, STYLES.index(style)])
        if style == "font":
            jobs = [(d, name, f) for name, f in font_list for d in range(10)
                    for _ in range(fonts_per_digit)]
        else:
            n = per_digit * (2 if style == "hand-drawn" else 1)
            jobs = [(d, style, None) for _ in range(n) for d in range(10)]
        for digit, source, font in jobs:
            x = mnist_style(draw(style, digit, rng, font))
            if x is None:  # never happens for these styles; guard all the same
                continue
            images.append(x)
            labels.append(digit)
            kinds.append(style)
            sources.append(source)
    return CheckSet(np.stack(images).astype(np.float32), np.asarray(labels, np.int64),
                    np.asarray(kinds), np.asarray(sources),
                    [name for name, _ in font_list] if "font" in styles else [])


def accuracy_by(check: CheckSet, guesses: np.ndarray, key: str = "styles") -> dict:
    """{style (or source): (accuracy, count)} for predicted labels `guesses`."""
    groups = getattr(check, key)
    right = np.asarray(guesses) == check.labels
    return {g: (float(right[groups == g].mean()), int((groups == g).sum()))
            for g in dict.fromkeys(groups.tolist())}
