"""The drawing-style check set: made the same way every time, every style in it, and each
digit exactly what the canvas's preprocessing (mnist_style) makes of its drawing."""
import numpy as np
import pytest

from nets.images import mnist_style
from nets import digit_styles as S


@pytest.fixture(scope="module")
def small():
    return S.make_check_set(per_digit=1, fonts_per_digit=1, seed=3)


def test_every_style_and_digit_is_there_in_mnist_form(small):
    assert set(small.styles) == set(S.STYLES)
    n = len(small)
    assert small.images.shape == (n, 28, 28) and small.images.dtype == np.float32
    assert small.labels.shape == small.styles.shape == small.sources.shape == (n,)
    assert np.isfinite(small.images).all()
    assert small.images.min() >= 0 and small.images.max() <= 1
    assert (small.images.max((1, 2)) > 0.3).all()  # every digit has visible ink
    for style in S.STYLES:
        assert sorted(set(small.labels[small.styles == style])) == list(range(10))
    # hand-drawn counts twice; typed digits: one per font and digit
    assert (small.styles == "hand-drawn").sum() == 20
    assert (small.styles == "font").sum() == 10 * len(small.fonts)
    assert S.PILLOW_FONT in small.fonts and set(small.sources[small.styles == "font"]) \
        == set(small.fonts)
    # mnist_style's box: the long side of the ink fits in 20 pixels, centred by its mass
    ys, xs = np.indices((28, 28))
    mass = small.images.sum((1, 2))
    cy = (small.images * ys).sum((1, 2)) / mass
    cx = (small.images * xs).sum((1, 2)) / mass
    assert np.abs(cy - 13.5).max() < 2.5 and np.abs(cx - 13.5).max() < 2.5


def test_the_same_seed_makes_the_same_set_and_another_seed_another(small):
    again = S.make_check_set(per_digit=1, fonts_per_digit=1, seed=3)
    np.testing.assert_array_equal(again.images, small.images)
    np.testing.assert_array_equal(again.labels, small.labels)
    other = S.make_check_set(per_digit=1, fonts_per_digit=1, seed=4, styles=("hand-drawn",))
    assert not np.allclose(other.images, small.images[small.styles == "hand-drawn"])


def test_a_style_draws_on_the_canvas_and_mnist_style_makes_the_digit():
    # the stored digits are what mnist_style makes of the canvas drawings, one by one
    check = S.make_check_set(per_digit=1, seed=5, styles=("thin pen",))
    rng = np.random.default_rng([5, S.STYLES.index("thin pen")])
    for i in range(3):
        canvas = S.draw("thin pen", int(check.labels[i]), rng)
        assert canvas.shape == (S.CANVAS, S.CANVAS) and canvas.dtype == np.float32
        assert 0 <= canvas.min() and canvas.max() <= 1
        np.testing.assert_array_equal(mnist_style(canvas), check.images[i])


def test_pillows_own_font_alone_is_enough():
    check = S.make_check_set(per_digit=1, fonts_per_digit=2, styles=("font",),
                             use_system_fonts=False)
    assert check.fonts == [S.PILLOW_FONT]
    assert len(check) == 20 and set(check.sources) == {S.PILLOW_FONT}


def test_accuracy_is_counted_per_style(small):
    guesses = small.labels.copy()
    wrong = np.flatnonzero(small.styles == "blocky")[:5]
    guesses[wrong] = (guesses[wrong] + 1) % 10
    by_style = S.accuracy_by(small, guesses)
    assert list(by_style) == list(S.STYLES)
    assert by_style["blocky"] == (0.5, 10)
    assert by_style["font"][0] == 1.0
    by_font = S.accuracy_by(small, guesses, "sources")
    assert by_font[S.PILLOW_FONT] == (1.0, 10)


def test_an_unknown_style_is_refused():
    with pytest.raises(ValueError, match="Unknown style"):
        S.draw("crayon", 3, np.random.default_rng(0))
