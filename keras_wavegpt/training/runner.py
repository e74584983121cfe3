"""The experiment runner every script shares: train variants side by side.

For each seed, every variant (a mixer name, or `label=mixer:key=value,...`
for a mixer with its own arguments) is built from the same seed and
trained with `model.fit` on the same batches (the training pipeline is keyed
by seed and step). Each run writes, under `out_dir/seed_<s>/<variant>/`, a
CSV log, TensorBoard logs and the latest `.keras` checkpoint. The runner then
writes `out_dir/summary.json` (`docs/design.md`, "Metrics") and `out_dir/val_loss.png`.
"""

import contextlib
import dataclasses
import inspect
import math
import os
import shutil
import textwrap

import keras
import numpy as np

from keras_wavegpt.layers.registry import is_mixer, mixer_arguments, mixer_names
from keras_wavegpt.training import metrics, records
from keras_wavegpt.training.callbacks import (
    LearningRateLogger,
    StepTimer,
    TrainingBackup,
)
from keras_wavegpt.training.distributed import (
    check_data_parallel_backend,
    check_processes,
    data_parallel,
    initialize_processes,
    process_shard,
    virtual_cpu_devices,
)
from keras_wavegpt.training.meta import (
    META_OBJECTIVES,
    MetaParameterLogger,
    meta_optimizer_for,
)
from keras_wavegpt.utils.errors import NonFiniteLossError, RunError
from keras_wavegpt.utils.files import FolderLock, save_figure, write_json, write_text
from keras_wavegpt.utils.imports import tensorflow
from keras_wavegpt.utils.validation import check_choice, check_int, check_number

LR_SCHEDULES = ("constant", "cosine", "plateau")
ARCHITECTURES = ("gpt", "llama")
BASELINE = "none"
# Settings a variant spec may set for its own runs (`haar:learning_rate=8e-3`).
VARIANT_SETTINGS = ("learning_rate",)


def _setting(default, help, choices=None, **metadata):
    """A `TrainConfig` field: its default, and the help (and choices) its
    command-line flag shows (`keras_wavegpt.training.flags` defines one flag
    per field from these)."""
    factory = dict(default_factory=lambda: dict(default)) if isinstance(default, dict) else \
        dict(default=default)
    return dataclasses.field(metadata=dict(help=help, choices=choices, **metadata), **factory)


def setting_default(field):
    """The default of a `TrainConfig` field, a fresh copy for a dict.

    Args:
        field: `dataclasses.Field`. One of `dataclasses.fields(TrainConfig)`.

    Returns:
        The default value.
    """
    if field.default is dataclasses.MISSING:
        return field.default_factory()
    return field.default


def _document_settings(cls):
    """Appends an `Args:` section built from the fields' help to the
    dataclass' docstring, so `help(TrainConfig)` and `--help` read one
    text."""
    if cls.__doc__ is None:  # python -OO strips docstrings
        return cls
    lines = ["Args:"]
    for field in dataclasses.fields(cls):
        default = setting_default(field)
        choices = field.metadata["choices"]
        kind = (f"one of {tuple(choices)}" if choices is not None
                else field.type.__name__)
        lines += textwrap.wrap(
            f"{field.name}: {kind}. {field.metadata['help']} Defaults to `{default!r}`.",
            width=72, initial_indent="    ", subsequent_indent="        ")
    cls.__doc__ = (inspect.cleandoc(cls.__doc__) + "\n\n" + "\n".join(lines)).replace(
        "\n", "\n    ").replace("\n    \n", "\n\n")
    return cls


