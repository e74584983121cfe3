"""Keras callbacks the experiment runner adds to `model.fit`."""

import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
import warnings

import keras
import numpy as np

from keras_wavegpt.utils.errors import BackupError
from keras_wavegpt.utils.files import atomic_path, file_digest, write_text
from keras_wavegpt.utils.validation import check_int


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
    """Checked, crash-safe training state, so a killed run continues where it stopped.

    At the end of every epoch it writes a new folder `backup_dir/epoch_<n>/`:
    the model's weights with the optimizer's variables (iteration count,
    Adam moments, `MetaOptimizer` state), `state.json` (the epoch, the logs
    of every finished epoch, and the attributes named in `track`), and last
    `manifest.json` with every file's size and SHA-256. The folder is built
    under a temporary name and renamed when whole; then the file `latest`
    names it and backups beyond the newest `keep` are removed. With
    `checkpoint_path`, the whole model (`.keras`) is written atomically too,
    for users to load.

    `restore` checks each backup, newest first: its files are present and
    match the manifest, and the weights load. A damaged one gets a one-line
    warning that names it, and the one before it is tried; `history` and
    the returned epoch are the good backup's, so the caller rewinds the
    curve, the CSV log and the data order to it. With no usable backup it
    raises `BackupError`, naming the folder and the ways on.

    A write that fails (a full disk: `ENOSPC`, or any `OSError`) removes
    what it half wrote, leaves the previous backups as they were and raises
    `BackupError`. An epoch whose logs hold a NaN or infinite value
    (`TerminateOnNaN` stops such runs), or that stopped before its last
    step, is not saved: the last good backup and checkpoint stay, `problem`
    says what happened and `non_finite` whether a value was NaN or
    infinite.

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
        keep: int. How many of the newest backups to keep, at least 1.
            Defaults to `2`: one damaged backup still leaves one to resume
            from.
    """

    WEIGHTS = "model.weights.h5"
    STATE = "state.json"
    MANIFEST = "manifest.json"

    def __init__(self, backup_dir, checkpoint_path=None, track=None, writer=True, keep=2):
        super().__init__()
        self.writer = writer
        self.backup_dir = os.fspath(backup_dir)
        self.checkpoint_path = checkpoint_path and os.fspath(checkpoint_path)
        if self.checkpoint_path and not self.checkpoint_path.endswith(".keras"):
            raise ValueError(
                f"`checkpoint_path` must end in .keras, got {self.checkpoint_path!r}"
            )
        check_int("keep", keep, minimum=1)
        self.keep = keep
        self.track = dict(track or {})
        self.epoch = 0
        self.history = []
        self.problem = None
        self.non_finite = False
        self._batches = 0

    @property
    def _pointer(self):
        return os.path.join(self.backup_dir, "latest")

    def backups(self):
        """The backup folders, newest first (half-written ones left out).

        Returns:
            list of `(epoch, folder)`.
        """
        if not os.path.isdir(self.backup_dir):
            return []
        found = [(int(name[len("epoch_"):]), os.path.join(self.backup_dir, name))
                 for name in os.listdir(self.backup_dir) if _BACKUP_NAME.fullmatch(name)]
        return sorted(found, reverse=True)

    def latest(self):
        """The folder of the newest backup, or None."""
        found = self.backups()
        return found[0][1] if found else None

    def restore(self, model):
        """Loads the newest good backup into a compiled model.

        Args:
            model: `keras.Model`. Compiled, as the backup's was.

        Returns:
            int, the backup's epoch; 0, and nothing loaded, when there is
            none.

        Raises:
            ValueError: `model` is not compiled.
            BackupError: backups exist and none of them is usable.
        """
        found = self.backups()
        if not found:
            return 0
        if getattr(model, "optimizer", None) is None:
            raise ValueError("Compile the model before restoring a backup into it")
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        problems = []
        for _, folder in found:
            try:
                state = self._load(model, folder)
            except _Damaged as damage:
                print(f"TrainingBackup: warning: skipping damaged backup {folder}: {damage}",
                      file=sys.stderr)
                problems.append(f"{os.path.basename(folder)}: {damage}")
                continue
            for name, (obj, attributes) in self.track.items():
                for attribute in attributes:
                    setattr(obj, attribute, state["track"][name][attribute])
            self.epoch, self.history = state["epoch"], state["history"]
            return self.epoch
        raise BackupError(
            f"No usable backup in {self.backup_dir} ({'; '.join(problems)}); start afresh "
            "without --resume, or give another --out_dir")

    def _load(self, model, folder):
        """The state of a backup that checks out, its weights loaded."""
        manifest_path = os.path.join(folder, self.MANIFEST)
        if not os.path.isfile(manifest_path):
            raise _Damaged("no manifest.json (written last, so the backup is incomplete)")
        try:
            with open(manifest_path) as f:
                manifest = json.load(f)["files"]
        except (ValueError, KeyError, TypeError, OSError) as error:
            raise _Damaged(f"unreadable manifest.json ({error})") from None
        for name in (self.WEIGHTS, self.STATE):
            path = os.path.join(folder, name)
            if not os.path.isfile(path):
                raise _Damaged(f"{name} is missing")
            if name not in manifest:
                raise _Damaged(f"manifest.json does not list {name}")
            size = os.path.getsize(path)
            if size != manifest[name]["size"]:
                raise _Damaged(f"{name} has {size} bytes, {manifest[name]['size']} were written")
            if file_digest(path)["sha256"] != manifest[name]["sha256"]:
                raise _Damaged(f"{name} does not match its checksum")
        try:
            with open(os.path.join(folder, self.STATE)) as f:
                state = json.load(f)
        except (ValueError, OSError) as error:
            raise _Damaged(f"unreadable {self.STATE} ({error})") from None
        _check_model_class(state, model, self.backup_dir)
        try:
            model.load_weights(os.path.join(folder, self.WEIGHTS))
        except Exception as error:  # any reader's error: the file is not usable
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise _Damaged(f"does not load ({first})") from None
        return state

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
        history = self.history + [logs]
        if not self.writer:
            self._save_and_discard()
        else:
            try:
                self._save(epoch + 1, history)
            except OSError as error:
                kept = (f"the backup of epoch {self.epoch} is intact" if self.epoch
                        else "no earlier backup exists")
                raise BackupError(
                    f"Could not write the backup of epoch {epoch + 1} in {self.backup_dir} "
                    f"({error.strerror or error}); {kept}. Free space, then resume "
                    "with --resume") from None
        self.epoch, self.history = epoch + 1, history

    def _save(self, epoch, history):
        """Writes one backup whole (or nothing), then the checkpoint, then
        points `latest` at it and prunes the old ones."""
        os.makedirs(self.backup_dir, exist_ok=True)
        name = f"epoch_{epoch:06d}"
        folder = os.path.join(self.backup_dir, name)
        partial = folder + ".partial"
        shutil.rmtree(partial, ignore_errors=True)  # a half-written one from a kill
        try:
            os.makedirs(partial)
            self.model.save_weights(os.path.join(partial, self.WEIGHTS))
            state = {
                "model_class": type(self.model).__name__,
                "epoch": epoch,
                "history": history,
                "track": {
                    key: {a: _plain(getattr(obj, a)) for a in attributes}
                    for key, (obj, attributes) in self.track.items()
                },
            }
            write_text(os.path.join(partial, self.STATE), json.dumps(state))
            files = {n: file_digest(os.path.join(partial, n)) for n in (self.WEIGHTS, self.STATE)}
            write_text(os.path.join(partial, self.MANIFEST), json.dumps({"files": files}))
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(partial, folder)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        if self.checkpoint_path:
            with atomic_path(self.checkpoint_path) as tmp:
                self.model.save(tmp)
        write_text(self._pointer, name)
        for _, old in self.backups()[self.keep :]:
            shutil.rmtree(old, ignore_errors=True)

    def _save_and_discard(self):
        """What a writer saves, into a scratch folder that is then removed:
        in a multi-process JAX job saving is a collective (every process
        takes part in gathering the weights), so the other processes save
        alongside process 0 and throw the files away."""
        with tempfile.TemporaryDirectory() as scratch:
            self.model.save_weights(os.path.join(scratch, "model.weights.h5"))
            if self.checkpoint_path:
                self.model.save(os.path.join(scratch, "checkpoint.keras"))


