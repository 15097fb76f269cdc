"""The captions tab's views: the live panel of test scenes with its scores over training
time, Where it looks (scenes to choose from around the attention player of player.py),
and the Scores view. Make a scene is in composer.py."""
from __future__ import annotations

from html import escape

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QFrame, QGridLayout, QHBoxLayout,
                               QHeaderView, QLabel, QPushButton, QSpinBox, QSplitter,
                               QTableWidget, QTableWidgetItem, QToolButton, QVBoxLayout,
                               QWidget)

from app.tabs.captions.player import AttentionPlayer, pixmap_of, said_html, shortcut
from app.widgets.plots import COLOURS

def probability(log_p: float) -> str:
    p = float(np.exp(log_p))
    return f"{p:.2f}" if p >= 0.01 else f"{p:.0e}"


# ---------------------------------------------------------------- scene cards
class SceneCard(QFrame):
    """A scene, what the model said (✓ right, ✗ wrong) and the true caption."""

    clicked = Signal(int)

    def __init__(self, index: int, size: int, parent=None):
        super().__init__(parent)
        self.index, self.size = index, size
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(1)
        self.picture = QLabel()
        self.picture.setFixedSize(size, size)
        self.said, self.truth = QLabel(), QLabel()
        for label in (self.said, self.truth):
            label.setWordWrap(True)
            label.setFixedWidth(size + 30)
            label.setAlignment(Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.picture, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.said)
        layout.addWidget(self.truth)
        layout.addStretch(1)

    def set(self, image, said: str, truth: str) -> None:
        self.picture.setPixmap(pixmap_of(image, self.size))
        self.said.setText(said_html(said, truth))
        self.truth.setText(f'<span style="color:gray">truth: {escape(truth)}</span>'
                           if truth else "")
        for label in (self.said, self.truth):  # a grid would not grow for wrapped lines
            label.setMinimumHeight(0)  # (while fixed, its height for width stays put)
            label.setMaximumHeight(16777215)
            label.setFixedHeight(label.heightForWidth(label.width()))

    def mousePressEvent(self, event) -> None:
        self.clicked.emit(self.index)


class SceneCards(QWidget):
    """A fixed number of scene cards in a grid, built once."""

    clicked = Signal(int)

    def __init__(self, count: int, columns: int, size: int, parent=None):
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        self.cards = [SceneCard(i, size) for i in range(count)]
        for i, card in enumerate(self.cards):
            grid.addWidget(card, *divmod(i, columns))
            card.clicked.connect(self.clicked)
            card.hide()

    def set_scenes(self, images, said, truth) -> None:
        for i, card in enumerate(self.cards):
            card.setVisible(i < len(images))
            if i < len(images):
                card.set(images[i], said[i], truth[i])

    def shown(self) -> int:
        return sum(not c.isHidden() for c in self.cards)


# ---------------------------------------------------------------- Captions (live)
class ScoreCurves(pg.PlotWidget):
    """Exact match and BLEU-4 on test scenes and held-out pairs against training time."""

    SERIES = (("test", "exact", Qt.PenStyle.SolidLine, "exact match, test scenes"),
              ("held_out", "exact", Qt.PenStyle.SolidLine, "exact match, held-out pairs"),
              ("test", "bleu4", Qt.PenStyle.DashLine, "BLEU-4, test scenes"),
              ("held_out", "bleu4", Qt.PenStyle.DashLine, "BLEU-4, held-out pairs"))
    TITLE = "Scores while it learns (256 test scenes, 256 held-out-pair scenes)"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setLabel("bottom", "seconds of training")
        self.setYRange(0, 1.02, padding=0)
        self.setMouseEnabled(False, False)
        self.setMinimumHeight(170)
        self.addLegend(offset=(8, 8), labelTextSize="8pt")
        self.curves = {}
        for split, measure, style, name in self.SERIES:
            colour = COLOURS["train"] if split == "test" else COLOURS["val"]
            self.curves[split, measure] = self.plot(
                [], [], name=name, pen=pg.mkPen(colour, width=2, style=style), symbol="o",
                symbolSize=4, symbolBrush=colour)
        self.setToolTip("Exact match: the share of captions word for word right. BLEU-4: "
                        "how many of the caption's 1- to 4-word runs are in the true one "
                        "(0 to 1). Blue: test scenes like the training ones; orange: "
                        "scenes with a colour-shape pair never seen in training.")
        self.clear_data()

    def clear_data(self) -> None:
        self.setTitle(self.TITLE, size="9pt")
        self.points: dict = {key: ([], []) for key in self.curves}
        for curve in self.curves.values():
            curve.setData([], [])

    def add(self, seconds: float, report) -> None:
        for (split, measure), curve in self.curves.items():
            scored = getattr(report, split)
            if scored is None:
                continue
            xs, ys = self.points[split, measure]
            xs.append(seconds)
            ys.append(scored.exact if measure == "exact" else scored.bleu.get("bleu4", 0.0))
            curve.setData(xs, ys)


