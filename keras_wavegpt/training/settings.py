"""How a comparison is trained: `TrainConfig` and the variant specs.

Each field of `TrainConfig` is one command-line flag of every script
(`keras_wavegpt.training.flags`); a variant is a mixer name or a spec with
its own mixer arguments and learning rate (`parse_variant`).
"""

import dataclasses
import inspect
import textwrap

import keras

from keras_wavegpt.layers.registry import is_mixer, mixer_arguments, mixer_names
from keras_wavegpt.training.distributed import check_data_parallel_backend, check_processes
from keras_wavegpt.training.meta import META_OBJECTIVES
from keras_wavegpt.utils.validation import check_choice, check_int, check_number

LR_SCHEDULES = ("constant", "cosine", "plateau")
ARCHITECTURES = ("gpt", "llama")
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
