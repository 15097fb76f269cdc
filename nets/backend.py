"""Starting the Keras backend (TensorFlow) quietly, and naming the device it computes on.

TensorFlow's native start-up writes lines to the terminal that a person need not worry
about (oneDNN's notice, "Could not find cuda drivers", a failed cuInit on machines with no
GPU), before its own logging can be told to be quiet. `start()` imports it with the
process's stderr caught and passes on every line that is not one of those.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile

# Lines of TensorFlow's start-up that say nothing wrong: on a machine without a GPU, that
# there is none; on any machine, that oneDNN is on and that logging is not set up yet.
NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|port\.cc:\d+\] oneDNN custom operations are on"
    r"|cudart_stub\.cc:\d+\] Could not find cuda drivers"
    r"|cuda_platform\.cc:\d+\] failed call to cuInit"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered"
    r"|TF-TRT Warning: Could not find TensorRT")


def start() -> dict:
    """Import TensorFlow and Keras (quietly, once) and describe them and the device."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return _quietly(_load)


def _load() -> dict:
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        try:
            name = tf.config.experimental.get_device_details(gpus[0]).get("device_name")
        except (RuntimeError, ValueError):
            name = None
        device = f"GPU: {name or gpus[0].name}" + (f" (+{len(gpus) - 1} more)"
                                                   if len(gpus) > 1 else "")
    else:
        device = "CPU (no GPU found)"
    return {"tensorflow": tf.__version__, "keras": keras.__version__, "device": device}


def _quietly(fn):
    """fn() with file descriptor 2 caught; afterwards the lines that are not NOISE are
    written to stderr. Where stderr is not a real file (a windowed app), fn() runs as is."""
    try:
        sys.stderr and sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        return fn()
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            return fn()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            lines = caught.read().decode("utf-8", "replace").splitlines()
            kept = [line for line in lines if line.strip() and not NOISE.search(line)]
            if kept and sys.stderr:
                sys.stderr.write("\n".join(kept) + "\n")
                sys.stderr.flush()
