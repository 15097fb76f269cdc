"""The convnet family: it learns, its views have the right shapes, drawings become digits."""
import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nets import data, runner
from nets.families import cnn
from nets.images import mnist_style
from nets import digit_augment as augment
from nets.progress import (BatchMetrics, Done, EpochMetrics, ImageEvent, ListReporter, Log,
                           Started)

# The lessons (it learns, with and without augmentation) train for seconds; on the other
# backends test_every_backend.py trains the family, and test_progress.py the augmented
# batches (made in numpy, the same on every backend).
ON_TENSORFLOW = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="training runs the same code on every "
    "backend; test_every_backend.py trains the family on each")


@ON_TENSORFLOW
def test_learns_digits_it_never_saw():
    # 3 quick epochs on the 4,000 training digits; accuracy is measured on the 1,000
    # held-out digits, which training never touches.
    cfg = cnn.Config(epochs=3, filters=16, augment=False)
    rep = ListReporter()
    done = runner.execute(runner.RunRequest("cnn", cfg, "mnist-5k", seed=0, autosave=False),
                          rep)
    assert done.status == "finished", done.message
    ds = data.load("mnist-5k")
    acc = (cnn.predict(done.result.model, ds.x_val).argmax(1) == ds.y_val).mean()
    assert acc > 0.85  # chance is 0.10
    assert rep.of(EpochMetrics)[-1].metrics["val_accuracy"] == pytest.approx(acc, abs=0.01)
    started = rep.of(Started)[0]
    assert started.total_steps == 3 * 32 and "bundled" in started.description
    assert len(rep.of(BatchMetrics)) == 3 * 32
    filters = [e for e in rep.of(ImageEvent) if e.name == "filters"]
    assert filters and filters[-1].images.shape == (16, 3, 3)
    mistakes = [e for e in rep.of(ImageEvent) if e.name == "mistakes"][-1]
    assert len(mistakes.captions) == len(mistakes.images) and "→" in mistakes.captions[0]
    assert isinstance(rep.events[-1], Done)


def test_a_nan_loss_fails_in_words_and_keeps_the_last_good_epoch():
    runner.seed_everything(0)
    ds = data.load("mnist-5k")
    x = ds.x_train[:512].copy()
    # Overflows inside the net: later batches give a NaN (or inf) loss. Both signs, as
    # which one overflows depends on the initial weights, and so on the backend. (Not
    # inf or NaN pixels: TensorFlow's cross-entropy turns NaN logits into a finite loss.)
    x[300:400], x[400:] = 3e38, -3e38
    model = cnn.build_model(cnn.Config(filters=4, conv_blocks=1, augment=False), (28, 28, 1),
                            10)
    rep = ListReporter()
    done = runner.fit_keras(model, family_key="cnn", meta={}, x=x[:256], y=ds.y_train[:256],
                            validation=None, epochs=1, batch_size=128, reporter=rep,
                            autosave=False)
    good = [w.copy() for w in model.get_weights()]
    done = runner.fit_keras(model, family_key="cnn", meta={}, x=x, y=ds.y_train[:512],
                            validation=None, epochs=2, batch_size=128, reporter=rep,
                            autosave=False)
    assert done.status == "failed"
    assert ("became nan" in done.message or "became inf" in done.message)
    assert "learning rate" in done.message
    for w, g in zip(done.result.model.get_weights(), good):
        np.testing.assert_array_equal(w, g)  # back to the weights before the bad batch


def test_an_unusable_folder_fails_in_words(tmp_path):
    done = runner.execute(runner.RunRequest("cnn", cnn.Config(), f"folder:{tmp_path}/none"),
                          ListReporter())
    assert done.status == "failed" and "does not exist" in done.message


