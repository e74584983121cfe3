"""Runs experiments/text8.py and kills itself (SIGKILL) at one chosen moment.

    python tests/training/faulty_run.py KIND:N [text8.py flags]

KIND:N is the N-th (from 1) call in this process of:
- `batch`: the end of a training step;
- `test_batch`: the end of a validation step;
- `save_weights`: a weights save, after half a file is written;
- `save`: a whole-model (`.keras`) save, after half a file is written;
- `replace`: a rename into place (`os.replace`), before it happens;
- `rmtree`: a folder removal, before it happens;
- `stall`: a training step, which then waits to be killed from outside.

Nothing is caught or cleaned up: the process ends as a power cut would end
it. `none:0` runs with no fault.
"""

import os
import runpy
import shutil
import signal
import sys
import time

import keras

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _kill():
    os.kill(os.getpid(), signal.SIGKILL)


def _countdown(n, original, before=None):
    """`original`, wrapped to kill the process on its n-th call."""
    calls = [0]

    def wrapped(*args, **kwargs):
        calls[0] += 1
        if calls[0] == n:
            if before:
                before(*args, **kwargs)
            _kill()
        return original(*args, **kwargs)

    return wrapped


def _half_file(path_index):
    def write(*args, **kwargs):
        path = args[path_index]
        with open(path, "wb") as f:
            f.write(b"\x89HDF\r\n" + b"\0" * 100)  # the start of a file, never its end
            f.flush()
            os.fsync(f.fileno())
    return write


def install(kind, n):
    from keras_wavegpt.training.callbacks import StepTimer

    if kind == "none":
        return
    if kind == "batch":
        StepTimer.on_train_batch_end = _countdown(n, StepTimer.on_train_batch_end)
    elif kind == "test_batch":
        StepTimer.on_test_batch_end = _countdown(n, lambda self, batch, logs=None: None)
    elif kind == "save_weights":
        keras.Model.save_weights = _countdown(n, keras.Model.save_weights, _half_file(1))
    elif kind == "save":
        keras.Model.save = _countdown(n, keras.Model.save, _half_file(1))
    elif kind == "replace":
        os.replace = _countdown(n, os.replace)
    elif kind == "rmtree":
        shutil.rmtree = _countdown(n, shutil.rmtree)
    elif kind == "stall":
        original = StepTimer.on_train_batch_end
        calls = [0]

        def stall(self, batch, logs=None):
            calls[0] += 1
            if calls[0] == n:
                time.sleep(3600)
            return original(self, batch, logs)

        StepTimer.on_train_batch_end = stall
    else:
        raise SystemExit(f"faulty_run.py: unknown fault {kind!r}")


if __name__ == "__main__":
    fault, *flags = sys.argv[1:]
    kind, _, count = fault.partition(":")
    install(kind, int(count))
    script = os.path.join(ROOT, "experiments", "text8.py")
    sys.argv = [script, *flags]
    runpy.run_path(script, run_name="__main__")
