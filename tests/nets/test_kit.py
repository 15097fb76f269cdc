"""The offline kit: checksums, truncated files, downloads, and the app reading the folder."""
import hashlib

import numpy as np
import pytest

from nets import data, kit


def fake_mnist(folder, n=30):
    rng = np.random.default_rng(0)
    path = folder / "mnist.npz"
    np.savez(path, x_train=rng.integers(0, 255, (n, 28, 28), dtype=np.uint8),
             y_train=rng.integers(0, 10, n).astype(np.uint8),
             x_test=rng.integers(0, 255, (10, 28, 28), dtype=np.uint8),
             y_test=rng.integers(0, 10, 10).astype(np.uint8))
    raw = path.read_bytes()
    return path, kit.KitFile("mnist-full", "mnist.npz", path.as_uri(), "sha256",
                             hashlib.sha256(raw).hexdigest(), len(raw))


def test_a_correct_file_passes_and_a_changed_or_truncated_one_is_refused(tmp_path):
    path, item = fake_mnist(tmp_path)
    kit.verify(path, item)
    no_size = kit.KitFile(**{**item.__dict__, "size": None})
    raw = path.read_bytes()
    path.write_bytes(raw[:-100])
    with pytest.raises(kit.KitError, match="truncated"):
        kit.verify(path, item)
    with pytest.raises(kit.KitError, match="checksum differs"):  # no size published
        kit.verify(path, no_size)
    path.write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))
    with pytest.raises(kit.KitError, match="checksum differs"):
        kit.verify(path, item)
    with pytest.raises(kit.KitError, match="not in the offline data folder"):
        kit.verify(tmp_path / "missing.npz", item)


def test_the_app_reads_a_dataset_from_the_configured_folder(tmp_path, monkeypatch):
    _, item = fake_mnist(tmp_path)
    monkeypatch.setattr(kit, "FILES", [item])
    monkeypatch.setenv(kit.ENV, str(tmp_path))
    assert data.full_mnist_cached()
    ds = data.load("mnist-full")
    assert ds.x_train.shape == (30, 28, 28, 1) and ds.x_val.shape == (10, 28, 28, 1)
    assert "offline data folder" in ds.description
    (tmp_path / "mnist.npz").write_bytes(b"junk")
    with pytest.raises(data.DataError, match="truncated"):
        data.load("mnist-full")


def test_download_verifies_and_leaves_no_bad_file(tmp_path, monkeypatch):
    source = tmp_path / "source"
    source.mkdir()
    _, good = fake_mnist(source)
    kit_dir = tmp_path / "kit"
    monkeypatch.setattr(kit, "FILES", [good])
    assert kit.download(kit_dir, say=lambda _: None) == []
    kit.verify(kit_dir / "mnist.npz", good)
    bad = kit.KitFile(**{**good.__dict__, "digest": "0" * 64})
    monkeypatch.setattr(kit, "FILES", [bad])
    (kit_dir / "mnist.npz").unlink()
    problems = kit.download(kit_dir, say=lambda _: None)
    assert len(problems) == 1 and "checksum differs" in problems[0]
    assert not any(kit_dir.iterdir())  # neither the bad file nor its .part


def test_idx_files_are_read_as_published(tmp_path):
    import gzip

    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in images.shape)
    with gzip.open(tmp_path / "x.gz", "wb") as f:
        f.write(header + images.tobytes())
    np.testing.assert_array_equal(kit._idx(tmp_path / "x.gz"), images)


def test_cifar_batches_are_read_from_the_archive(tmp_path):
    import io
    import pickle
    import tarfile

    rng = np.random.default_rng(1)
    with tarfile.open(tmp_path / "c.tar.gz", "w:gz") as tar:
        for name, n in (("data_batch_2", 3), ("data_batch_1", 2), ("test_batch", 4),
                        ("batches.meta", 0)):
            payload = pickle.dumps({b"data": rng.integers(0, 255, (n, 3072), dtype=np.uint8),
                                    b"labels": list(range(n))})
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    (xt, yt), (xv, yv) = kit._cifar(tmp_path / "c.tar.gz")
    assert xt.shape == (5, 32, 32, 3) and xv.shape == (4, 32, 32, 3)
    assert list(yt) == [0, 1, 0, 1, 2]  # batch 1 before batch 2