def _check_model_class(state, model, backup_dir):
    """A backup resumes only the class of model that wrote it. Backups
    without `model_class` come from keras_wavegpt 0.1, whose runner trained
    functional models."""
    saved = state.get("model_class", "Functional")
    if saved == type(model).__name__:
        return
    legacy = "model_class" not in state
    raise BackupError(
        f"The backups in {backup_dir} were written for a {saved} model"
        + (" by keras_wavegpt 0.1 (its functional build_gpt/build_llama)" if legacy else "")
        + f"; they cannot resume a {type(model).__name__}. "
        + ("Finish the run with keras_wavegpt 0.1.0 (git checkout 1c7637d), or start afresh "
           "without --resume." if legacy else "Start afresh without --resume, or give another "
           "--out_dir.")
    )


def load_checkpoint(path):
    """A runner checkpoint (`checkpoint.keras`): a keras_hub causal LM, uncompiled.

    Args:
        path: str. The `.keras` file.

    Returns:
        The `keras_hub.models.CausalLM` it holds (`WaveletGPTCausalLM`,
        `MixerLlamaCausalLM`).

    Raises:
        ValueError: the file holds another kind of model: a functional GPT
            saved by keras_wavegpt 0.1 (the message says how to convert it).
    """
    import keras_hub

    with warnings.catch_warnings():
        # The optimizer's state is in the file, unused here: a task compiles
        # a fresh default optimizer on construction, which Keras then warns
        # cannot take the saved variables.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model = keras.saving.load_model(path, compile=False)
    if not isinstance(model, keras_hub.models.CausalLM):
        raise ValueError(
            f"{path} holds a {type(model).__name__} model {model.name!r}, not a causal LM: a "
            "functional GPT from keras_wavegpt 0.1. Convert it with keras_wavegpt 0.1.0 (git "
            "checkout 1c7637d): keras_wavegpt.models.causal_lm_from_gpt(model, "
            "**<its build_gpt arguments>).save(<new>.keras)"
        )
    return model


class _Damaged(Exception):
    """A backup that cannot be used; the message says why."""


_BACKUP_NAME = re.compile(r"epoch_\d{6}")


def _plain(value):
    """JSON-ready copy of a tracked attribute (numbers, lists of numbers)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return float(value) if isinstance(value, (float, np.floating)) else value