@pytest.mark.parametrize("blocks, per_block", [(1, 1), (3, 2)])
def test_views_have_the_expected_shapes(blocks, per_block):
    cfg = cnn.Config(conv_blocks=blocks, convs_per_block=per_block, filters=8)
    model = cnn.build_model(cfg, (28, 28, 1), 10)
    assert cnn.first_layer_filters(model).shape == (8, 3, 3)
    image = np.random.default_rng(0).random((28, 28, 1), dtype=np.float32)
    probs, maps = cnn.Probe(model)(image)
    np.testing.assert_allclose(probs, cnn.predict(model, image[None])[0], atol=1e-5)
    assert len(maps) == blocks * per_block
    assert maps[0].shape == (8, 28, 28)
    assert maps[-1].shape[0] == 8 * 2 ** (blocks - 1)
    assert all(0 <= m.min() and m.max() <= 1 for m in maps)


def test_a_drawing_becomes_an_mnist_style_digit():
    canvas = np.zeros((280, 280), np.float32)
    canvas[40:240, 20:60] = 1.0  # a tall bar far to the left
    digit = mnist_style(canvas)
    assert digit.shape == (28, 28)
    rows, cols = np.nonzero(digit > 0.05)
    assert rows.max() - rows.min() + 1 == 20  # the long side fills the 20-pixel box
    ys, xs = np.indices(digit.shape)
    cy, cx = (ys * digit).sum() / digit.sum(), (xs * digit).sum() / digit.sum()
    assert abs(cy - 13.5) <= 1 and abs(cx - 13.5) <= 1  # centred by centre of mass
    assert mnist_style(np.zeros((50, 50))) is None


def test_a_drawn_zero_looks_like_bundled_zeros():
    # A ring drawn on a big canvas, once preprocessed, should be closer to the mean
    # bundled "0" than to the mean "1".
    yy, xx = np.indices((280, 280))
    r = np.hypot(yy - 140, (xx - 140) * 1.3)
    ring = ((r > 70) & (r < 95)).astype(np.float32)
    digit = mnist_style(ring)
    ds = data.load("mnist-5k")
    mean0 = ds.x_train[ds.y_train == 0, ..., 0].mean(0)
    mean1 = ds.x_train[ds.y_train == 1, ..., 0].mean(0)
    assert np.abs(digit - mean0).sum() < np.abs(digit - mean1).sum()


@given(arrays(np.float32, st.tuples(st.integers(1, 120), st.integers(1, 120)),
              elements=st.floats(0, 1, width=32)))
@settings(max_examples=60, deadline=None)
def test_any_drawing_becomes_a_valid_digit_or_none(drawing):
    digit = mnist_style(drawing)
    if not (drawing > 0.05).any():
        assert digit is None
        return
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert np.isfinite(digit).all() and 0 <= digit.min() and digit.max() <= 1
    rows, cols = np.nonzero(digit > 0)
    assert rows.max() - rows.min() < 21 and cols.max() - cols.min() < 21  # fits the box


# ---------------------------------------------------------------- augmentation
def _digits(n=64):
    ds = data.load("mnist-5k")
    return ds.x_train[:n], ds.y_train[:n]


def test_augmentation_changes_every_digit_keeps_shape_range_and_is_seeded():
    x, _ = _digits()
    a = augment.augment_images(x, np.random.default_rng(1))
    assert a.shape == x.shape and a.dtype == np.float32
    assert np.isfinite(a).all() and a.min() >= 0 and a.max() <= 1
    assert (np.abs(a - x).max((1, 2, 3)) > 0.1).all()  # each image really changed
    np.testing.assert_array_equal(a, augment.augment_images(x, np.random.default_rng(1)))
    assert not np.allclose(a, augment.augment_images(x, np.random.default_rng(2)))
    np.testing.assert_array_equal(x, _digits()[0])  # the input is left alone


def test_augmented_digits_stay_in_mnist_form():
    # refitted as mnist_style fits a drawing: about 20 pixels tall or wide, centred by mass
    x, _ = _digits(200)
    a = augment.augment_images(x, np.random.default_rng(0))[..., 0]
    ys, xs = np.indices((28, 28))
    mass = a.sum((1, 2))
    cy, cx = (a * ys).sum((1, 2)) / mass, (a * xs).sum((1, 2)) / mass
    assert np.abs(cy - 13.5).max() < 2.5 and np.abs(cx - 13.5).max() < 2.5
    ink = a > 0.2
    rows, cols = ink.any(2), ink.any(1)
    span = np.maximum(rows.sum(1), cols.sum(1))
    assert 14 <= np.median(span) <= 23
    # the pen changes: some digits have much more ink than before, some much less
    ratio = a.sum((1, 2)) / x[..., 0].sum((1, 2))
    assert ratio.max() > 1.4 and ratio.min() < 0.75


