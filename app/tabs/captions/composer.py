"""Make a scene: the person places shapes and digits (in their own handwriting if they
like) on a 64 x 64 scene; the model captions it, the grammar says what it should say, and
the same scene with one object recoloured into a held-out pair asks whether the model
names a combination it never saw."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from html import escape

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QHBoxLayout, QLabel, QPushButton,
                               QRadioButton, QSpinBox, QVBoxLayout, QWidget)

from app.tabs.captions.player import AttentionPlayer, pixmap_of, said_html, shortcut
from app.tabs.captions.scene_canvas import DigitDialog, SceneCanvas
from nets.families.captions import scenes as sc

EXTENT = {"small": 13, "large": 22}  # within scenes.EXTENTS: what the scenes' sizes are
HELD_COLOUR = {shape: colour for colour, shape in sc.HELD_OUT}  # triangle -> green, ...
# (name, objects as (shape, colour, size, x0, y0)): so the view is never empty
STARTERS = (
    ("A red circle and a blue 7", (("circle", "red", "small", 8, 26),
                                   ("7", "blue", "large", 34, 20))),
    ("A square above a triangle", (("square", "purple", "large", 22, 4),
                                   ("triangle", "yellow", "small", 26, 44))),
    ("Three in a row, one never seen", (("2", "green", "small", 3, 20),
                                        ("triangle", "green", "large", 21, 16),
                                        ("circle", "blue", "small", 48, 22))),
)


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The scene as it was when a caption was asked for (it may have moved since)."""

    things: tuple
    twin: tuple | None  # the recoloured twin's objects
    images: list  # the scene's image, and the twin's when it has one


def held_pairs(things) -> list[str]:
    return [f"{t.colour} {t.shape}" for t in things if (t.colour, t.shape) in sc.HELD_OUT]


def recoloured(things) -> tuple[int, list] | None:
    """The first object (in caption order where the grammar has one) that can be
    recoloured into a held-out pair it is not already, recoloured so; None when none can
    (no triangle, square, 7 or 3 in another colour)."""
    scene = sc.arrange(things)
    order = ([next(i for i, x in enumerate(things) if x is t) for t in scene.things]
             if scene else range(len(things)))
    for i in order:
        colour = HELD_COLOUR.get(things[i].shape)
        if colour and things[i].colour != colour:
            out = list(things)
            out[i] = dataclasses.replace(things[i], colour=colour)
            return i, out
    return None


def truth_of(things) -> str:
    scene = sc.arrange(things)
    return scene.caption if scene else ""


