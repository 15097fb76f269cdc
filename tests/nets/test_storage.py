"""Saving and loading: atomic writes, weights-only loading, bad files, autosave and resume."""
import errno
import os
import zipfile

import keras
import numpy as np
import pytest

from nets import runner, storage
from nets.families import cnn
from nets.progress import EpochMetrics, ListReporter, Log

SMALL = dict(conv_blocks=1, filters=4, augment=False, epochs=1, batch_size=256)


def small_model():
    keras.utils.set_random_seed(0)
    return cnn.build_model(cnn.Config(**SMALL), (28, 28, 1), 10)


def meta():
    return {"family": "cnn", "config": cnn.Config(**SMALL).__dict__, "input_shape": [28, 28, 1],
            "classes": [str(i) for i in range(10)]}


def test_round_trip_gives_the_same_predictions(tmp_path):
    model = small_model()
    x = np.random.default_rng(0).random((5, 28, 28, 1), dtype=np.float32)
    path = storage.save_model(model, tmp_path / "m.keras", meta())
    loaded = cnn.load(path)
    np.testing.assert_allclose(cnn.predict(loaded.model, x), cnn.predict(model, x), atol=1e-6)
    assert oct(path.stat().st_mode & 0o777) != "0o600"  # not left private like a temp file


def test_a_failed_save_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "m.keras"
    model = small_model()
    storage.save_model(model, target, meta())
    before = target.read_bytes()

    def disk_full(path, *a, **k):
        with open(path, "wb") as f:
            f.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(model, "save", disk_full)
    with pytest.raises(storage.StorageError, match="disk is full"):
        storage.save_model(model, target, meta())
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]


