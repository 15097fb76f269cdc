"""The texts a character model learns from: three that ship with the app (plays and poems,
Python source, LaTeX mathematics) and any text file or folder a person chooses, read in a
bounded way, with a held-out tail and an alphabet of the characters it uses.
"""
from __future__ import annotations

import gzip
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nets.data import RESOURCES
from nets.errors import DataError

TEXTS = RESOURCES / "text"
HELD_OUT = 0.05  # the last 5% of a text is never trained on (as Karpathy et al. 2015)
MAX_BYTES = 8_000_000  # read at most this much of a person's file or folder
MAX_ALPHABET = 200  # the most frequent characters kept; rarer ones are left out
TEXT_SUFFIXES = {".txt", ".md", ".rst", ".py", ".tex", ".csv", ".json", ".html", ".xml",
                 ".c", ".h", ".js", ".java", ".abc", ".log", ".ini", ".cfg", ".toml", ""}


@dataclass(frozen=True)
class Bundled:
    file: str
    label: str
    credit: str
    prompt: str  # where the live samples start


BUNDLED = {
    "shakespeare": Bundled(
        "shakespeare.txt.gz", "Shakespeare: the sonnets and nine plays (1.2 MB)",
        "William Shakespeare's sonnets, Hamlet, Macbeth, King Lear, Othello, Romeo and "
        "Juliet, The Tempest, A Midsummer Night's Dream, Julius Caesar and Twelfth Night, "
        "public domain, from Project Gutenberg by way of the Open Knowledge Foundation's "
        "'shakespeare' 0.6 package", "HAMLET.\n"),
    "python": Bundled(
        "python.txt.gz", "Python: 24 modules of its standard library (1.1 MB)",
        "Python 3.11's own standard library source (argparse, typing, inspect, ...), "
        "Copyright Python Software Foundation, under the PSF licence", "def "),
    "latex": Bundled(
        "stacks-project.tex.gz", "LaTeX: four chapters of algebraic geometry (1.2 MB)",
        "The LaTeX source of the Stacks project's chapters Schemes, Constructions of "
        "Schemes, Properties of Schemes and Morphisms of Schemes (stacks.math.columbia.edu), "
        "under the GNU Free Documentation Licence 1.2, unmodified",
        "\\begin{lemma}\n"),
}
OWN = "file"
CHOICES = (*BUNDLED, OWN)


@dataclass
class Corpus:
    text: str  # what the model learns from, rare characters already left out
    description: str  # which text, in words, for the person
    prompt: str  # where live samples start
    report: str = ""  # what was left out or skipped, and why

    @property
    def split(self) -> int:
        """Where the held-out tail begins."""
        return int(len(self.text) * (1 - HELD_OUT))

    @property
    def train_text(self) -> str:
        return self.text[:self.split]

    @property
    def held_out_text(self) -> str:
        return self.text[self.split:]


class Alphabet:
    """The characters a model knows, each with its number."""

    def __init__(self, chars: str):
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}

    def __len__(self) -> int:
        return len(self.chars)

    @classmethod
    def of(cls, text: str) -> "Alphabet":
        return cls("".join(sorted(set(text))))

    def encode(self, text: str) -> np.ndarray:
        """The numbers of `text`'s characters; KeyError names one the model does not know."""
        return np.fromiter((self.index[c] for c in text), np.int32, len(text))

    def unknown(self, text: str) -> str:
        """The characters of `text` the model does not know, each once, in order."""
        return "".join(dict.fromkeys(c for c in text if c not in self.index))

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)


def load(key: str, path: str = "") -> Corpus:
    """A bundled text by its key, or (key "file") the person's file or folder at `path`."""
    if key in BUNDLED:
        chosen = BUNDLED[key]
        text = gzip.decompress((TEXTS / chosen.file).read_bytes()).decode("utf-8")
        corpus = checked(text, f"{chosen.label}: {chosen.credit}.")
        corpus.prompt = chosen.prompt
        return corpus
    if key != OWN:
        raise DataError(f"Unknown text {key!r}. Choose one of: {', '.join(CHOICES)}.")
    if not path:
        raise DataError("Choose a text file or a folder of text files to learn from.")
    text, description, report = read_path(Path(path))
    return checked(text, description, report)


