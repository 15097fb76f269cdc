"""The shared experiment panel: what it says about autosaves, the last model, and a run's
end, driven as a person would."""
import dataclasses

import pytest

from app.widgets.experiment_panel import ExperimentPanel
from nets import storage

TINY = {"filters": 4, "conv_blocks": 1, "augment": False, "epochs": 1, "batch_size": 256}


@pytest.fixture
def make_panel(open_tab):
    return lambda: open_tab(lambda: ExperimentPanel("cnn"))


def train(qtbot, panel, **values):
    panel.form.set_values({**panel.form.values(), **TINY, **values})
    panel.select_dataset("mnist-5k")
    with qtbot.waitSignal(panel.finished, timeout=120000) as blocker:
        panel.start()
    return blocker.args[0]


def test_a_finished_run_shows_its_held_out_figure_not_the_last_phase(qtbot, make_panel):
    panel = make_panel()
    done = train(qtbot, panel)
    assert done.status == "finished"
    assert panel.now_label.text().startswith("Held-out accuracy: ")


def test_the_last_trained_model_is_offered_at_the_next_start(qtbot, make_panel):
    first = make_panel()
    assert first.last_offer.isHidden()
    train(qtbot, first)
    again = make_panel()  # as after a restart
    assert not again.last_offer.isHidden()
    assert "Held-out accuracy" in again.last_label.text()
    again.seed.setValue(7)
    again.last_open.click()
    assert again.trained is not None and again.last_offer.isHidden()
    assert again.seed.value() == 7  # loading never changes the person's seed


def test_resume_offers_what_it_can_and_says_why_not(qtbot, make_panel):
    panel = make_panel()
    assert panel.resume_box.text() == "Resume from autosave (none yet)"
    assert not panel.resume_box.isEnabled()
    train(qtbot, panel)
    assert panel.resume_box.text() == "Resume from autosave (epoch 1)"
    # resuming to 2 epochs puts the autosave's own settings in the form
    panel.form.set_values({**panel.form.values(), "epochs": 2, "filters": 8})
    panel.resume_box.setChecked(True)
    with qtbot.waitSignal(panel.finished, timeout=120000) as blocker:
        panel.start()
    assert blocker.args[0].status == "finished", blocker.args[0].message
    assert panel.form.values()["filters"] == 4 and panel.form.values()["epochs"] == 2
    for path in storage.AutosaveSlot("cnn").paths():
        path.write_bytes(b"damaged")
    panel.refresh_resume()
    assert "it cannot be read" in panel.resume_box.text()
    assert "damaged" in panel.resume_box.toolTip() and not panel.resume_box.isEnabled()


def test_new_defaults_reach_the_form_but_the_persons_own_values_stay(qtbot, make_panel):
    from app import settings
    from nets.families import cnn

    defaults = dataclasses.asdict(cnn.Config())
    old_defaults = {**defaults, "epochs": 15, "dropout": 0.5}  # an older version's
    # the person had changed the filters, and left epochs and dropout at the old defaults
    settings.save_json("cnn/config", {**old_defaults, "filters": 8})
    settings.save_json("cnn/config_defaults", old_defaults)
    values = make_panel().form.values()
    assert values["filters"] == 8  # theirs
    assert values["epochs"] == defaults["epochs"] and values["dropout"] == defaults["dropout"]
    # settings saved before defaults were recorded: the new defaults, old values logged
    settings.save_json("cnn/config", {**defaults, "epochs": 3})
    settings.save_json("cnn/config_defaults", None)
    panel = make_panel()
    assert panel.form.values()["epochs"] == defaults["epochs"]
    assert "Your earlier values were: epochs 3" in panel.log.toPlainText()
