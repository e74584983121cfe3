"""One registry of residual-stream mixers, by name.

Scripts, configs and models all say `"none"`, `"haar"`, `"learnable"`,
`"ema"`, `"filterbank"`, `"multirate"` (and whatever later modules register).

A mixer has a placement. A `"gap"` mixer is one layer `(B, T, E) -> (B, T, E)`
that goes between decoder blocks; `get_mixer` returns it. A `"block"` mixer
lives inside every decoder block; `get_mixer` returns the keyword arguments of
`DSPDecoderBlock` that fill its slots (`pre_attention`, `post_attention`,
`post_mlp`).
"""

import inspect

import keras

from keras_wavegpt.layers.filterbank import TimeFrequencyFilterbank
from keras_wavegpt.layers.multirate import (
    ChannelBottleneck,
    LFORouting,
    MultirateDecomposition,
)
from keras_wavegpt.layers.wavelet import CausalEMA, CausalWavelet

_MIXERS = {}
PLACEMENTS = ("gap", "block")


def register_mixer(name, placement="gap"):
    """Decorator: register `factory(context_length=None, **kwargs)`.

    A `"gap"` factory returns a layer; a `"block"` factory returns a dict of
    `DSPDecoderBlock` slot layers.
    """
    if placement not in PLACEMENTS:
        raise ValueError(f"`placement` must be one of {PLACEMENTS}, got {placement!r}")

    def decorator(factory):
        if name in _MIXERS:
            raise ValueError(f"mixer {name!r} is already registered")
        factory.placement = placement
        _MIXERS[name] = factory
        return factory

    return decorator


def mixer_placement(name):
    """`"gap"` (a layer between blocks) or `"block"` (slots inside every block)."""
    return _lookup(name).placement


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
    return tuple(p for p in params if p not in ("self", "context_length", "kwargs", "name", "dtype"))


def get_mixer(name, /, context_length=None, **kwargs):
    """Build the mixer layer registered as `name`.

    Args:
        name: one of `mixer_names()`.
        context_length: the model's context, used for defaults that depend on
            it (the wavelet mixers' `max_kernel`).
        **kwargs: the layer's arguments (and the layer's own `name`,
            `dtype`, ...).

    Returns:
        A layer for a `"gap"` mixer; for a `"block"` mixer, the dict of
        `DSPDecoderBlock` slot layers.
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


@register_mixer("multirate", placement="block")
def _multirate(
    context_length=None,
    adaptive=False,
    use_multirate=True,
    use_lfo=True,
    use_bottleneck=True,
    downsample=2,
    filter_length=None,
    mix_ratio=0.4,
    detail_strength=0.75,
    num_routes=4,
    num_lfos=2,
    route_kernel_size=3,
    max_frequency=0.05,
    lfo_residual_mix=0.35,
    gate_temperature=1.0,
    bottleneck_ratio=0.25,
    bottleneck_residual_mix=0.5,
    name=None,
    dtype=None,
):
    """The three DSP slots of the adaptive multirate Transformer.

    `use_multirate`, `use_lfo`, `use_bottleneck` switch each slot off (the
    README's ablations); `adaptive` makes every bounded hyperparameter a
    meta-parameter (train with `keras_wavegpt.training.MetaOptimizer`).
    """
    prefix = f"{name}_" if name else ""
    slots = {}
    if use_multirate:
        slots["pre_attention"] = MultirateDecomposition(
            downsample, filter_length, mix_ratio, detail_strength, adaptive,
            name=f"{prefix}multirate", dtype=dtype,
        )
    if use_lfo:
        slots["post_attention"] = LFORouting(
            num_routes, num_lfos, route_kernel_size, max_frequency, lfo_residual_mix,
            gate_temperature, adaptive, name=f"{prefix}lfo_routing", dtype=dtype,
        )
    if use_bottleneck:
        slots["post_mlp"] = ChannelBottleneck(
            bottleneck_ratio, bottleneck_residual_mix, adaptive=adaptive,
            name=f"{prefix}bottleneck", dtype=dtype,
        )
    return slots
