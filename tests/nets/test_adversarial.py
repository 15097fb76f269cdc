"""Adversarial images: FGSM's exact step, PGD's ε-ball, a targeted attack that works, the
robustness curve, refusals in words, and adversarial training changing the batches."""
import dataclasses

import keras
import numpy as np
import pytest

from nets import adversarial, data
from nets.adversarial import AttackError, Attacker
from nets.errors import PlainError
from nets.families import cnn


@pytest.fixture(scope="module")
def digits():
    return data.load("mnist-5k")


@pytest.fixture(scope="module")
def trained(digits):
    """A small convnet trained for three epochs (3 s): about 90% held out."""
    keras.utils.set_random_seed(0)
    config = cnn.Config(filters=8, conv_blocks=2, augment=False, epochs=3, dropout=0.2)
    model = cnn.build_model(config, digits.input_shape, 10, len(digits.x_train))
    model.fit(digits.x_train, digits.y_train, batch_size=64, epochs=3, verbose=0)
    return model


@pytest.fixture(scope="module")
def attacker(trained):
    return Attacker(trained)


def test_fgsm_moves_each_pixel_by_exactly_eps_in_the_gradients_sign_within_0_and_1(
        attacker, digits):
    x, y = digits.x_val[:64], digits.y_val[:64]
    eps = 0.1
    adv = attacker.fgsm(x, y, eps)
    sign = np.sign(attacker.gradient(x, y))
    assert adv.min() >= 0.0 and adv.max() <= 1.0
    free = (x + eps * sign >= 0) & (x + eps * sign <= 1)  # not pushed past a bound
    np.testing.assert_allclose((adv - x)[free], (eps * sign)[free], atol=1e-6)
    assert np.abs(sign[free]).mean() > 0.3  # most pixels do move
    # pixels pushed past a bound sit on it: black digits' background pushed darker stays 0
    clipped = ~free
    assert clipped.any()
    np.testing.assert_array_equal(adv[clipped], np.clip(x + eps * sign, 0, 1)[clipped])
    assert set(np.unique(adv[clipped])) <= {0.0, 1.0}


def test_fgsm_lowers_accuracy_and_the_loss_goes_up(attacker, digits):
    x, y = digits.x_val[:200], digits.y_val[:200]
    clean = attacker.probabilities(x).argmax(1)
    fooled = attacker.probabilities(attacker.fgsm(x, y, 0.2)).argmax(1)
    assert np.mean(fooled == y) < np.mean(clean == y) - 0.2


def test_pgd_stays_within_the_eps_ball_and_in_0_1_and_beats_fgsm(attacker, digits):
    x, y = digits.x_val[:200], digits.y_val[:200]
    eps = 0.1
    for start in (False, True):
        adv = attacker.pgd(x, y, eps, steps=5, random_start=start, seed=3)
        assert np.abs(adv - x).max() <= eps + 1e-6
        assert adv.min() >= 0.0 and adv.max() <= 1.0
    pgd_acc = np.mean(attacker.probabilities(adv).argmax(1) == y)
    fgsm_acc = np.mean(attacker.probabilities(attacker.fgsm(x, y, eps)).argmax(1) == y)
    assert pgd_acc <= fgsm_acc


def test_a_targeted_attack_raises_the_targets_probability(attacker, digits):
    target = 3
    keep = digits.y_val != target
    x = digits.x_val[keep][:50]
    before = attacker.probabilities(x)[:, target]
    adv = attacker.targeted(x, target, 0.2)
    after = attacker.probabilities(adv)[:, target]
    assert np.abs(adv - x).max() <= 0.2 + 1e-6
    assert (after > before).mean() > 0.9 and after.mean() > before.mean() + 0.3
    assert np.mean(attacker.probabilities(adv).argmax(1) == target) > 0.5


def test_the_robustness_curve_falls_with_eps(trained, digits, attacker):
    eps = [0.0, 0.05, 0.1, 0.2, 0.3]
    curve = adversarial.robustness_curve(trained, digits.x_val[:500], digits.y_val[:500],
                                         eps, attacker=attacker)
    assert curve.epsilons == eps and curve.images == 500
    assert all(b <= a for a, b in zip(curve.accuracy, curve.accuracy[1:])), curve.accuracy
    assert curve.accuracy[0] > 0.8 and curve.accuracy[-1] < 0.3
    clean = np.mean(attacker.probabilities(digits.x_val[:500]).argmax(1) == digits.y_val[:500])
    assert curve.accuracy[0] == pytest.approx(clean)
    assert "| 0.3 |" in curve.table()
    targeted = adversarial.robustness_curve(trained, digits.x_val[:100], digits.y_val[:100],
                                            [0.0, 0.2], "targeted", target=3, steps=3,
                                            attacker=attacker)
    assert targeted.target_rate[1] > targeted.target_rate[0]


@pytest.mark.parametrize("eps", [-0.1, 1.5, float("nan"), "a lot"])
def test_eps_outside_0_1_is_refused_in_words(attacker, digits, eps):
    with pytest.raises(AttackError, match="between 0 and 1") as info:
        attacker.fgsm(digits.x_val[:2], digits.y_val[:2], eps)
    assert isinstance(info.value, PlainError) and isinstance(info.value, ValueError)
    with pytest.raises(AttackError, match="between 0 and 1"):
        adversarial.parse_epsilons(f"0,0.1,{eps}")
    assert adversarial.parse_epsilons("0, 0.05,1") == [0.0, 0.05, 1.0]


