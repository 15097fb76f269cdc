"""Saving when the disk is full or the folder read-only, and a training process killed
outright: the error is reported, the previous file survives, the run resumes."""
import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nets import runner, storage
from nets.families import vae
from nets.progress import ListReporter, Log

ROOT = Path(__file__).resolve().parents[2]


def disk_full(path, *args, **kwargs):
    with open(path, "wb") as f:  # half a file, then the disk is full
        f.write(b"PK\x03\x04half")
    raise OSError(errno.ENOSPC, "No space left on device")


def read_only(*args, **kwargs):  # as root, chmod cannot make a folder read-only
    raise PermissionError(errno.EACCES, "Permission denied")


@pytest.mark.parametrize("fault, words", [("full disk", "disk is full"),
                                          ("read-only folder", "permission to write")])
def test_a_failed_save_from_the_tab_reports_and_keeps_the_previous_file(open_tab, tmp_path,
                                                                        monkeypatch, fault,
                                                                        words):
    from app.tabs.vae import VAETab

    tab = open_tab(VAETab)
    assert tab.panel.load_pretrained("vae-digits")
    target = tmp_path / "models" / "mine.keras"
    target.parent.mkdir()
    assert tab.panel.save_model_to(target)
    before = target.read_bytes()
    if fault == "full disk":
        monkeypatch.setattr(tab.panel.trained.model, "save", disk_full)
    else:
        monkeypatch.setattr(storage.tempfile, "mkstemp", read_only)
    assert not tab.panel.save_model_to(target)
    assert words in tab.panel.error_banner.text()
    assert target.read_bytes() == before
    assert [p.name for p in target.parent.iterdir()] == ["mine.keras"]  # no temp left
    assert vae.load(target).model.count_params() > 0


def test_autosave_onto_a_full_disk_is_logged_and_training_goes_on(monkeypatch):
    real = storage.save_model

    def full(model, path, meta):
        if "autosave" in str(path):
            raise storage.StorageError(f"Could not save to {path}: the disk is full.")
        return real(model, path, meta)

    monkeypatch.setattr(storage, "save_model", full)
    rep = ListReporter()
    done = runner.execute(runner.RunRequest("vae", vae.Config(epochs=2, hidden=32),
                                            "mnist-5k"), rep)
    assert done.status == "finished"
    skipped = [e.text for e in rep.of(Log) if "Autosave skipped" in e.text]
    assert len(skipped) == 2 and "disk is full" in skipped[0]


def test_a_run_killed_mid_epoch_resumes_from_its_last_autosave(tmp_path, monkeypatch):
    monkeypatch.setenv("DLE_HOME", str(tmp_path / "home"))
    env = dict(os.environ)
    train = [sys.executable, str(ROOT / "main.py"), "train", "vae", "--dataset", "mnist-5k",
             "--hidden", "64", "--epochs", "12"]
    autosaves = tmp_path / "home" / "autosave" / "vae"
    proc = subprocess.Popen(train, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(list(autosaves.glob("epoch-*.keras"))) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, "no autosaves came"
            time.sleep(0.05)
        time.sleep(0.3)  # somewhere inside the next epoch
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    saved = storage.AutosaveSlot("vae").latest()
    assert saved is not None
    epoch = saved.meta["epoch"]
    assert 2 <= epoch < 12
    r = subprocess.run(train + ["--resume"], env=env, capture_output=True, text=True,
                       timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"{epoch} of 12 epochs done" in r.stdout  # "Resuming from epoch-000N.keras ..."
    assert f"Trained {12 - epoch} epochs" in r.stdout  # only the epochs still to do
