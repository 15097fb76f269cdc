"""Bad model files, tried on every family's loader and every tab: each gets a clear
message, nothing in the file runs, and the model a tab already has stays as it was."""
import json
import zipfile

import numpy as np
import pytest

from nets import pretrained, registry, runner
from nets.storage import META_MEMBER, StorageError

KINDS = ("zero bytes", "random bytes", "truncated", "another family's model",
         "Lambda layer that writes a file")


def shipped(family: str):
    return next(e.path for e in pretrained.entries(family))


def trojan(path, out, marker):
    """A copy of a real model file whose Keras config holds a Lambda layer that creates
    `marker` when Keras rebuilds the model from the config."""
    import keras

    inputs = keras.Input((4,))
    writes_marker = eval(f"lambda t: (open({str(marker)!r}, 'w').close(), t)[1]")
    keras.Model(inputs, keras.layers.Lambda(writes_marker)(inputs)).save(out)
    marker.unlink()  # building it here ran the lambda once
    with zipfile.ZipFile(out) as z:
        evil = z.read("config.json")
    return rewrite(path, out, {"config.json": evil})


def rewrite(path, out, changes: dict):
    """A copy of the archive at `path` written to `out` with some members replaced."""
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members.update(changes)
    with zipfile.ZipFile(out, "w") as z:
        for name, blob in members.items():
            z.writestr(name, blob)
    return out


def bad_file(kind: str, family: str, folder, marker):
    path = folder / f"{kind.split()[0]}.keras"
    other = "vae" if family != "vae" else "dqn"
    if kind == "zero bytes":
        path.write_bytes(b"")
    elif kind == "random bytes":
        path.write_bytes(np.random.default_rng(0).bytes(60_000))
    elif kind == "truncated":
        blob = shipped(other).read_bytes()
        path.write_bytes(blob[: len(blob) // 2])
    elif kind == "another family's model":
        path.write_bytes(shipped(other).read_bytes())
    else:  # the trojan claims to be this family's model, so no family check stops it
        trojan(shipped(other), path, marker)
        with zipfile.ZipFile(path) as z:
            meta = json.loads(z.read(META_MEMBER))
        rewrite(path, path, {META_MEMBER: json.dumps({**meta, "family": family}).encode()})
    return path


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("family", registry.keys())
def test_every_loader_refuses_bad_files_in_words_and_runs_nothing(family, kind, tmp_path):
    marker = tmp_path / "code-ran"
    path = bad_file(kind, family, tmp_path, marker)
    with pytest.raises(StorageError) as caught:
        runner.family(family).load(path)
    message = str(caught.value)
    assert path.name in message or "model" in message
    assert "Traceback" not in message and len(message) < 400
    assert not marker.exists()


def test_a_strangers_lambda_in_a_real_agent_file_never_runs(tmp_path):
    """Real weights of the right family under a trojan config: the weights load, the
    code never runs (the app rebuilds the network from its own description)."""
    from nets.families import dqn

    marker = tmp_path / "code-ran"
    path = trojan(shipped("dqn"), tmp_path / "agent.keras", marker)
    assert dqn.load(path).model.count_params() > 0
    assert not marker.exists()
    import keras  # the test can fail: Keras itself, trusting the file, runs the code

    try:
        keras.saving.load_model(path, safe_mode=False)
    except Exception:  # noqa: BLE001 - the weights do not fit its graph; the code ran first
        pass
    assert marker.exists()


@pytest.mark.parametrize("family", registry.keys())
def test_every_tab_keeps_its_model_when_a_bad_file_is_opened(open_tab, tmp_path, family):
    from app.main_window import load_tab_class

    tab = open_tab(load_tab_class(family))
    panel = tab.panel
    for entry in pretrained.entries(panel.family_key):  # a model to keep, where one ships
        assert panel.load_pretrained(entry.name)
    before = panel.trained
    marker = tmp_path / "code-ran"
    for kind in KINDS:
        path = bad_file(kind, panel.family_key, tmp_path, marker)
        assert not panel.load_model_from(path), kind
        assert panel.error_banner.isVisibleTo(panel) and path.name in panel.error_banner.text()
        assert panel.trained is before and panel.state == "idle"
    assert not marker.exists()
