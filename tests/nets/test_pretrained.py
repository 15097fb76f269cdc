"""The models that ship with the app: listed, intact, loadable, and as good as claimed."""
import json
import shutil

import numpy as np
import pytest

from nets import pretrained, runner
from nets.families import dqn
from nets.storage import StorageError


def test_every_shipped_model_is_intact_and_loads():
    shipped = pretrained.entries()
    assert {e.name for e in shipped} >= {"dqn-cartpole", "vae-digits"}
    for entry in shipped:
        assert entry.command.startswith("python main.py train " + entry.family)
        trained = runner.family(entry.family).load(pretrained.checked_path(entry))
        assert trained.family == entry.family


def test_the_shipped_cartpole_agent_balances_on_unseen_games():
    entry = pretrained.entries("dqn")[0]
    trained = dqn.load(pretrained.checked_path(entry))
    config = dqn.Config(**trained.meta["config"])
    returns = dqn.evaluate(trained.model, config, episodes=3, seed=777)
    assert np.mean(returns) >= 400  # a random policy averages about 22


@pytest.fixture
def copy_of_shipped(tmp_path, monkeypatch):
    folder = tmp_path / "pretrained"
    shutil.copytree(pretrained.FOLDER, folder)
    monkeypatch.setattr(pretrained, "FOLDER", folder)
    monkeypatch.setattr(pretrained, "MANIFEST", folder / "manifest.json")
    return folder


def test_a_damaged_or_missing_file_is_refused_before_loading(copy_of_shipped):
    entry = pretrained.entries("dqn")[0]
    data = bytearray(entry.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    entry.path.write_bytes(bytes(data))
    with pytest.raises(StorageError, match="damaged"):
        pretrained.checked_path(entry)
    entry.path.unlink()
    with pytest.raises(StorageError, match="missing"):
        pretrained.checked_path(entry)


def test_an_unreadable_manifest_lists_nothing_and_a_bad_entry_only_itself(copy_of_shipped):
    manifest = copy_of_shipped / "manifest.json"
    good = json.loads(manifest.read_text())["models"]
    manifest.write_text("{not json")
    assert pretrained.entries() == []
    newer = {**good[0], "added_in_a_later_version": 1}  # unknown fields are ignored
    manifest.write_text(json.dumps({"models": [{"name": "x"}, newer, *good[1:]]}))
    assert [e.name for e in pretrained.entries()] == [g["name"] for g in good]
