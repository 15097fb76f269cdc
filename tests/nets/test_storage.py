"""Saving and loading: atomic writes, weights-only loading, bad files, autosave and resume."""
import errno
import os
import zipfile

import keras
import numpy as np
import pytest

from nets import cnn, runner, storage
from nets.progress import EpochMetrics, ListReporter

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
    saves = storage.list_autosaves("cnn")
    assert [p.name for p in saves] == ["epoch-0002.keras", "epoch-0003.keras"]
    # Pretend the run died after epoch 2: drop the newest save, then resume with 4 epochs.
    saves[-1].unlink()
    path, m = storage.latest_autosave("cnn")
    assert m["epoch"] == 2 and len(m["history"]) == 2
    more = runner.RunRequest("cnn", cnn.Config(**{**SMALL, "epochs": 4}), "mnist-5k",
                             resume=True)
    rep2 = ListReporter()
    done2 = runner.execute(more, rep2)
    assert done2.status == "finished"
    # the resumed run replays the two stored epochs, then trains epochs 3 only (config
    # comes from the autosave, which asked for 3 epochs)
    assert [e.epoch for e in rep2.of(EpochMetrics)] == [0, 1, 2]
    assert len(done2.result.history) == 3
    assert int(done2.result.model.optimizer.iterations) == 3 * 16  # optimizer state carried


def test_a_damaged_newest_autosave_falls_back_to_the_older(tmp_path):
    model = small_model()
    storage.autosave(model, "cnn", {**meta(), "epoch": 1}, 1)
    newest = storage.autosave(model, "cnn", {**meta(), "epoch": 2}, 2)
    newest.write_bytes(b"garbage")
    path, m = storage.latest_autosave("cnn")
    assert m["epoch"] == 1


def test_autosaves_past_9999_steps_are_ordered_by_number_not_by_name(tmp_path):
    model = small_model()
    for step in (50_000, 100_000, 150_000):  # "epoch-100000" < "epoch-50000" as text
        storage.autosave(model, "dqn", {**meta(), "step": step}, step)
    assert [p.name for p in storage.list_autosaves("dqn")] == [
        "epoch-100000.keras", "epoch-150000.keras"]  # the two newest kept
    assert storage.latest_autosave("dqn")[1]["step"] == 150_000
