"""What differs per Keras backend, tested on the backend this run uses (CI runs tests/nets
on TensorFlow and again on JAX)."""
import os
import subprocess
import sys

import keras
import numpy as np

from nets import backend


def _linear_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    return model


def _mse(call, x, y):
    return keras.ops.mean(keras.ops.square(call(x)[:, 0] - y))


def test_gradient_step_learns_a_line_and_refuses_a_non_finite_step():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 3)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5], "float32") + 0.3).astype("float32")
    model = _linear_model()
    step = backend.gradient_step(model, keras.optimizers.Adam(0.05), _mse)
    first = step(x, y)
    for _ in range(300):
        last = step(x, y)
    assert last < first / 100, (first, last)
    kernel = keras.ops.convert_to_numpy(model.layers[0].kernel)[:, 0]
    np.testing.assert_allclose(kernel, [1.0, -2.0, 0.5], atol=0.05)
    before = [w.copy() for w in model.get_weights()]
    bad = y.copy()
    bad[0] = np.nan
    assert np.isnan(step(x, bad))
    for w, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, b)  # the NaN step was not applied


def test_predictor_follows_the_weights_as_they_change():
    model = _linear_model()
    predict = backend.predictor(model)
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(predict(x), keras.ops.convert_to_numpy(model(x)), rtol=1e-6)
    model.layers[0].kernel.assign(np.full((3, 1), 2.0, "float32"))
    model.layers[0].bias.assign(np.zeros(1, "float32"))
    np.testing.assert_allclose(predict(x), np.full((2, 1), 6.0), rtol=1e-6)


def test_gradients_match_the_hand_derivative_and_leave_the_weights():
    model = _linear_model()
    model.layers[0].kernel.assign(np.array([[1.0], [0.0], [2.0]], "float32"))
    model.layers[0].bias.assign(np.array([0.5], "float32"))
    x = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, -1.0]], "float32")
    y = np.array([1.0, 0.0], "float32")
    grads = backend.gradients(model, _mse)
    loss, (dw, db) = grads(x, y)
    error = x @ np.array([1.0, 0.0, 2.0]) + 0.5 - y  # 6.5, -1.5
    assert abs(loss - np.mean(error ** 2)) < 1e-5
    np.testing.assert_allclose(dw[:, 0], (2 * error[:, None] * x).mean(0), rtol=1e-6)
    np.testing.assert_allclose(db, [(2 * error).mean()], rtol=1e-6)
    np.testing.assert_array_equal(model.get_weights()[1], [0.5])


def test_compiled_runs_a_function_of_tensors():
    f = backend.compiled(lambda a, b: keras.ops.matmul(a, b) + 1.0)
    out = keras.ops.convert_to_numpy(f(np.eye(2, dtype="float32"),
                                       np.ones((2, 2), "float32")))
    np.testing.assert_array_equal(out, np.full((2, 2), 2.0))


def test_start_names_the_backend_in_use_and_a_device():
    info = backend.start()
    assert info["backend"] == keras.backend.backend()
    assert info["device"].startswith(("CPU", "GPU"))
    assert info["backend_label"] in backend.describe(info)


def _choose_in_a_fresh_process(wish, env_extra=None):
    code = ("import sys; from nets import backend; note = backend.choose(sys.argv[1] or None);"
            "import keras; print(keras.backend.backend()); print(note)")
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.update(env_extra or {})
    out = subprocess.run([sys.executable, "-c", code, wish], capture_output=True, text=True,
                         env=env, timeout=120, cwd=os.path.dirname(backend.__file__) + "/..")
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_an_unknown_or_missing_backend_says_so_and_the_default_is_used(monkeypatch):
    used, note = _choose_in_a_fresh_process("theano")
    assert used == "tensorflow" and "Unknown backend 'theano'" in note
    monkeypatch.setattr(backend, "installed", lambda name: name == "tensorflow")
    monkeypatch.delitem(sys.modules, "keras")  # as before Keras is imported
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    note = backend.choose("torch")
    assert "PyTorch is not installed" in note and '.[torch]' in note
    assert os.environ["KERAS_BACKEND"] == "tensorflow"


class TwoParts(keras.Model):
    """A generator and a critic in one model, as a GAN's steps see them."""

    def __init__(self):
        super().__init__()
        self.first = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
        self.second = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        self.built = True

    def call(self, x, training=False):
        return self.second(self.first(x, training=training), training=training)


def test_gradient_step_updates_only_the_variables_it_is_given():
    keras.utils.set_random_seed(0)
    model = TwoParts()
    x = np.random.default_rng(0).normal(size=(32, 2)).astype("float32")
    y = np.ones(32, "float32")
    for part, other in ((model.second, model.first), (model.first, model.second)):
        step = backend.gradient_step(model, keras.optimizers.SGD(0.1), _mse,
                                     variables=part.trainable_variables)
        before = [w.copy() for w in part.get_weights()]
        kept = [w.copy() for w in other.get_weights()]
        first = step(x, y)
        for _ in range(5):
            last = step(x, y)
        assert last < first
        assert all(np.any(a != b) for a, b in zip(part.get_weights(), before))
        for a, b in zip(other.get_weights(), kept):
            np.testing.assert_array_equal(a, b)  # the other part stays as it was
    try:
        backend.gradient_step(model, keras.optimizers.SGD(0.1), _mse,
                              variables=_linear_model().trainable_variables)
    except ValueError as exc:
        assert "variables" in str(exc)
    else:
        raise AssertionError("variables of another model were accepted")


def test_input_gradient_is_the_hand_derivative_per_input_and_leaves_the_weights():
    model = _linear_model()
    model.layers[0].kernel.assign(np.array([[1.0], [0.0], [2.0]], "float32"))
    model.layers[0].bias.assign(np.array([0.5], "float32"))
    x = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, -1.0]], "float32")
    y = np.array([1.0, 0.0], "float32")

    def summed(call, x, y):
        return keras.ops.sum(keras.ops.square(call(x)[:, 0] - y))

    loss, dx = backend.input_gradient(model, summed)(x, y)
    error = x @ np.array([1.0, 0.0, 2.0]) + 0.5 - y
    assert abs(loss - np.sum(error ** 2)) < 1e-4
    assert dx.shape == x.shape
    # d/dx of (w.x + b - y)^2 is 2 (w.x + b - y) w, for each row on its own
    np.testing.assert_allclose(dx, 2 * error[:, None] * np.array([1.0, 0.0, 2.0]), rtol=1e-6)
    np.testing.assert_array_equal(model.get_weights()[1], [0.5])
