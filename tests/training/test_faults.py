"""Runs that survive accidents: kills at any moment, damaged backups, a second
writer, a full disk. The kills are real (SIGKILL, through
tests/training/faulty_run.py), the damage is done to real files."""

import errno
import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from keras_wavegpt.training import TrainingBackup
from keras_wavegpt.utils.errors import BackupError
from tests.helpers import once_on, to_numpy
from tests.training.test_resume import _optimizer_state, _tiny_model

# Script-level checks of the runner's own logic, the same on every backend.
RUNNER_LOGIC = once_on("torch", "the runner's logic")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAULTY = os.path.join(ROOT, "tests", "training", "faulty_run.py")

# Ten moments over a run's life, one per process, each process resuming the
# last one's folder: mid-step, inside a weights write (half a file), before
# a rename into place, inside a checkpoint write, during validation, at the
# first step after a resume, while pruning old backups, and at the end.
FAULTS = ("batch:3", "save_weights:2", "replace:4", "save:1", "test_batch:3", "batch:1",
          "replace:9", "rmtree:2", "save_weights:1", "replace:40")
# Each backend's run of the suite meets every third moment, in order; the
# three runs together meet all ten.
BACKEND_FAULTS = FAULTS[("tensorflow", "jax", "torch").index(keras.backend.backend())::3]


def _run(fault, out_dir, *extra, wait=True, **env):
    command = [
        sys.executable, FAULTY, fault, "--dataset=pydoc_topics", "--preset=tiny",
        "--batch_size=4", "--variants=haar", "--steps=24", "--eval_every=2",
        "--warmup_steps=2", "--val_windows=8", "--verbose=0", f"--out_dir={out_dir}",
        "--resume", *extra,
    ]
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend(), **env)
    if not wait:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def _last_line(stderr):
    return stderr.strip().splitlines()[-1]


def test_a_run_killed_again_and_again_ends_as_one_never_killed(tmp_path):
    reference = _run("none:0", tmp_path / "reference", wait=False)  # beside the killed ones
    run = tmp_path / "run"
    for fault in BACKEND_FAULTS:
        killed = _run(fault, run)
        assert killed.returncode == -signal.SIGKILL, (fault, killed.stderr[-3000:])
    finished = _run("none:0", run)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert reference.wait(timeout=600) == 0, reference.stderr.read()[-3000:]

    summaries = [json.loads((d / "summary.json").read_text())["variants"]["haar"]
                 for d in (tmp_path / "reference", run)]
    np.testing.assert_allclose([v for _, v in summaries[1]["curve"]],
                               [v for _, v in summaries[0]["curve"]], rtol=1e-5)
    (opt_a, w_a), (opt_b, w_b) = (_optimizer_state(d / "seed_0" / "haar" / "checkpoint.keras")
                                  for d in (tmp_path / "reference", run))
    assert int(opt_a[0]) == int(opt_b[0]) == 24
    for a, b in zip(opt_a + w_a, opt_b + w_b):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    log = (run / "seed_0" / "haar" / "log.csv").read_text().splitlines()
    assert len(log) == 1 + 12  # one row per epoch, however often it was redone
    backups = sorted(os.listdir(run / "seed_0" / "haar" / "backup"))
    assert backups == ["epoch_000011", "epoch_000012", "latest"]
    assert not [n for n in os.listdir(run / "seed_0" / "haar") if ".tmp" in n]


def _fit(model, backup, epochs, start=0):
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    model.fit(x, np.zeros((8, 2), "float32"), initial_epoch=start, epochs=epochs, verbose=0,
              callbacks=[backup])
    return [to_numpy(w) for w in model.weights]


def _truncate(path):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


