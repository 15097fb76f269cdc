"""The worker: events arrive complete, in order and in few batches; stale jobs are dropped."""
import time

from app.worker import DRAIN_INTERVAL_MS, ExperimentWorker, LatestOnly
from nets.progress import BatchMetrics, Done


def test_events_arrive_in_order_in_throttled_batches(qtbot):
    worker = ExperimentWorker()
    batches = []
    worker.events.connect(batches.append)

    def experiment(reporter):
        for i in range(2000):
            reporter.emit(BatchMetrics(step=i, epoch=0, metrics={"loss": 1.0}))
            if i % 100 == 0:
                time.sleep(0.05)  # about a second in all
        reporter.emit(Done("finished"))

    t0 = time.monotonic()
    with qtbot.waitSignal(worker.finished, timeout=20000) as done:
        worker.start(experiment)
    seconds = time.monotonic() - t0
    assert done.args[0].status == "finished" and not worker.is_running()
    steps = [e.step for batch in batches for e in batch]
    assert steps == list(range(2000))  # nothing lost, nothing reordered
    assert len(batches) <= seconds * 1000 / DRAIN_INTERVAL_MS + 2  # at most ~10 a second


def test_an_exception_in_the_experiment_still_ends_the_run(qtbot):
    worker = ExperimentWorker()

    def broken(reporter):
        raise RuntimeError("boom")

    with qtbot.waitSignal(worker.finished, timeout=10000) as done:
        worker.start(broken)
    assert done.args[0].status == "failed" and "boom" in done.args[0].detail


def test_latest_only_drops_requests_overtaken_by_newer_ones(qtbot):
    runner = LatestOnly("test")
    results = []
    runner.result.connect(lambda tag, value: results.append(value))

    def slow(x):
        time.sleep(0.05)
        return x

    for i in range(20):
        runner.submit(slow, i, tag=i)
    qtbot.waitUntil(lambda: not runner.is_busy() and results and results[-1] == 19,
                    timeout=10000)
    assert results[0] == 0 and results[-1] == 19
    assert len(results) < 5  # the 18 in between were replaced before they ran
    assert runner.shutdown()
