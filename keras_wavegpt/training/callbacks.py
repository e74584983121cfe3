"""Keras callbacks the experiment runner adds to `model.fit`."""

import json
import math
import os
import shutil
import tempfile
import time

import keras
import numpy as np


class StepTimer(keras.callbacks.Callback):
    """Wall time of every training step (batch begin to batch end).

    `seconds_per_step()` is the median over the steps after the first
    `skip` (which include tracing and compilation).

    Args:
        skip: int. Steps left out of the median. Defaults to `5`.
    """

    def __init__(self, skip=5):
        super().__init__()
        self.skip = skip
        self.durations = []
        self._start = None

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.durations.append(time.perf_counter() - self._start)

    def seconds_per_step(self):
        timed = self.durations[self.skip :] or self.durations
        return float(np.median(timed)) if timed else None

    def epoch_seconds_per_step(self, steps_per_epoch):
        """The median step time of each epoch of `steps_per_epoch` steps
        (the first `skip` steps left out of the first epoch's).

        Args:
            steps_per_epoch: int. Steps in an epoch.

        Returns:
            list of float, one per epoch begun.
        """
        epochs = range(0, len(self.durations), steps_per_epoch)
        return [float(np.median(self.durations[max(start, self.skip * (start == 0))
                                               : start + steps_per_epoch]
                                or self.durations[start : start + steps_per_epoch]))
                for start in epochs]


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the optimizer's current learning rate to each epoch's logs.

    CSV and TensorBoard logs then show the schedule actually used. It takes
    no arguments.
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            lr = self.model.optimizer.learning_rate
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(lr))


