"""Fitting one run: build, compile and `model.fit` with backups, logs and a
record of its numbers.

A run writes, under its folder, a CSV log, TensorBoard logs, its backups and
the latest `.keras` checkpoint.
"""

import contextlib
import math
import os
import shutil

import keras

from keras_wavegpt.training import metrics
from keras_wavegpt.training.callbacks import (
    LearningRateLogger,
    StepTimer,
    TrainingBackup,
)
from keras_wavegpt.training.distributed import data_parallel
from keras_wavegpt.training.meta import MetaParameterLogger, meta_optimizer_for
from keras_wavegpt.utils.errors import NonFiniteLossError, RunError
from keras_wavegpt.utils.files import write_text
from keras_wavegpt.utils.imports import tensorflow


def _learning_rate(config):
    if config.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0,
            decay_steps=config.steps - config.warmup_steps,
            alpha=config.min_learning_rate / config.learning_rate,
            warmup_target=config.learning_rate,
            warmup_steps=config.warmup_steps,
        )
    return config.learning_rate


def train_variant(build_model, train_ds, val_ds, config, run_dir, seed, metric_names=(),
                  compile_task=None):
    """Train one model with `model.fit`; returns its per-run record.

    Args:
        build_model: callable. `() -> keras.Model`, called after seeding.
        train_ds: `tf.data.Dataset`. Endless batches `(x, y)`.
        val_ds: `tf.data.Dataset`. Finite validation batches.
        config: `TrainConfig`. How to train.
        run_dir: str. Folder for the CSV/TensorBoard logs, backups and the
            checkpoint.
        seed: int. Seeds weights (and dropout) through
            `keras.utils.set_random_seed`.
        metric_names: tuple of str. Keras metrics to compile with (e.g.
            `("accuracy",)`); each one's final validation value is recorded
            as `final_val_<name>`. Defaults to `()`.
        compile_task: callable or `None`. `() -> (loss, metrics)` for tasks
            that are not one class per example (multi-label tagging); its
            metrics' names must be `metric_names`. Defaults to `None`:
            sparse categorical cross-entropy on logits, with `metric_names`
            as the metrics.
    """
    keras.backend.clear_session()  # also resets the global dtype policy: set it after
    if config.mixed_precision:
        keras.mixed_precision.set_dtype_policy(config.mixed_precision)
    keras.utils.set_random_seed(seed)
    parallel = config.data_parallel or config.num_processes > 1
    devices = data_parallel(config.batch_size) if parallel else None
    with devices or contextlib.nullcontext(1) as replicas:
        record = _fit(build_model, train_ds, val_ds, config, run_dir, metric_names,
                      compile_task)
    record["replicas"] = replicas
    return record


def _fit(build_model, train_ds, val_ds, config, run_dir, metric_names, compile_task):
    """Build, compile and train one run in `run_dir` (resuming where told);
    its record for the summary."""
    model = build_model()
    _compile(model, config, metric_names, compile_task)
    os.makedirs(run_dir, exist_ok=True)
    callbacks, timer, backup = _callbacks(config, run_dir)
    initial_epoch = _start_epoch(model, config, backup)
    if backup.writer:  # in a multi-process job, process 0 alone writes
        log_path = os.path.join(run_dir, "log.csv")
        _truncate_csv(log_path, initial_epoch)
        callbacks += [
            keras.callbacks.CSVLogger(log_path, append=initial_epoch > 0),
            keras.callbacks.TensorBoard(os.path.join(run_dir, "tensorboard")),
        ]
    callbacks.append(backup)  # last: it saves what the callbacks before it changed
    model.fit(
        train_ds.skip(initial_epoch * config.eval_every),
        steps_per_epoch=config.eval_every,
        initial_epoch=initial_epoch,
        epochs=config.steps // config.eval_every,
        validation_data=val_ds,
        callbacks=callbacks,
        verbose=config.verbose,
        shuffle=False,
    )
    return _record(model, config, run_dir, metric_names, timer, backup, initial_epoch)


def _compile(model, config, metric_names, compile_task):
    """Adam (wrapped by `MetaOptimizer` where the model has adaptive
    hyperparameters) and the task's loss: next-token cross-entropy unless
    `compile_task()` gives `(loss, metrics)`."""
    optimizer = meta_optimizer_for(
        model,
        keras.optimizers.Adam(_learning_rate(config), clipnorm=config.clipnorm),
        meta_learning_rate=config.meta_learning_rate,
        meta_update_every=config.meta_update_every,
        meta_objective=config.meta_objective,
        ema_decay=config.meta_ema_decay,
    )
    if compile_task is None:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        task_metrics = list(metric_names) or None
    else:
        loss, task_metrics = compile_task()
    # `weighted_metrics=[]`: a keras_hub task would otherwise keep the
    # accuracy metric its constructor compiled with.
    model.compile(optimizer=optimizer, loss=loss, metrics=task_metrics, weighted_metrics=[],
                  jit_compile=config.jit_compile)
    # Keras' TensorFlow trainer would build the optimizer inside the first
    # traced step; creating variables there makes `tf.function` trace the
    # whole step a second time.
    model.optimizer.build(model.trainable_variables)


