"""The character model's texts (bundled, a person's file or folder, bad ones refused in
words, huge ones read in a bounded way) and the look inside (features of a text, the
units that follow them). Plain numpy and Python: run on TensorFlow's pass only."""
import numpy as np
import pytest

from nets.errors import DataError
from nets.families.rnn import corpus as corpora
from nets.families.rnn import inside
from nets.families.rnn.corpus import Alphabet

TEXT = "the quick (brown) fox \"jumps\" over the lazy dog.\n" * 60


def test_bad_texts_are_refused_in_plain_words(tmp_path):
    cases = {"empty.txt": b"", "blank.txt": b"   \n\n ", "one.txt": b"a" * 5000,
             "short.txt": b"Too short to learn from.", "image.txt": bytes(range(256)) * 50}
    expected = {"empty.txt": "is empty", "blank.txt": "is empty", "one.txt": r"\('a'\) repeated",
                "short.txt": "at least 2,000", "image.txt": "does not look like text"}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(DataError, match=expected[name]):
            corpora.load("file", str(tmp_path / name))
    with pytest.raises(DataError, match="no file or folder"):
        corpora.load("file", str(tmp_path / "missing.txt"))
    with pytest.raises(DataError, match="Choose a text file"):
        corpora.load("file", "")


def test_a_huge_file_is_read_only_up_to_the_limit(tmp_path):
    path = tmp_path / "huge.txt"
    with open(path, "wb") as f:
        f.write(b"All the world's a stage.\n" * 400_000)  # 10 MB of text, then
        f.truncate(2_000_000_000)  # a 2 GB file (sparse: it takes no disk)
    text = corpora.load("file", str(path))
    assert len(text.text) <= corpora.MAX_BYTES
    assert "first 8 MB of 2,000 MB" in text.description


def test_a_folder_reads_its_text_files_and_counts_the_rest(tmp_path):
    (tmp_path / "a.txt").write_text(TEXT[:1500])
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.py").write_text("def f():\n    return 1\n" * 40)
    (tmp_path / "c.txt").write_bytes(b"\x00\x01binary" * 100)
    (tmp_path / "d.png").write_bytes(b"\x89PNG")
    (tmp_path / "latin.txt").write_bytes("café crème\n".encode("latin-1") * 10)
    text = corpora.load("file", str(tmp_path))
    assert "3 text files" in text.description
    assert "def f():" in text.text and "café" in text.text
    assert "1 binary" in text.report and "1 not a text file" in text.report


def test_rare_characters_are_left_out_beyond_the_alphabet_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(corpora, "MAX_ALPHABET", 5)
    text = corpora.checked("aaaa bbb cc d e f g\n" * 200, "test")
    assert len(set(text.text)) == 5 and "rare characters" in text.report


def test_the_bundled_texts_read_and_hold_out_their_tail():
    for key in corpora.BUNDLED:
        text = corpora.load(key)
        assert len(text.text) > 1_000_000 and text.prompt
        assert not Alphabet.of(text.text).unknown(text.prompt)
        assert text.train_text + text.held_out_text == text.text
        assert len(text.held_out_text) == pytest.approx(0.05 * len(text.text), abs=1)


# ------------------------------------------------------------------ looking inside
def test_features_of_a_text():
    f = inside.features('ab "cd" (e[f]g)\nxy')
    assert f['inside "double quotes"'].tolist()[:8] == [0, 0, 0, 1, 1, 1, 0, 0]
    assert f["inside brackets ( [ {"].tolist()[8:16] == [1, 1, 1, 1, 1, 1, 0, 0]
    assert f["position in the line"].tolist()[-3:] == [0, 1, 2]
    assert "inside $maths$" not in f  # no $ in this text: nothing to correlate with


def test_the_unit_that_follows_a_feature_is_found():
    text = 'say "hello there" and "bye" now ' * 20
    quotes = inside.features(text)['inside "double quotes"']
    rng = np.random.default_rng(0)
    activations = rng.normal(size=(len(text), 8))
    activations[:, 5] = quotes + 0.1 * rng.normal(size=len(text))
    r = inside.correlations(activations, quotes)
    np.testing.assert_allclose(r, [np.corrcoef(activations[:, u], quotes)[0, 1]
                                   for u in range(8)])
    found = inside.best_units({"layer 1 h": activations}, text, per_feature=1)
    best = next(m for m in found if m.feature == 'inside "double quotes"')
    assert (best.state, best.unit) == ("layer 1 h", 5) and best.r > 0.9
