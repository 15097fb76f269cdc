"""The character model: writing one step at a time equals reading the whole prefix, bits
per character are right, and a short run learns and resumes. (Its texts and the look
inside: test_rnn_text.py.)"""
import math

import keras
import numpy as np
import pytest

from nets import runner
from nets.families import rnn
from nets.families.rnn.corpus import Alphabet
from nets.families.rnn.model import bits_per_char, build_model
from nets.progress import ListReporter

TEXT = "the quick (brown) fox \"jumps\" over the lazy dog.\n" * 60


@pytest.mark.parametrize("cell, layers", [("lstm", 2), ("gru", 1), ("rnn", 1)])
def test_writing_step_by_step_equals_reading_the_whole_prefix(cell, layers):
    alphabet = Alphabet.of(TEXT)
    model = build_model(rnn.Config(cell=cell, layers=layers, units=12, embedding=5),
                        len(alphabet))
    ids = alphabet.encode(TEXT[:30])
    full = np.asarray(model.predict(ids[None], verbose=0))[0]  # (30, alphabet)
    writer = rnn.Writer(model, alphabet)
    stepped = [writer.read(int(i)).copy() for i in ids]
    np.testing.assert_allclose(stepped, full, atol=1e-5)
    # writing goes on from the carried state: what it writes next is what the whole
    # prefix (prompt + written so far) predicts
    text, probs = writer.write(5, 0.0, np.random.default_rng(0))
    prefix = np.concatenate([ids, alphabet.encode(text)])
    again = np.asarray(model.predict(prefix[None], verbose=0))[0]
    for k in range(5):
        assert alphabet.encode(text[k])[0] == np.argmax(again[len(ids) + k - 1])
        assert probs[k] == pytest.approx(rnn.softmax(again[len(ids) + k - 1])[
            alphabet.encode(text[k])[0]], rel=1e-4)


def test_bits_per_character_of_a_known_distribution():
    # the model gives 1/2, 1/4, 1/8, 1/8 to four characters: the true next characters'
    # probabilities are 1/2 and 1/8, so the mean cost is (1 + 3) / 2 = 2 bits
    logits = np.log(np.array([[[0.5, 0.25, 0.125, 0.125]] * 2]))  # (1, 2, 4)
    y = np.array([[0, 3]])
    bits = keras.ops.convert_to_numpy(bits_per_char(y, logits.astype("float32")))
    assert float(np.mean(bits)) == pytest.approx(2.0, abs=1e-5)
    assert rnn.held_out_bits(lambda x: logits, None, y) == pytest.approx(2.0, abs=1e-9)
    assert math.log2(4) == pytest.approx(rnn.held_out_bits(lambda x: np.zeros((1, 2, 4)),
                                                           None, y))


def test_windows_are_each_followed_by_the_next_character():
    x, y = rnn.windows(np.arange(23), 5)
    assert x.shape == y.shape == (4, 5)
    np.testing.assert_array_equal(y, x + 1)
    np.testing.assert_array_equal(x.reshape(-1), np.arange(20))


def test_temperature_shapes_the_distribution():
    logits = np.array([2.0, 1.0, 0.0])
    assert rnn.softmax(logits, 0.0).tolist() == [1.0, 0.0, 0.0]
    cold, warm = rnn.softmax(logits, 0.5), rnn.softmax(logits, 2.0)
    assert cold[0] > rnn.softmax(logits)[0] > warm[0] > 1 / 3
    assert rnn.softmax(np.array([1000.0, 0.0]), 1.0).tolist() == [1.0, 0.0]  # no overflow


def test_a_prompt_with_characters_the_model_never_saw():
    alphabet = Alphabet.of("abc\n")
    assert rnn.starting_text(alphabet, "abc") == ("abc", "")
    kept, note = rnn.starting_text(alphabet, "aé€b")
    assert kept == "ab" and "'é', '€'" in note and "left out" in note
    kept, note = rnn.starting_text(alphabet, "é")
    assert kept == "\n" and "Starting from '\\n'" in note


# ------------------------------------------------------------------ training
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="resuming is the same "
                    "on every backend; test_every_backend.py trains the family on each")
def test_a_short_run_learns_and_resumes(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(TEXT * 3)
    config = rnn.Config(corpus="file", text_path=str(path), units=24, embedding=8,
                        sequence_length=30, batch_size=16, epochs=2, learning_rate=0.01)
    reporter = ListReporter()
    done = runner.execute(runner.RunRequest("rnn", config, "", seed=0), reporter)
    assert done.status == "finished", done.message
    history = done.result.history
    assert history[-1]["val_bits_per_char"] < 0.8 * history[0]["val_bits_per_char"]
    assert history[-1]["val_bits_per_char"] == pytest.approx(
        history[-1]["val_loss"] / math.log(2), rel=1e-4)
    samples = [e.value for e in reporter.events if getattr(e, "name", "") == "sample"]
    assert samples and all(s.prompt == samples[0].prompt for s in samples)
    more = runner.RunRequest("rnn", config, "", seed=0, resume=True, length=3)
    again = runner.execute(more, ListReporter())
    assert again.status == "finished" and len(again.result.history) == 3
    # a changed text cannot go on from the autosave
    path.write_text(TEXT.upper() * 3)
    refused = runner.execute(runner.RunRequest("rnn", config, "", seed=0, resume=True,
                                               length=4), ListReporter())
    assert refused.status == "failed" and "not the one the autosave" in refused.message
