"""One registry of residual-stream mixers, by name.

Scripts, configs and models all say `"none"`, `"haar"`, `"learnable"`,
`"ema"`, `"filterbank"` (and whatever later modules register); `get_mixer` turns a name and
its keyword arguments into a layer that maps `(B, T, E)` to `(B, T, E)`.
"""

import inspect

import keras

from keras_wavegpt.layers.filterbank import TimeFrequencyFilterbank
from keras_wavegpt.layers.wavelet import CausalEMA, CausalWavelet

_MIXERS = {}


def register_mixer(name):
    """Decorator: register `factory(context_length=None, **kwargs) -> Layer`."""

    def decorator(factory):
        if name in _MIXERS:
            raise ValueError(f"mixer {name!r} is already registered")
        _MIXERS[name] = factory
        return factory

    return decorator


def mixer_names():
    """Registered mixer names, in registration order."""
    return tuple(_MIXERS)


def mixer_arguments(name):
    """Keyword arguments the mixer `name` accepts (besides layer kwargs)."""
    factory = _lookup(name)
    # A factory that only forwards **kwargs names the layer it builds.
    target = getattr(factory, "layer_class", factory)
    target = target.__init__ if isinstance(target, type) else target
    params = inspect.signature(target).parameters
    return tuple(p for p in params if p not in ("self", "context_length", "kwargs"))


def get_mixer(name, /, context_length=None, **kwargs):
    """Build the mixer layer registered as `name`.

    Args:
        name: one of `mixer_names()`.
        context_length: the model's context, used for defaults that depend on
            it (the wavelet mixers' `max_kernel`).
        **kwargs: the layer's arguments (and the layer's own `name`,
            `dtype`, ...).
    """
    return _lookup(name)(context_length=context_length, **kwargs)


def _lookup(name):
    if name not in _MIXERS:
        raise ValueError(f"Unknown mixer {name!r}; accepted values: {mixer_names()}")
    return _MIXERS[name]


def default_max_kernel(context_length):
    """Largest power of two <= context_length (the paper: the context, 512)."""
    return 1 << (int(context_length).bit_length() - 1)


@register_mixer("none")
def _identity(context_length=None, **kwargs):
    return keras.layers.Identity(**kwargs)


def _default_kernel(max_kernel, context_length):
    if max_kernel is None:
        max_kernel = 512 if context_length is None else default_max_kernel(context_length)
    return max_kernel


@register_mixer("haar")
def _haar(context_length=None, max_kernel=None, fraction=0.5, schedule="dyadic", **kwargs):
    max_kernel = _default_kernel(max_kernel, context_length)
    return CausalWavelet(max_kernel, fraction, schedule, learnable=False, **kwargs)


@register_mixer("learnable")
def _learnable(
    context_length=None, max_kernel=None, fraction=0.5, schedule="dyadic", fft=False, **kwargs
):
    max_kernel = _default_kernel(max_kernel, context_length)
    return CausalWavelet(max_kernel, fraction, schedule, learnable=True, fft=fft, **kwargs)


@register_mixer("ema")
def _ema(context_length=None, fraction=0.5, **kwargs):
    return CausalEMA(fraction, **kwargs)


@register_mixer("filterbank")
def _filterbank(context_length=None, **kwargs):
    return TimeFrequencyFilterbank(**kwargs)


_filterbank.layer_class = TimeFrequencyFilterbank
