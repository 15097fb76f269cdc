"""The recurrent-nets tab driven as a person would: train a tiny model on a text of their
own, watch samples arrive, write from a prompt, look inside, open the saved model."""
import os

import pytest

from app.tabs.rnn import RNNTab

TEXT = ("The cat sat on the mat. \"Hello,\" said the dog (to the cat).\n" * 120)


@pytest.fixture
def tab(open_tab):
    return open_tab(RNNTab)


def train(qtbot, tab, path, **values):
    settings = {"corpus": "file", "text_path": str(path), "units": 16, "embedding": 8,
                "sequence_length": 40, "batch_size": 16, "epochs": 1, **values}
    tab.panel.form.set_values(settings)
    with qtbot.waitSignal(tab.panel.finished, timeout=120000) as blocker:
        tab.panel.start()
    assert blocker.args[0].status == "finished", blocker.args[0].message
    return blocker.args[0]


def test_train_write_and_look_inside(qtbot, tab, tmp_path, monkeypatch):
    monkeypatch.setattr("nets.families.rnn.SAMPLE_EVERY_S", 0.0)  # a sample every batch
    path = tmp_path / "story.txt"
    path.write_text(TEXT)
    done = train(qtbot, tab, path)
    assert "bits per character" in done.headline
    assert tab.samples.times and tab.samples.text.toPlainText().count("held out") >= 2
    # the look inside runs by itself on the held-out text once training ends
    qtbot.waitUntil(lambda: tab.inside.matches.rowCount() > 0, timeout=20000)
    assert tab.inside.state.count() == 2  # layer 1 h and layer 1 c
    features = {tab.inside.matches.item(r, 0).text()
                for r in range(tab.inside.matches.rowCount())}
    assert "inside brackets ( [ {" in features and "position in the line" in features
    tab.inside.matches.cellClicked.emit(1, 0)
    assert tab.inside.status.text().startswith(tab.inside.matches.item(1, 1).text()
                                               .split(",")[0])

    # writing streams into the desk; an unknown character is left out, in words
    tab.desk.prompt.setPlainText("The ∑ cat")
    tab.desk.length.setValue(40)
    tab.desk.temperature.setValue(0)
    tab.desk.write.click()
    qtbot.waitUntil(lambda: tab.desk.write.isEnabled(), timeout=20000)
    written = tab.desk.output.toPlainText()
    assert written.startswith("The  cat") and len(written) >= len("The  cat") + 40
    assert "'∑'" in tab.desk.status.text() and "Temperature 0" in tab.desk.status.text()
    assert len(tab.desk.output.tips) == 40
    heights = tab.desk.candidates.bars.opts["height"]
    assert 0.0 < heights[0] <= 1.0 and list(heights) == sorted(heights, reverse=True)

    # Stop stops a long text early
    tab.desk.length.setValue(20000)
    tab.desk.write.click()
    qtbot.waitUntil(lambda: len(tab.desk.output.tips) > 0, timeout=20000)
    tab.desk.stop.click()
    qtbot.waitUntil(lambda: not tab.jobs.is_busy(), timeout=20000)
    assert len(tab.desk.output.tips) < 20000

    # the saved model opens in a new tab and writes the same greedy text
    saved = tab.panel.trained.save(tmp_path / "model.keras")
    other = RNNTab()
    qtbot.addWidget(other)
    try:
        assert other.panel.load_model_from(saved, remember=False)
        other.desk.prompt.setPlainText("The  cat")
        other.desk.length.setValue(40)
        other.desk.temperature.setValue(0)
        tab.desk.prompt.setPlainText("The  cat")
        tab.desk.length.setValue(40)
        for t in (tab, other):
            t.desk.write.click()
            qtbot.waitUntil(t.desk.write.isEnabled, timeout=20000)
        assert other.desk.output.toPlainText() == written
    finally:
        other.shutdown()
    if os.environ.get("SHOTS"):
        for i, name in enumerate(("samples", "desk", "inside")):
            tab.panel.views.setCurrentIndex(i)
            tab.grab().save(f"{os.environ['SHOTS']}/rnn-{name}.png")


def test_a_file_that_is_not_text_is_refused_in_words(qtbot, tab, tmp_path):
    path = tmp_path / "picture.txt"
    path.write_bytes(bytes(range(256)) * 40)
    tab.panel.form.set_values({"corpus": "file", "text_path": str(path)})
    with qtbot.waitSignal(tab.panel.finished, timeout=60000) as blocker:
        tab.panel.start()
    assert blocker.args[0].status == "failed"
    assert "does not look like text" in blocker.args[0].message
    assert not tab.desk.write.isEnabled()
