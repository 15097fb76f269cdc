"""Running nets code off the GUI thread.

`ExperimentWorker` runs one experiment in a QThread and hands its events to the GUI in
batches, at most 10 times a second, so plots redraw at that rate however fast training
emits. (Measured on 2 cores: redrawing at 30 Hz took 21% of a core, mostly repainting axis
labels, and cut training throughput to 0.79 of a bare fit; at 10 Hz it stays >= 0.95.
A family that shows motion, a game, asks for a faster rate with its Family.event_interval_ms.)
`LatestOnly` runs short jobs (a prediction for the digit being drawn) one at a time in a
background thread, dropping requests overtaken by newer ones.
Every thread started here is tracked so tests can fail on any left running.
"""
from __future__ import annotations

import collections
import traceback
import weakref

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, QTimer, Signal
from shiboken6 import isValid

from nets.progress import Controls, Done

DRAIN_INTERVAL_MS = 100  # 10 deliveries a second: see the module docstring

_threads: "weakref.WeakSet[QThread]" = weakref.WeakSet()
_pools: "weakref.WeakSet[QThreadPool]" = weakref.WeakSet()


def track(thread: QThread) -> QThread:
    """Register a thread started elsewhere, so running_threads() sees it."""
    _threads.add(thread)
    return thread


def running_threads() -> list[str]:
    """Names of threads this module started that are still running (for tests)."""
    threads = [t for t in list(_threads) if isValid(t)]  # skip those Qt already deleted
    pools = [p for p in list(_pools) if isValid(p)]
    names = [t.objectName() or repr(t) for t in threads if t.isRunning()]
    names += [f"pool {p.objectName()}" for p in pools if p.activeThreadCount()]
    return names


class QueueReporter:
    """The reporter handed to the experiment: emit() only appends to a deque."""

    def __init__(self) -> None:
        self.controls = Controls()
        self._queue: collections.deque = collections.deque()

    def emit(self, event) -> None:
        self._queue.append(event)  # deque.append is atomic: no lock needed

    def drain(self) -> list:
        out = []
        while self._queue:
            out.append(self._queue.popleft())
        return out


class _RunThread(QThread):
    def __init__(self, fn, reporter, parent=None):
        super().__init__(parent)
        self.fn, self.reporter = fn, reporter
        self.setObjectName("experiment")

    def run(self):
        try:
            self.fn(self.reporter)
        except BaseException:  # the runner should never raise; be sure the GUI hears
            self.reporter.emit(Done("failed", "Internal error in the training thread.",
                                    traceback.format_exc()))


class ExperimentWorker(QObject):
    """One per tab. start(fn) runs fn(reporter) in a thread; events arrive in batches."""

    events = Signal(list)  # a batch of nets.progress events, oldest first
    finished = Signal(object)  # the final Done, after the thread has ended

    def __init__(self, parent: QObject | None = None, interval_ms: int = DRAIN_INTERVAL_MS):
        super().__init__(parent)
        self._thread: _RunThread | None = None
        self._reporter: QueueReporter | None = None
        self._done: Done | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._drain)

    def is_running(self) -> bool:
        return self._thread is not None

    def start(self, fn) -> None:
        if self.is_running():
            raise RuntimeError("This worker is already running an experiment.")
        self._reporter = QueueReporter()
        self._done = None
        self._thread = track(_RunThread(fn, self._reporter))
        self._thread.finished.connect(self._on_thread_finished)
        self._thread.start()
        self._timer.start()

    @property
    def controls(self) -> Controls | None:
        return self._reporter.controls if self._reporter else None

    def stop(self) -> None:
        if self._reporter:
            self._reporter.controls.stop()

    def pause(self) -> None:
        if self._reporter:
            self._reporter.controls.pause()

    def resume(self) -> None:
        if self._reporter:
            self._reporter.controls.resume()

    def wait(self, ms: int) -> bool:
        """Block until the thread ends (for shutdown paths and tests only)."""
        return self._thread.wait(ms) if self._thread else True

    def _drain(self) -> None:
        if self._reporter is None:
            return
        batch = []
        for event in self._reporter.drain():
            if isinstance(event, Done):
                self._done = event  # delivered once the thread has really ended
            else:
                batch.append(event)
        if batch:
            self.events.emit(batch)

    def _on_thread_finished(self) -> None:
        self._timer.stop()
        self._drain()
        done = self._done or Done("failed", "The training thread ended without a result.")
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.deleteLater()
        self.finished.emit(done)


class _Job(QRunnable):
    def __init__(self, finished: collections.deque, fn, args, tag):
        super().__init__()
        self.finished, self.fn, self.args, self.tag = finished, fn, args, tag

    def run(self):
        try:
            value, error = self.fn(*self.args), ""
        except Exception as exc:  # noqa: BLE001 - reported to the GUI
            value, error = None, f"{type(exc).__name__}: {exc}"
        # No Qt signal from this thread: emitting one with Python arguments holds a Qt
        # mutex while waiting for the GIL, and deadlocked against the GUI thread deleting
        # a Qt object. The GUI thread picks the result up instead.
        self.finished.append((self.tag, value, error))


class LatestOnly(QObject):
    """Runs fn(*args) jobs one at a time off the GUI thread; a newer request replaces a
    queued one. `result(tag, value)` arrives in the GUI thread; `failed(tag, text)` on error.
    While a job runs, a 4 ms timer in the GUI thread collects its result.
    """

    result = Signal(object, object)
    failed = Signal(object, str)

    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setObjectName(name)
        self._pool.setMaxThreadCount(1)
        _pools.add(self._pool)
        self._busy = False
        self._pending = None
        self._finished: collections.deque = collections.deque()
        self._poll = QTimer(self)
        self._poll.setInterval(4)
        self._poll.timeout.connect(self._collect)

    def submit(self, fn, *args, tag=None) -> None:
        self._pending = (fn, args, tag)
        if not self._busy:
            self._start_pending()

    def _start_pending(self) -> None:
        fn, args, tag = self._pending
        self._pending = None
        self._busy = True
        self._pool.start(_Job(self._finished, fn, args, tag))
        self._poll.start()

    def _collect(self) -> None:
        if not self._finished:
            return
        tag, value, error = self._finished.popleft()
        self._busy = False
        if self._pending is not None:
            self._start_pending()  # the result below is already stale; still show it
        else:
            self._poll.stop()
        if error:
            self.failed.emit(tag, error)
        else:
            self.result.emit(tag, value)

    def is_busy(self) -> bool:
        return self._busy

    def shutdown(self, ms: int = 10000) -> bool:
        self._pending = None
        self._poll.stop()
        return self._pool.waitForDone(ms)
