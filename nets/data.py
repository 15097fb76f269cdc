"""Datasets: the bundled offline digits, keras.datasets when available, a person's folder.

Every loader returns a `Dataset` with a held-out split and a sentence saying what it is,
so the GUI and the command line can tell the person which data is in use.
"""
from __future__ import annotations

import os
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nets.errors import DataError  # callers also name it nets.data.DataError

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
BUNDLED_DIGITS = RESOURCES / "data" / "mnist_5k.npz"
DIGIT_NAMES = [str(d) for d in range(10)]
FASHION_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot"]
CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck"]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm",
                  ".ppm", ".pbm"}
MAX_PIXELS = 50_000_000  # larger images are skipped, not decoded (a 20k x 20k PNG is 400M)


@dataclass
class Dataset:
    key: str
    description: str
    x_train: np.ndarray  # float32 (n, h, w, c) in [0, 1]
    y_train: np.ndarray  # int64 (n,)
    x_val: np.ndarray
    y_val: np.ndarray
    class_names: list[str]
    report: str = ""  # e.g. which files were skipped and why

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclass(frozen=True)
class DatasetChoice:
    key: str
    label: str
    help: str


CHOICES = [
    DatasetChoice("mnist", "MNIST digits (full if downloaded, else bundled 5,000)",
                  "Full MNIST (60,000 + 10,000) when it is in the Keras cache; otherwise the "
                  "5,000 digits that ship with the app. Works offline."),
    DatasetChoice("mnist-5k", "MNIST digits, bundled 5,000",
                  "5,000 MNIST digits shipped with the app: 4,000 to train, 1,000 held out."),
    DatasetChoice("mnist-full", "MNIST digits, full 70,000 (download)",
                  "The whole MNIST set through keras.datasets; downloads 11 MB once."),
    DatasetChoice("fashion-mnist", "Fashion-MNIST clothes (download)",
                  "70,000 greyscale photos of clothes in 10 classes (Zalando, MIT licence)."),
    DatasetChoice("cifar10", "CIFAR-10 colour photos (download)",
                  "60,000 32x32 colour photos in 10 classes (Krizhevsky 2009) through "
                  "keras.datasets; downloads 163 MB once."),
    DatasetChoice("photos", "Two sample photos (patches only, no classes)",
                  "The two colour photos that ship with scikit-learn (a temple in China and a "
                  "flower, 427x640; CC BY 2.0, Flickr users danielbuechele and vultilion). "
                  "Enough patches to learn a dictionary and see edge-like filters appear; "
                  "there is nothing to classify. Works offline."),
    DatasetChoice("digits-8x8", "Digits 8x8, 1,797 (scikit-learn)",
                  "The 1,797 small 8x8 handwritten digits that ship with scikit-learn (the "
                  "UCI 'Optical Recognition of Handwritten Digits' test set, E. Alpaydin & "
                  "C. Kaynak 1998, CC BY 4.0): 1,437 to train, 360 held out (36 of each "
                  "digit, the same ones every run). Tiny and fast; works offline."),
]
# The choices a family offers unless its declaration lists its own (Family.datasets).
DEFAULT_KEYS = ("mnist", "mnist-5k", "mnist-full", "fashion-mnist")
DEFAULT_KEY = "mnist"  # the choice until a person makes one
# A person's own folder of images, named by a key "folder:<path>".
FOLDER_PREFIX = "folder:"
FOLDER_LABEL = "Image folder…"
FOLDER_HELP = ("Your own images: a folder with one sub-folder per class. Unreadable files "
               "are skipped and counted.")


def choices_for(keys=DEFAULT_KEYS) -> list[DatasetChoice]:
    """The choices of these keys, in the order given."""
    return [c for key in keys for c in CHOICES if c.key == key]


def default_key(declared: tuple[str, ...] | None) -> str:
    """What a family trains on until a person chooses: the first of its own datasets, or
    DEFAULT_KEY."""
    return declared[0] if declared else DEFAULT_KEY


def offered_keys(declared: tuple[str, ...] | None) -> tuple[str, ...]:
    """The dataset keys a family offers, from what it declares (Family.datasets): its own
    keys, or DEFAULT_KEYS when it declares None."""
    return tuple(declared) if declared is not None else DEFAULT_KEYS


def offers_choice(declared: tuple[str, ...] | None) -> bool:
    """Whether a family has data to choose at all: one that declares () learns from
    something else (a game)."""
    return declared is None or len(declared) > 0


def folder_key(folder) -> str:
    """The key that names a person's image folder."""
    return f"{FOLDER_PREFIX}{folder}"


def folder_of(key: str) -> str | None:
    """The folder a "folder:<path>" key names; None for any other key."""
    return key[len(FOLDER_PREFIX):] if key.startswith(FOLDER_PREFIX) else None


