"""Visual attention captioning: the scenes agree with their captions, BLEU agrees with
NLTK's, attention is a distribution, beam search of width 1 is greedy, a tiny captioner
learns a handful of scenes by heart, and a person's captions folder is read or refused in
words."""
import keras
import numpy as np
import pytest

from nets import runner
from nets.errors import DataError
from nets.families import captions
from nets.families.captions import scenes as sc
from nets.families.captions.bleu import bleu_scores, corpus_bleu
from nets.families.captions.evaluation import attention_on_objects, box_share
from nets.families.captions.model import END, PAD, START, build_model
from nets.families.captions.sources import (as_input, load_folder, scene_max_words,
                                            scene_vocabulary)
from nets.progress import Artifact, ListReporter

TINY = dict(filters=4, units=16, embedding=8, attention=8, dropout=0.0, batch_size=32,
            scenes_per_epoch=64, max_objects=2, epochs=1)


def test_every_caption_parses_back_to_its_scene_and_the_picture_agrees():
    for kind in sc.KINDS:
        maker = sc.SceneMaker(kind, "train")
        scenes, images = maker.batch(150, np.random.default_rng(3))
        for scene, image in zip(scenes, images):
            named = sc.parse(scene.caption)
            assert named == [(t.size, t.colour, t.shape) for t in scene.things]
            assert all(t.shape in sc.shapes_of(kind) for t in scene.things)
            for a, b in zip(scene.things, scene.things[1:]):  # the relation holds
                along, across = (0, 1) if scene.axis == "x" else (1, 0)
                assert b.centre[along] - a.centre[along] > abs(b.centre[across]
                                                              - a.centre[across])
            for t in scene.things:
                x0, y0, x1, y1 = t.box
                assert 0 <= x0 < x1 <= sc.SIZE and 0 <= y0 < y1 <= sc.SIZE
                lo, hi = sc.EXTENTS[t.size]
                assert lo <= x1 - x0 <= hi
                # the brightest pixel in its box is its colour, at most a little dimmed
                # (a digit's ink), and no other's: objects never overlap
                patch = image[y0:y1, x0:x1].reshape(-1, 3).astype(float)
                brightest = patch[patch.sum(1).argmax()]
                colour = np.array(sc.COLOURS[t.colour], float)
                k = brightest.sum() / colour.sum()
                assert k > 0.6 and np.abs(brightest - k * colour).max() <= 2
            outside = np.ones(image.shape[:2], bool)
            for t in scene.things:
                x0, y0, x1, y1 = t.box
                outside[y0:y1, x0:x1] = False
            assert image[outside].max() == 0  # nothing drawn outside the boxes


def test_held_out_pairs_never_train_and_always_appear_in_their_own_split():
    rng = np.random.default_rng(0)
    train = sc.SceneMaker("shapes and digits", "train").batch(400, rng)[0]
    held = sc.SceneMaker("shapes and digits", "held-out").batch(200, rng)[0]
    pairs = {(t.colour, t.shape) for s in train for t in s.things}
    assert not pairs & set(sc.HELD_OUT) and len(pairs) > 40
    assert all(any((t.colour, t.shape) in sc.HELD_OUT for t in s.things) for s in held)


def test_the_parser_refuses_what_the_grammar_cannot_say():
    assert sc.parse("a small red circle above a large blue 7") is not None
    for bad in ("", "a small red", "a huge red circle", "a small red circle left a small "
                "red square", "a small red circle above a small red square left of a "
                "small red 7", "a small red circle a small red 7"):
        assert sc.parse(bad) is None, bad


def test_a_person_s_arrangement_is_put_in_caption_order_or_refused():
    t = [sc.Thing("circle", "red", "small", (40, 10, 53, 23)),
         sc.Thing("7", "blue", "large", (2, 8, 24, 30))]
    scene = sc.arrange(t)
    assert scene.caption == "a large blue 7 left of a small red circle"
    diagonal = [sc.Thing("circle", "red", "small", (0, 0, 13, 13)),
                sc.Thing("square", "red", "small", (20, 20, 33, 33))]
    assert sc.arrange(diagonal) is None


def test_bleu_matches_nltk_on_known_sentences():
    from nltk.translate.bleu_score import corpus_bleu as nltk_bleu

    refs = [[["the", "cat", "is", "on", "the", "mat"], ["there", "is", "a", "cat", "on",
                                                         "the", "mat"]],
            [["a", "small", "red", "circle", "left", "of", "a", "large", "blue", "7"]],
            [["he", "read", "the", "book", "because", "he", "was", "interested", "in",
              "world", "history"]]]
    hyps = [["the", "cat", "the", "cat", "on", "the", "mat"],
            ["a", "small", "red", "circle", "left", "of", "a", "small", "blue", "7"],
            ["he", "was", "interested", "in", "world", "history", "because", "he", "read",
             "the", "book"]]
    for n in range(1, 5):
        weights = tuple([1 / n] * n)
        assert corpus_bleu(refs, hyps, n) == pytest.approx(nltk_bleu(refs, hyps, weights),
                                                           abs=1e-12)
    assert corpus_bleu(refs[1:2], [refs[1][0]]) == pytest.approx(1.0)
    assert bleu_scores([[["a", "b"]]], [["c", "d"]])["bleu1"] == 0.0