@_document_settings
@dataclasses.dataclass
class TrainConfig:
    """How every variant of one comparison is trained.

    `lr_schedule`: `"constant"`; `"cosine"` (linear warm-up over
    `warmup_steps` to `learning_rate`, then cosine decay to
    `min_learning_rate` at `steps`); or `"plateau"` (the paper's: start at
    `learning_rate`, halve when the validation loss stops improving, down to
    `min_learning_rate`).

    `resume=True` continues every run from its last backup (see
    `TrainingBackup`): same weights, optimizer state, schedule and data
    order as if it had never stopped; finished runs are not trained again.
    Without it, a run's folder is started afresh.

    `data_parallel=True` splits every batch over all devices (see
    `keras_wavegpt.training.distributed`: JAX and TensorFlow);
    `virtual_cpu_devices=n` first splits the CPU into `n` devices.

    `variants` entries are mixer names (`"haar"`) or labelled specs
    (`"haar_linear=haar:schedule=linear"`, see `parse_variant`). A model with
    adaptive hyperparameters (`multirate` with `adaptive=True`) trains with
    `MetaOptimizer` and the `meta_*` settings.

    Each field's help is its command-line flag's (`--help`); the `Args:`
    section below is built from it.
    """

    variants: tuple = _setting(
        ("none", "haar"), "Mixers to compare (comma list); see also --variant.")
    seeds: tuple = _setting((0,), "Seeds to repeat every variant with (comma list).",
                            item=int)
    steps: int = _setting(1000, "Training steps per variant.")
    eval_every: int = _setting(100, "Validate (and checkpoint) every N steps.")
    batch_size: int = _setting(16, "Batch size (the global one with --data_parallel).")
    learning_rate: float = _setting(3e-4, "Peak learning rate (Adam).")
    lr_schedule: str = _setting(
        "cosine", "Learning-rate schedule. cosine: warm-up, then cosine decay; plateau: "
        "halved on validation plateaus down to --min_learning_rate.", choices=LR_SCHEDULES)
    warmup_steps: int = _setting(100, "Linear warm-up steps (cosine).")
    min_learning_rate: float = _setting(1e-5, "Floor of the learning-rate schedule.")
    clipnorm: float = _setting(1.0, "Gradient norm clipping.")
    jit_compile: object = _setting("auto", "XLA/JIT compile the train step.",
                                   choices=("auto", True, False))
    mixed_precision: str = _setting(None, "Keras dtype policy of the run (default float32).",
                                    choices=(None, "mixed_float16", "mixed_bfloat16"))
    mixer_kwargs: dict = _setting(
        {}, "Mixer arguments, e.g. fraction=0.25,levels=(3,4); each variant takes those "
        "its mixer accepts.")
    meta_learning_rate: float = _setting(
        1e-4, "Adam learning rate of adaptive hyperparameters (multirate, adaptive=True).")
    meta_update_every: int = _setting(100, "Steps between meta updates.")
    meta_objective: str = _setting("smoothed_loss", "What the meta updates minimise.",
                                   choices=META_OBJECTIVES)
    meta_ema_decay: float = _setting(0.9, "EMA decay of the smoothed loss.")
    out_dir: str = _setting("runs/experiment",
                            "Where logs, checkpoints and summary.json go.")
    resume: bool = _setting(False, "Continue each run of --out_dir from its last backup "
                            "(after a kill or crash) instead of starting afresh.")
    data_parallel: bool = _setting(False, "Split every batch over all devices: "
                                   "DataParallel on JAX, MirroredStrategy on TensorFlow.")
    virtual_cpu_devices: int = _setting(0, "Split the CPU into this many devices first "
                                        "(to try --data_parallel without GPUs).")
    num_processes: int = _setting(1, "Processes of a multi-process data-parallel job "
                                  "(JAX; one per host). Implies --data_parallel.")
    process_id: int = _setting(0, "This process's index in the job, 0 to "
                               "num_processes - 1; process 0 writes logs and checkpoints.")
    coordinator_address: str = _setting(None, "host:port of process 0, which every "
                                        "process of a multi-process job connects to.")
    verbose: object = _setting("auto", "model.fit verbosity (1: a progress bar).",
                               choices=("auto", 0, 1, 2))

    def validate(self):
        if not self.variants:
            raise ValueError("`variants` is empty; name at least one mixer")
        specs = [parse_variant(v) for v in self.variants]
        unknown = [mixer for _, mixer, _ in specs if not is_mixer(mixer)]
        if unknown:
            raise ValueError(
                f"Unknown variants {unknown}; accepted values: {mixer_names()} and their "
                "compositions (haar+canon)"
            )
        labels = [label for label, _, _ in specs]
        if len(set(labels)) != len(labels):
            raise ValueError(f"`variants` repeats a name: {labels}")
        for label, mixer, kwargs in specs:
            stray = sorted(set(kwargs) - set(mixer_arguments(mixer)) - set(VARIANT_SETTINGS))
            if stray:
                raise ValueError(
                    f"Variant {label!r}: mixer {mixer!r} does not accept {stray} (it "
                    f"accepts {list(mixer_arguments(mixer))}, and a variant may set "
                    f"{list(VARIANT_SETTINGS)})"
                )
        for name in ("steps", "eval_every", "batch_size"):
            check_int(name, getattr(self, name))
        if self.steps % self.eval_every:
            raise ValueError(
                f"`steps`={self.steps} must be a multiple of `eval_every`="
                f"{self.eval_every}"
            )
        for field in dataclasses.fields(self):  # the settings with a fixed set of values
            if field.metadata["choices"] is not None:
                check_choice(field.name, getattr(self, field.name), field.metadata["choices"])
        check_number("min_learning_rate", self.min_learning_rate, 0.0)
        for label, rate in [(None, self.learning_rate)] + [
                (label, kwargs["learning_rate"]) for label, _, kwargs in specs
                if "learning_rate" in kwargs]:
            name = "learning_rate" if label is None else f"variant {label!r}'s learning_rate"
            check_number(name, rate, 0.0, low_open=True)
            if self.lr_schedule != "constant" and self.min_learning_rate > rate:
                raise ValueError(
                    f"`min_learning_rate`={self.min_learning_rate} is above {name}={rate}: "
                    f"the {self.lr_schedule} schedule would rise; lower --min_learning_rate"
                )
        if self.lr_schedule == "cosine" and not 0 <= self.warmup_steps < self.steps:
            raise ValueError(
                f"`warmup_steps`={self.warmup_steps} must be in [0, steps={self.steps})"
            )
        if self.mixed_precision == "mixed_float16" and _jax_on_cpu():
            raise ValueError(
                "mixed_precision='mixed_float16' does not run on JAX's CPU backend (XLA "
                "has no float16 matmul with float32 accumulation there); use "
                "'mixed_bfloat16' on CPU, or a GPU"
            )
        if self.data_parallel:
            check_data_parallel_backend()
        check_processes(self.coordinator_address, self.num_processes, self.process_id)
        if self.batch_size % self.num_processes:
            raise ValueError(f"`batch_size`={self.batch_size} does not split evenly "
                             f"over {self.num_processes} processes")
        accepted = {a for _, m, _ in specs for a in mixer_arguments(m)}
        stray = sorted(set(self.mixer_kwargs) - accepted)
        if stray:
            raise ValueError(
                f"mixer_kwargs {stray} are accepted by none of the variants "
                f"{list(self.variants)} (they accept {sorted(accepted)})"
            )


