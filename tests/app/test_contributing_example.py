"""CONTRIBUTING.md's worked example of a new family works as written: its nets module
registers, trains and loads through the house's machinery, and its tab opens and shows the
trained weights."""
import re
import sys
from pathlib import Path

import pytest

from nets import registry, runner
from nets.progress import ListReporter

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def logreg(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "CONTRIBUTING.md").read_text(),
                        re.S)
    assert len(blocks) == 2, "the guide's two examples: the nets module and the tab"
    (tmp_path / "logreg_family.py").write_text(blocks[0])
    (tmp_path / "logreg_tab.py").write_text(blocks[1])
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "ENTRIES", registry.ENTRIES + (
        ("logreg", "logreg_family", "logreg_tab:LogRegTab"),))
    yield
    for name in ("logreg_family", "logreg_tab"):
        sys.modules.pop(name, None)


def test_the_guides_family_trains_loads_and_its_tab_shows_it(logreg, open_tab, qtbot,
                                                              tmp_path):
    fam = registry.family("logreg")
    done = runner.execute(runner.RunRequest("logreg", fam.config(epochs=2), "mnist-5k"),
                          ListReporter())
    assert done.status == "finished", done.detail
    more = runner.execute(runner.RunRequest("logreg", fam.config(epochs=3), "mnist-5k",
                                            resume=True, length=3), ListReporter())
    assert more.status == "finished" and "Trained 1 epochs" in more.message, more.detail
    accuracy = float(done.headline.split(":")[1].strip().rstrip("%")) / 100
    assert accuracy > 0.8, done.headline  # a linear model of digits, held out
    again = fam.load(done.result.save(tmp_path / "logreg.keras"))
    assert again.meta["family"] == "logreg"

    from app.main_window import load_tab_class

    tab = open_tab(load_tab_class("logreg"))
    assert tab.panel.family.title == "Logistic regression"
    tab.panel.select_dataset("mnist-5k")
    tab.panel.form.editors["epochs"].setValue(1)
    tab.panel.start()
    qtbot.waitUntil(lambda: not tab.panel.is_running(), timeout=120000)
    assert tab.weights.count == 10  # one image per digit class