def test_attention_share_inside_a_box_counts_partly_covered_cells():
    alpha = np.zeros((8, 8))
    alpha[1, 2] = 1.0  # the cell x 16..24, y 8..16
    assert box_share(alpha, (16, 8, 24, 16)) == pytest.approx(1.0)
    assert box_share(alpha, (20, 8, 40, 16)) == pytest.approx(0.5)
    assert box_share(np.full((8, 8), 1 / 64), (0, 0, 32, 32)) == pytest.approx(0.25)


def test_teacher_forcing_pairs_shift_by_one_word():
    vocab = scene_vocabulary()
    x, y = vocab.encode([["a", "small", "red", "circle"], ["a", "large", "blue", "zebra"]], 6)
    assert x[0].tolist() == [START, *(vocab.index[w] for w in ("a", "small", "red",
                                                               "circle")), PAD]
    assert y[0].tolist() == [*x[0, 1:5], END, PAD]
    assert vocab.decode(y[1]) == ["a", "large", "blue", "<unk>"]


@pytest.fixture(scope="module")
def tiny_model():
    keras.utils.set_random_seed(0)
    vocab = scene_vocabulary()
    config = captions.Config(**TINY)
    return build_model(config, len(vocab), (64, 64, 3), scene_max_words(2)), vocab


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="test_every_backend's short run decodes on each backend (its "
                           "live panel captions scenes)")
def test_attention_sums_to_one_per_word_and_beam_width_one_is_greedy(tiny_model):
    model, vocab = tiny_model
    decoder = captions.Decoder(model, scene_max_words(2))
    _, images = sc.SceneMaker("shapes", "test", 2).batch(3, np.random.default_rng(1))
    greedy = decoder.greedy(as_input(images))
    for i, caption in enumerate(greedy):
        assert caption.alphas.shape == (len(caption.ids) + (len(caption.ids) <
                                                            scene_max_words(2) + 1), 8, 8)
        np.testing.assert_allclose(caption.alphas.sum(axis=(1, 2)), 1.0, atol=1e-5)
        beam = decoder.beam(as_input(images)[i], width=1)
        assert beam.ids == caption.ids
        np.testing.assert_allclose(beam.alphas, caption.alphas, atol=1e-5)
        assert beam.log_prob == pytest.approx(caption.log_prob, abs=1e-4)
        wide = decoder.beam(as_input(images)[i], width=4)
        assert wide.log_prob == pytest.approx(np.log(wide.word_probs).sum(), abs=1e-4)
        np.testing.assert_allclose(wide.alphas.sum(axis=(1, 2)), 1.0, atol=1e-5)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="learning is the same on every backend; test_every_backend "
                           "trains this family on each")
def test_a_tiny_captioner_learns_a_handful_of_scenes_by_heart():
    keras.utils.set_random_seed(0)
    vocab = scene_vocabulary()
    config = captions.Config(**{**TINY, "units": 64, "embedding": 16, "attention": 16,
                                "filters": 8, "learning_rate": 0.01})
    scenes, images = sc.SceneMaker("shapes", "test", 2).batch(6, np.random.default_rng(5))
    model = build_model(config, len(vocab), (64, 64, 3), scene_max_words(2))
    x, y = vocab.encode([s.words for s in scenes], scene_max_words(2) + 1)
    copies = np.tile(np.arange(6), 30)  # one fit of 180 rows: 30 steps an epoch
    model.fit((as_input(images)[copies], x[copies]), y[copies], epochs=4, batch_size=6,
              verbose=0)
    said = [vocab.decode(c.ids) for c in captions.Decoder(model, scene_max_words(2))
            .greedy(as_input(images))]
    assert said == [s.words for s in scenes]


def test_attention_on_objects_counts_only_right_captions_and_their_naming_words():
    vocab = scene_vocabulary()
    scene = sc.Scene((sc.Thing("circle", "red", "small", (0, 0, 16, 16)),), "x")
    right = captions.Caption(tuple(vocab.index[w] for w in scene.words),
                             np.stack([np.eye(8)[0][:, None] * np.eye(8)[0]] * 5), 0.0,
                             (1.0,) * 5)
    looking = attention_on_objects(vocab, [scene], [right])
    assert looking.words == 3 and looking.inside == pytest.approx(1.0)
    assert looking.uniform == pytest.approx(256 / 4096)
    wrong = captions.Caption(right.ids[:-1] + (vocab.index["square"],), right.alphas, 0.0,
                             right.word_probs)
    assert attention_on_objects(vocab, [scene], [wrong]).words == 0


