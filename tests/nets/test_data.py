"""Datasets: the bundled digits, a junk-filled folder, and no network."""
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from nets import data


def test_bundled_digits_split_is_fixed_stratified_and_disjoint():
    ds = data.load("mnist-5k")
    assert ds.x_train.shape == (4000, 28, 28, 1) and ds.x_val.shape == (1000, 28, 28, 1)
    assert ds.x_train.dtype == np.float32 and 0 <= ds.x_train.min() and ds.x_train.max() <= 1
    assert np.bincount(ds.y_val).tolist() == [100] * 10
    assert np.bincount(ds.y_train).tolist() == [400] * 10
    train_rows = {r.tobytes() for r in (ds.x_train * 255).astype(np.uint8)}
    assert not any(r.tobytes() in train_rows for r in (ds.x_val * 255).astype(np.uint8))
    again = data.load("mnist-5k")
    np.testing.assert_array_equal(ds.y_val, again.y_val)
    assert "bundled" in ds.description


def test_mnist_uses_the_bundled_subset_when_full_mnist_is_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert not data.full_mnist_cached()
    assert data.load("mnist").key == "mnist-5k"
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "mnist.npz").write_bytes(b"x")
    assert data.full_mnist_cached()


def test_failed_download_says_what_to_do(monkeypatch, tmp_path):
    import keras

    def offline():
        raise Exception("URL fetch failure on https://...: None -- [Errno -3] no network")

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    with pytest.raises(data.DataError, match="bundled 5,000"):
        data.load("fashion-mnist")


def _png(path, size=(30, 20), mode="L", value=200, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value).save(path, **kw)


def make_junk_folder(root):
    for i in range(5):
        _png(root / "cats" / f"c{i}.png", value=50 + i)
        _png(root / "dogs" / f"d{i}.png", mode="RGB", value=(200, 10, i))
    _png(root / "dogs" / "nested" / "deeper" / "d9.png")  # nested: still this class
    _png(root / "dogs" / "alpha.png", mode="RGBA", value=(0, 0, 0, 0))
    Image.new("CMYK", (16, 16), (0, 0, 0, 0)).save(root / "cats" / "cmyk.jpg")
    Image.fromarray(np.full((10, 10), 40000, np.uint16)).save(root / "cats" / "deep.png")
    (root / "cats" / "notes.txt").write_text("not an image")
    (root / "cats" / "empty.png").write_bytes(b"")
    good = (root / "cats" / "c0.png").read_bytes()
    (root / "cats" / "truncated.png").write_bytes(good[: len(good) // 2])
    (root / "cats" / "garbage.jpg").write_bytes(bytes(range(256)) * 4)
    (root / "empty-class").mkdir()
    (root / "README.md").write_text("a file at the top is not a class")


def test_junk_in_a_folder_is_skipped_and_counted(tmp_path):
    make_junk_folder(tmp_path)
    ds = data.load(f"folder:{tmp_path}", seed=3)
    assert ds.class_names == ["cats", "dogs"]  # the empty folder is no class
    assert len(ds.x_train) + len(ds.x_val) == 7 + 7  # 5+cmyk+16bit, 5+nested+alpha
    assert ds.input_shape == (28, 28, 1)
    assert np.isfinite(ds.x_train).all() and ds.x_train.max() <= 1
    assert "Skipped 4 files" in ds.report
    assert "1 not image files" in ds.report and "1 empty files" in ds.report
    assert set(np.unique(ds.y_val)) == {0, 1}  # both classes held out


def test_sixteen_bit_and_transparent_images_are_scaled_not_clipped(tmp_path):
    deep = tmp_path / "deep.png"
    Image.fromarray(np.full((8, 8), 32768, np.uint16)).save(deep)
    assert data.read_image(deep).mean() == pytest.approx(0.5, abs=0.01)
    clear = tmp_path / "clear.png"
    _png(clear, mode="RGBA", value=(0, 0, 0, 0))
    assert data.read_image(clear).min() == pytest.approx(1.0)  # transparent shows as white


def test_a_folder_without_two_classes_is_a_clear_error(tmp_path):
    with pytest.raises(data.DataError, match="does not exist"):
        data.load(f"folder:{tmp_path / 'missing'}")
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "junk.bin").write_bytes(b"\0" * 10)
    with pytest.raises(data.DataError, match="at least two sub-folders"):
        data.load(f"folder:{tmp_path}")


@given(st.binary(max_size=2000), st.sampled_from([".png", ".jpg", ".gif", ".bmp", ".tif"]))
@settings(max_examples=80, deadline=None)
def test_random_bytes_never_crash_the_folder_loader(blob, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        check_folder_with_blob(Path(tmp), blob, suffix)


def check_folder_with_blob(root, blob, suffix):
    for name in ("a", "b"):
        _png(root / name / "ok.png")
    (root / "a" / f"random{suffix}").write_bytes(blob)
    ds = data.load_image_folder(root)
    assert len(ds.x_train) + len(ds.x_val) in (2, 3)  # the blob is skipped or, rarely, valid
    assert np.isfinite(ds.x_train).all()


def test_held_out_examples_shown_spread_over_the_classes():
    ds = data.load("mnist-5k")
    assert len(set(ds.y_val[:16].tolist())) >= 6  # no longer sorted by class
    shown = data.spread_indices(ds.y_val, 16)
    assert sorted(np.bincount(ds.y_val[shown]).tolist()) == [1] * 4 + [2] * 6
    assert data.spread_indices(np.array([3, 3, 3]), 5).tolist() == [0, 1, 2]
    assert data.spread_indices(np.array([], np.int64), 4).size == 0


def test_a_link_back_into_the_folder_is_skipped_and_counted(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(3):
            Image.new("L", (28, 28), 40 * i).save(tmp_path / name / f"{i}.png")
    (tmp_path / "empty").mkdir()
    (tmp_path / "loop").symlink_to(tmp_path)  # the trap: "." as an 11th class
    (tmp_path / "a" / "up").symlink_to(tmp_path)  # and a nested one
    ds = data.load_image_folder(tmp_path)
    assert ds.class_names == ["a", "b"] and len(ds.x_train) + len(ds.x_val) == 6
    assert "1 links that lead back into the folder" in ds.report
    assert "1 links to folders (not followed)" in ds.report
    assert "no usable images in them: empty" in ds.report


def test_what_a_family_offers_and_the_words_for_each_choice(tmp_path):
    assert data.offered_keys(None) == data.DEFAULT_KEYS
    assert data.offered_keys(("photos",)) == ("photos",)
    assert data.offers_choice(None) and not data.offers_choice(())
    key = data.folder_key(tmp_path / "cats")
    assert data.folder_of(key) == str(tmp_path / "cats") and data.folder_of("mnist") is None
    assert data.folder_label(tmp_path / "cats") == "Folder: cats"
    assert "28x28 greyscale" in data.note(key)
    assert "bundled 5,000" in data.note("mnist") or "Keras cache" in data.note("mnist")
    assert data.note("photos") == next(c.help for c in data.CHOICES if c.key == "photos")
