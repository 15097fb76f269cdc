"""Where captioned images come from: fresh scenes for every training batch (scenes.py), fixed
seeded sets of test scenes and of held-out pairs, or a folder of the person's own images
with a captions file.

A person's folder holds images and a file `captions.txt` with one caption per line:

    photo1.jpg<TAB>a dog runs on the grass
    photo1.jpg<TAB>a brown dog in a field      (more than one caption per image is fine)
    photo2.png,a red car                        (or the first comma as the separator)

An `image,caption` header line is skipped, and a Flickr8k-style `name.jpg#0` is read as
`name.jpg`. Images of any size and colour mode are scaled to 64 x 64 RGB.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nets.errors import DataError
from nets.families.captions import scenes as sc
from nets.families.captions.model import Vocabulary

CAPTIONS_FILE = "captions.txt"
MIN_IMAGES = 20  # a folder with fewer captioned images cannot teach anything
MIN_COUNT = 2  # a word said fewer times than this in a folder's captions becomes <unk>
MAX_VOCABULARY = 3000
MAX_WORDS_CAP = 30  # a folder's captions are cut at this many words
HELD_OUT_SHARE = 0.1
TEST_SEED, HELD_OUT_SEED = 20261201, 20261202  # fixed: figures stay comparable


def scene_vocabulary() -> Vocabulary:
    return Vocabulary(sc.vocabulary_words())


def scene_max_words(max_objects: int) -> int:
    return 4 * max_objects + 2 * (max_objects - 1)  # "a size colour shape", "left of"


def as_input(images: np.ndarray) -> np.ndarray:
    """uint8 scenes -> the float32 in [0, 1] the model reads."""
    return np.asarray(images, np.float32) / (255.0 if images.dtype == np.uint8 else 1.0)


def fixed_scenes(kind: str, split: str, count: int, max_objects: int = sc.MAX_OBJECTS):
    """The same `count` test ("test") or held-out-pair ("held-out") scenes every time."""
    maker = sc.SceneMaker(kind, split, max_objects)
    seed = TEST_SEED if split == "test" else HELD_OUT_SEED
    return maker.batch(count, np.random.default_rng(seed))


def scene_batches(kind: str, max_objects: int, vocab: Vocabulary, max_words: int,
                  batch_size: int, steps: int, seed: int):
    """A Keras PyDataset of `steps` batches of new training scenes per epoch, each batch
    made from (seed, epoch, batch): a run is repeatable, and no two batches are alike."""
    import keras

    maker = sc.SceneMaker(kind, "train", max_objects)

    class SceneBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epoch = 0

        def __len__(self):
            return steps

        def __getitem__(self, i):
            scenes, images = maker.batch(batch_size, np.random.default_rng(
                [seed, self.epoch, i]))
            x, y = vocab.encode([s.words for s in scenes], max_words + 1)
            return (as_input(images), x), y

        def on_epoch_end(self):
            self.epoch += 1

    return SceneBatches()


@dataclass
class Folder:
    """A person's captioned images, split into training and held-out images."""

    description: str
    vocab: Vocabulary
    max_words: int
    train_images: np.ndarray  # float32 (n, 64, 64, 3)
    train_captions: list[list[list[str]]]  # per image, its captions as word lists
    test_images: np.ndarray
    test_captions: list[list[list[str]]]
    report: str = ""

    def pairs(self, images, captions):
        """One training row per caption: (images, input words), target words."""
        rows = [i for i, caps in enumerate(captions) for _ in caps]
        x, y = self.vocab.encode([c for caps in captions for c in caps], self.max_words + 1)
        return (images[rows], x), y