def test_augmentation_handles_blank_colour_and_empty_batches():
    rng = np.random.default_rng(0)
    blank = np.zeros((3, 28, 28, 1), np.float32)
    np.testing.assert_array_equal(augment.augment_images(blank, rng), blank)
    empty = np.zeros((0, 28, 28, 1), np.float32)
    assert augment.augment_images(empty, rng).shape == (0, 28, 28, 1)
    photos = rng.random((5, 32, 32, 3), dtype=np.float32)
    out = augment.augment_images(photos, rng, digits=False)
    assert out.shape == photos.shape and 0 <= out.min() and out.max() <= 1
    assert not np.allclose(out, photos)


def test_typeset_forms_add_a_flag_to_ones_and_a_hook_to_sixes_only():
    ds = data.load("mnist-5k")
    x, y = ds.x_train[:600], ds.y_train[:600]
    out, changed = augment.with_typeset_forms(x, y, np.random.default_rng(0), share=0.5)
    differs = np.abs(out - x).max((1, 2, 3)) > 0.05
    assert set(y[differs]) <= {1, 6}
    expected = sum(int(round(0.5 * (y == d).sum())) for d in (1, 6))
    assert changed == expected and differs.sum() >= 0.9 * expected
    assert (out >= x - 1e-6).all() and out.max() <= 1  # strokes are added, never erased
    again, _ = augment.with_typeset_forms(x, y, np.random.default_rng(0), share=0.5)
    np.testing.assert_array_equal(out, again)


@ON_TENSORFLOW
def test_training_with_augmentation_says_so_and_learns():
    cfg = cnn.Config(epochs=2, filters=8, conv_blocks=1)  # augment is on by default
    assert cfg.augment
    rep = ListReporter()
    done = runner.execute(runner.RunRequest("cnn", cfg, "mnist-5k", seed=0, autosave=False),
                          rep)
    assert done.status == "finished", done.message
    assert any("Augment:" in e.text for e in rep.of(Log))
    assert rep.of(Started)[0].total_steps == 2 * 32  # the same 4,000 digits a epoch
    assert rep.of(EpochMetrics)[-1].metrics["val_accuracy"] > 0.7


def test_a_model_saved_with_keras_random_layers_still_loads(tmp_path):
    # Files saved before augmentation moved out of the model hold RandomTranslation,
    # RandomRotation and RandomZoom layers: they have no weights, so the rest fits.
    import dataclasses

    import keras
    from keras import layers

    from nets import storage

    cfg = cnn.Config(filters=4, conv_blocks=1)
    inputs = keras.Input((28, 28, 1), name="image")
    x = layers.RandomTranslation(0.1, 0.1, fill_mode="constant", name="shift")(inputs)
    x = layers.RandomRotation(0.04, fill_mode="constant", name="rotate")(x)
    x = layers.RandomZoom(0.1, fill_mode="constant", name="zoom")(x)
    x = layers.Conv2D(4, 3, padding="same", name="conv1")(x)
    x = layers.Activation("relu", name="relu1")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(0.4, name="dropout")(x)
    old = keras.Model(inputs, layers.Dense(10, activation="softmax", name="probabilities")(x))
    cnn.compile_model(old, cfg)
    path = storage.save_model(old, tmp_path / "old.keras",
                              {"family": "cnn", "config": dataclasses.asdict(cfg),
                               "input_shape": [28, 28, 1], "classes": data.DIGIT_NAMES})
    loaded = cnn.load(path)
    assert not any("random" in type(layer).__name__.lower() for layer in loaded.model.layers)
    x = _digits(8)[0]
    np.testing.assert_allclose(cnn.predict(loaded.model, x), cnn.predict(old, x), atol=1e-6)
