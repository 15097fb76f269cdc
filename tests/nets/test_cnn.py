"""The convnet family: it learns, its views have the right shapes, drawings become digits."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nets import cnn, data, runner
from nets.progress import BatchMetrics, Done, EpochMetrics, ImageEvent, ListReporter, Started


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
    ds = data.load("mnist-5k")
    x = ds.x_train[:512].copy()
    x[300:] = 3e38  # overflows to inf inside the net: later batches give a NaN loss
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
    assert "became nan" in done.message and "learning rate" in done.message
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
    digit = cnn.mnist_style(canvas)
    assert digit.shape == (28, 28)
    rows, cols = np.nonzero(digit > 0.05)
    assert rows.max() - rows.min() + 1 == 20  # the long side fills the 20-pixel box
    ys, xs = np.indices(digit.shape)
    cy, cx = (ys * digit).sum() / digit.sum(), (xs * digit).sum() / digit.sum()
    assert abs(cy - 13.5) <= 1 and abs(cx - 13.5) <= 1  # centred by centre of mass
    assert cnn.mnist_style(np.zeros((50, 50))) is None


def test_a_drawn_zero_looks_like_bundled_zeros():
    # A ring drawn on a big canvas, once preprocessed, should be closer to the mean
    # bundled "0" than to the mean "1".
    yy, xx = np.indices((280, 280))
    r = np.hypot(yy - 140, (xx - 140) * 1.3)
    ring = ((r > 70) & (r < 95)).astype(np.float32)
    digit = cnn.mnist_style(ring)
    ds = data.load("mnist-5k")
    mean0 = ds.x_train[ds.y_train == 0, ..., 0].mean(0)
    mean1 = ds.x_train[ds.y_train == 1, ..., 0].mean(0)
    assert np.abs(digit - mean0).sum() < np.abs(digit - mean1).sum()


@given(arrays(np.float32, st.tuples(st.integers(1, 120), st.integers(1, 120)),
              elements=st.floats(0, 1, width=32)))
@settings(max_examples=60, deadline=None)
def test_any_drawing_becomes_a_valid_digit_or_none(drawing):
    digit = cnn.mnist_style(drawing)
    if not (drawing > 0.05).any():
        assert digit is None
        return
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert np.isfinite(digit).all() and 0 <= digit.min() and digit.max() <= 1
    rows, cols = np.nonzero(digit > 0)
    assert rows.max() - rows.min() < 21 and cols.max() - cols.min() < 21  # fits the box
