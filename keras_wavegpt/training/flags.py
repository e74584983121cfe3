"""absl flags of the experiment scripts, made from `TrainConfig`'s fields.

Each field of `TrainConfig` is one flag of the same name, with the field's
default, help and choices; `train_config_from_flags` reads them back by
name. A setting added to `TrainConfig` is a flag of every script at once.
"""

import contextlib
import dataclasses
import os
import sys

from absl import app, flags, logging

from keras_wavegpt.utils.errors import TRACEBACK_VARIABLE, RunError
from keras_wavegpt.training.settings import (
    ARCHITECTURES,
    TrainConfig,
    parse_kwargs,
    setting_default,
)


def _flag_value(choice):
    """How a choice is spelt on the command line (`True` -> `"true"`)."""
    return str(choice).lower() if isinstance(choice, bool) else str(choice)


def define_training_flags(default_out_dir, default_variants="none,haar", **defaults):
    """Defines one flag per `TrainConfig` field, plus `--variant`.

    Call once, at import of a script. A script lists these flags in its
    `--help` with `flags.adopt_module_key_flags` of this module.

    Args:
        default_out_dir: str. The script's default `--out_dir`.
        default_variants: str. The script's default `--variants`, comma
            separated. Defaults to `"none,haar"`.
        **defaults: the script's own defaults of other `TrainConfig`
            fields, by name (`steps=4000`).

    Raises:
        ValueError: a default names no `TrainConfig` field.
    """
    stray = sorted(set(defaults) - {f.name for f in dataclasses.fields(TrainConfig)})
    if stray:
        raise ValueError(f"{stray} are not TrainConfig settings")
    defaults.update(out_dir=default_out_dir, variants=default_variants)
    for field in dataclasses.fields(TrainConfig):
        meta = field.metadata
        default = defaults.get(field.name, setting_default(field))
        if meta["choices"] is not None:
            values = [_flag_value(c) for c in meta["choices"] if c is not None]
            flags.DEFINE_enum(field.name, None if default is None else _flag_value(default),
                              values, meta["help"])
        elif field.type is bool:
            flags.DEFINE_bool(field.name, default, meta["help"])
        elif field.type is int:
            flags.DEFINE_integer(field.name, default, meta["help"])
        elif field.type is float:
            flags.DEFINE_float(field.name, default, meta["help"])
        elif field.type is tuple:
            flags.DEFINE_list(field.name, default if isinstance(default, str)
                              else [str(v) for v in default], meta["help"])
        elif field.type is dict:
            flags.DEFINE_string(field.name, "", meta["help"])
        else:
            flags.DEFINE_string(field.name, default, meta["help"])
    flags.DEFINE_multi_string(
        "variant", [], "Another variant with its own mixer arguments: "
        "label=mixer:key=value,... (repeatable), e.g. adaptive=multirate:adaptive=True.")


def define_language_model_flags():
    """Flags of a GPT trained on a token stream (`compare_language_models`)."""
    from keras_wavegpt.models import PRESETS

    flags.DEFINE_enum("preset", "small", list(PRESETS), "Model size.")
    flags.DEFINE_enum("architecture", "gpt", list(ARCHITECTURES),
                      "gpt: WaveletGPT's model; llama: keras_hub's Llama decoder of the same "
                      "size with the mixers between its layers.")
    flags.DEFINE_integer("seq_len", None, "Training window (default: the preset's context).")
    flags.DEFINE_integer("val_windows", 256, "Validation windows (fixed, contiguous).")
    flags.DEFINE_float("dropout", 0.0, "Dropout inside the decoder blocks.")


def train_config_from_flags(values):
    """A validated `TrainConfig` from parsed flag values.

    Args:
        values: `absl.flags.FLAGS` (or any object with one attribute per
            flag that `define_training_flags` defines).

    Returns:
        A `TrainConfig`.

    Raises:
        ValueError: a setting is out of range or a variant is unknown.
    """
    settings = {}
    for field in dataclasses.fields(TrainConfig):
        value = getattr(values, field.name)
        meta = field.metadata
        if meta["choices"] is not None and value is not None:
            value = {_flag_value(c): c for c in meta["choices"]}[value]
        elif field.type is tuple:
            value = tuple(meta.get("item", str)(v) for v in value)
        elif field.type is dict:
            value = parse_kwargs(value)
        settings[field.name] = value
    settings["variants"] += tuple(values.variant)
    config = TrainConfig(**settings)
    config.validate()
    return config


@contextlib.contextmanager
def user_errors():
    """Inside, a wrong flag value, missing data or an unknown variant ends
    the script with one line on stderr (exit status 2), no traceback. Wrap
    only the checks of what the user gave (config, data), not training: a
    bug there still shows its traceback (`run_script` handles what stops a
    run). `KERAS_WAVEGPT_TRACEBACK=1` shows the traceback instead."""
    try:
        yield
    except (ValueError, TypeError, FileNotFoundError, RunError) as error:
        _stop(error, 1 if isinstance(error, RunError) else 2)


def run_script(main):
    """`absl.app.run(main)`, where a `RunError` (a locked folder, a damaged
    backup, a full disk, a non-finite loss) ends the script with one line
    on stderr and exit status 1, no traceback. Python logs below WARNING
    stay off unless `--verbosity` is given.

    Args:
        main: callable. The script's `main(argv)`.
    """
    def guarded(argv):
        if not flags.FLAGS["verbosity"].present:  # JAX's backend probing logs at INFO
            logging.set_verbosity(logging.WARNING)
        try:
            return main(argv)
        except RunError as error:
            _stop(error, 1)

    app.run(guarded)


def _stop(error, status):
    if os.environ.get(TRACEBACK_VARIABLE, "") not in ("", "0"):
        raise error
    script = os.path.basename(sys.argv[0])
    print(f"{script}: error: {error}", file=sys.stderr)
    sys.exit(status)