def _jax_on_cpu():
    if keras.backend.backend() != "jax":
        return False
    import jax

    return jax.default_backend() == "cpu"


def parse_kwargs(text):
    """Reads `key=value,...` mixer arguments from the command line.

    Values are read as Python literals where they parse (numbers, booleans,
    None, tuples) and kept as strings otherwise. Commas inside brackets
    belong to the value.

    Args:
        text: str or `None`. Comma-separated `key=value` items.

    Returns:
        dict.

    Raises:
        ValueError: an item has no `=`.

    Example:

    >>> parse_kwargs("fraction=0.25,levels=(4,16),schedule=linear")
    {'fraction': 0.25, 'levels': (4, 16), 'schedule': 'linear'}
    """
    import ast

    items, depth, current = [], 0, ""
    for char in text or "":
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    result = {}
    for item in filter(None, (s.strip() for s in items)):
        if "=" not in item:
            raise ValueError(f"Expected key=value in {text!r}, got {item!r}")
        key, value = (s.strip() for s in item.split("=", 1))
        try:
            result[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            result[key] = value
    return result


def parse_variant(spec):
    """Reads a variant: a mixer name, `mixer:key=value,...`, or
    `label=mixer:key=value,...`.

    The keys are the mixer's arguments and the variant's own settings
    (`VARIANT_SETTINGS`: `learning_rate`). Without a label, the mixer
    names the variant.

    Args:
        spec: str. A mixer name (`"haar"`), a mixer with arguments
            (`"haar:learning_rate=8e-3"`) or a labelled spec
            (`"fb_lite=filterbank:num_filters=48"`).

    Returns:
        tuple `(label, mixer, kwargs)`; the label names the run's folder and
        its row in the summary.

    Raises:
        ValueError: a labelled spec lacks its label or mixer.

    Example:

    >>> parse_variant("haar")
    ('haar', 'haar', {})
    >>> parse_variant("haar:learning_rate=8e-3")
    ('haar', 'haar', {'learning_rate': 0.008})
    >>> parse_variant("fb_lite=filterbank:num_filters=48,fraction=0.25")
    ('fb_lite', 'filterbank', {'num_filters': 48, 'fraction': 0.25})
    """
    if "=" not in spec:
        return spec, spec, {}
    if ":" in spec and spec.index(":") < spec.index("="):
        mixer, _, kwargs = spec.partition(":")
        return mixer.strip(), mixer.strip(), parse_kwargs(kwargs)
    label, _, rest = spec.partition("=")
    mixer, _, kwargs = rest.partition(":")
    if not label.strip() or not mixer.strip():
        raise ValueError(f"A variant is a mixer name or label=mixer[:key=value,...], got {spec!r}")
    return label.strip(), mixer.strip(), parse_kwargs(kwargs)


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
    model.compile(optimizer=optimizer, loss=loss, metrics=task_metrics,
                  jit_compile=config.jit_compile)


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


def _check_endless(train_ds):
    """Runs index batches by step (data order, resume): the training data must
    be an endless `tf.data.Dataset`. (Keras restarts a finite one silently
    when it runs out, which would repeat batches in an order nobody chose.)"""
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


def run_comparison(build_model, make_data, config, metadata=None, metric_names=(),
                   compile_task=None):
    """Train every variant for every seed and summarise.

    Args:
        build_model: callable. `(mixer, mixer_kwargs) -> keras.Model`.
        make_data: callable. `seed -> (train_ds, val_ds)`, `tf.data`
            datasets (the training one endless).
        config: `TrainConfig`. Variants, seeds and how to train.
        metadata: dict or `None`. Extra settings recorded in the summary's
            `config` (dataset, preset, sequence length, ...). Defaults to
            `None`.
        metric_names: tuple of str. Keras metrics the task reports besides
            the loss (e.g. `("accuracy",)`); summarised as
            `final_val_<name>`. Defaults to `()`.
        compile_task: callable or `None`. `() -> (loss, metrics)`, see
            `train_variant`. Defaults to `None`.

    Returns:
        The summary dict, also written to `config.out_dir/summary.json`.
    """
    config.validate()
    with _folder_lock(config):
        return _run_comparison(build_model, make_data, config, metadata, metric_names,
                               compile_task)


def _folder_lock(config):
    """The run folder's lock; only process 0 of a multi-process job takes it."""
    return FolderLock(config.out_dir) if config.process_id == 0 else contextlib.nullcontext()


def _run_comparison(build_model, make_data, config, metadata, metric_names, compile_task):
    if config.num_processes > 1:
        initialize_processes(config.coordinator_address, config.num_processes,
                             config.process_id)
    if config.virtual_cpu_devices:
        virtual_cpu_devices(config.virtual_cpu_devices)
    previous_policy = keras.mixed_precision.dtype_policy()
    specs = [parse_variant(v) for v in config.variants]
    runs = {label: [] for label, _, _ in specs}
    code, started = records.code_version(), records.utc_now()
    settings = dict(summarize({}, config)["config"], **(metadata or {}))
    try:
        for seed in config.seeds:
            train_ds, val_ds = make_data(seed)
            _check_endless(train_ds)
            train_ds, val_ds = (process_shard(d, config.process_id, config.num_processes)
                                for d in (train_ds, val_ds))
            for label, mixer, own_kwargs in specs:
                variant_config, kwargs = _variant_settings(config, mixer, own_kwargs)
                record = train_variant(
                    lambda: build_model(mixer, kwargs),
                    train_ds,
                    val_ds,
                    variant_config,
                    os.path.join(config.out_dir, f"seed_{seed}", label),
                    seed,
                    metric_names,
                    compile_task,
                )
                record["seed"] = seed
                record["learning_rate"] = variant_config.learning_rate
                runs[label].append(record)
                if config.process_id == 0:
                    write_json(
                        os.path.join(config.out_dir, f"seed_{seed}", label, records.RECORD_FILE),
                        records.make_record(
                            record, label, mixer, kwargs,
                            dict(settings, learning_rate=variant_config.learning_rate),
                            code, started))
    finally:
        keras.mixed_precision.set_dtype_policy(previous_policy)
    summary = summarize(runs, config, metric_names)
    summary["config"].update(metadata or {})
    if config.process_id == 0:
        write_summary(summary, config.out_dir)
    return summary


def _variant_settings(config, mixer, own_kwargs):
    """`(config, mixer_kwargs)` of one variant: `config` with the variant's
    own settings (its `learning_rate`), and the shared `mixer_kwargs` it
    accepts, then its own."""
    own = {k: v for k, v in own_kwargs.items() if k in VARIANT_SETTINGS}
    kwargs = {k: v for k, v in config.mixer_kwargs.items() if k in mixer_arguments(mixer)}
    kwargs.update((k, v) for k, v in own_kwargs.items() if k not in VARIANT_SETTINGS)
    return dataclasses.replace(config, **own), kwargs


def compare_language_models(corpus, config, preset, seq_len=None, val_windows=256,
                            dropout=0.0, metadata=None, architecture="gpt", tokenizer=None):
    """`run_comparison` for GPTs on a token stream (text, bytes, mu-law audio).

    Args:
        corpus: `keras_wavegpt.data.TextCorpus`. Its train and validation
            splits and vocabulary.
        config: `TrainConfig`. Variants, seeds and how to train.
        preset: str. GPT preset name (`keras_wavegpt.models.PRESETS`).
        seq_len: int or `None`. Training window. Defaults to `None`, the
            preset's context length.
        val_windows: int. Fixed validation windows (`eval_dataset`'s
            `max_windows`). Defaults to `256`.
        dropout: float. Dropout inside the decoder blocks. Defaults to
            `0.0`.
        metadata: dict or `None`. More settings to record in the summary's
            `config`. Defaults to `None`.
        architecture: str. `"gpt"` (`build_gpt`, WaveletGPT's model) or
            `"llama"` (`build_llama`: keras_hub's Llama decoder of the same
            dimensions, with the mixers through `add_mixers`; no presets
            are written for it). Defaults to `"gpt"`.
        tokenizer: keras_hub `Tokenizer` or `None`. The corpus' tokenizer,
            carried by every variant's preset (`Text8Tokenizer`,
            `ByteTokenizer`); `None` writes presets that take token ids.
            Defaults to `None`.
    """
    from keras_wavegpt import data
    from keras_wavegpt.models import build_gpt, build_llama, gpt_preset

    check_choice("architecture", architecture, ARCHITECTURES)
    arch = gpt_preset(preset)
    seq_len = seq_len or arch["max_sequence_length"]
    if seq_len > arch["max_sequence_length"]:
        raise ValueError(
            f"`seq_len`={seq_len} exceeds the {preset} preset's context length "
            f"{arch['max_sequence_length']}"
        )
    train_ids, val_ids = corpus.split("train"), corpus.split("validation")

    def make_data(seed):
        return (
            data.train_dataset(train_ids, seq_len, config.batch_size, seed=seed),
            data.eval_dataset(val_ids, seq_len, config.batch_size, val_windows),
        )

    def build_model(mixer, mixer_kwargs):
        if architecture == "llama":
            return build_llama(corpus.vocabulary_size, mixer=mixer, dropout=dropout, **arch,
                               **mixer_kwargs)
        return build_gpt(corpus.vocabulary_size, mixer=mixer, dropout=dropout, **arch,
                         **mixer_kwargs)

    settings = dict(dataset=corpus.name, preset=preset, seq_len=seq_len,
                    architecture=architecture, **(metadata or {}))
    config.validate()
    with _folder_lock(config):  # one writer from the first run to the last preset
        summary = run_comparison(build_model, make_data, config, metadata=settings)
        if config.process_id == 0 and architecture == "gpt":
            write_presets(config, corpus.vocabulary_size, arch, seq_len, dropout, tokenizer)
    return summary


def write_presets(config, vocabulary_size, arch, seq_len, dropout, tokenizer=None):
    """Saves each trained GPT's final checkpoint as a keras_hub preset.

    Each run folder gets `<run>/preset`, for
    `WaveletGPTCausalLM.from_preset`.

    Args:
        config: `TrainConfig`. The comparison's settings.
        vocabulary_size: int. The models' vocabulary.
        arch: dict. The `build_gpt` architecture arguments (a preset's).
        seq_len: int. The preprocessor's sequence length.
        dropout: float. The models' dropout.
        tokenizer: keras_hub `Tokenizer` or `None`. With one, the preset has
            a preprocessor around it; with `None`, token ids go in and out.
            Defaults to `None`.
    """
    from keras_wavegpt.models import WaveletGPTCausalLMPreprocessor, causal_lm_from_gpt

    for seed in config.seeds:
        for label, mixer, own_kwargs in (parse_variant(v) for v in config.variants):
            run_dir = os.path.join(config.out_dir, f"seed_{seed}", label)
            _, kwargs = _variant_settings(config, mixer, own_kwargs)
            model = keras.saving.load_model(os.path.join(run_dir, "checkpoint.keras"))
            preprocessor = (
                None if tokenizer is None
                else WaveletGPTCausalLMPreprocessor(tokenizer, sequence_length=seq_len)
            )
            lm = causal_lm_from_gpt(model, preprocessor, vocabulary_size=vocabulary_size,
                                    mixer=mixer, dropout=dropout, **arch, **kwargs)
            lm.save_to_preset(os.path.join(run_dir, "preset"))


def summarize(runs, config, metric_names=()):
    """The summary of one comparison, as `summary.json` holds it.

    Args:
        runs: dict. Variant label -> list of run records (see
            `summarize_runs`).
        config: `TrainConfig`. The comparison's settings.
        metric_names: tuple of str. Metrics besides the loss. Defaults to
            `()`.

    Returns:
        dict with the settings, the backend and the per-variant numbers.
    """
    settings = dataclasses.asdict(config)
    settings["variants"] = list(config.variants)
    settings["seeds"] = list(config.seeds)
    return {"config": settings, "backend": keras.backend.backend(),
            "metrics": list(metric_names), "variants": summarize_runs(runs, metric_names)}


def summarize_runs(runs, metric_names=(), references=(), baseline=BASELINE):
    """Per-variant numbers (`docs/design.md`, "Metrics") from per-seed run records.

    Args:
        runs: dict. Variant label -> list of run records (`"seed"`,
            `"final_val_loss"`, `"steps"`, `"sec_per_step"`, `"curve"`, ...).
            Each record is compared with the baseline's record of the same
            seed; without one, its SPE, speedup and step-time ratio are `None`.
        metric_names: tuple of str. Metrics summarised as `final_val_<name>`
            besides the loss. Defaults to `()`.
        references: tuple of str. Variants, besides the baseline, that every
            other variant's final losses are tested against (Welch's t-test,
            with at least two seeds on both sides). Defaults to `()`.
        baseline: str. The variant every other is paired with by seed (SPE,
            speedup, step-time ratio) and tested against. Defaults to
            `"none"`.

    Returns:
        dict. Variant label -> mean (and std over seeds) of every number, the
        seed-mean curve, `"welch"` (`{reference: metrics.welch_comparison}`:
        t, p, the difference with its 95% interval, the detectable
        difference) and the records as `"runs"`.
    """
    base = {r["seed"]: r for r in runs.get(baseline, ())}
    variants = {}
    for variant, records in runs.items():
        for record in records:
            paired = base.get(record["seed"])
            if paired:
                record["spe"] = metrics.same_performance_step(record["curve"],
                                                              paired["final_val_loss"])
                record["speedup"] = metrics.speedup(record["spe"], paired["steps"])
                record["rel_step_time"] = _ratio(record["sec_per_step"], paired["sec_per_step"])
            else:
                record["spe"] = record["speedup"] = record["rel_step_time"] = None
        entry = {"params": records[0]["params"], "steps": records[0]["steps"],
                 "seeds": len(records), "learning_rate": _learning_rates(records)}
        for key in ("final_val_loss", "final_val_bpc", "sec_per_step", "spe",
                    "speedup", "rel_step_time", *[f"final_val_{m}" for m in metric_names]):
            mean, std = metrics.mean_std([r[key] for r in records])
            entry[key] = mean
            if len(records) > 1:
                entry[f"{key}_std"] = std
        if len(records) > 1:
            entry["spe_reached"] = sum(r["spe"] is not None for r in records)
        entry["welch"] = {}
        for reference in dict.fromkeys((baseline, *references)):
            if reference == variant or reference not in runs:
                continue
            test = metrics.welch_comparison([r["final_val_loss"] for r in records],
                                            [r["final_val_loss"] for r in runs[reference]])
            if test is not None:
                entry["welch"][reference] = test
        entry["curve"] = _mean_curve([r["curve"] for r in records])
        entry["runs"] = records
        variants[variant] = entry
    return variants


def _learning_rates(records):
    """The runs' peak learning rate (a record's own, else its settings');
    a list where seeds differ, `None` where no record says."""
    rates = list(dict.fromkeys(
        r.get("learning_rate", r.get("settings", {}).get("learning_rate")) for r in records))
    return rates[0] if len(rates) == 1 else rates


def _ratio(a, b):
    return None if a is None or not b else a / b


def _mean_curve(curves):
    steps = [s for s, _ in curves[0]]
    losses = np.mean([[v for _, v in c] for c in curves], axis=0)
    return [[s, float(v)] for s, v in zip(steps, losses)]


def write_summary(summary, out_dir):
    """Writes a summary and its plots into a folder.

    Each file is written whole, then renamed: `summary.json` and the
    validation loss against steps (`val_loss.png`) and against seconds
    (`val_loss_seconds.png`).

    Args:
        summary: dict. From `summarize` or `summarize_runs`.
        out_dir: str. The folder, created if missing.
    """
    write_json(os.path.join(out_dir, "summary.json"), summary)
    plot_curves(summary["variants"], os.path.join(out_dir, "val_loss.png"))
    plot_curves(summary["variants"], os.path.join(out_dir, "val_loss_seconds.png"), x="seconds")


def plot_curves(variants, path, title=None, x="step", baseline=BASELINE):
    """Validation loss (seed mean) of every variant, with the baseline's final
    loss as a dashed line and each variant's same-performance step marked.

    Args:
        variants: dict. `summary["variants"]`.
        path: str. The PNG to write.
        title: str or `None`. Defaults to `None` (a title that says what the
            markers are).
        x: str. `"step"`, or `"seconds"`: each step times the variant's
            median step time in its own runs, so a slower variant's curve
            stretches to the right. Defaults to `"step"`.
        baseline: str. The variant whose final loss is the dashed line.
            Defaults to `"none"`.
    """
    check_choice("x", x, ("step", "seconds"))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, entry in variants.items():
        scale = entry["sec_per_step"] if x == "seconds" else 1
        steps, losses = zip(*entry["curve"])
        (line,) = ax.plot([s * scale for s in steps], losses, marker=".",
                          label=f"{label} ({entry['params']:,} params)")
        if entry.get("spe") is not None and label != baseline:
            ax.axvline(entry["spe"] * scale, color=line.get_color(), linestyle=":", linewidth=1)
    for label, entry in variants.items():
        if label == baseline:
            ax.axhline(entry["final_val_loss"], color="gray", linestyle="--", linewidth=1)
    ax.set_xlabel("training step" if x == "step" else
                  "seconds (step x the variant's median step time in its runs)")
    ax.set_ylabel("validation loss (nats / token)")
    ax.set_title(title or "Validation loss (dotted: same-performance step)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def format_table(variants, metric_names=()):
    """A Markdown table of a summary's headline numbers.

    It has a column per name in `metric_names`, a seed count where some
    variant has several, and Welch's p against every reference tested.

    Args:
        variants: dict. `summary["variants"]`.
        metric_names: tuple of str. Metrics shown besides the loss. Defaults
            to `()`.

    Returns:
        str, the table's lines.
    """
    seeded = any(v.get("seeds", 1) > 1 for v in variants.values())
    references = list(dict.fromkeys(r for v in variants.values() for r in v.get("welch", {})))
    head = ("| variant | params | peak rate |" + " seeds |" * seeded + " val loss | val bpc |"
            + "".join(f" val {m} |" for m in metric_names) + " SPE | speedup | step time* |"
            + "".join(f" vs {r} |" for r in references))
    rows = [head, "|" + "---|" * head.count(" |")]
    for name, v in variants.items():
        spe = "-" if v["spe"] is None else f"{v['spe']:.0f}"
        cells = "".join(
            f" {_fmt(v[f'final_val_{m}'], v.get(f'final_val_{m}_std'))} |" for m in metric_names
        )
        tests = "".join(
            f" {_welch(v.get('welch', {}).get(r))} |" for r in references
        )
        rows.append(
            f"| {name} | {v['params']:,} | {_rate(v.get('learning_rate'))} |"
            + f" {v.get('seeds', 1)} |" * seeded
            + f" {_fmt(v['final_val_loss'], v.get('final_val_loss_std'))} "
            f"| {_fmt(v['final_val_bpc'])} |{cells} {spe} | "
            f"{_fmt(v['speedup'], v.get('speedup_std'), 2)} | {_fmt(v['rel_step_time'], None, 2)}x |"
            + tests
        )
    rows.append("\n* this run's step time over the baseline's, on a machine that may have been "
                "shared with other work; side-by-side ratios: docs/benchmarks.md")
    if references:
        tests = sum(r in v.get("welch", {}) for v in variants.values() for r in references)
        rows.append(
            f"vs X: mean final loss minus X's [95% interval], Welch's two-sided p, and ±d: the "
            f"smallest difference these seeds could detect at p < 0.05. {tests} tests in this "
            "table: with many tests, read 0.01 < p < 0.05 as suggestive.")
    return "\n".join(rows)


def _rate(rate):
    if isinstance(rate, list):
        return ", ".join(_rate(r) for r in rate)
    return "-" if rate is None else f"{rate:g}"


def _welch(test):
    if test is None:
        return "-"
    return (f"{test['diff']:+.4f} [{test['low']:+.4f}, {test['high']:+.4f}] "
            f"p {test['p']:.2g} ±d {test['detectable']:.4f}")


def _fmt(x, std=None, digits=4):
    if x is None:
        return "-"
    return f"{x:.{digits}f}" + ("" if std is None else f" ± {std:.{digits}f}")
