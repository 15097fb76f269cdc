"""App tests: settings in a temp INI file, and a check that no test leaves a thread running."""
import pytest
from PySide6.QtCore import QSettings



@pytest.fixture(autouse=True)
def private_settings(tmp_path):
    """QSettings write to a temp folder, never the user's; each test starts empty."""
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      str(tmp_path / "settings"))
    yield


@pytest.fixture(autouse=True)
def no_thread_left(qapp):
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
    # other thread happens to trigger the garbage collector.
    import gc
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