def test_a_model_that_is_not_a_classifier_of_these_images_is_refused(trained, digits):
    regression = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                                   keras.layers.Dense(1)])
    with pytest.raises(AttackError, match="softmax over classes"):
        Attacker(regression)
    flat = keras.Sequential([keras.Input((784,)),
                             keras.layers.Dense(10, activation="softmax")])
    with pytest.raises(AttackError, match="does not take images"):
        Attacker(flat)
    colour = np.zeros((4, 32, 32, 3), np.float32)
    with pytest.raises(AttackError, match="not a classifier of these images"):
        adversarial.robustness_curve(trained, colour, np.zeros(4, int), [0.1])
    with pytest.raises(AttackError, match="'vae' model"):
        adversarial.check_family("vae")


def test_the_perturbation_is_shown_at_full_contrast_with_its_true_scale():
    delta = np.array([[-0.1, 0.0], [0.1, 0.05]], np.float32)
    shown, words = adversarial.perturbation_words(delta)
    np.testing.assert_allclose(shown, [[0.0, 0.5], [1.0, 0.75]], atol=1e-6)
    assert "±0.10 of the 0..1 pixel range" in words and "×5" in words


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="the same keras.ops code on every backend; "
                           "test_every_backend trains on each")
def test_adversarial_training_trains_on_fgsm_batches(digits):
    from nets import runner
    from nets.progress import ListReporter

    small = dataclasses.replace(digits, x_train=digits.x_train[:512],
                                y_train=digits.y_train[:512], x_val=digits.x_val[:200],
                                y_val=digits.y_val[:200])
    base = cnn.Config(filters=4, conv_blocks=1, augment=False, epochs=1, batch_size=64)

    def run(config):
        request = runner.RunRequest("cnn", config, "mnist-5k", seed=2, autosave=False)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(data, "load", lambda *a, **k: small)
            done = runner.execute(request, ListReporter())
        assert done.status == "finished", done.message + done.detail
        return done.result.model.get_weights()

    clean = run(base)
    again = run(base)
    robust = run(dataclasses.replace(base, adversarial=True, adversarial_epsilon=0.2))
    assert all(np.array_equal(a, b) for a, b in zip(clean, again))  # seeded: same run
    assert any(not np.allclose(a, b) for a, b in zip(clean, robust))
    assert all(np.isfinite(w).all() for w in robust)


def test_adversarial_batches_replace_about_half_with_fgsm_examples(trained, digits):
    batches = cnn.AdversarialBatches(trained, epsilon=0.2)
    x, y = digits.x_train[:200], digits.y_train[:200]
    out = batches(x, np.random.default_rng(0), y)
    moved = np.abs(out - x).reshape(len(x), -1).max(1)
    changed = moved > 0
    assert 0.3 < changed.mean() < 0.7  # Goodfellow et al.'s α = 0.5 mix, in expectation
    assert np.allclose(moved[changed], 0.2, atol=1e-6)
    np.testing.assert_array_equal(out[~changed], x[~changed])


# ---------------------------------------------------------------- the command line
def run_cli(*args, folder):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DLE_HOME": str(folder / "home")}
    return subprocess.run([sys.executable, str(root / "main.py"), "attack", *args],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=300)


def saved(model, path, family="cnn"):
    from nets import storage

    config = cnn.Config(filters=8, conv_blocks=2, augment=False, epochs=3, dropout=0.2)
    meta = {"family": family, "config": dataclasses.asdict(config), "dataset": "mnist-5k",
            "seed": 0, "classes": [str(i) for i in range(10)], "input_shape": [28, 28, 1]}
    return storage.save_model(model, path, meta)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="the command line's own code; tests/nets/test_cli.py runs on "
                           "TensorFlow only too")
def test_the_attack_command_prints_and_writes_the_curve(trained, tmp_path):
    import json

    path = saved(trained, tmp_path / "digits.keras")
    r = run_cli(str(path), "--eps", "0,0.1,0.3", "--images", "300", "--out", "curve.csv",
                folder=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "first 300 held-out images" in r.stdout and "| 0.3 |" in r.stdout
    rows = (tmp_path / "curve.csv").read_text().split()
    assert rows[0] == "eps,accuracy" and len(rows) == 4
    acc = [float(row.split(",")[1]) for row in rows[1:]]
    assert acc[0] > 0.8 and acc[2] < acc[0]
    assert not list(tmp_path.glob(".curve.csv.*"))  # no temporary left behind
    r = run_cli(str(path), "--attack", "targeted", "--target", "3", "--steps", "3",
                "--eps", "0,0.2", "--images", "100", "--out", "t.json", folder=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    written = json.loads((tmp_path / "t.json").read_text())
    assert written["attack"] == "targeted" and written["target"] == 3
    assert written["curve"][1]["target_rate"] > written["curve"][0]["target_rate"]


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="the command line's own code; tests/nets/test_cli.py runs on "
                           "TensorFlow only too")
def test_the_attack_command_refuses_bad_input_in_words(trained, tmp_path):
    path = saved(trained, tmp_path / "digits.keras")
    r = run_cli(str(path), "--eps", "0,1.5", folder=tmp_path)
    assert r.returncode == 2 and "ε must be between 0 and 1" in r.stderr
    r = run_cli(str(path), "--attack", "targeted", folder=tmp_path)
    assert r.returncode == 2 and "needs --target" in r.stderr
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"\x00" * 50)
    r = run_cli(str(junk), folder=tmp_path)
    assert r.returncode == 1 and "not a model file" in r.stderr
    other = saved(trained, tmp_path / "vae.keras", family="vae")
    r = run_cli(str(other), folder=tmp_path)
    assert r.returncode == 1 and "'vae' model" in r.stderr
    assert "Traceback" not in r.stderr