class TrainingBackup(keras.callbacks.Callback):
    """Crash-safe training state, so a killed run continues where it stopped.

    At the end of every epoch it writes, into a new folder
    `backup_dir/epoch_<n>/`, the model's weights with the optimizer's
    variables (iteration count, Adam moments, `MetaOptimizer` state)
    and `state.json` (the epoch, the logs of every finished epoch, and the
    attributes named in `track`); only then does it point the file
    `backup_dir/latest` at the new folder (write and rename, which is atomic)
    and delete the older folder. A kill at any moment leaves `latest`
    naming a complete backup. With `checkpoint_path`, the whole model
    (`.keras`) is written the same way for users to load.

    An epoch whose logs hold a NaN or infinite value (`TerminateOnNaN` stops
    such runs), or that stopped before its last step, is not saved: the last
    good backup and checkpoint stay, `problem` says what happened and
    `non_finite` whether a value was NaN or infinite.

    Keras' `BackupAndRestore` restores the weights and optimizer too, but
    writes the weights and the epoch number in two steps in place (a kill
    in between pairs new weights with an old epoch) and cannot move the
    data pipeline; this callback is restored by the caller *before*
    `fit`, which then starts the data at the restored step:

        backup = TrainingBackup(run_dir / "backup")
        epoch = backup.restore(model)           # 0 when there is no backup
        model.fit(train_ds.skip(epoch * steps_per_epoch), initial_epoch=epoch,
                  epochs=epochs, steps_per_epoch=steps_per_epoch,
                  callbacks=[backup, ...])

    Args:
        backup_dir: str or path. Folder of the backups (only this callback
            writes there).
        checkpoint_path: str, path or `None`. A `.keras` path for the
            latest full model. Defaults to `None`, no checkpoint.
        track: dict or `None`. `{name: (object, (attribute, ...))}`:
            callback state to save and restore with the weights, e.g.
            `ReduceLROnPlateau`'s `("wait", "best", "cooldown_counter")`.
            Defaults to `None`.
        writer: bool. Write the backups and checkpoint. In a multi-process
            job every process keeps the history and restores from the
            shared folder, and process 0 alone writes (the others save to a
            scratch folder, since saving is collective there). Defaults to
            `True`.
    """

    def __init__(self, backup_dir, checkpoint_path=None, track=None, writer=True):
        super().__init__()
        self.writer = writer
        self.backup_dir = os.fspath(backup_dir)
        self.checkpoint_path = checkpoint_path and os.fspath(checkpoint_path)
        if self.checkpoint_path and not self.checkpoint_path.endswith(".keras"):
            raise ValueError(
                f"`checkpoint_path` must end in .keras, got {self.checkpoint_path!r}"
            )
        self.track = dict(track or {})
        self.epoch = 0
        self.history = []
        self.problem = None
        self.non_finite = False
        self._batches = 0

    @property
    def _pointer(self):
        return os.path.join(self.backup_dir, "latest")

    def latest(self):
        """The folder of the newest complete backup, or None."""
        if not os.path.exists(self._pointer):
            return None
        with open(self._pointer) as f:
            return os.path.join(self.backup_dir, f.read().strip())

    def restore(self, model):
        """Loads the newest backup into a compiled model.

        Args:
            model: `keras.Model`. Compiled, as the backup's was.

        Returns:
            int, the backup's epoch; 0, and nothing loaded, when there is
            none.

        Raises:
            ValueError: `model` is not compiled.
        """
        folder = self.latest()
        if folder is None:
            return 0
        if getattr(model, "optimizer", None) is None:
            raise ValueError("Compile the model before restoring a backup into it")
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(os.path.join(folder, "model.weights.h5"))
        with open(os.path.join(folder, "state.json")) as f:
            state = json.load(f)
        for name, (obj, attributes) in self.track.items():
            for attribute in attributes:
                setattr(obj, attribute, state["track"][name][attribute])
        self.epoch, self.history = state["epoch"], state["history"]
        return self.epoch

    def on_epoch_begin(self, epoch, logs=None):
        self._batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self._batches = batch + 1

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        bad = sorted(k for k, v in logs.items() if not math.isfinite(v))
        steps = self.params.get("steps") if self.params else None
        problem = None
        if bad:
            problem = f"epoch {epoch + 1} has non-finite {bad}"
        elif steps and self._batches < steps:
            problem = f"epoch {epoch + 1} stopped after {self._batches} of {steps} steps"
        if problem:
            self.problem, self.non_finite = problem, bool(bad)
            print(f"\nTrainingBackup: {problem}; kept the backup of epoch "
                  f"{self.epoch} and its checkpoint.")
            return
        self.epoch = epoch + 1
        self.history.append(logs)
        if not self.writer:
            self._save_and_discard()
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        name = f"epoch_{self.epoch:06d}"
        folder = os.path.join(self.backup_dir, name)
        shutil.rmtree(folder, ignore_errors=True)  # a half-written one from a kill
        os.makedirs(folder)
        self.model.save_weights(os.path.join(folder, "model.weights.h5"))
        state = {
            "epoch": self.epoch,
            "history": self.history,
            "track": {
                name: {a: _plain(getattr(obj, a)) for a in attributes}
                for name, (obj, attributes) in self.track.items()
            },
        }
        _write_atomic(os.path.join(folder, "state.json"), json.dumps(state))
        if self.checkpoint_path:
            tmp = self.checkpoint_path[: -len(".keras")] + ".tmp.keras"
            self.model.save(tmp)
            os.replace(tmp, self.checkpoint_path)
        previous = self.latest()
        _write_atomic(self._pointer, name)
        if previous and os.path.abspath(previous) != os.path.abspath(folder):
            shutil.rmtree(previous, ignore_errors=True)

    def _save_and_discard(self):
        """What a writer saves, into a scratch folder that is then removed:
        in a multi-process JAX job saving is a collective (every process
        takes part in gathering the weights), so the other processes save
        alongside process 0 and throw the files away."""
        with tempfile.TemporaryDirectory() as scratch:
            self.model.save_weights(os.path.join(scratch, "model.weights.h5"))
            if self.checkpoint_path:
                self.model.save(os.path.join(scratch, "checkpoint.keras"))


def _plain(value):
    """JSON-ready copy of a tracked attribute (numbers, lists of numbers)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return float(value) if isinstance(value, (float, np.floating)) else value


def _write_atomic(path, text):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