def folder_label(folder) -> str:
    """A short name for a person's image folder among the choices."""
    return f"Folder: {Path(folder).name}"


def note(key: str) -> str:
    """A sentence on what a choice will load, as things stand on this machine now."""
    if key == "mnist":
        return ("Full MNIST is in the Keras cache and will be used." if full_mnist_cached()
                else "Full MNIST is not downloaded: the bundled 5,000 digits will be used "
                     "(works offline).")
    folder = folder_of(key)
    if folder is not None:
        return f"Images from {folder}, resized to 28x28 greyscale."
    return next((c.help for c in CHOICES if c.key == key), "")


def spread_indices(labels: np.ndarray, n: int) -> np.ndarray:
    """Indices of n examples taken in turn from each class (the first of each class,
    then the second, ...): what a view showing "some held-out examples" shows."""
    labels = np.asarray(labels)
    if labels.size == 0 or n <= 0:
        return np.zeros(0, np.int64)
    rank = np.zeros(len(labels), np.int64)
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)
        rank[where] = np.arange(len(where))
    order = np.lexsort((labels, rank))  # by rank within the class, then by class
    return order[:n]


def keras_cache_dirs() -> list[Path]:
    home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    # Keras falls back to /tmp/.keras when its home is not writable.
    return [Path(home) / "datasets", Path("/tmp/.keras/datasets")]


def full_mnist_cached() -> bool:
    from nets import kit

    return kit.available("mnist-full") or any((d / "mnist.npz").is_file()
                                              for d in keras_cache_dirs())


def load(key: str, *, seed: int = 0, image_size=(28, 28), channels: int = 1) -> Dataset:
    """The dataset a chooser key names; `folder:<path>` loads a person's image folder."""
    if folder_of(key) is not None:
        return load_image_folder(folder_of(key), size=image_size, channels=channels,
                                 seed=seed)
    if key == "mnist":
        return load("mnist-full" if full_mnist_cached() else "mnist-5k", seed=seed)
    if key == "mnist-5k":
        return load_bundled_digits()
    if key == "digits-8x8":
        return load_small_digits()
    if key == "mnist-full":
        return _load_keras("mnist", "MNIST digits, full set (60,000 train / 10,000 held out)",
                           DIGIT_NAMES)
    if key == "fashion-mnist":
        return _load_keras("fashion_mnist",
                           "Fashion-MNIST (60,000 train / 10,000 held out)", FASHION_NAMES)
    if key == "cifar10":
        return _load_keras("cifar10", "CIFAR-10 (50,000 train / 10,000 held out)",
                           CIFAR_NAMES)
    if key == "photos":
        return load_sample_photos()
    raise DataError(f"Unknown dataset '{key}'. Known: "
                    + ", ".join(c.key for c in CHOICES) + ", folder:<path>.")


def _to_float(images: np.ndarray) -> np.ndarray:
    x = images.astype(np.float32) / 255.0
    return x[..., None] if x.ndim == 3 else x


def load_bundled_digits() -> Dataset:
    """The 5,000 shipped digits (500 per class) with a fixed, stratified held-out 1,000.

    The split never depends on the person's seed, so held-out figures stay comparable.
    """
    try:
        with np.load(BUNDLED_DIGITS, allow_pickle=False) as f:
            images, labels = f["images"], f["labels"].astype(np.int64)
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"The bundled digits at {BUNDLED_DIGITS} are missing or damaged "
                        f"({exc}). Reinstalling the app restores them.") from exc
    rng = np.random.default_rng(20261127)
    val_idx = np.concatenate([rng.choice(np.flatnonzero(labels == c), 100, replace=False)
                              for c in range(10)])
    mask = np.zeros(len(labels), bool)
    mask[val_idx] = True
    train_idx = rng.permutation(np.flatnonzero(~mask))  # the file is sorted by label
    val_idx = rng.permutation(val_idx)  # views take the first few: not all zeros
    return Dataset("mnist-5k",
                   "MNIST digits, bundled subset (4,000 train / 1,000 held out)",
                   _to_float(images[train_idx]), labels[train_idx],
                   _to_float(images[val_idx]), labels[val_idx], DIGIT_NAMES)


SMALL_DIGITS_HELD_OUT = 36  # per class: 360 of the 1,797


def small_digits_file() -> Path | None:
    """scikit-learn's digits.csv.gz: in the app's resources when a frozen build carries
    it there, else in scikit-learn's package folder (read without importing scikit-learn,
    which would pull in SciPy)."""
    import importlib.util

    shipped = RESOURCES / "data" / "digits.csv.gz"
    if shipped.is_file():
        return shipped
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / \
        "digits.csv.gz"


