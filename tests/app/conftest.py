"""App tests: settings in a temp INI file, and a check that no test leaves a thread running."""
import pytest
from PySide6.QtCore import QSettings



@pytest.fixture(autouse=True)
def private_settings(tmp_path):
    """QSettings write to a temp folder, never the user's; each test starts empty."""
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      str(tmp_path / "settings"))
    yield


_frozen_for = []  # the module whose tests' survivors the garbage collector passes over


@pytest.fixture(autouse=True)
def no_thread_left(qapp, request):
    yield
    from app.worker import running_threads

    # give threads that were told to stop a moment to end, then insist
    import time
    deadline = time.monotonic() + 5
    while running_threads() and time.monotonic() < deadline:
        qapp.processEvents()
        time.sleep(0.02)
    left = running_threads()
    assert not left, f"test left threads running: {left}"
    # Collect the test's Qt objects here, in the GUI thread, rather than whenever some
    # other thread happens to trigger the garbage collector. What survives is then frozen:
    # later collections (here, or automatic in any thread) pass over it and look only at
    # what one test made; with TensorFlow loaded a full collection takes 0.3 s or more,
    # after each of 200 tests. The first test of each module unfreezes everything first,
    # so what the last module left (its module-scoped fixtures too) is collected, here.
    import gc

    module = request.node.module.__name__
    if _frozen_for != [module]:
        gc.unfreeze()
        _frozen_for[:] = [module]
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True, scope="session")
def nothing_left_frozen():
    """The last frozen objects are collected at the end, as they were before."""
    yield
    import gc

    gc.unfreeze()
    gc.collect()


@pytest.fixture
def open_tab(qtbot):
    """Makes a family tab (or any widget with shutdown(), from a class or a factory),
    shown at a desktop size; shuts it down after the test."""
    tabs = []

    def make(cls):
        tab = cls()
        qtbot.addWidget(tab)
        tab.resize(1300, 800)
        tab.show()
        tabs.append(tab)
        return tab

    yield make
    for tab in tabs:
        tab.shutdown()
        getattr(tab, "panel", tab).worker.wait(10000)  # a tab, or a bare panel