def write_folder(root, lines: list[str], images: int = 24, broken: int = 0):
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(images):
        mode, size = (("RGB", (80, 50)), ("L", (20, 20)), ("RGBA", (64, 64)))[i % 3]
        Image.fromarray(rng.integers(0, 255, (*size[::-1], len(mode)), np.uint8).squeeze(),
                        mode).save(root / f"img{i}.png")
    for i in range(broken):
        (root / f"broken{i}.png").write_bytes(b"not an image")
    (root / "captions.txt").write_text("\n".join(lines), encoding="utf-8")


def test_a_person_s_folder_is_read_with_its_oddities_counted(tmp_path):
    lines = ["image,caption"]
    lines += [f"img{i}.png\ta red thing number {i % 3}" for i in range(24)]
    lines += [f"img{i}.png#1,a Red thing, again!" for i in range(24)]
    lines += ["img0.png\t   ", "missing.png\ta ghost", "broken0.png\ta broken file",
              "no separator here"]
    write_folder(tmp_path, lines, broken=1)
    folder = load_folder(str(tmp_path))
    assert len(folder.train_images) + len(folder.test_images) == 24
    assert folder.train_images.shape[1:] == (64, 64, 3)  # any size and mode, as RGB 64x64
    assert len(folder.test_images) == 2  # a tenth held out
    assert all(len(caps) == 2 for caps in folder.train_captions)
    assert folder.train_captions[0][1] == ["a", "red", "thing", "again"]
    for words in ("empty captions", "not in the folder", "could not be read",
                  "no tab or comma", "24 images were scaled to 64 x 64"):
        assert words in folder.report
    assert "again" in folder.vocab.index and "ghost" not in folder.vocab.index
    (x, tokens), targets = folder.pairs(folder.train_images, folder.train_captions)
    assert len(x) == len(tokens) == 2 * len(folder.train_images)


@pytest.mark.parametrize("case", ["no folder", "no captions file", "too few", "all empty"])
def test_an_unusable_folder_is_refused_in_words(tmp_path, case):
    if case == "no folder":
        path, words = str(tmp_path / "nope"), "not a folder"
    elif case == "no captions file":
        path, words = str(tmp_path), "has no captions.txt"
    else:
        lines = ([f"img{i}.png\ta cat" for i in range(5)] if case == "too few" else
                 [f"img{i}.png\t ..." for i in range(24)])
        write_folder(tmp_path, lines)
        path, words = str(tmp_path), "at least 20 are needed"
    with pytest.raises(DataError, match=words):
        load_folder(path)


def run(config, reporter=None, **request):
    reporter = reporter or ListReporter()
    done = runner.execute(runner.RunRequest("captions", config, "", **request), reporter)
    return done, reporter


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="test_every_backend trains this family on each backend")
def test_a_run_sends_captions_and_scores_and_resumes_with_its_vocabulary(tmp_path):
    done, reporter = run(captions.Config(**TINY), seed=1)
    assert done.status == "finished", done.detail
    assert "captioned exactly right" in done.headline and "held-out pairs" in done.headline
    panels = [e.value for e in reporter.of(Artifact) if e.name == "captions"]
    assert panels and len(panels[-1].said) == 8 and panels[-1].report.test.count > 0
    assert panels[-1].report.held_out is not None
    loaded = captions.load(done.result.save(tmp_path / "c.keras"))
    assert loaded.extra.words == scene_vocabulary().words
    again, _ = run(captions.Config(**TINY), seed=1, resume=True, length=2)
    assert again.status == "finished", again.detail
    assert len(again.result.history) == 2


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="the vocabulary check does not depend on the backend")
def test_resuming_on_captions_with_other_words_is_refused_in_words(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    write_folder(folder, [f"img{i}.png\ta cat number {i % 4}" for i in range(24)])
    mine = captions.Config(**{**TINY, "source": "folder", "folder": str(folder)})
    first, _ = run(mine, seed=1)
    assert first.status == "finished", first.detail
    assert "next words right" in first.headline
    assert first.result.meta["vocabulary"][4:] == ["a", "cat", "number", "0", "1", "2",
                                                   "3"]
    (folder / "captions.txt").write_text("\n".join(f"img{i}.png\ta dog number {i % 4}"
                                                   for i in range(24)))
    refused, _ = run(mine, seed=1, resume=True, length=2)
    assert refused.status == "failed" and "vocabulary differs" in refused.message


def test_an_image_of_another_size_or_mode_is_fitted_and_says_how(tmp_path):
    from PIL import Image

    from nets.families.captions.sources import open_image

    Image.new("LA", (120, 80), (200, 128)).save(tmp_path / "grey.png")
    image, note = open_image(tmp_path / "grey.png")
    assert image.shape == (64, 64, 3) and image.dtype == np.float32
    assert "scaled from 120 x 80" in note and "stretched" in note and "from LA" in note
    Image.new("RGB", (64, 64), (255, 0, 0)).save(tmp_path / "fine.png")
    assert open_image(tmp_path / "fine.png")[1] == ""
    (tmp_path / "junk.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match="junk.png could not be read as an image"):
        open_image(tmp_path / "junk.png")