def load_small_digits() -> Dataset:
    """scikit-learn's 1,797 8x8 digits (pixels 0..16, scaled to [0, 1]) with a fixed,
    stratified held-out 360 (36 per class) that is never trained on. As for the bundled
    MNIST subset, the split does not depend on the person's seed, so held-out figures
    stay comparable between runs."""
    path = small_digits_file()
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.float32)
        images, labels = table[:, :64], table[:, 64].astype(np.int64)
    except (TypeError, OSError, ValueError, IndexError) as exc:
        raise DataError("The 8x8 digits come with scikit-learn, which is not installed "
                        "(or is damaged). Reinstalling the app restores it.") from exc
    x = (images / 16.0).reshape(-1, 8, 8, 1).astype(np.float32)
    rng = np.random.default_rng(20261127)
    val_idx = np.concatenate([rng.choice(np.flatnonzero(labels == c), SMALL_DIGITS_HELD_OUT,
                                         replace=False) for c in range(10)])
    mask = np.zeros(len(labels), bool)
    mask[val_idx] = True
    train_idx = rng.permutation(np.flatnonzero(~mask))
    val_idx = rng.permutation(val_idx)
    return Dataset("digits-8x8", f"8x8 digits from scikit-learn ({len(train_idx):,} train "
                   f"/ {len(val_idx)} held out)", x[train_idx], labels[train_idx],
                   x[val_idx], labels[val_idx], DIGIT_NAMES)


def _load_keras(module: str, description: str, names: list[str]) -> Dataset:
    """A keras.datasets set, from the offline kit folder when it holds it."""
    import keras

    from nets import kit

    key = module.replace("_", "-") if module != "mnist" else "mnist-full"
    try:
        if kit.available(key):
            (xt, yt), (xv, yv) = kit.load_arrays(key)
            description += f", from the offline data folder {kit.folder()}"
        else:
            (xt, yt), (xv, yv) = getattr(keras.datasets, module).load_data()
    except kit.KitError:
        raise
    except Exception as exc:  # Keras raises a bare Exception on a failed download
        raise DataError(
            f"Could not get {description.split(' (')[0]}: it is not in the Keras cache "
            f"and downloading it failed ({str(exc).splitlines()[0][:200]}). "
            "Without a network, use 'MNIST digits, bundled 5,000', which ships with the "
            "app.") from exc
    return Dataset(key, description, _to_float(xt), yt.reshape(-1).astype(np.int64),
                   _to_float(xv), yv.reshape(-1).astype(np.int64), names)


def load_sample_photos() -> Dataset:
    """scikit-learn's two sample photos, read from its package folder (no scipy import).

    They have no classes: families use them for patches only.
    """
    import importlib.util

    folder = RESOURCES / "photos"  # the frozen app carries the two photos here
    if not folder.is_dir():
        spec = importlib.util.find_spec("sklearn")
        folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "images" \
            if spec and spec.submodule_search_locations else None
    try:
        photos = [read_image(folder / name, size=(427, 640), channels=3)
                  for name in ("china.jpg", "flower.jpg")]
    except (TypeError, OSError, ValueError) as exc:
        raise DataError("The sample photos come with scikit-learn, which is not installed "
                        "(or is damaged). Reinstalling the app restores it.") from exc
    empty = np.zeros((0, 427, 640, 3), np.float32)
    return Dataset("photos", "two sample photos from scikit-learn (427x640 colour, no "
                   "classes)", np.stack(photos), np.zeros(2, np.int64), empty,
                   np.zeros(0, np.int64), [])


# ---------------------------------------------------------------- a person's folder
@dataclass
class FolderReport:
    loaded: Counter = field(default_factory=Counter)  # class -> images
    skipped: Counter = field(default_factory=Counter)  # reason -> files
    examples: dict = field(default_factory=dict)  # reason -> first file skipped
    empty_classes: list = field(default_factory=list)  # class folders left with nothing

    def skip(self, reason: str, path: Path) -> None:
        self.skipped[reason] += 1
        self.examples.setdefault(reason, str(path))

    def text(self, root) -> str:
        n = sum(self.loaded.values())
        lines = [f"Loaded {n} images in {len(self.loaded)} classes from {root}."]
        if self.skipped:
            total = sum(self.skipped.values())
            lines.append(f"Skipped {total} file{'s' if total != 1 else ''}:")
            for reason, count in self.skipped.most_common():
                lines.append(f"  {count} {reason} (e.g. {self.examples[reason]})")
        if self.empty_classes:
            lines.append("Left out, no usable images in them: "
                         + ", ".join(self.empty_classes) + ".")
        return "\n".join(lines)


