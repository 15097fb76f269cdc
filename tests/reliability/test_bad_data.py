"""A person's image folder full of trouble: every bad file is counted and skipped (or, when
it is a real image in an unusual form, converted), never a crash or a hang."""
import io
import os
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from nets import data


def png(path, mode="L", size=(20, 30), value=128):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value).save(path)


def huge_png(path, side=20_000):
    """A valid side x side greyscale PNG (400 million pixels, a few hundred KB on disk),
    written row by row so the test never holds it in memory."""
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    z = zlib.compressobj(1)
    row = b"\0" * (side + 1)  # filter byte + black pixels
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))


def jpeg_bytes(mode="RGB", size=(40, 40)):
    out = io.BytesIO()
    Image.new(mode, size, (10, 200, 30) if mode == "RGB" else (0, 50, 0, 0)).save(out, "JPEG")
    return out.getvalue()


def troubled_folder(root: Path) -> dict:
    """Two classes of good images plus every kind of trouble; returns what to expect."""
    for i in range(4):
        png(root / "a" / f"good{i}.png", value=40 + i)
        png(root / "b" / f"good{i}.png", value=200 - i)
    a, b = root / "a", root / "b"
    # unusual but real images: converted and loaded
    (a / "cmyk.jpg").write_bytes(jpeg_bytes("CMYK"))
    Image.fromarray(np.full((16, 16), 40000, np.uint16)).save(a / "sixteen-bit.png")
    deep = b.joinpath(*[f"level{i}" for i in range(40)])  # 40 folders deep
    png(deep / "deep.png")
    # not images
    (a / "notes.txt").write_text("hello")
    (a / "script.py").write_text("raise SystemExit('never run')")
    (b / "model.keras").write_bytes(b"PK\x03\x04" + b"\0" * 50)
    # empty
    (a / "empty.png").write_bytes(b"")
    (b / "empty.jpg").write_bytes(b"")
    # damaged
    good_png = (a / "good0.png").read_bytes()
    (a / "truncated.png").write_bytes(good_png[: len(good_png) // 2])
    jpg = jpeg_bytes()
    (b / "truncated.jpg").write_bytes(jpg[: len(jpg) // 3])
    (b / "garbage.png").write_bytes(os.urandom(500))
    # too large
    huge_png(a / "huge.png")
    # unreadable paths: a dangling link, a named pipe (opening it would block), a link loop
    (a / "dangling.png").symlink_to(root / "nowhere.png")
    os.mkfifo(b / "pipe.png")
    (b / "loop").symlink_to(b)
    return {"loaded": 4 + 2 + 4 + 1, "skipped": {
        "not image files": 3, "empty files": 3,  # the pipe reads as empty
        "too large to load": 1}}


def test_a_folder_full_of_trouble_loads_the_good_and_counts_the_rest(tmp_path):
    expect = troubled_folder(tmp_path)
    ds = data.load_image_folder(tmp_path)
    assert len(ds.x_train) + len(ds.x_val) == expect["loaded"]
    assert np.isfinite(ds.x_train).all() and 0 <= ds.x_train.min() and ds.x_train.max() <= 1
    for reason, count in expect["skipped"].items():
        assert f"{count} {reason}" in ds.report, ds.report
    damaged = sum(int(line.split()[0]) for line in ds.report.splitlines()
                  if "damaged" in line or "not readable" in line)
    assert damaged == 4  # truncated png and jpg, random bytes, the dangling link


def test_an_unreadable_sub_folder_is_counted_not_fatal(tmp_path, monkeypatch):
    # Tests run as root in CI, where chmod cannot make a folder unreadable: make listing it
    # fail the way a folder without read permission fails.
    for name in ("a", "b"):
        png(tmp_path / name / "ok.png")
    locked = tmp_path / "a" / "locked"
    png(locked / "x.png")
    real = os.scandir

    def scandir(path="."):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    ds = data.load_image_folder(tmp_path)
    assert len(ds.x_train) + len(ds.x_val) == 2
    assert "1 unreadable folders" in ds.report


MODES = {"L": np.uint8, "RGB": np.uint8, "RGBA": np.uint8, "I;16": np.uint16,
         "I": np.int32, "F": np.float32, "1": bool, "P": np.uint8, "LA": np.uint8}


@given(st.sampled_from(sorted(MODES)), st.integers(1, 300), st.integers(1, 300),
       st.sampled_from(["PNG", "TIFF", "BMP", "GIF", "JPEG", "WEBP"]), st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_any_image_shape_and_mode_becomes_a_28x28_picture(mode, w, h, fmt, seed):
    rng = np.random.default_rng(seed)
    if mode in ("RGB", "RGBA", "LA"):
        img = Image.fromarray(rng.integers(0, 256, (h, w, len(mode)), np.uint8), mode)
    elif mode == "1":
        img = Image.fromarray(rng.random((h, w)) > 0.5)
    elif mode == "P":
        img = Image.fromarray(rng.integers(0, 256, (h, w), np.uint8), "L").convert("P")
    elif mode == "F":
        img = Image.fromarray(rng.standard_normal((h, w)).astype(np.float32) * 1e3, "F")
    else:
        info = np.iinfo(MODES[mode])
        img = Image.fromarray(rng.integers(0, min(info.max, 2**31 - 1), (h, w),
                                           MODES[mode]))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"x.{fmt.lower()}"
        try:
            img.save(path, fmt)
        except (OSError, ValueError, KeyError):
            return  # Pillow cannot write this mode in this format: nothing to load
        a = data.read_image(path)
        assert a.shape == (28, 28, 1) and a.dtype == np.float32
        assert np.isfinite(a).all() and 0 <= a.min() and a.max() <= 1
        colour = data.read_image(path, (32, 32), channels=3)
        assert colour.shape == (32, 32, 3) and np.isfinite(colour).all()
