"""Every family trains briefly, saves and loads back, on the backend this run uses
(`dev.py test` runs this file on TensorFlow, JAX and PyTorch). On TensorFlow, the files it
saves are also loaded on each other installed backend, in a fresh process: a model file
holds weights only, so it moves between backends."""
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from nets import backend, registry, runner
from nets.progress import ListReporter

# A few seconds of each family, on the bundled digits (the Q-learner plays CartPole).
TEXTS = Path(__file__).resolve().parents[2] / "resources" / "text"
SHORT = {
    "neurons": dict(epochs=3, points=100),
    "depth": dict(hidden_layers=2, width=16, epochs=1, batch_norm=True, pretraining=True,
                  pretrain_epochs=1, batch_size=128),
    "kmeans": dict(patches=4000, clusters=16, kmeans_epochs=2, classifier_epochs=2),
    "sparse_coding": dict(atoms=16, patches=600, epochs=2, coding_iterations=20),
    "autoencoder": dict(hidden=16, epochs=1, few_labels=0, batch_size=256),
    "vae": dict(epochs=1, hidden=32),
    "rbm": dict(hidden="16, 8", epochs=1, fine_tune="100", fine_tune_epochs=1),
    # a 14 kB text that ships with the app (Python's licence) rather than a 1.2 MB one
    "rnn": dict(corpus="file", text_path=str(TEXTS / "python-LICENSE.txt"), units=16,
                embedding=8, sequence_length=50, batch_size=32, epochs=1),
    "gates": dict(lengths="5", cells="rnn, lstm, gru", units=8, steps=20, batch_size=32),
    "draw": dict(epochs=1, steps=3, units=16, latent_dim=2, write_size=3, batch_size=500),
    "cnn": dict(epochs=1, filters=4, conv_blocks=1, augment=False),
    "captions": dict(epochs=1, filters=4, units=16, embedding=8, attention=8,
                     scenes_per_epoch=64, batch_size=32, max_objects=2),
    "dqn": dict(total_steps=300, learning_starts=100, batch_size=16),
    "gan": dict(steps=20, score_every=10, g_width=8, d_width=8, latent_size=8,
                batch_size=16, conditional=True),
}
ROOT = Path(__file__).resolve().parents[2]


def test_every_registered_family_has_a_short_run_here():
    assert set(SHORT) == set(registry.keys())


def weights(trained) -> list[np.ndarray]:
    return [np.asarray(w) for w in trained.model.get_weights()]


def short_run(key: str) -> runner.TrainedModel:
    fam = registry.family(key)
    request = runner.RunRequest(key, fam.config(**SHORT[key]),
                                "" if fam.datasets == () else "mnist-5k", seed=1,
                                autosave=False)
    done = runner.execute(request, ListReporter())
    assert done.status == "finished", f"{key} on {keras.backend.backend()}: {done.message}" \
                                      f"\n{done.detail}"
    return done.result


@pytest.mark.parametrize("key", list(SHORT))
def test_a_short_run_trains_saves_and_loads_back(key, tmp_path):
    trained = short_run(key)
    learnt = weights(trained)
    assert learnt and all(np.isfinite(w).all() for w in learnt)
    path = trained.save(tmp_path / f"{key}.keras")
    again = registry.family(key).load(path)
    for a, b in zip(learnt, weights(again), strict=True):
        np.testing.assert_array_equal(a, b)


LOAD_ELSEWHERE = """
import json, sys
import numpy as np
from nets import registry
out = {}
for key, path in json.loads(sys.argv[1]).items():
    w = registry.family(key).load(path).model.get_weights()
    out[key] = [float(np.asarray(a, np.float64).sum()) for a in w]
import keras
print(json.dumps({"backend": keras.backend.backend(), "sums": out}))
"""


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="files are made on TensorFlow and read on the others")
def test_files_saved_on_tensorflow_load_on_every_other_installed_backend(tmp_path):
    others = [b for b in backend.BACKENDS if b != "tensorflow" and backend.installed(b)]
    if not others:
        pytest.skip("no other Keras backend is installed")
    paths, sums = {}, {}
    for key in ("cnn", "vae", "sparse_coding", "dqn"):
        trained = short_run(key)
        paths[key] = str(trained.save(tmp_path / f"{key}.keras"))
        sums[key] = [float(np.asarray(w, np.float64).sum()) for w in weights(trained)]
    for other in others:
        env = {**os.environ, "KERAS_BACKEND": other, "DLE_HOME": str(tmp_path / "home")}
        result = subprocess.run([sys.executable, "-c", LOAD_ELSEWHERE, json.dumps(paths)],
                                capture_output=True, text=True, env=env, cwd=ROOT,
                                timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        read = json.loads(result.stdout.strip().splitlines()[-1])
        assert read["backend"] == other
        for key in paths:
            np.testing.assert_allclose(read["sums"][key], sums[key], rtol=1e-6,
                                       err_msg=f"{key} read on {other}")


PLAY_ON_TENSORFLOW = """
import json, sys
import numpy as np
from nets.families import dqn
agent = dqn.load(sys.argv[1])
state = np.load(sys.argv[2])
q = np.asarray(agent.model(state, training=False))
import keras
print(json.dumps({"backend": keras.backend.backend(), "q": q.tolist()}))
"""


@pytest.mark.skipif(keras.backend.backend() != "jax" or not backend.installed("tensorflow"),
                    reason="an Atari agent trained on JAX (as on the GPU machine, which has "
                           "no TensorFlow) is read on TensorFlow, the default install")
def test_an_atari_agent_trained_on_jax_plays_the_same_on_tensorflow(tmp_path):
    from nets.families import dqn

    fam = registry.family("dqn")
    cfg = fam.config(game="Pong", envs=2, total_steps=100, learning_starts=50, batch_size=4,
                     replay_capacity=200)
    done = runner.execute(runner.RunRequest("dqn", cfg, "", seed=1, autosave=False),
                          ListReporter())
    assert done.status == "finished", done.message
    path = done.result.save(tmp_path / "pong.keras")
    states = np.random.default_rng(0).integers(0, 256, (3, dqn.FRAME, dqn.FRAME,
                                                        dqn.HISTORY), dtype=np.uint8)
    np.save(tmp_path / "states.npy", states)
    here = backend.predictor(done.result.model)(states)
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "DLE_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-c", PLAY_ON_TENSORFLOW, str(path),
                             str(tmp_path / "states.npy")], capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    read = json.loads(result.stdout.strip().splitlines()[-1])
    assert read["backend"] == "tensorflow"
    np.testing.assert_allclose(read["q"], here, rtol=1e-4, atol=1e-5)
    assert np.argmax(read["q"], axis=1).tolist() == np.argmax(here, axis=1).tolist()