DAMAGE = {
    "truncated weights": lambda folder: _truncate(folder / "model.weights.h5"),
    "missing state": lambda folder: os.remove(folder / "state.json"),
    "zero-length weights": lambda folder: open(folder / "model.weights.h5", "w").close(),
    "half deleted": lambda folder: [os.remove(folder / n) for n in ("model.weights.h5",
                                                                     "manifest.json")],
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_backup_falls_back_to_the_one_before(damage, tmp_path, capsys):
    backup = TrainingBackup(tmp_path / "backup")
    model = _tiny_model()
    second = _fit(model, backup, 2)
    _fit(model, backup, 3, start=2)
    assert [e for e, _ in backup.backups()] == [3, 2]  # kept in twos
    DAMAGE[damage](tmp_path / "backup" / "epoch_000003")

    fresh, restored = _tiny_model(), TrainingBackup(tmp_path / "backup")
    assert restored.restore(fresh) == 2 and len(restored.history) == 2
    for a, b in zip(second, fresh.weights):
        np.testing.assert_array_equal(a, to_numpy(b))
    (warning,) = capsys.readouterr().err.strip().splitlines()
    assert "skipping damaged backup" in warning and "epoch_000003" in warning

    DAMAGE[damage](tmp_path / "backup" / "epoch_000002")
    with pytest.raises(BackupError) as error:
        TrainingBackup(tmp_path / "backup").restore(_tiny_model())
    message = str(error.value)
    assert "\n" not in message and str(tmp_path / "backup") in message
    assert "start afresh without --resume, or give another --out_dir" in message


def test_a_full_disk_keeps_the_previous_backup(tmp_path, monkeypatch):
    backup = TrainingBackup(tmp_path / "backup", checkpoint_path=tmp_path / "ckpt.keras")
    model = _tiny_model()
    saved = _fit(model, backup, 2)

    def full(self, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"part")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(keras.Model, "save_weights", full)
    with pytest.raises(BackupError) as error:
        _fit(model, backup, 3, start=2)
    message = str(error.value)
    assert "No space left on device" in message and str(tmp_path / "backup") in message
    assert "the backup of epoch 2 is intact" in message and "\n" not in message
    assert sorted(os.listdir(tmp_path / "backup")) == ["epoch_000001", "epoch_000002", "latest"]
    monkeypatch.undo()
    fresh = _tiny_model()
    assert TrainingBackup(tmp_path / "backup").restore(fresh) == 2
    for a, b in zip(saved, fresh.weights):
        np.testing.assert_array_equal(a, to_numpy(b))
    keras.saving.load_model(tmp_path / "ckpt.keras")


@RUNNER_LOGIC
def test_the_script_resumes_past_a_damaged_backup_or_stops_in_one_line(tmp_path):
    """The accident as a user met it: a finished run, its latest backup's
    weights cut short, then `--resume` with more steps."""
    run = tmp_path / "run"
    assert _run("none:0", run, "--steps=8").returncode == 0
    backup = run / "seed_0" / "haar" / "backup"
    _truncate(backup / "epoch_000004" / "model.weights.h5")
    resumed = _run("none:0", run, "--steps=12")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "skipping damaged backup" in resumed.stderr and "epoch_000004" in resumed.stderr
    summary = json.loads((run / "summary.json").read_text())["variants"]["haar"]
    assert summary["runs"][0]["resumed_from_step"] == 6 and len(summary["curve"]) == 6

    for name in os.listdir(backup):
        if name.startswith("epoch_"):
            _truncate(backup / name / "model.weights.h5")
    stopped = _run("none:0", run, "--steps=16")
    assert stopped.returncode == 1 and "Traceback" not in stopped.stderr
    assert _last_line(stopped.stderr).startswith(f"text8.py: error: No usable backup in {backup}")


@RUNNER_LOGIC
def test_a_second_writer_is_refused_and_a_killed_one_never_blocks(tmp_path):
    run = tmp_path / "run"
    first = _run("stall:5", run, wait=False)
    lock = run / ".lock"
    deadline = time.time() + 300
    while not (run / "seed_0" / "haar" / "backup").exists():  # the first is training
        assert first.poll() is None and time.time() < deadline, "the first run never started"
        time.sleep(0.05)
    second = _run("none:0", run)
    assert second.returncode == 1 and "Traceback" not in second.stderr
    assert _last_line(second.stderr) == (
        f"text8.py: error: {run} is in use by process {first.pid} on "
        f"{os.uname().nodename} ({lock.read_text().split('(', 1)[1].strip()}; wait for that "
        "run to end, or give another --out_dir")
    first.send_signal(signal.SIGKILL)
    first.wait()
    resumed = _run("none:0", run)  # the lock went with the killed process
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (run / "summary.json").exists()


@RUNNER_LOGIC
def test_a_non_finite_loss_stops_the_script_in_one_line(tmp_path):
    diverge = ("--learning_rate=1e12", "--lr_schedule=constant", "--clipnorm=1e12")
    stopped = _run("none:0", tmp_path / "run", *diverge)
    assert stopped.returncode == 1 and "Traceback" not in stopped.stderr, stopped.stderr[-3000:]
    line = _last_line(stopped.stderr)
    assert line.startswith("text8.py: error: Training in") and "non-finite" in line
    shown = _run("none:0", tmp_path / "run2", *diverge, KERAS_WAVEGPT_TRACEBACK="1")
    assert shown.returncode == 1 and "Traceback" in shown.stderr
    assert "NonFiniteLossError" in shown.stderr
