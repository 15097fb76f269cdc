"""The captions tab driven as a person would: train a tiny captioner, watch the live panel,
play a caption word by word with its attention maps, compose a scene (add, drag, delete,
a held-out twin), and read the scores."""
import os

import numpy as np
from PIL import Image
import pytest
from PySide6.QtCore import QPoint, Qt

from app.tabs.captions import CaptionsTab
from app.tabs.captions.composer import recoloured, truth_of
from app.tabs.captions.scene_canvas import SCALE
from nets.families.captions import scenes as sc

TINY = dict(epochs=1, filters=4, units=16, embedding=8, attention=8, scenes_per_epoch=64,
            batch_size=32, max_objects=2)
SCORED = 32


@pytest.fixture
def tab(open_tab):
    return open_tab(CaptionsTab)


def train(qtbot, tab, **values):
    tab.panel.form.set_values({**TINY, **values})
    with qtbot.waitSignal(tab.panel.finished, timeout=120000) as blocker:
        tab.panel.start()
    assert blocker.args[0].status == "finished", blocker.args[0].message
    return blocker.args[0]


def test_a_scene_is_composed_with_the_mouse_before_any_model(qtbot, tab):
    views = [tab.panel.views.tabText(i) for i in range(tab.panel.views.count())]
    assert views == ["Captions", "Where it looks", "Make a scene", "Scores", "About"]
    compose = tab.compose
    compose.add_thing("circle", "red", "small", at=(4, 30))
    compose.add_thing("7", "blue", "large", at=(30, 24))
    canvas = compose.canvas
    assert len(canvas.things) == 2 and canvas.glyphs[1].shape == (28, 28)
    assert truth_of(canvas.things) == "a small red circle left of a large blue 7"
    assert "a small red circle left of a large blue 7" in compose.grammar.text()
    # the twin: the first object that can be is recoloured into a held-out pair (7 -> red)
    index, twin = recoloured(canvas.things)
    assert index == 1 and twin[1].colour == "red" and len(compose.images()) == 2
    assert "blue 7 made red" in compose.twin_heading.text()
    # drag the circle by the mouse onto the 7's diagonal: no sentence for it
    grab = QPoint(10 * SCALE, 36 * SCALE)  # inside the circle's box (4..17, 30..43)
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=grab)
    qtbot.mouseMove(canvas, QPoint(grab.x() + 30 * SCALE, grab.y() - 10 * SCALE))
    qtbot.mouseMove(canvas, QPoint(grab.x() + 2 * SCALE, grab.y() - 90 * SCALE))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton,
                       pos=QPoint(grab.x() + 2 * SCALE, grab.y() - 90 * SCALE))
    x0, y0, x1, y1 = canvas.things[0].box
    assert (x0, y0) == (6, 0) and (x1 - x0, y1 - y0) == (13, 13)  # kept inside the image
    assert sc.arrange(canvas.things) is None and "no sentence" in compose.grammar.text()
    # a held-out pair is said in words; Delete removes the selected object
    compose.add_thing("triangle", "green", "small", at=(2, 48))
    assert "green triangle" in compose.note.text() and "never saw" in compose.note.text()
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    assert len(canvas.things) == 2 and "green triangle" not in compose.note.text()
    # a digit in the person's own hand, drawn on the canvas of the CNN tab
    compose.shape.setCurrentText("digit 3")
    compose.draw_button.click()
    ink = compose.dialog.canvas
    qtbot.mousePress(ink, Qt.MouseButton.LeftButton, pos=QPoint(60, 40))
    for x, y in ((160, 40), (100, 110), (160, 170), (60, 190)):
        qtbot.mouseMove(ink, QPoint(x, y))
    qtbot.mouseRelease(ink, Qt.MouseButton.LeftButton, pos=QPoint(60, 190))
    compose.dialog.accept()
    assert canvas.things[-1].shape == "3" and canvas.glyphs[-1].shape == (224, 224)
    assert canvas.glyphs[-1].max() > 0.9  # the person's ink is the glyph
    compose.clear_scene()
    assert not canvas.things and compose.twin is None


@pytest.fixture
def fewer_scenes(monkeypatch):
    """The tab scores fewer scenes than its 256 (a tiny run's own panel scores as many
    as its epoch trains on): seconds off."""
    monkeypatch.setattr("app.tabs.captions.SCORED_SCENES", SCORED)


