"""The services of a hand-written loop (nets.loop), on a toy loop written as the next
family (an RBM, a GAN) would write one."""
import dataclasses

import keras
import numpy as np
import pytest

from nets import registry, runner, storage
from nets.config import param
from nets.loop import Loop
from nets.progress import (Done, ListReporter, Log, StopRequested, TrainingDiverged)


@dataclasses.dataclass
class ToyConfig:
    steps: int = param(10, "Steps", "How long.", minimum=1, maximum=100)
    blow_up_at: int = param(0, "Blow up at", "A step whose loss is NaN (0: none).",
                            minimum=0, maximum=100)


def toy_train(request, reporter, stop_at=None):
    run = Loop.begin(request, reporter, ToyConfig, every=3)
    config = run.config
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    model.layers[0].kernel.assign(np.zeros((1, 1), "float32"))
    run.meta.update(input_shape=[1])
    start = run.restore(model)
    history = list(run.saved.get("history", []))
    i = start
    try:
        for i in range(start + 1, config.steps + 1):
            model.layers[0].kernel.assign(np.full((1, 1), float(i), "float32"))
            loss = float("nan") if i == config.blow_up_at else 1.0 / i
            run.check(loss, f"step {i}")
            run.good(model)
            history.append(loss)
            run.autosave(model, i, history=history)
            if i == stop_at:
                reporter.controls.stop()
            run.checkpoint()
    except TrainingDiverged as exc:
        run.back_to_good(model)
        return Done("failed", str(exc), result=model)
    except StopRequested:
        run.autosave(model, i, force=True, history=history)
        return Done("stopped", result=model)
    return Done("finished", result=(model, start, history))


@pytest.fixture
def toy(monkeypatch):
    fam = registry.Family(key="toy", title="Toy", summary="A toy.", config=ToyConfig,
                          train=toy_train, load=toy_train, length_field="steps")
    monkeypatch.setattr(registry, "family", lambda key: fam)


def test_autosaves_every_n_and_on_stop_then_resumes_with_its_counters(toy):
    rep = ListReporter()
    done = toy_train(runner.RunRequest("toy", ToyConfig(), ""), rep, stop_at=5)
    assert done.status == "stopped"
    slot = storage.AutosaveSlot("toy")
    assert [p.name for p in slot.paths()] == ["epoch-0003.keras", "epoch-0005.keras"]
    asked = ToyConfig(steps=8)
    request = runner.RunRequest("toy", asked, "", resume=True, length=8)
    rep = ListReporter()
    done = toy_train(request, rep)
    model, start, history = done.result
    assert start == 5 and len(history) == 8 and history[:5] == [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5]
    assert float(model.layers[0].kernel.numpy()[0, 0]) == 8.0
    assert request.config is asked  # the caller's request is left alone
    assert any("5 of 8 steps done" in e.text for e in rep.of(Log))


def test_a_diverged_loop_goes_back_to_its_last_good_weights(toy):
    done = toy_train(runner.RunRequest("toy", ToyConfig(blow_up_at=4), "", autosave=False),
                     ListReporter())
    assert done.status == "failed" and "step 4" in done.message
    assert float(done.result.layers[0].kernel.numpy()[0, 0]) == 3.0  # step 3's
    assert storage.AutosaveSlot("toy").paths() == []  # autosave off: nothing written
