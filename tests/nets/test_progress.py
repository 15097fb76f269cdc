"""The event protocol and the Keras bridge: per-batch values, stop, pause, NaN guard."""
import threading
import time

import keras
import numpy as np
import pytest

from nets.progress import (BatchMetrics, Controls, EpochMetrics, ListReporter, StopRequested,
                           TrainingDiverged, make_fit_bridge)


def tiny_model(lr=0.0):
    keras.utils.set_random_seed(1)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    m.compile(optimizer=keras.optimizers.SGD(lr), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


def data(n=50):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)).astype("float32"), rng.integers(0, 3, n)


def test_bridge_reports_each_batch_loss_not_the_running_mean():
    # With a zero learning rate the weights never move, so each batch's loss can be
    # computed independently and compared with what the bridge derived from Keras' means.
    x, y = data(50)
    model = tiny_model(lr=0.0)
    rep = ListReporter()
    bridge = make_fit_bridge(rep, epochs=1, steps_per_epoch=4, samples=50, batch_size=16)
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[bridge])
    got = [e.metrics["loss"] for e in rep.of(BatchMetrics)]
    loss = keras.losses.sparse_categorical_crossentropy
    expected = [float(keras.ops.convert_to_numpy(loss(y[i:i + 16], model(x[i:i + 16]))).mean())
                for i in range(0, 50, 16)]
    assert [e.step for e in rep.of(BatchMetrics)] == [1, 2, 3, 4]
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    assert len(set(np.round(got, 5))) == 4  # really per batch, not one repeated mean


def test_epoch_metrics_include_validation():
    x, y = data(40)
    rep = ListReporter()
    bridge = make_fit_bridge(rep, epochs=2, steps_per_epoch=3, samples=40, batch_size=16)
    tiny_model(0.1).fit(x, y, batch_size=16, epochs=2, validation_data=(x, y), verbose=0,
                        callbacks=[bridge])
    epochs = rep.of(EpochMetrics)
    assert [e.epoch for e in epochs] == [0, 1]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(epochs[0].metrics)


def test_stop_raises_at_the_next_batch():
    x, y = data(64)
    rep = ListReporter()

    class StopAfterTwo(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 2:
                rep.controls.stop()

    bridge = make_fit_bridge(rep, epochs=5, steps_per_epoch=8, samples=64, batch_size=8)
    with pytest.raises(StopRequested):
        tiny_model(0.1).fit(x, y, batch_size=8, epochs=5, verbose=0,
                            callbacks=[StopAfterTwo(), bridge])
    assert len(rep.of(BatchMetrics)) == 3


def test_pause_blocks_until_resumed_and_stop_wakes_a_paused_run():
    c = Controls()
    c.pause()
    released = []

    def trainer():
        try:
            c.checkpoint()
            released.append("resumed")
            c.pause()
            c.checkpoint()
        except StopRequested:
            released.append("stopped")

    t = threading.Thread(target=trainer)
    t.start()
    time.sleep(0.2)
    assert released == []  # still paused
    c.resume()
    time.sleep(0.2)
    assert released == ["resumed"]
    c.stop()
    t.join(2)
    assert released == ["resumed", "stopped"] and not t.is_alive()


def test_nan_loss_raises_diverged_and_keeps_last_good_weights():
    x, y = data(64)
    x[40:] = np.nan  # batches in the second half poison the loss
    model = tiny_model(0.1)
    rep = ListReporter()
    bridge = make_fit_bridge(rep, epochs=1, steps_per_epoch=4, samples=64, batch_size=16)
    with pytest.raises(TrainingDiverged, match="loss became nan"):
        model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[bridge])
    assert all(np.isfinite(w).all() for w in bridge.last_good_weights)


def test_the_console_shows_no_loss_until_there_is_one():
    import io

    from nets.progress import BatchMetrics, ConsoleReporter, Done, Started

    out = io.StringIO()
    console = ConsoleReporter(stream=out, every_s=0)
    console.emit(Started(total_steps=10, description="warming up"))
    console.emit(BatchMetrics(step=1, epoch=0, metrics={}))  # before learning starts
    console.emit(BatchMetrics(step=2, epoch=0, metrics={"loss": float("nan")}))
    console.emit(Done("finished", "Trained.", headline="Held-out accuracy: 90.0%"))
    text = out.getvalue()
    assert "nan" not in text and text.count("loss —") == 2
    assert text.strip().splitlines()[-1] == "Held-out accuracy: 90.0%"
    console.emit(Started(total_steps=10, description="a GAN", metric="g_loss"))
    console.emit(BatchMetrics(step=3, epoch=0, metrics={"g_loss": 0.75, "d_loss": 1.25}))
    assert "g_loss 0.7500" in out.getvalue()  # the run's own main metric


def test_the_divergence_guard_lets_a_wandering_loss_be_and_stops_an_explosion():
    from nets.progress import DivergenceGuard, TrainingDiverged

    calm = DivergenceGuard()
    for loss in [2.3, 2.5, 3.0, 2.0, 4.0, 1.0, 0.5, 6.0, 0.4]:
        calm.check(loss, "here")
    wild = DivergenceGuard()
    with pytest.raises(TrainingDiverged, match="exploded"):
        for loss in [2.3, 40.0, 900.0, 5e4, 5e6, 5e6]:
            wild.check(loss, "here")
    capped = DivergenceGuard()  # a classifier's clipped cross-entropy, stuck near 13
    with pytest.raises(TrainingDiverged, match="exploded"):
        for loss in [2.29, 13.2, 12.8, 12.2, 12.7, 13.5]:
            capped.check(loss, "here")
    with pytest.raises(TrainingDiverged, match="became nan"):
        DivergenceGuard().check(float("nan"), "here")


def test_per_batch_losses_stay_true_with_augmented_batches():
    """The augmented pipeline shuffles samples itself: Keras must not also shuffle the
    batch order, or the short last batch comes mid-epoch and its loss is misread."""
    from nets import runner

    model = tiny_model(lr=0.0)  # no learning: a batch's loss is the mean of fixed losses
    rng = np.random.default_rng(0)
    x = 30 * rng.normal(size=(300, 4)).astype(np.float32)  # losses from ~0 to large
    y = rng.integers(0, 3, 300)
    per_sample = keras.ops.convert_to_numpy(
        keras.losses.sparse_categorical_crossentropy(y, model(x)))
    loss_of = {row.tobytes(): loss for row, loss in zip(x, per_sample)}
    true_means = []

    def record(batch, _rng):  # the mean loss of every batch handed to Keras
        true_means.append(np.mean([loss_of[row.tobytes()] for row in batch]))
        return batch

    rep = ListReporter()
    done = runner.fit_keras(model, family_key="t", meta={}, x=x, y=y, validation=None,
                            epochs=3, batch_size=128, reporter=rep, autosave=False,
                            augment=record)
    assert done.status == "finished"
    losses = [e.metrics["loss"] for e in rep.of(BatchMetrics)]
    assert len(losses) == 9
    for loss in losses:  # each is the loss of a batch that was really trained on
        assert min(abs(loss - m) for m in true_means) < 1e-3 * max(1.0, abs(loss))