def words_of(caption: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", caption.lower())


def read_captions_file(path: Path, skipped: Counter) -> dict[str, list[list[str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise DataError(f"Could not read {path}: {exc.strerror or exc}.") from exc
    captions: dict[str, list[list[str]]] = {}
    for number, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        name, sep, caption = line.partition("\t")
        if not sep:
            name, sep, caption = line.partition(",")
        name = name.strip().split("#")[0]
        if number == 0 and name.lower() in ("image", "filename", "file"):
            continue  # a header
        if not sep:
            skipped["lines with no tab or comma between image and caption"] += 1
            continue
        words = words_of(caption)
        if not words:
            skipped["empty captions"] += 1
            continue
        captions.setdefault(name, []).append(words)
    return captions


def open_image(path, size: int = sc.SIZE) -> tuple[np.ndarray, str]:
    """One image file for the model: float32 (size, size, 3), and a sentence saying what
    was changed to make it fit ("" when nothing was). DataError when it cannot be read."""
    from PIL import Image

    from nets.data import read_image

    try:
        with Image.open(path) as img:
            width, height, mode = img.width, img.height, img.mode
        image = read_image(Path(path), (size, size), 3)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same words
        raise DataError(f"{Path(path).name} could not be read as an image "
                        f"({type(exc).__name__}: {exc}).") from exc
    changes = []
    if (width, height) != (size, size):
        changes.append(f"scaled from {width} x {height} to {size} x {size} pixels"
                       + (" (its shape was stretched to a square)" if width != height
                          else ""))
    if mode != "RGB":
        changes.append(f"converted from {mode} to RGB colour"
                       + (" on white" if "A" in mode else ""))
    return image, (f"The image was {' and '.join(changes)}, as the model reads "
                   f"{size} x {size} colour images." if changes else "")


def load_folder(folder: str, size: int = sc.SIZE) -> Folder:
    root = Path(folder).expanduser() if folder else None
    how = (f"a folder of images and a {CAPTIONS_FILE} with one 'image<TAB>caption' line "
           "per caption")
    if root is None or not root.is_dir():
        raise DataError(f"Choose {how}." if root is None else
                        f"{root} is not a folder. Choose {how}.")
    file = root / CAPTIONS_FILE
    if not file.is_file():
        raise DataError(f"{root} has no {CAPTIONS_FILE}. The folder needs {how}, e.g. "
                        "'dog.jpg<TAB>a dog runs on the grass'.")
    skipped: Counter = Counter()
    captions = read_captions_file(file, skipped)
    images, kept, changed = [], [], 0
    for name, caps in sorted(captions.items()):
        path = root / name
        if not path.is_file() or path.resolve().parent != root.resolve():
            skipped["captions of images that are not in the folder"] += len(caps)
            continue
        try:
            image, note = open_image(path, size)
        except DataError:
            skipped["images that could not be read"] += 1
            continue
        images.append(image)
        kept.append(caps)
        changed += bool(note)
    report = "; ".join(f"{n:,} {why}" for why, n in skipped.items())
    if len(kept) < MIN_IMAGES:
        raise DataError(f"{root} has {len(kept)} captioned images that could be read; at "
                        f"least {MIN_IMAGES} are needed." + (f" Skipped: {report}." if
                                                             report else ""))
    counts = Counter(w for caps in kept for c in caps for w in c)
    words = [w for w, n in counts.most_common(MAX_VOCABULARY) if n >= MIN_COUNT]
    rare = len(counts) - len(words)
    lengths = sorted(len(c) for caps in kept for c in caps)
    max_words = min(MAX_WORDS_CAP, lengths[int(0.95 * (len(lengths) - 1))])
    notes = [f"skipped {report}"] if report else []
    if changed:
        notes.append(f"{changed:,} images were scaled to {size} x {size} or converted to "
                     "RGB colour")
    if rare:
        notes.append(f"{rare:,} words said fewer than {MIN_COUNT} times are read as <unk>")
    cut = sum(n > max_words for n in lengths)
    if cut:
        notes.append(f"{cut:,} captions longer than {max_words} words are cut")
    order = np.random.default_rng(TEST_SEED).permutation(len(kept))
    n_test = max(1, int(round(HELD_OUT_SHARE * len(kept))))
    test, train = order[:n_test], order[n_test:]
    x = np.stack(images)
    return Folder(f"your images in {root.name} ({len(train):,} to train, {len(test):,} held "
                  f"out, {sum(map(len, kept)):,} captions)", Vocabulary(words), max_words,
                  x[train], [kept[i] for i in train], x[test], [kept[i] for i in test],
                  ("; ".join(notes) + ".").capitalize() if notes else "")


@dataclass
class Scored:
    """How a model's captions compare with the truth on one set of images."""

    exact: float  # share of captions equal to (one of) the reference(s)
    bleu: dict[str, float] = field(default_factory=dict)  # bleu1 .. bleu4
    count: int = 0