class ComposeView(QWidget):
    """The scene editor, what the model says about the scene and about its recoloured
    twin, and where it looked."""

    requested = Signal()  # the scene changed: caption it again

    def __init__(self, parent=None):
        super().__init__(parent)
        self.shape = QComboBox()
        self.shape.addItems([*sc.SHAPES, *(f"digit {d}" for d in sc.DIGITS)])
        self.shape.setToolTip("What to add: a shape, or a handwritten digit (a random one "
                              "of the held-out digits, or your own with Draw the digit)")
        self.colour = QComboBox()
        self.colour.addItems(list(sc.COLOURS))
        self.colour.setToolTip("Its colour")
        self.size = QComboBox()
        self.size.addItems(list(EXTENT))
        self.size.setToolTip(f"Small: {EXTENT['small']} pixels a side; large: "
                             f"{EXTENT['large']} (of the scene's {sc.SIZE})")
        self.add_button = QPushButton("Add")
        self.add_button.setToolTip("Put it in the scene where there is room (Ctrl+N)")
        self.draw_button = QPushButton("Draw the digit…")
        self.draw_button.setToolTip("Draw the chosen digit yourself: it is added in the "
                                    "chosen colour and size (or, if the selected object is "
                                    "that digit, it gets your ink)")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected object (Delete)")
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Remove every object")
        self.starter = QComboBox()
        self.starter.addItem("Start from …")
        self.starter.addItems([name for name, _ in STARTERS])
        self.starter.setToolTip("A ready-made scene to start from")
        self.beam = QSpinBox(minimum=1, maximum=10, value=1)
        self.beam.setSpecialValueText("1 (greedy)")
        self.beam.setToolTip("Beam width for both captions (1: greedy)")
        self.canvas = SceneCanvas()
        self.said, self.grammar = QLabel(), QLabel()
        self.twin_picture = QLabel()
        self.twin_picture.setFixedSize(160, 160)
        self.twin_picture.setToolTip("Your scene with one object recoloured into a pair "
                                     "the model never saw in training")
        self.twin_heading, self.twin_said, self.twin_grammar = QLabel(), QLabel(), QLabel()
        self.note = QLabel()
        for label in (self.said, self.grammar, self.twin_heading, self.twin_said,
                      self.twin_grammar, self.note):
            label.setWordWrap(True)
        self.which = QButtonGroup(self)
        self.show_mine = QRadioButton("your scene")
        self.show_twin = QRadioButton("the recoloured one")
        self.show_mine.setChecked(True)
        for i, b in enumerate((self.show_mine, self.show_twin)):
            self.which.addButton(b, i)
            b.setToolTip("Whose caption the player below shows")
        self.player = AttentionPlayer()

        self.starter.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.starter.setMinimumContentsLength(14)
        tools = QHBoxLayout()
        for w in (self.shape, self.colour, self.size, self.add_button, self.draw_button):
            tools.addWidget(w)
        tools.addStretch(1)
        tools2 = QHBoxLayout()
        for w in (self.remove_button, self.clear_button, self.starter, QLabel("Beam width"),
                  self.beam):
            tools2.addWidget(w)
        tools2.addStretch(1)
        which = QHBoxLayout()
        for w in (QLabel("Where it looks, for:"), self.show_mine, self.show_twin):
            which.addWidget(w)
        which.addStretch(1)
        mine = QVBoxLayout()
        mine.addWidget(self.canvas)
        mine.addWidget(self.said)
        mine.addWidget(self.grammar)
        mine.addStretch(1)
        twin = QVBoxLayout()
        twin.addWidget(self.twin_heading)
        twin.addWidget(self.twin_picture)
        twin.addWidget(self.twin_said)
        twin.addWidget(self.twin_grammar)
        twin.addStretch(1)
        scenes_row = QHBoxLayout()
        scenes_row.addLayout(mine, 3)
        scenes_row.addLayout(twin, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(tools)
        layout.addLayout(tools2)
        layout.addLayout(scenes_row)
        layout.addWidget(self.note)
        layout.addLayout(which)
        layout.addWidget(self.player, 1)
        self.player.install_keys(self)
        shortcut(self, "Delete", self.canvas.remove_selected)
        shortcut(self, "Ctrl+N", self.add_button.click)

        self.kind = "shapes and digits"
        self.rng = np.random.default_rng(0)
        self.dialog: DigitDialog | None = None
        self.twin: tuple[int, list] | None = None
        self.results: list = []  # (image, words, caption) of the scene and of its twin
        self.add_button.clicked.connect(self.add_chosen)
        self.draw_button.clicked.connect(self.draw_digit)
        self.remove_button.clicked.connect(self.canvas.remove_selected)
        self.clear_button.clicked.connect(self.clear_scene)
        self.starter.activated.connect(self.load_starter)
        self.shape.currentIndexChanged.connect(self._shape_chosen)
        self.canvas.changed.connect(self._scene_changed)
        self.beam.valueChanged.connect(self.requested)
        self.which.idToggled.connect(self._which_toggled)
        self._shape_chosen()
        self._scene_changed()

    # ------------------------------------------------------------ building the scene
    def chosen_shape(self) -> str:
        return self.shape.currentText().removeprefix("digit ")

    def _shape_chosen(self, *_) -> None:
        self.draw_button.setEnabled(self.chosen_shape() in sc.DIGITS)

    def random_glyph(self, digit: str) -> np.ndarray:
        glyphs = sc.digit_glyphs("test")[int(digit)]
        return glyphs[int(self.rng.integers(len(glyphs)))]

    def add_thing(self, shape: str, colour: str, size: str, at=None, glyph=None) -> None:
        """Adds an object at `at` (its top-left corner; None: where there is room); a
        digit with no glyph gets a random held-out one of its class."""
        extent = EXTENT[size]
        x0, y0 = at if at is not None else self.canvas.free_spot(extent)
        if shape in sc.DIGITS and glyph is None:
            glyph = self.random_glyph(shape)
        self.canvas.add(sc.Thing(shape, colour, size, (x0, y0, x0 + extent, y0 + extent)),
                        glyph)

    def add_chosen(self) -> None:
        self.add_thing(self.chosen_shape(), self.colour.currentText(),
                       self.size.currentText())

    def draw_digit(self) -> None:
        self.dialog = DigitDialog(self.chosen_shape(), self._selected_digit() >= 0, self)
        self.dialog.accepted.connect(self._digit_drawn)
        self.dialog.open()

    def _selected_digit(self) -> int:
        """The selected object if it is the digit chosen to draw (its ink is redrawn),
        else -1 (a new digit is added)."""
        i = self.canvas.selected
        return i if 0 <= i < len(self.canvas.things) and \
            self.canvas.things[i].shape == self.chosen_shape() else -1

    def _digit_drawn(self) -> None:
        if self.dialog is None or self.dialog.canvas.is_empty():
            return
        glyph = self.dialog.canvas.array()
        selected = self._selected_digit()
        if selected >= 0:
            self.canvas.glyphs[selected] = glyph
            self.canvas.set_things(self.canvas.things, self.canvas.glyphs)
        elif self.chosen_shape() in sc.DIGITS:
            self.add_thing(self.chosen_shape(), self.colour.currentText(),
                           self.size.currentText(), glyph=glyph)

    def clear_scene(self) -> None:
        self.canvas.set_things([], [])

    def load_starter(self, index: int) -> None:
        if 1 <= index <= len(STARTERS):
            self.canvas.set_things([], [])
            for shape, colour, size, x0, y0 in STARTERS[index - 1][1]:
                self.canvas.things.append(sc.Thing(shape, colour, size, (
                    x0, y0, x0 + EXTENT[size], y0 + EXTENT[size])))
                self.canvas.glyphs.append(self.random_glyph(shape)
                                          if shape in sc.DIGITS else None)
            self.canvas.set_things(self.canvas.things, self.canvas.glyphs)
        self.starter.setCurrentIndex(0)

    def set_kind(self, kind: str) -> None:
        self.kind = kind
        self._scene_changed()

    # ------------------------------------------------------------ what it should say
    def images(self) -> list[np.ndarray]:
        """The scene, and its recoloured twin when it has one."""
        out = [self.canvas.image]
        if self.twin is not None:
            out.append(self.canvas.render(self.twin[1]))
        return out

    def snapshot(self) -> Snapshot:
        return Snapshot(tuple(self.canvas.things),
                        None if self.twin is None else tuple(self.twin[1]), self.images())

    def _scene_changed(self) -> None:
        things = self.canvas.things
        self.results = []
        self.twin = recoloured(things) if things else None
        truth = truth_of(things) if things else ""
        self.grammar.setText(
            "" if not things else
            f'<span style="color:gray">the grammar says: {escape(truth)}</span>' if truth
            else "<i>The grammar has no sentence for objects on a diagonal or overlapping "
                 "(neither left of nor above each other); the model will still try.</i>")
        self.said.setText("Captioning …" if things else "")
        notes = []
        pairs = held_pairs(things)
        if pairs:
            notes.append("Your scene has " + " and ".join(f"a {p}" for p in pairs) +
                         ": a colour-shape pair the model never saw in training.")
        shapes = {t.shape for t in things}
        if self.kind == "shapes" and shapes & set(sc.DIGITS):
            notes.append("This model learnt shapes only: it has never seen a digit.")
        if self.kind == "digits" and shapes & set(sc.SHAPES):
            notes.append("This model learnt digits only: it has never seen a shape.")
        if len(things) > sc.MAX_OBJECTS:
            notes.append(f"The scenes it learnt from have at most {sc.MAX_OBJECTS} "
                         "objects.")
        self.note.setText(" ".join(notes))
        self._show_twin()
        self.show_twin.setEnabled(self.twin is not None)
        if self.twin is None:
            self.show_mine.setChecked(True)
        if things:
            self.requested.emit()
        else:
            self.player.clear("Add objects, or start from a ready-made scene.")

    def _show_twin(self) -> None:
        things = self.canvas.things
        if self.twin is None:
            self.twin_picture.clear()
            self.twin_said.clear()
            self.twin_grammar.clear()
            pairs = held_pairs(things)
            self.twin_heading.setText(
                "" if not things else
                f"<b>Recoloured:</b> your scene has a {pairs[0]} already, a pair it never "
                "saw; no other object can be recoloured into one." if pairs else
                "<b>Recoloured:</b> none of these objects can be recoloured into a "
                "held-out pair (green triangle, yellow square, red 7, blue 3). Add a "
                "triangle, square, 7 or 3 to try one it never saw.")
            return
        i, twin = self.twin
        was, now = things[i], twin[i]
        self.twin_heading.setText(f"<b>Recoloured:</b> the {was.colour} {was.shape} made "
                                  f"{now.colour}, a pair it never saw in training.")
        self.twin_picture.setPixmap(pixmap_of(self.canvas.render(twin), 160))
        truth = truth_of(twin)
        self.twin_grammar.setText(f'<span style="color:gray">the grammar says: '
                                  f'{escape(truth)}</span>' if truth else "")
        self.twin_said.setText("Captioning …")

    def show_captions(self, snapshot: Snapshot, results: list) -> None:
        """results: (words, Caption) for the snapshot's scene and, if it has one, its
        twin. While an object is dragged these trail the scene a little; each is shown
        with the image it was made from."""
        self.results = [(image, *r) for image, r in zip(snapshot.images, results)]
        words = results[0][0]
        self.said.setText("The model says: " + said_html(" ".join(words),
                                                         truth_of(list(snapshot.things))))
        if snapshot.twin is not None and len(results) > 1:
            self.twin_said.setText("The model says: " + said_html(
                " ".join(results[1][0]), truth_of(list(snapshot.twin))))
        self._show_chosen()

    def _which_toggled(self, _id: int, checked: bool) -> None:
        if checked:
            self._show_chosen()

    def _show_chosen(self) -> None:
        k = 1 if self.show_twin.isChecked() and len(self.results) > 1 else 0
        if k >= len(self.results):
            return
        image, words, caption = self.results[k]
        self.player.show_caption(image, words, caption.alphas, caption.word_probs)