class LiveView(QWidget):
    """The fixed panel of eight test scenes, captioned afresh every few seconds."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.note = QLabel("Start training: every 15 seconds, and at the end of each epoch, "
                           "the model captions these eight test scenes (never trained on), "
                           "and you watch the captions go from babble to right.")
        self.note.setWordWrap(True)
        self.cards = SceneCards(8, 4, 112)
        self.cards.setToolTip("The model's caption (✓ word for word right, ✗ not) above "
                              "the true one. Greedy decoding: the likeliest word each time.")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.curves = ScoreCurves()
        top = QWidget()
        column = QVBoxLayout(top)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.note)
        column.addWidget(self.cards)
        column.addWidget(self.summary)
        column.addStretch(1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(self.curves)
        split.setSizes([520, 220])
        layout = QVBoxLayout(self)
        layout.addWidget(split)
        self.panels = 0

    def clear(self) -> None:
        self.curves.clear_data()
        self.summary.clear()
        self.panels = 0

    def show_panel(self, panel) -> None:
        """A Panel sent by the training run."""
        self.panels += 1
        if panel.report is not None:
            self.curves.add(panel.seconds, panel.report)
        self._show(panel.images, panel.said, panel.truth, panel.report,
                   f"After {panel.seconds:.0f} s of training (step {panel.step:,})")

    def show_scored(self, images, said, truth, report) -> None:
        """The same scenes captioned by a model that finished or was opened."""
        if not self.panels:
            self.curves.setTitle("Scores while it learns: train a model to watch them "
                                 "rise", size="9pt")
        self._show(images, said, truth, report, "The model as it is now")

    def _show(self, images, said, truth, report, when: str) -> None:
        self.cards.set_scenes(images, said, truth)
        right = sum(s == t for s, t in zip(said, truth) if t)
        self.note.setText(f"{when}: {right} of {len(said)} captions word for word right.")
        if report is None:
            self.summary.setText("Scores on scenes do not apply to a model of your own "
                                 "images; the plots on the left show its held-out loss.")
            return
        text = (f"Test scenes: {report.test.exact:.0%} exact, BLEU-4 "
                f"{report.test.bleu.get('bleu4', 0):.2f}.")
        if report.held_out is not None:
            text += (f" Held-out pairs: {report.held_out.exact:.0%} exact, BLEU-4 "
                     f"{report.held_out.bleu.get('bleu4', 0):.2f}.")
        self.summary.setText(text)


# ---------------------------------------------------------------- Where it looks
CHOICES = 6  # scenes of each set to choose from
CHOOSER_COLUMNS = 3
CHOOSER_ICON = 60
class LookView(QWidget):
    """Scenes to choose from (test scenes and held-out pairs, or a new one) and the
    chosen one's caption played word by word with its attention."""

    requested = Signal()  # the scene or the beam width changed: caption it again

    def __init__(self, parent=None):
        super().__init__(parent)
        self.group = QButtonGroup(self)  # one scene chosen across both sets
        self.buttons: dict[str, list[QToolButton]] = {}
        self.sets = {}
        for key, title in (("test", "Test scenes (never trained on):"),
                           ("held", "Held-out pairs (a colour-shape pair never seen in "
                                    "training):")):
            box = QWidget()
            grid = QGridLayout(box)
            grid.setContentsMargins(0, 0, 0, 0)
            grid.setSpacing(3)
            label = QLabel(title)
            label.setWordWrap(True)
            grid.addWidget(label, 0, 0, 1, CHOOSER_COLUMNS)
            self.buttons[key] = []
            for i in range(CHOICES):
                button = QToolButton()
                button.setCheckable(True)
                button.setIconSize(QSize(CHOOSER_ICON, CHOOSER_ICON))
                button.setToolTip("Caption this scene and see where the model looks for "
                                  "each word")
                grid.addWidget(button, 1 + i // CHOOSER_COLUMNS, i % CHOOSER_COLUMNS)
                self.group.addButton(button, i if key == "test" else CHOICES + i)
                self.buttons[key].append(button)
            self.sets[key] = box
        self.new_scene = QPushButton("New scene")
        self.new_scene.setToolTip("A new random scene of the kind the model learnt (N)")
        self.held_out = QCheckBox("with a held-out pair")
        self.held_out.setToolTip("Make the new scene contain a colour-shape pair the model "
                                 "never saw in training")
        self.open_file = QPushButton("Open an image…")
        self.open_file.setToolTip("Caption an image file of your own and see where the "
                                  "model looks (Ctrl+O). Any size or colour mode: it is "
                                  "scaled to 64 x 64 colour, as the model reads.")
        self.beam = QSpinBox(minimum=1, maximum=10, value=1)
        self.beam.setSpecialValueText("1 (greedy)")
        self.beam.setToolTip("Beam search keeps this many likeliest partial captions at "
                             "each word and returns the likeliest finished one. 1: greedy, "
                             "the likeliest word each time.")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.player = AttentionPlayer()

        left = QVBoxLayout()
        left.addWidget(self.sets["test"])
        left.addWidget(self.sets["held"])
        left.addWidget(self.new_scene)
        left.addWidget(self.held_out)
        left.addWidget(self.open_file)
        left.addStretch(1)
        right = QVBoxLayout()
        row = QHBoxLayout()
        row.addWidget(QLabel("Beam width"))
        row.addWidget(self.beam)
        row.addStretch(1)
        right.addLayout(row)
        right.addWidget(self.status)
        right.addWidget(self.player, 1)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 0)
        layout.addLayout(right, 1)
        self.player.install_keys(self)
        shortcut(self, "N", self.new_scene.click)
        shortcut(self, "Ctrl+O", self.open_file.click)

        self.choices: dict[str, list] = {"test": [], "held": []}
        self.image: np.ndarray | None = None
        self.truth = ""
        self.what = ""
        self.note = ""  # what was changed to fit a person's image to the model
        self.group.idClicked.connect(self._clicked)
        self.beam.valueChanged.connect(self.requested)

    def set_choices(self, test: list, held: list) -> None:
        """test, held: (image uint8, true caption) pairs; the first test scene chosen."""
        self.choices = {"test": test[:CHOICES], "held": held[:CHOICES]}
        for key, items in self.choices.items():
            self.sets[key].setVisible(bool(items))
            for i, button in enumerate(self.buttons[key]):
                button.setVisible(i < len(items))
                if i < len(items):
                    button.setIcon(QIcon(pixmap_of(items[i][0], CHOOSER_ICON)))
        self.choose("test", 0)

    def _clicked(self, button_id: int) -> None:
        self.choose("test" if button_id < CHOICES else "held", button_id % CHOICES)

    def choose_held(self, index: int) -> None:
        self.choose("held", index)

    def choose(self, group: str, index: int) -> None:
        items = self.choices[group]
        if not items:
            return
        self.buttons[group][index].setChecked(True)
        image, truth = items[index]
        what = "a test scene" if group == "test" else "a scene with a held-out pair"
        self.set_scene(image, truth, what)

    def set_scene(self, image: np.ndarray, truth: str, what: str, note: str = "") -> None:
        if what.startswith(("a new", "your")):  # none of the choices
            checked = self.group.checkedButton()
            if checked is not None:
                self.group.setExclusive(False)
                checked.setChecked(False)
                self.group.setExclusive(True)
        self.image, self.truth, self.what, self.note = image, truth, what, note
        self.status.setText(f"Captioning {escape(what)} …")
        self.requested.emit()

    def refuse(self, text: str) -> None:
        self.status.setText(f'<span style="color:#c0392b">{escape(text)}</span>')

    def show_caption(self, words: list[str], caption) -> None:
        said = " ".join(words)
        how = "greedy" if self.beam.value() == 1 else f"beam width {self.beam.value()}"
        self.status.setText(f"{said_html(said, self.truth)} <i>({escape(self.what)}, "
                            f"{how}; p = {probability(caption.log_prob)})</i>" +
                            (f'<br><span style="color:gray">truth: {escape(self.truth)}'
                             "</span>" if self.truth else "") +
                            (f"<br><i>{escape(self.note)}</i>" if self.note else ""))
        self.player.show_caption(self.image, words, caption.alphas, caption.word_probs)