def _callbacks(config, run_dir):
    """`(callbacks, timer, backup)`: the logging and schedule callbacks, and
    the `TrainingBackup` that saves their state with the model's."""
    timer = StepTimer()
    callbacks = [
        LearningRateLogger(),
        MetaParameterLogger(),
        timer,
        keras.callbacks.TerminateOnNaN(),
    ]
    track = {"timer": (timer, ("durations",))}
    if config.lr_schedule == "plateau":
        plateau = keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.5, patience=1, min_lr=config.min_learning_rate,
        )
        callbacks.insert(0, plateau)
        track["plateau"] = (plateau, ("wait", "best", "cooldown_counter"))
    backup = TrainingBackup(
        os.path.join(run_dir, "backup"),
        checkpoint_path=os.path.join(run_dir, "checkpoint.keras"),
        track=track,
        writer=config.process_id == 0,
    )
    return callbacks, timer, backup


def _start_epoch(model, config, backup):
    """The epoch to start from: the last backup's with `resume`, else 0 (and
    any old backup is removed)."""
    if config.resume:
        return backup.restore(model)
    if backup.writer:
        shutil.rmtree(backup.backup_dir, ignore_errors=True)
    return 0


def _record(model, config, run_dir, metric_names, timer, backup, initial_epoch):
    """The run's numbers for the summary; an error naming the last good
    checkpoint if training stopped before the end or on a non-finite loss."""
    val = [logs.get("val_loss") for logs in backup.history]
    curve = [[config.eval_every * (i + 1), v] for i, v in enumerate(val)]
    train = [[config.eval_every * (i + 1), logs.get("loss")] for i, logs in
             enumerate(backup.history)]
    final = curve[-1][1] if len(curve) == config.steps // config.eval_every else None
    if final is None or not math.isfinite(final):
        problem = backup.problem or "no finite validation loss"
        error = NonFiniteLossError if backup.non_finite else RunError
        saved = (
            f"The last good checkpoint ({len(curve)} of {config.steps // config.eval_every}"
            f" epochs) is {backup.checkpoint_path}" if curve else "No epoch finished"
        )
        advice = " Lower --learning_rate or raise --warmup_steps." if backup.non_finite else ""
        raise error(f"Training in {run_dir} stopped: {problem}. {saved}.{advice}")
    return {
        "params": int(model.count_params()),
        "dtype_policy": model.dtype_policy.name,
        "final_val_loss": final,
        **{f"final_val_{m}": backup.history[-1][f"val_{m}"] for m in metric_names},
        "final_val_bpc": metrics.bits_per_char(final),
        "steps": curve[-1][0],
        "sec_per_step": timer.seconds_per_step(),
        "resumed_from_step": initial_epoch * config.eval_every,
        "curve": curve,
        "train_curve": train,
        "epoch_sec_per_step": timer.epoch_seconds_per_step(config.eval_every),
    }


def check_endless(train_ds):
    """Runs index batches by step (data order, resume): the training data must
    be an endless `tf.data.Dataset`. (Keras restarts a finite one silently
    when it runs out, which would repeat batches in an order nobody chose.)

    Args:
        train_ds: the training data `make_data` returned.

    Raises:
        TypeError: it is not a `tf.data.Dataset`.
        ValueError: it is finite.
    """
    tf = tensorflow()

    if not isinstance(train_ds, tf.data.Dataset):
        raise TypeError(
            f"make_data must return tf.data.Dataset objects, got {type(train_ds).__name__}"
        )
    cardinality = int(train_ds.cardinality())
    if cardinality >= 0:
        raise ValueError(
            f"The training dataset from make_data holds {cardinality} batches; it must "
            "be endless (e.g. `.repeat()`), so that batch k is the k-th training step."
        )


def _truncate_csv(path, epochs):
    """Keep the header and the first `epochs` rows of a CSV log: rows past
    the restored epoch belong to work the resumed run redoes."""
    if not os.path.exists(path):
        return
    with open(path) as f:
        lines = f.readlines()
    write_text(path, "".join(lines[: 1 + epochs] if epochs else []))