def test_saving_into_a_read_only_folder_is_reported(tmp_path, monkeypatch):
    # Tests run as root in CI, where chmod cannot make a folder read-only: make the
    # temporary file's creation fail the way a read-only folder makes it fail.
    def read_only(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(storage.tempfile, "mkstemp", read_only)
    with pytest.raises(storage.StorageError, match="permission to write"):
        storage.save_model(small_model(), tmp_path / "m.keras", meta())
    assert not (tmp_path / "m.keras").exists()


def test_saving_into_a_missing_folder_is_reported(tmp_path):
    with pytest.raises(storage.StorageError, match="does not exist"):
        storage.save_model(small_model(), tmp_path / "nope" / "m.keras", meta())


@pytest.mark.parametrize("content, words", [
    (b"", "empty"),
    (os.urandom(3000), "not a model file"),
    (b"PK\x03\x04" + b"\0" * 100, "not a model file"),
])
def test_bad_files_get_plain_words(tmp_path, content, words):
    path = tmp_path / "bad.keras"
    path.write_bytes(content)
    with pytest.raises(storage.StorageError, match=words):
        cnn.load(path)


def test_truncated_file_is_refused(tmp_path):
    path = storage.save_model(small_model(), tmp_path / "m.keras", meta())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(storage.StorageError):
        cnn.load(path)


def test_a_plain_keras_file_and_another_family_are_refused(tmp_path):
    plain = tmp_path / "plain.keras"
    small_model().save(plain)
    with pytest.raises(storage.StorageError, match="not one saved by Deep Learning Explorer"):
        cnn.load(plain)
    other = storage.save_model(small_model(), tmp_path / "o.keras", {**meta(), "family": "vae"})
    with pytest.raises(storage.StorageError, match="not a convnet"):
        cnn.load(other)


def test_code_in_a_strangers_file_never_runs(tmp_path):
    # A real convnet file whose config.json is swapped for one holding a Lambda layer that
    # writes a marker file when the model is rebuilt from that config. The app rebuilds
    # the model from its own description and reads only weights: the marker never appears.
    marker = tmp_path / "pwned"
    path = storage.save_model(small_model(), tmp_path / "evil.keras", meta())
    inputs = keras.Input((28, 28, 1))
    # no closure, so Keras can store the function's bytecode in the config
    writes_marker = eval(f"lambda t: (open({str(marker)!r}, 'w').close(), t)[1]")
    evil = keras.layers.Lambda(writes_marker)(inputs)
    trojan = tmp_path / "trojan.keras"
    keras.Model(inputs, evil).save(trojan)
    marker.unlink()  # building the trojan here ran the lambda once; start clean
    with zipfile.ZipFile(trojan) as z:
        evil_config = z.read("config.json")
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["config.json"] = evil_config
    with zipfile.ZipFile(path, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)

    loaded = cnn.load(path)  # loads fine: the weights are a real convnet's
    assert loaded.model.count_params() == small_model().count_params()
    assert not marker.exists()
    # the test can fail: Keras itself, trusting the file, would have run the code
    try:
        keras.saving.load_model(path, safe_mode=False)
    except Exception:  # its weights do not match the trojan graph; the code ran before
        pass
    assert marker.exists()


def test_weights_that_do_not_fit_are_refused(tmp_path):
    other = cnn.build_model(cnn.Config(**{**SMALL, "filters": 8}), (28, 28, 1), 10)
    path = storage.save_model(other, tmp_path / "m.keras", meta())  # meta says 4 filters
    with pytest.raises(storage.StorageError, match="do not fit"):
        cnn.load(path)


def test_autosave_keeps_the_last_two_and_resume_continues(tmp_path):
    cfg = cnn.Config(**{**SMALL, "epochs": 3})
    rep = ListReporter()
    done = runner.execute(runner.RunRequest("cnn", cfg, "mnist-5k", seed=1), rep)
    assert done.status == "finished"
    saves = storage.AutosaveSlot("cnn").paths()
    assert [p.name for p in saves] == ["epoch-0002.keras", "epoch-0003.keras"]
    # Pretend the run died after epoch 2: drop the newest save, then resume with 4 epochs.
    saves[-1].unlink()
    found = storage.AutosaveSlot("cnn").latest()
    assert found.meta["epoch"] == 2 and len(found.meta["history"]) == 2
    asked = cnn.Config(**{**SMALL, "epochs": 4, "learning_rate": 0.5})
    more = runner.RunRequest("cnn", asked, "mnist-5k", seed=7, resume=True)
    rep2 = ListReporter()
    done2 = runner.execute(more, rep2)
    assert done2.status == "finished"
    # the run went on with the autosave's settings and seed; the caller's are untouched
    assert more.config is asked and asked.learning_rate == 0.5 and more.seed == 7
    assert done2.result.meta["seed"] == 1
    assert done2.result.meta["config"]["learning_rate"] == cfg.learning_rate
    # the resumed run replays the two stored epochs, then trains epochs 3 only (config
    # comes from the autosave, which asked for 3 epochs)
    assert [e.epoch for e in rep2.of(EpochMetrics)] == [0, 1, 2]
    assert len(done2.result.history) == 3
    assert int(done2.result.model.optimizer.iterations) == 3 * 16  # optimizer state carried


def test_a_damaged_newest_autosave_falls_back_to_the_older(tmp_path):
    model = small_model()
    slot = storage.AutosaveSlot("cnn")
    slot.save(model, {**meta(), "epoch": 1}, 1)
    newest = slot.save(model, {**meta(), "epoch": 2}, 2)
    newest.write_bytes(b"garbage")
    found = slot.latest()
    assert found.meta["epoch"] == 1
    assert "epoch-0002.keras" in found.passed_over[0]  # said, not silently skipped


def test_autosaves_past_9999_steps_are_ordered_by_number_not_by_name(tmp_path):
    model = small_model()
    slot = storage.AutosaveSlot("cnn", "long run")
    for step in (50_000, 100_000, 150_000):  # "epoch-100000" < "epoch-50000" as text
        slot.save(model, {**meta(), "step": step}, step)
    assert [p.name for p in slot.paths()] == [
        "epoch-100000.keras", "epoch-150000.keras"]  # the two newest kept
    assert slot.latest().meta["step"] == 150_000


def test_resume_trains_to_the_length_asked_for_now_or_says_why_not(tmp_path):
    cfg = cnn.Config(**{**SMALL, "epochs": 2})
    assert runner.execute(runner.RunRequest("cnn", cfg, "mnist-5k"), ListReporter()) \
        .status == "finished"
    # asked for 3 now: one more epoch, although the autosave's own run asked for 2
    rep = ListReporter()
    done = runner.execute(runner.RunRequest("cnn", cfg, "mnist-5k", resume=True, length=3),
                          rep)
    assert done.status == "finished" and "Trained 1 epochs" in done.message
    assert [e.epoch for e in rep.of(EpochMetrics)] == [0, 1, 2]
    # asked for no more than it has: said, not "Trained 0 epochs"
    done = runner.execute(runner.RunRequest("cnn", cfg, "mnist-5k", resume=True, length=3),
                          ListReporter())
    assert done.status == "failed" and "already trained 3 epochs" in done.message
    assert "more than 3" in done.message


def test_an_unreadable_autosave_is_reported_never_silently_replaced(tmp_path):
    slot = storage.AutosaveSlot("cnn")
    slot.save(small_model(), {**meta(), "epoch": 1}, 1)
    slot.paths()[0].write_bytes(b"garbage")
    with pytest.raises(storage.AutosaveUnreadable, match="epoch-0001.keras"):
        slot.latest()
    rep = ListReporter()
    done = runner.execute(runner.RunRequest("cnn", cnn.Config(**SMALL), "mnist-5k",
                                            resume=True), rep)
    assert done.status == "failed" and "cannot be resumed from" in done.message
    assert "damaged" in done.message
    assert not any("starting afresh" in e.text for e in rep.of(Log))


def test_another_familys_file_in_an_autosave_folder_is_never_offered(tmp_path):
    planted = storage.AutosaveSlot("cnn").save(small_model(), {**meta(), "epoch": 15}, 15)
    vae_slot = storage.AutosaveSlot("vae")
    vae_slot.folder.mkdir(parents=True)
    planted.rename(vae_slot.folder / "epoch-0015.keras")
    with pytest.raises(storage.AutosaveUnreadable, match="holds a 'cnn' model"):
        vae_slot.latest()


def test_each_game_keeps_its_own_autosaves():
    from nets.families import dqn

    cartpole = runner.autosave_slot("dqn", dqn.Config())
    pong = runner.autosave_slot("dqn", dqn.settings_for("Pong"))
    assert cartpole.folder != pong.folder
    model = small_model()
    cartpole.save(model, {**meta(), "family": "dqn", "step": 80_000}, 80_000)
    for step in (50_000, 60_000):
        pong.save(model, {**meta(), "family": "dqn", "step": step}, step)
    # Pong's autosaves are not pruned as "older" than CartPole's, nor the reverse
    assert [p.name for p in pong.paths()] == ["epoch-50000.keras", "epoch-60000.keras"]
    assert cartpole.latest().meta["step"] == 80_000 and pong.latest().meta["step"] == 60_000
    # a CartPole agent put where Pong's are is refused, in words
    cartpole.paths()[0].rename(pong.folder / "epoch-90000.keras")
    found = pong.latest()
    assert found.meta["step"] == 60_000
    assert "saved for 'CartPole-v1', not 'Pong'" in found.passed_over[0]


KILLED_MID_SAVE = """
import os, sys, time
sys.path.insert(0, {root!r})
from nets import storage
storage.os.replace = lambda *a: (print("written", flush=True), time.sleep(60))
import keras
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
storage.AutosaveSlot("cnn").save(model, {{"epoch": 2}}, 2)
"""


def test_temporaries_of_a_save_killed_midway_are_removed_at_the_next_start(tmp_path):
    import signal
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", KILLED_MID_SAVE.format(root=str(root))],
                            stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    assert proc.stdout.readline().strip() == "written"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    slot = storage.AutosaveSlot("cnn")
    left = [p.name for p in slot.folder.iterdir()]
    assert len(left) == 1 and left[0].startswith(".epoch-0002-tmp"), left
    theirs = [slot.folder / "notes.txt", slot.folder / ".epoch-0003-tmp1-x.txt",
              slot.folder / ".hidden.keras"]
    for path in theirs:
        path.write_text("not ours")
    own_live = slot.folder / f".epoch-0004-tmp{os.getpid()}-abc.keras"  # a save under way
    own_live.write_text("")
    rep = ListReporter()
    runner.prepare(runner.RunRequest("cnn", cnn.Config(**SMALL), "mnist-5k"), rep, cnn.Config)
    assert sorted(p.name for p in slot.folder.iterdir()) == sorted(
        [p.name for p in theirs] + [own_live.name])


def test_weights_that_do_not_fit_are_described_in_plain_words(tmp_path):
    other = cnn.build_model(cnn.Config(**{**SMALL, "filters": 8}), (28, 28, 1), 10)
    path = storage.save_model(other, tmp_path / "m.keras", meta())
    with pytest.raises(storage.StorageError) as caught:
        cnn.load(path)
    text = str(caught.value)
    assert not text.rstrip(".").endswith(":")
    if keras.backend.backend() != "torch":  # its own words name the layers, not the shapes
        assert "conv1's kernel has shape (3, 3, 1, 8) in the file" in text
        assert "(3, 3, 1, 4)" in text
    assert "conv1" in text


def test_a_diverging_run_stops_and_keeps_the_last_good_weights():
    cfg = cnn.Config(**{**SMALL, "learning_rate": 10.0, "epochs": 3, "cosine_decay": False})
    done = runner.execute(runner.RunRequest("cnn", cfg, "mnist-5k"), ListReporter())
    assert done.status == "failed" and "exploded" in done.message, done.message
    assert "lower learning rate" in done.message
    assert all(np.isfinite(w).all() for w in done.result.model.get_weights())