def test_train_then_watch_look_compose_and_score(qtbot, tab, fewer_scenes, tmp_path):
    train(qtbot, tab)
    # the live panel: eight test scenes with the model's caption and the true one
    assert tab.live.panels >= 1 and tab.live.cards.shown() == 8
    xs, _ = tab.live.curves.curves["test", "exact"].getData()
    assert len(xs) >= 1
    assert "truth:" in tab.live.cards.cards[0].truth.text()

    # Where it looks: the first test scene, a panel per word and one for <end>
    player = tab.look.player
    qtbot.waitUntil(lambda: len(player.words) > 0, timeout=20000)
    assert player.strip.count == len(player.words) == len(player.alphas)
    assert player.words[-1] == "<end>" or len(player.words) == tab.who.max_words + 1
    np.testing.assert_allclose(player.alphas.sum(axis=(1, 2)), 1.0, atol=1e-4)
    assert player.alphas.shape[1:] == (8, 8)
    player.slider.setValue(0)
    tab.panel.views.setCurrentWidget(tab.look)
    scene_button = tab.look.buttons["test"][0]
    scene_button.setFocus()
    qtbot.keyClick(scene_button, Qt.Key.Key_Right)  # the arrow keys step the words
    assert player.slider.value() == min(1, len(player.words) - 1)
    player.slider.setValue(0)
    player.step_on()
    if len(player.words) > 1:
        assert player.slider.value() == 1
        np.testing.assert_array_equal(player.big_image.image, player.pictures[1])
    # another scene, then beam search
    before = tab._look_asked
    tab.look.choose_held(2)
    tab.look.beam.setValue(3)
    qtbot.waitUntil(lambda: not tab.look_jobs.is_busy(), timeout=20000)
    assert tab._look_asked == before + 2 and "beam width 3" in tab.look.status.text()
    assert "truth:" in tab.look.status.text()
    # a person's own image file: fitted, captioned and told how; junk refused in words
    Image.new("RGBA", (90, 30), (255, 0, 0, 255)).save(tmp_path / "wide.png")
    before = tab._look_asked
    tab.caption_file(str(tmp_path / "wide.png"))
    qtbot.waitUntil(lambda: tab._look_asked == before + 1 and not tab.look_jobs.is_busy(),
                    timeout=20000)
    assert "your image wide.png" in tab.look.status.text()
    assert "scaled from 90 x 30" in tab.look.status.text()
    assert tab.look.image.shape == (64, 64, 3) and tab.look.image.dtype == np.uint8
    (tmp_path / "junk.jpg").write_bytes(b"no picture here")
    tab.caption_file(str(tmp_path / "junk.jpg"))
    assert "junk.jpg could not be read" in tab.look.status.text()

    # Make a scene: a starter scene was put in, and both it and its twin are captioned
    compose = tab.compose
    assert compose.canvas.things
    qtbot.waitUntil(lambda: len(compose.results) == len(compose.images()), timeout=20000)
    assert "The model says" in compose.said.text()
    words = compose.results[0][1]
    assert compose.player.words[:len(words)] == words
    assert len(compose.player.words) == min(len(words) + 1, tab.who.max_words + 1)
    compose.clear_scene()
    compose.add_thing("square", "purple", "large", at=(4, 20))
    compose.add_thing("circle", "green", "small", at=(40, 26))
    qtbot.waitUntil(lambda: len(compose.results) == 2, timeout=20000)  # square -> yellow
    compose.show_twin.setChecked(True)
    assert np.array_equal(compose.player.pictures[0].shape, (64, 64, 3))

    # Scores: computed in the background once the run ended
    scores = tab.scores
    qtbot.waitUntil(lambda: scores.test_cards.shown() == 6, timeout=30000)
    assert scores.held_cards.shown() == 6
    assert scores.table.item(0, 0).text().endswith("%")
    assert scores.table.item(5, 1).text() == str(SCORED)
    assert "Attention on the named object" in scores.looking.text()
    if os.environ.get("SHOTS"):
        for i, name in enumerate(("live", "look", "compose", "scores")):
            tab.panel.views.setCurrentIndex(i)
            tab.grab().save(f"{os.environ['SHOTS']}/captions-test-{name}.png")
