"""The headless command line: same code path as the GUI, options from the config."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nets.families import cnn

ROOT = Path(__file__).resolve().parents[2]


def run(*args, tmp_path):
    env = {**os.environ, "DLE_HOME": str(tmp_path / "home")}
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)


def test_list_names_families_and_datasets(tmp_path):
    r = run("list", tmp_path=tmp_path)
    assert r.returncode == 0
    assert "cnn" in r.stdout and "mnist-5k" in r.stdout and "bundled" in r.stdout


SMALL = ["--filters", "4", "--conv-blocks", "1", "--no-augment", "--dataset", "mnist-5k"]


@pytest.fixture(scope="module")
def trained_one_epoch(tmp_path_factory):
    """`train cnn --epochs 1 ... --save digits.keras` run once: (the run, its folder). The
    tests that read its files and resume from its autosave share it (each run is seconds
    of TensorFlow start-up)."""
    folder = tmp_path_factory.mktemp("cli")
    return run("train", "cnn", "--epochs", "1", *SMALL, "--save", "digits.keras",
               tmp_path=folder), folder


def test_train_saves_a_model_that_loads(trained_one_epoch):
    r, tmp_path = trained_one_epoch
    assert r.returncode == 0, r.stderr[-2000:]
    assert "bundled subset" in r.stdout and "epoch 1/1" in r.stdout
    loaded = cnn.load(tmp_path / "digits.keras")
    assert loaded.meta["config"]["filters"] == 4
    assert (tmp_path / "home" / "autosave" / "cnn" / "epoch-0001.keras").is_file()


def test_bad_options_are_refused_in_words(tmp_path):
    r = run("train", "cnn", "--epochs", "0", tmp_path=tmp_path)
    assert r.returncode == 2 and "Epochs must be at least 1" in r.stderr
    r = run("train", "cnn", "--epochs", "1", "--dataset", "folder:/nowhere",
            tmp_path=tmp_path)
    assert r.returncode == 1 and "does not exist" in r.stdout


def test_an_atari_game_on_the_command_line_starts_from_the_papers_settings():
    import main
    from nets import registry
    from nets.families import dqn

    parser = main.build_parser()
    module = registry.family("dqn")
    pong = main.config_from_args(module, parser.parse_args(
        ["train", "dqn", "--game", "Pong", "--batch-size", "16"]))
    assert pong.train_every == 4 and pong.learning_rate == dqn.ATARI_SETTINGS[
        "learning_rate"] and pong.batch_size == 16  # what was given wins
    cartpole = main.config_from_args(module, parser.parse_args(["train", "dqn"]))
    assert cartpole == dqn.Config()


def test_nan_infinite_and_out_of_range_values_are_refused_up_front(tmp_path):
    for option, value, words in (("--learning-rate", "nan", "Learning rate must be a finite"),
                                 ("--dropout", "nan", "Dropout must be a finite"),
                                 ("--learning-rate", "inf", "Learning rate must be a finite"),
                                 ("--dropout", "1.5", "Dropout must be at most")):
        r = run("train", "cnn", option, value, tmp_path=tmp_path)
        assert r.returncode == 2 and words in r.stderr, (option, value, r.stderr[-500:])
    r = run("train", "cnn", "--seed", "-1", tmp_path=tmp_path)
    assert r.returncode == 2 and "seed must be between 0 and" in r.stderr


def test_an_unwritable_save_path_is_refused_before_training(tmp_path):
    r = run("train", "cnn", "--save", "/nonexistent/dir/m.keras", tmp_path=tmp_path)
    assert r.returncode == 2 and "/nonexistent/dir does not exist" in r.stderr
    assert "epoch" not in r.stdout  # nothing was trained first


def test_the_last_line_is_the_held_out_figure_and_resume_goes_to_the_epochs_asked(
        trained_one_epoch, tmp_path):
    first, folder = trained_one_epoch
    assert first.returncode == 0, first.stderr[-2000:]
    # the held-out figure ends a run: just before "Saved the model to ...", else last
    assert first.stdout.strip().splitlines()[-2].startswith("Held-out accuracy: ")
    shutil.copytree(folder / "home", tmp_path / "home")  # its autosave after epoch 1
    r = run("train", "cnn", "--resume", "--epochs", "2", *SMALL, tmp_path=tmp_path)
    assert r.returncode == 0 and "Trained 1 epochs" in r.stdout, r.stdout[-2000:]
    assert r.stdout.strip().splitlines()[-1].startswith("Held-out accuracy: ")
    r = run("train", "cnn", "--resume", "--epochs", "2", *SMALL, tmp_path=tmp_path)
    assert r.returncode == 1 and "already trained 2 epochs" in r.stdout


def test_kit_atari_refuses_a_wheel_that_does_not_fit_in_words(tmp_path):
    wheel = tmp_path / "ale_py-0.12.1-cp27-cp27-win32.whl"
    wheel.write_bytes(b"whatever")
    r = run("kit", "atari", "--wheel", str(wheel), tmp_path=tmp_path)
    assert r.returncode == 1 and "not an ale-py wheel for this computer" in r.stderr


def test_the_backend_option_is_taken_from_anywhere_and_a_wrong_one_is_named(tmp_path):
    import main

    assert main.take_backend(["train", "cnn", "--backend", "jax", "--epochs", "2"]) == (
        "jax", ["train", "cnn", "--epochs", "2"])
    assert main.take_backend(["--backend=torch"]) == ("torch", [])
    r = run("--backend", "theano", "list", tmp_path=tmp_path)
    assert r.returncode == 0 and "Model families" in r.stdout
    assert "Unknown backend 'theano'" in r.stderr and "using TensorFlow" in r.stderr


def test_a_time_limit_or_sigterm_stops_a_run_keeping_the_model(tmp_path):
    r = run("train", "dqn", "--minutes", "0.1", "--save", "agent.keras", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "time limit of 0.1 minutes" in r.stdout and (tmp_path / "agent.keras").exists()
    env = {**os.environ, "DLE_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "train", "dqn",
                             "--save", "again.keras"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:  # wait until it trains, then ask it to stop as `timeout` does
        if "step " in line:
            proc.terminate()
            break
    out = proc.stdout.read()
    assert proc.wait(timeout=120) == 130 and "Saved the model" in out
    assert (tmp_path / "again.keras").exists()
    assert list((tmp_path / "home").rglob("*.keras"))  # its autosave too
    r = run("train", "dqn", "--minutes", "0", tmp_path=tmp_path)
    assert r.returncode == 2 and "not a number of minutes above 0" in r.stderr