def read_path(path: Path, max_bytes: int = MAX_BYTES) -> tuple[str, str, str]:
    """The text of a file, or of the text files in a folder (sorted, recursively), reading
    at most `max_bytes` in all; binary and unreadable files are skipped and counted."""
    if path.is_file():
        raw, size = _head(path, max_bytes)
        if looks_binary(raw):
            raise DataError(f"{path.name} does not look like text (it holds binary data). "
                            "Choose a plain text file, such as a .txt or a .py.")
        text = _decode(raw)
        cut = (f" (its first {max_bytes / 1e6:.0f} MB of {size / 1e6:,.0f} MB)"
               if size > max_bytes else "")
        return text, f"{path.name}{cut}", ""
    if not path.is_dir():
        raise DataError(f"There is no file or folder at {path}.")
    texts, skipped, used = [], Counter(), 0
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        if used >= max_bytes:
            skipped["past the size limit"] += 1
            continue
        if file.suffix.lower() not in TEXT_SUFFIXES:
            skipped["not a text file by its name"] += 1
            continue
        try:
            raw, _ = _head(file, max_bytes - used)
        except OSError:
            skipped["unreadable"] += 1
            continue
        if looks_binary(raw):
            skipped["binary"] += 1
            continue
        texts.append(_decode(raw))
        used += len(raw)
    if not texts:
        raise DataError(f"No text files in {path}" + (f" ({_counted(skipped)})" if skipped
                                                       else "") + ".")
    report = f"Skipped {_counted(skipped)}." if skipped else ""
    return "\n".join(texts), f"{len(texts)} text files in {path.name}", report


def checked(text: str, description: str, report: str = "") -> Corpus:
    """The corpus with rare characters left out, or DataError when there is nothing to
    learn: an empty text, a single repeated character, too short to hold any out."""
    text = text.replace("\r\n", "\n")
    counts = Counter(text)
    if not text.strip():
        raise DataError(f"{description} is empty: there is nothing to learn from.")
    if len(counts) < 2:
        raise DataError(f"{description} is one character ({text[0]!r}) repeated: the next "
                        "character is always the same, so there is nothing to learn. "
                        "Choose a text with some variety.")
    if len(text) < 2_000:
        raise DataError(f"{description} holds only {len(text):,} characters: a character "
                        "model needs at least 2,000 (a page of text) to learn anything and "
                        "keep 5% aside to test on.")
    kept = {c for c, _ in counts.most_common(MAX_ALPHABET)}
    if len(kept) < len(counts):
        dropped = sum(n for c, n in counts.items() if c not in kept)
        text = "".join(c for c in text if c in kept)
        report = " ".join(filter(None, [report, (
            f"Left out {len(counts) - len(kept):,} rare characters ({dropped:,} "
            f"occurrences) to keep the alphabet at {MAX_ALPHABET}.")]))
    start = text[:text.find("\n") + 1] if 0 < text.find("\n") < 40 else text[:10]
    return Corpus(text, description, start, report)


def looks_binary(raw: bytes) -> bool:
    """NUL bytes, or more than 1% of it not UTF-8 (Latin-1 text still reads)."""
    sample = raw[:65536]
    if b"\0" in sample:
        return True
    bad = len(sample) - len(sample.decode("utf-8", "ignore").encode("utf-8"))
    return bad > 0.01 * max(len(sample), 1) and not _mostly_printable_latin1(sample)


def _mostly_printable_latin1(sample: bytes) -> bool:
    control = sum(b < 32 and b not in (9, 10, 13) or 127 <= b < 160 for b in sample)
    return control < 0.01 * len(sample)


def _head(path: Path, limit: int) -> tuple[bytes, int]:
    size = path.stat().st_size
    with open(path, "rb") as f:
        return f.read(max(limit, 0)), size


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(raw) - 3:  # a character cut in two by the size limit
            return raw[:exc.start].decode("utf-8")
        return raw.decode("latin-1")


def _counted(skipped: Counter) -> str:
    return ", ".join(f"{n} {why}" for why, n in skipped.items())
