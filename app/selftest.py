"""`main.py --selftest`: prove on this computer (from source or frozen) that the app works.

Headless: the Keras backend and the device, the bundled digits, a tiny CNN trained for a few
seconds, a digit classified, the model saved and loaded back, the shipped pretrained
models checked and loaded, and every tab opened and closed offscreen. Prints a one-screen
report; exit status 0 when all passed. Nothing is written to the person's settings or
autosave folders.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from pathlib import Path


def run(stream=None, backend_wish: str | None = None) -> int:
    stream = stream or sys.stdout
    from nets import backend

    note = backend.choose(backend_wish)  # before anything imports Keras
    scratch = Path(tempfile.mkdtemp(prefix="dle-selftest-"))
    os.environ["DLE_HOME"] = str(scratch / "home")  # autosaves go to the scratch folder
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    results: list[tuple[str, bool, str, float]] = []
    state: dict = {}

    def say(text: str) -> None:
        if stream is not None:  # a frozen windowed app may have no stdout
            print(text, file=stream, flush=True)

    def check(name, fn):
        t0 = time.monotonic()
        try:
            detail = fn() or ""
            ok = True
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none crashes
            detail = f"{type(exc).__name__}: {exc}"
            state.setdefault("tracebacks", []).append(traceback.format_exc())
            ok = False
        results.append((name, ok, detail, time.monotonic() - t0))
        say(f"  [{'ok' if ok else 'FAILED'}] {name} ({time.monotonic() - t0:.1f} s)"
            + (f": {detail}" if detail else ""))
        return ok

    from app import APP_NAME, __version__

    say(f"{APP_NAME} {__version__} self-test")
    if note:
        say(f"  note: {note}")
    check("Keras backend and device", lambda: _device(state))
    check("bundled digits", lambda: _digits(state))
    if check("train a tiny convnet", lambda: _train(state)):
        check("classify a digit", lambda: _classify(state))
        check("save and load the model", lambda: _save_load(state, scratch))
    check("compiled loops (sparse coding)", _compiled_loops)
    check("pretrained models", _pretrained)
    check("open and close every tab", lambda: _tabs(scratch))
    failed = [name for name, ok, _, _ in results if not ok]
    total = sum(r[3] for r in results)
    if failed:
        say(f"FAILED: {', '.join(failed)} ({total:.0f} s). Details:")
        for tb in state.get("tracebacks", []):
            say(tb.rstrip())
        return 1
    say(f"All {len(results)} checks passed in {total:.0f} s.")
    return 0


def _device(state) -> str:
    from nets import backend

    info = backend.start()
    state["info"] = info
    return backend.describe(info)


def _digits(state) -> str:
    from nets import data

    ds = data.load("mnist-5k")
    state["digits"] = ds
    return f"{len(ds.x_train):,} train / {len(ds.x_val):,} held out"


def _train(state) -> str:
    from nets import runner
    from nets.families import cnn
    from nets.progress import ListReporter

    config = cnn.Config(conv_blocks=1, filters=8, augment=False, epochs=2, batch_size=64)
    done = runner.execute(runner.RunRequest("cnn", config, "mnist-5k", autosave=False),
                          ListReporter())
    if done.status != "finished":
        raise RuntimeError(done.message)
    state["model"] = done.result
    ds = state["digits"]
    accuracy = float((cnn.predict(done.result.model, ds.x_val).argmax(1) == ds.y_val).mean())
    if accuracy < 0.8:
        raise RuntimeError(f"held-out accuracy only {accuracy:.1%} after two epochs")
    return f"2 epochs, held-out accuracy {accuracy:.1%}"


def _classify(state) -> str:
    import numpy as np

    from nets.families import cnn

    ds = state["digits"]
    first = {int(c): i for i, c in reversed(list(enumerate(ds.y_val)))}
    right = 0
    for digit, i in sorted(first.items()):
        right += int(cnn.predict(state["model"].model, ds.x_val[i:i + 1])[0].argmax()
                     == digit)
    if right < 7:
        raise RuntimeError(f"only {right} of 10 held-out digits (one per class) right")
    np.asarray(cnn.Probe(state["model"].model)(ds.x_val[0])[0])  # the canvas's path
    return f"{right} of 10 held-out digits (one per class) right"


def _save_load(state, scratch: Path) -> str:
    import numpy as np

    from nets.families import cnn

    trained = state["model"]
    path = trained.save(scratch / "selftest.keras")
    loaded = cnn.load(path)
    x = state["digits"].x_val[:32]
    if not np.allclose(cnn.predict(loaded.model, x), cnn.predict(trained.model, x),
                       atol=1e-5):
        raise RuntimeError("the reloaded model predicts differently")
    return f"{path.stat().st_size / 1024:.0f} KB, same predictions after reloading"


def _compiled_loops() -> str:
    """A loop compiled for the backend (nets.backend.compiled around keras.ops.fori_loop):
    a frozen app that lacks what compiling needs fails here, not in a tab."""
    import numpy as np

    from nets.families import sparse_coding

    x = np.array([[0.9, -0.05, 0.3]], np.float32)
    codes = sparse_coding.encode(x, np.eye(3, dtype=np.float32), 0.2, iterations=20)
    if not np.allclose(codes, [[0.8, 0.0, 0.2]], atol=1e-5):
        raise RuntimeError(f"FISTA gave {codes}, not the known solution")
    return "FISTA reaches the known solution"


def _pretrained() -> str:
    """Every shipped model is intact (checksum) and loads into its family's network."""
    from nets import pretrained, runner

    shipped = pretrained.entries()
    if not shipped:
        raise RuntimeError(f"no models listed in {pretrained.MANIFEST}")
    for entry in shipped:
        runner.family(entry.family).load(pretrained.checked_path(entry))
    return ", ".join(e.title for e in shipped)


def _tabs(scratch: Path) -> str:

    from PySide6.QtCore import QSettings

    from app.main_window import load_tab_class, make_application
    from nets import registry

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      str(scratch / "settings"))  # leave the person's settings alone
    app = make_application([sys.argv[0]])
    names = []
    for key in registry.keys():
        tab = load_tab_class(key)()
        tab.resize(1200, 800)
        tab.show()
        app.processEvents()
        deadline = time.monotonic() + 10
        while not tab.shutdown() and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.02)
        tab.close()
        tab.deleteLater()
        app.processEvents()
        names.append(registry.family(key).title)
    return ", ".join(names)