# ---------------------------------------------------------------- Scores
ROWS = (("Exact match", "exact"), ("BLEU-1", "bleu1"), ("BLEU-2", "bleu2"),
        ("BLEU-3", "bleu3"), ("BLEU-4", "bleu4"), ("Captions scored", "count"))


class ScoresView(QWidget):
    """Exact match and BLEU on the fixed scene sets, attention on the named objects, and
    two galleries of captioned scenes."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.status = QLabel("Scores appear when a run ends or a model is opened.")
        self.status.setWordWrap(True)
        self.again = QPushButton("Score again")
        self.again.setToolTip("Caption the 256 fixed test scenes and 256 held-out-pair "
                              "scenes again with the current model and score them (Ctrl+R)")
        self.table = QTableWidget(len(ROWS), 2)
        self.table.setHorizontalHeaderLabels(["Test scenes", "Held-out pairs"])
        self.table.setVerticalHeaderLabels([name for name, _ in ROWS])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.setFixedHeight(self.table.horizontalHeader().sizeHint().height()
                                  + 24 * len(ROWS) + 4)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setToolTip("Exact match: captions word for word right. BLEU-n "
                              "(Papineni et al. 2002): the geometric mean of the 1- to "
                              "n-word precisions, times a penalty for short captions, over "
                              "all captions (corpus BLEU, as Xu et al. report). Held-out "
                              "pairs: every scene has a colour-shape pair the model never "
                              "saw in training.")
        self.looking = QLabel()
        self.looking.setWordWrap(True)
        self.looking.setToolTip("For each word naming an object (its size, colour, shape) "
                                "in captions the model got right: the share of that word's "
                                "attention inside the object's box, against the share of "
                                "the image the box covers (what looking everywhere alike "
                                "would give).")
        self.test_cards = SceneCards(6, 3, 80)
        self.held_cards = SceneCards(6, 3, 80)
        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.again)
        galleries = QHBoxLayout()
        for title, cards in (("Test scenes", self.test_cards),
                             ("Held-out pairs", self.held_cards)):
            column = QVBoxLayout()
            column.addWidget(QLabel(f"<b>{title}</b>"))
            column.addWidget(cards)
            column.addStretch(1)
            galleries.addLayout(column)
        shortcut(self, "Ctrl+R", self.again.click)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table)
        layout.addWidget(self.looking)
        layout.addLayout(galleries, 1)

    def set_report(self, report) -> None:
        for col, scored in enumerate((report.test, report.held_out)):
            for row, (_, key) in enumerate(ROWS):
                if scored is None:
                    text = "—"
                elif key == "count":
                    text = f"{scored.count:,}"
                elif key == "exact":
                    text = f"{scored.exact:.1%}"
                else:
                    text = f"{scored.bleu.get(key, 0.0):.3f}"
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(row, col, item)
        look = report.looking
        self.looking.setText(
            "Attention on the named object: no caption was right, so nothing to measure."
            if not look.words else
            f"Attention on the named object: {look.inside:.0%} of each object word's "
            f"attention falls inside that object's box, where looking everywhere alike "
            f"would put {look.uniform:.0%} ({look.words:,} words of right captions).")

    def set_galleries(self, test, held) -> None:
        """test, held: (images, said, truth) or None."""
        for cards, gallery in ((self.test_cards, test), (self.held_cards, held)):
            cards.set_scenes(*(gallery or ([], [], [])))

    def not_applicable(self, text: str) -> None:
        self.table.clearContents()
        self.looking.clear()
        self.set_galleries(None, None)
        self.status.setText(text)