def read_image(path: Path, size=(28, 28), channels: int = 1) -> np.ndarray:
    """One image file as float32 (h, w, channels) in [0, 1]; raises ValueError if unusable."""
    from PIL import Image, ImageOps

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as img:
            if img.width * img.height > MAX_PIXELS:
                raise ValueError("too large")
            img.draft("L" if channels == 1 else "RGB", (size[1] * 4, size[0] * 4))
            img = ImageOps.exif_transpose(img)
            if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                a = np.asarray(img, dtype=np.float32)
                peak = 65535.0 if img.mode.startswith("I;16") or a.max() > 255 else 255.0
                img = Image.fromarray(np.clip(a / peak * 255, 0, 255).astype(np.uint8))
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in
                                                    img.info):
                rgba = img.convert("RGBA")  # composite onto white, as a viewer shows it
                bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                img = Image.alpha_composite(bg, rgba)
            img = img.convert("L" if channels == 1 else "RGB")
            img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR, reducing_gap=3.0)
            a = np.asarray(img, dtype=np.float32) / 255.0
    return a[..., None] if channels == 1 else a


def load_image_folder(root, size=(28, 28), channels: int = 1, val_fraction: float = 0.2,
                      seed: int = 0) -> Dataset:
    """A folder with one sub-folder per class. Unusable files are skipped and counted."""
    from PIL import Image, UnidentifiedImageError

    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"The folder {root} does not exist or is not a folder.")
    report = FolderReport()
    try:
        class_dirs = sorted(p for p in root.iterdir() if p.is_dir()
                            and not p.name.startswith("."))
    except OSError as exc:
        raise DataError(f"Could not read the folder {root}: {exc.strerror or exc}.") from exc
    real_root = root.resolve()
    for link in [p for p in class_dirs if p.is_symlink()]:
        target = link.resolve()
        if target == real_root or real_root in target.parents or target in real_root.parents:
            # a link back into the folder (or above it) would repeat its images as a class
            report.skip("links that lead back into the folder", link)
            class_dirs.remove(link)
    images, labels, names = [], [], []
    for class_dir in class_dirs:
        got = 0
        for path in _walk_files(class_dir, report):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                report.skip("not image files", path)
                continue
            try:
                if path.stat().st_size == 0:
                    report.skip("empty files", path)
                    continue
                a = read_image(path, size, channels)
            except UnidentifiedImageError:
                report.skip("not readable as images", path)
                continue
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                report.skip("too large to load", path)
                continue
            except ValueError as exc:
                reason = "too large to load" if "too large" in str(exc) else "damaged images"
                report.skip(reason, path)
                continue
            except (OSError, SyntaxError, EOFError, MemoryError, IndexError, TypeError):
                report.skip("damaged or unreadable images", path)
                continue
            images.append(a)
            labels.append(len(names))
            got += 1
        if got:
            report.loaded[class_dir.name] = got
            names.append(class_dir.name)
        else:
            report.empty_classes.append(class_dir.name)
    if len(names) < 2:
        raise DataError(
            f"Found {sum(report.loaded.values())} usable images in {len(names)} class "
            f"folder(s) in {root}. A dataset folder needs at least two sub-folders (one per "
            "class), each with images.\n" + report.text(root))
    x = np.stack(images).astype(np.float32)
    y = np.asarray(labels, np.int64)
    rng = np.random.default_rng(seed)
    val = []
    for c in range(len(names)):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(len(idx) * val_fraction)) if len(idx) >= 2 else 0
        val.extend(idx[:max(k, 1 if len(idx) >= 2 else 0)])
    mask = np.zeros(len(y), bool)
    mask[val] = True
    train = rng.permutation(np.flatnonzero(~mask))
    val_idx = rng.permutation(np.flatnonzero(mask))
    h, w = size
    return Dataset(f"folder:{root}",
                   f"Image folder {root.name}: {len(train)} train / {len(val_idx)} held out, "
                   f"{len(names)} classes, as {w}x{h} {'greyscale' if channels == 1 else 'colour'}",
                   x[train], y[train], x[val_idx], y[val_idx], names, report.text(root))


def _walk_files(folder: Path, report: FolderReport):
    """Files under a class folder, nested ones included; unreadable folders are counted,
    and so are links to folders, which are not followed (one leading back up would
    repeat every image)."""
    def on_error(exc: OSError):
        report.skip("unreadable folders", Path(getattr(exc, "filename", "") or folder))

    for dirpath, dirnames, filenames in os.walk(folder, onerror=on_error):
        for d in dirnames:
            if not d.startswith(".") and os.path.islink(os.path.join(dirpath, d)):
                report.skip("links to folders (not followed)", Path(dirpath) / d)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                             and not os.path.islink(os.path.join(dirpath, d)))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name
