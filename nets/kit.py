"""The offline workshop kit: download the datasets once, where there is a network, into a
folder; the app pointed at that folder (`--data-dir`, or File > Offline data folder…)
reads them from there. Every file is checked against its published checksum and size
before it is used: a wrong or truncated file is reported, never loaded.
"""
from __future__ import annotations

import gzip
import os
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nets.errors import DataError
from nets.storage import file_digest

KERAS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
ENV = "DLE_DATA"  # the kit folder the app reads from


@dataclass(frozen=True)
class KitFile:
    dataset: str  # the dataset key it serves (nets.data.CHOICES)
    name: str
    url: str
    algorithm: str  # "sha256" or "md5"
    digest: str
    size: int | None = None  # bytes, where published


# Checksums as published: Keras' mnist.py and cifar10.py (sha256), torchvision's
# FashionMNIST (md5; the same files as Keras' mirror).
FILES = [
    KitFile("mnist-full", "mnist.npz", KERAS + "mnist.npz", "sha256",
            "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"),
    *[KitFile("fashion-mnist", f"fashion-mnist/{n}", KERAS + n, "md5", d) for n, d in (
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"))],
    KitFile("cifar10", "cifar-10-python.tar.gz",
            "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "sha256",
            "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
            170_498_071),
]


class KitError(DataError):
    """A kit file is missing, wrong or truncated; the message is meant for the person."""


def folder() -> Path | None:
    value = os.environ.get(ENV)
    return Path(value).expanduser() if value else None


def files_for(dataset: str) -> list[KitFile]:
    return [f for f in FILES if f.dataset == dataset]


def verify(path: Path, item: KitFile) -> None:
    """Raise KitError unless the file at `path` is exactly the published one."""
    if not path.is_file():
        raise KitError(f"{item.name} is not in the offline data folder {path.parent}.")
    size = path.stat().st_size
    if item.size is not None and size != item.size:
        what = "truncated" if size < item.size else "too long"
        raise KitError(f"{item.name} in {path.parent} is {what} ({size:,} of "
                       f"{item.size:,} bytes): download it again.")
    if file_digest(path, item.algorithm) != item.digest:
        raise KitError(f"{item.name} in {path.parent} is damaged or not the published file "
                       f"(its {item.algorithm} checksum differs): download it again.")


def available(dataset: str) -> bool:
    """Whether the configured kit folder holds this dataset (present, not yet verified)."""
    root = folder()
    items = files_for(dataset)
    return bool(root and items and all((root / f.name).is_file() for f in items))


def download(root, datasets=None, say=print) -> list[str]:
    """Fetch the kit's files into `root`, skipping ones already there and correct. Each file
    is written to a temporary name, verified, then renamed. Returns problems in words."""
    root = Path(root).expanduser()
    problems = []
    for item in FILES:
        if datasets and item.dataset not in datasets:
            continue
        path = root / item.name
        try:
            verify(path, item)
            say(f"{item.name}: already there and correct.")
            continue
        except KitError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
        say(f"{item.name}: downloading {item.url} …")
        try:
            urllib.request.urlretrieve(item.url, part)
            verify(part, item)
            os.replace(part, path)
            say(f"{item.name}: verified.")
        except (OSError, KitError) as exc:
            if not isinstance(exc, KitError):
                exc = f"could not download it from {item.url} ({exc}); is this computer " \
                      "online?"
            problems.append(f"{item.name}: {exc}")
            say(f"{item.name}: FAILED ({exc}).")
            part.unlink(missing_ok=True)
    return problems


# ---------------------------------------------------------------- reading the files
def _idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST's format): magic, dimensions, then uint8 data."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_arrays(dataset: str):
    """((x_train, y_train), (x_test, y_test)) as uint8 arrays from the kit folder, after
    verifying every file; KitError in words otherwise."""
    root = folder()
    if root is None:
        raise KitError("No offline data folder is set.")
    items = files_for(dataset)
    for item in items:
        verify(root / item.name, item)
    if dataset == "mnist-full":
        with np.load(root / "mnist.npz", allow_pickle=False) as f:
            return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
    if dataset == "fashion-mnist":
        d = root / "fashion-mnist"
        return tuple((_idx(d / f"{part}-images-idx3-ubyte.gz"),
                      _idx(d / f"{part}-labels-idx1-ubyte.gz")) for part in ("train", "t10k"))
    if dataset == "cifar10":
        return _cifar(root / "cifar-10-python.tar.gz")
    raise KitError(f"The offline kit has no dataset '{dataset}'.")


def _cifar(path: Path):
    """CIFAR-10's python batches. They are pickles; only the published archive (checked
    above, byte for byte) is ever unpickled."""
    import pickle

    batches, test = [], None
    with tarfile.open(path, "r:gz") as tar:
        for member in tar.getmembers():
            base = Path(member.name).name
            if not (base.startswith("data_batch_") or base == "test_batch"):
                continue
            batch = pickle.load(tar.extractfile(member), encoding="bytes")  # noqa: S301
            x = np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32)
            x = x.transpose(0, 2, 3, 1)
            y = np.asarray(batch[b"labels"], np.int64)
            if base == "test_batch":
                test = (x, y)
            else:
                batches.append((base, x, y))
    batches.sort(key=lambda t: t[0])
    return ((np.concatenate([t[1] for t in batches]),
             np.concatenate([t[2] for t in batches])), test)
