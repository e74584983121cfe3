"""Argument checks, one behaviour per kind of check, used by every module.

A value of the wrong type raises `TypeError`, a value of the right type
outside its range raises `ValueError`, and every message names the argument.
A bool is neither an integer nor a number here, although Python says it is:
`num_layers=True` is a mistake, not a one-layer model.
"""

import math
import numbers

import keras
import numpy as np


def check_int(name, value, minimum=1, allow_none=False):
    """Checks that `value` is an integer (numpy integers too) `>= minimum`.

    Args:
        name: str. The argument's name, for the message.
        value: the value to check.
        minimum: int. The smallest accepted value. Defaults to `1`.
        allow_none: bool. Whether `None` is accepted. Defaults to `False`.

    Returns:
        `value` as a Python `int`, or `None` where `allow_none`.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        none = " or None" if allow_none else ""
        raise TypeError(f"`{name}` must be an integer >= {minimum}{none}, got {value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, got {value}")
    return int(value)


def check_positive_ints(**values):
    """Checks that every keyword argument is an integer `>= 1`.

    Args:
        **values: each argument's name and value, as in `check_int`.
    """
    for name, value in values.items():
        check_int(name, value)


def check_number(name, value, low=None, high=None, low_open=False, high_open=False):
    """Checks that `value` is a finite real number in `low..high`.

    Args:
        name: str. The argument's name, for the message.
        value: the value to check.
        low: float or `None`. The lower end; `None` for unbounded. Defaults
            to `None`.
        high: float or `None`. The upper end; `None` for unbounded. Defaults
            to `None`.
        low_open: bool. Whether `low` itself is refused. Defaults to `False`.
        high_open: bool. Whether `high` itself is refused. Defaults to
            `False`.

    Returns:
        `value` as a Python `float`.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"`{name}` must be finite, got {value}")
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if below or above:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        interval = (f"{left}{'-inf' if low is None else low}, "
                    f"{'inf' if high is None else high}{right}")
        raise ValueError(f"`{name}` must be in {interval}, got {value}")
    return float(value)


def check_fraction(name, value):
    """Checks that `value` is a number in `(0, 1]`.

    The share of channels a layer processes is such a fraction.

    Args:
        name: str. The argument's name, for the message.
        value: the value to check.

    Returns:
        `value` as a Python `float`.
    """
    return check_number(name, value, 0.0, 1.0, low_open=True)


def check_bool(name, value):
    """Checks that `value` is a bool (an integer 0 or 1 is not).

    Args:
        name: str. The argument's name, for the message.
        value: the value to check.

    Returns:
        `value`.
    """
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be a bool, got {value!r}")
    return value


def check_choice(name, value, choices):
    """Checks that `value` is one of `choices`.

    Args:
        name: str. The argument's name, for the message.
        value: the value to check.
        choices: iterable. The accepted values, listed in the message.

    Returns:
        `value`.
    """
    if value not in choices:
        raise ValueError(f"Unknown `{name}` {value!r}; accepted values: {tuple(choices)}")
    return value


def check_stream(layer, shape):
    """Checks that `shape` is a residual stream's, for a layer's `build`.

    A stream is `(batch, time, channels)` with the channels known, which a
    layer needs to create its weights.

    Args:
        layer: `keras.layers.Layer`. The layer being built, named in the
            message.
        shape: tuple. The input shape given to `build`.
    """
    if len(shape) != 3:
        raise ValueError(
            f"{layer.__class__.__name__} expects inputs of shape (batch, time, "
            f"channels), got rank {len(shape)} shape {tuple(shape)}"
        )
    if shape[-1] is None:
        raise ValueError(
            f"{layer.__class__.__name__} needs a known channel dimension, got "
            f"shape {tuple(shape)}"
        )


def check_float_input(layer, x):
    """Checks that `x` holds floating-point activations.

    Token ids belong in an embedding, not in a mixer.

    Args:
        layer: `keras.layers.Layer`. The layer being called, named in the
            message.
        x: tensor. The layer's input.
    """
    dtype = keras.backend.standardize_dtype(x.dtype)
    if "float" not in dtype:
        raise TypeError(
            f"{layer.__class__.__name__} expects floating-point activations, "
            f"got dtype {dtype}"
        )


def check_prefix_mask(padding_mask):
    """Checks that each row of a padding mask is ones, then zeros.

    The mixers ignore the mask: causal, they never read a later position,
    so right padding cannot reach a real token, but a pad before or between
    real tokens would be mixed into the tokens after it.

    Args:
        padding_mask: array of shape `(B, T)`, bool or int, convertible to
            numpy.

    Raises:
        ValueError: a row has a padded position before a real one.
    """
    mask = np.asarray(keras.ops.convert_to_numpy(padding_mask)).astype(bool)
    holes = np.flatnonzero((~mask[:, :-1] & mask[:, 1:]).any(axis=1))
    if holes.size:
        row = mask[holes[0]].astype(int).tolist()
        raise ValueError(
            f"padding_mask row {holes[0]} is {row}: the mixers need right padding (real "
            "tokens first, then pads), since they would mix a pad into the tokens after it"
        )
