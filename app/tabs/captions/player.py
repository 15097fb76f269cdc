"""The attention player: a caption word by word, each word with the image lit where the
model looked for it (its 8 x 8 weights alpha upsampled smoothly), stepped or played; and
the little picture helpers the captions views share."""
from __future__ import annotations

from html import escape

import numpy as np
import pyqtgraph as pg
from PIL import Image
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QKeySequence, QPalette, QPixmap, QShortcut
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QPushButton,
                               QSlider, QVBoxLayout, QWidget)

RIGHT, WRONG = "✓", "✗"
GOOD, BAD = "#2a9d3a", "#c8382e"
GLOW = np.array([1.0, 0.85, 0.35], np.float32)  # attention's warm light on the image
FRAME_MS = 600  # one word of the animation
HOLD_FRAMES = 2  # the last word stays this many frames before it starts again
END_WORD = "<end>"


def shortcut(owner: QWidget, keys, slot) -> QShortcut:
    """A key that works while the focus is anywhere inside `owner` (its view)."""
    sc = QShortcut(QKeySequence(keys), owner)
    sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    sc.activated.connect(slot)
    return sc


# ---------------------------------------------------------------- pictures
def pixmap_of(image: np.ndarray, size: int | None = None) -> QPixmap:
    """An RGB image (uint8, or float in [0, 1]) as a pixmap, scaled to `size` pixels a
    side with its pixels kept sharp."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)
    a = np.ascontiguousarray(a[..., :3])
    h, w = a.shape[:2]
    pixmap = QPixmap.fromImage(QImage(a.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy())
    if size:
        pixmap = pixmap.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                               Qt.TransformationMode.FastTransformation)
    return pixmap


def upsample(alpha: np.ndarray, size: int) -> np.ndarray:
    """An attention map (grid_h, grid_w) spread smoothly over size x size pixels (bicubic,
    as the paper's figures upsample theirs)."""
    small = Image.fromarray(np.asarray(alpha, np.float32))
    return np.clip(np.asarray(small.resize((size, size), Image.Resampling.BICUBIC)), 0, None)


def overlay(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The image lit where the model looked: unattended parts dimmed, attended ones
    glowing (the glow shows on the black background too). Each map is scaled to its own
    peak; the alpha grid beside it gives the absolute weights."""
    img = np.asarray(image, np.float32) / (255.0 if image.dtype == np.uint8 else 1.0)
    m = upsample(alpha, img.shape[0])
    m = (m / max(float(m.max()), 1e-8))[..., None]
    out = img * (0.22 + 0.78 * m) + 0.5 * m ** 1.5 * GLOW
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)


def verdict(said: str, truth: str) -> str:
    return "" if not truth else (RIGHT if said == truth else WRONG)


def said_html(said: str, truth: str) -> str:
    mark = verdict(said, truth)
    colour = GOOD if mark == RIGHT else BAD if mark == WRONG else "palette(text)"
    return f'<span style="color:{colour}"><b>{mark}</b> {escape(said) or "(nothing)"}</span>'


# ---------------------------------------------------------------- the attention player
class WordPanel(QFrame):
    """One word of a caption: the image lit where the model looked for it."""

    clicked = Signal(int)

    def __init__(self, index: int, size: int = 64, parent=None):
        super().__init__(parent)
        self.index = index
        self.setFrameShape(QFrame.Shape.Box)
        self.setLineWidth(2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(0)
        self.picture = QLabel()
        self.picture.setFixedSize(size, size)
        self.word, self.prob = QLabel(), QLabel()
        for label in (self.word, self.prob):
            label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.prob.setStyleSheet("color: gray; font-size: 8pt")
        self.setFixedSize(size + 8, size + 44)
        layout.addWidget(self.picture, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.word)
        layout.addWidget(self.prob)
        self.set_current(False)

    def set(self, picture: np.ndarray, word: str, prob: float) -> None:
        self.picture.setPixmap(pixmap_of(picture, self.picture.width()))
        self.word.setText(word)
        self.prob.setText(f"p {prob:.2f}")
        self.setToolTip(f"“{word}”: the model gave it probability {prob:.3f}. Lit: where "
                        "it looked before saying it. Click to show it large.")

    def set_current(self, current: bool) -> None:
        self.setStyleSheet("WordPanel { border: 2px solid %s }"
                           % ("#ffb020" if current else "transparent"))

    def mousePressEvent(self, event) -> None:
        self.clicked.emit(self.index)


class WordStrip(QWidget):
    """The caption as a strip of word panels, wrapping to the width it has (placed by
    hand: a layout would hold the strip at its widest); panels are made once and reused."""

    clicked = Signal(int)
    GAP = 2

    def __init__(self, parent=None):
        super().__init__(parent)
        self.panels: list[WordPanel] = []
        self.count = 0
        self.setFixedHeight(0)

    def set_words(self, pictures, words, probs) -> None:
        while len(self.panels) < len(words):
            panel = WordPanel(len(self.panels), parent=self)
            panel.clicked.connect(self.clicked)
            self.panels.append(panel)
        for panel, picture, word, p in zip(self.panels, pictures, words, probs):
            panel.set(picture, word, p)
        self.count = len(words)
        self._layout()

    def set_current(self, index: int) -> None:
        for i, panel in enumerate(self.panels[:self.count]):
            panel.set_current(i == index)

    def _layout(self) -> None:
        if not self.panels:
            return
        w, h = self.panels[0].width() + self.GAP, self.panels[0].height() + self.GAP
        columns = max(1, (self.width() + self.GAP) // w)
        for i, panel in enumerate(self.panels):
            row, col = divmod(i, columns)
            panel.move(col * w, row * h)
            panel.setVisible(i < self.count)
        self.setFixedHeight(-(-self.count // columns) * h)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._layout()


def image_panel(pixels: int, extent: int):
    """A square picture of `pixels` on screen showing an extent x extent image: (widget,
    its view box, its image item)."""
    widget = pg.GraphicsLayoutWidget()
    widget.setFixedSize(pixels, pixels)
    view = widget.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
    image = pg.ImageItem(axisOrder="row-major")
    view.addItem(image)
    view.setRange(xRange=(0, extent), yRange=(0, extent), padding=0)
    return widget, view, image


class AttentionPlayer(QWidget):
    """A caption word by word: a strip of every word (and <end>) with its attention map,
    one word large with its 8 x 8 weights alpha, stepped with Prev/Next or the slider and
    played at FRAME_MS a word."""

    word_shown = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.strip = WordStrip()
        self.strip.setToolTip("Each word of the caption, with where the model looked just "
                              "before saying it. Click one to show it large.")
        self.big, _, self.big_image = image_panel(256, 64)
        self.big.setToolTip("The image lit where the model looked for this word: the 8 x 8 "
                            "weights alpha upsampled smoothly; dim parts got little.")
        self.weights, wview, self.weight_image = image_panel(176, 8)
        self.weight_image.setLookupTable(pg.colormap.get("inferno").getLookupTable(nPts=256))
        self.cell_labels = []
        for r in range(8):
            for c in range(8):
                label = pg.TextItem("", color=(200, 230, 255), anchor=(0.5, 0.5))
                label.setPos(c + 0.5, r + 0.5)
                wview.addItem(label)
                self.cell_labels.append(label)
        self.weights.setToolTip("alpha_t itself: a softmax over the CNN's 8 x 8 grid of "
                                "places, summing to 1 (numbers: percent, 5% and up).")
        self.word_info = QLabel()
        self.word_info.setWordWrap(True)
        self.previous, self.next = QPushButton("◀ Prev"), QPushButton("Next ▶")
        self.previous.setToolTip("The word before (Left arrow)")
        self.next.setToolTip("The word after (Right arrow)")
        self.play = QPushButton("Play")
        self.play.setCheckable(True)
        self.play.setToolTip("Play the caption a word at a time, again and again (Space)")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setToolTip("The word shown large")

        for pane in (self.big, self.weights):
            pane.setBackground(self.palette().color(QPalette.ColorRole.Window))
            pane.ci.setContentsMargins(0, 0, 0, 0)
        side = QVBoxLayout()
        side.addWidget(QLabel("The weights alpha (8 x 8):"))
        side.addWidget(self.weights)
        side.addWidget(self.word_info)
        side.addStretch(1)
        pictures = QHBoxLayout()
        pictures.addWidget(self.big, 0, Qt.AlignmentFlag.AlignTop)
        pictures.addLayout(side, 1)
        controls = QHBoxLayout()
        for w in (self.previous, self.play, self.next):
            controls.addWidget(w)
        controls.addWidget(self.slider, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.heading)
        layout.addWidget(self.strip)
        layout.addLayout(controls)
        layout.addLayout(pictures)
        layout.addStretch(1)

        self.words: list[str] = []
        self.alphas = np.zeros((0, 8, 8))
        self.probs: list[float] = []
        self.pictures: list[np.ndarray] = []
        self._hold = 0
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self.advance)
        self.play.toggled.connect(self.set_playing)
        self.slider.valueChanged.connect(self.show_word)
        self.previous.clicked.connect(self.step_back)
        self.next.clicked.connect(self.step_on)
        self.strip.clicked.connect(self.slider.setValue)
        self.clear("Train a model or open one to see where it looks.")

    def install_keys(self, owner: QWidget) -> None:
        """Left/Right step and Space plays while the focus is anywhere in `owner`."""
        for keys, slot in (("Left", self.step_back), ("Right", self.step_on),
                           ("Space", self.play.toggle)):
            shortcut(owner, keys, slot)

    def clear(self, message: str) -> None:
        self.words, self.probs, self.pictures = [], [], []
        self.alphas = np.zeros((0, 8, 8))
        self.strip.set_words([], [], [])
        self.big_image.clear()
        self.weight_image.clear()
        for label in self.cell_labels:
            label.setText("")
        self.heading.setText(message)
        self.word_info.clear()

    def show_caption(self, image: np.ndarray, words: list[str], alphas: np.ndarray,
                     probs) -> None:
        """words: the caption's words (without <end>); alphas and probs: one per word and
        one for <end>."""
        # a caption cut off at the longest length has no <end>
        self.words = [*words, END_WORD][:len(alphas)]
        self.alphas, self.probs = np.asarray(alphas), list(probs)
        self.pictures = [overlay(image, a) for a in self.alphas]
        self.strip.set_words(self.pictures, self.words, self.probs)
        self.weight_image.setImage(self.alphas[0], levels=(0.0, float(self.alphas.max())),
                                   autoLevels=False)
        index = min(self.slider.value(), len(self.words) - 1)
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(self.words) - 1)
        self.slider.setValue(index)
        self.slider.blockSignals(False)
        self.show_word(index)

    def show_word(self, index: int) -> None:
        if not self.words:
            return
        index = int(np.clip(index, 0, len(self.words) - 1))
        if index < len(self.words) - 1:
            self._hold = 0
        alpha = self.alphas[index]
        self.big_image.setImage(self.pictures[index], autoLevels=False, levels=(0, 255))
        self.weight_image.setImage(alpha, levels=(0.0, float(self.alphas.max())),
                                   autoLevels=False)
        bright = 0.6 * float(self.alphas.max())
        for label, a in zip(self.cell_labels, alpha.ravel()):
            label.setText(f"{a * 100:.0f}" if a >= 0.05 else "")
            label.setColor((0, 0, 0) if a > bright else (220, 235, 255))
        words = [f'<span style="background:#ffb020; color:black"><b>{escape(w)}</b></span>'
                 if i == index else escape(w) for i, w in enumerate(self.words)]
        self.heading.setText(" ".join(words))
        cut = "" if self.words[-1] == END_WORD else (
            "<br>It never said &lt;end&gt;: the caption was cut at the longest length.")
        self.word_info.setText(
            f"Word {index + 1} of {len(self.words)}: “{escape(self.words[index])}”, "
            f"probability {self.probs[index]:.2f}.<br>Its brightest place holds "
            f"{alpha.max():.0%} of the attention (all 64 alike: 2%).{cut}")
        self.strip.set_current(index)
        self.word_shown.emit(index)

    def step_back(self) -> None:
        self.slider.setValue(self.slider.value() - 1)

    def step_on(self) -> None:
        self.slider.setValue(self.slider.value() + 1)

    def set_playing(self, playing: bool) -> None:
        self.play.setText("Pause" if playing else "Play")
        if playing:
            self.timer.start()
        else:
            self.timer.stop()

    def advance(self) -> None:
        if not self.words:
            return
        if self.slider.value() < len(self.words) - 1:
            self.step_on()
        elif self._hold < HOLD_FRAMES:
            self._hold += 1
        else:
            self._hold = 0
            self.slider.setValue(0)
