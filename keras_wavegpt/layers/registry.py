"""One registry of residual-stream mixers, by name.

Scripts, configs and models all say `"none"`, `"haar"`, `"learnable"`,
`"ema"`, `"filterbank"`, `"canon"`, `"canon_block"`, `"multirate"` (and
whatever later modules register).

A mixer has a placement. A `"gap"` mixer is one layer `(B, T, E) -> (B, T, E)`
that goes between decoder blocks; `get_mixer` returns it. A `"block"` mixer
lives inside every decoder block; `get_mixer` returns the keyword arguments of
`DSPDecoderBlock` that fill its slots (`pre_attention`, `attention_input`,
`post_attention`, `feedforward_input`, `post_mlp`).

Gap mixers compose: `"haar+canon"` is a `MixerChain` that applies `haar`,
then `canon`. Its arguments are the parts' arguments: `"canon.kernel_size"`
goes to the `canon` part only (so does `canon={"kernel_size": 3}`), and a
plain `"kernel_size"` goes to the one part that accepts it; a plain name that
two parts accept (`"fraction"`) is ambiguous and an error.
"""

import inspect

import keras

from keras_wavegpt.layers.canon import CanonLayer
from keras_wavegpt.layers.chain import MixerChain
from keras_wavegpt.layers.filterbank import TimeFrequencyFilterbank
from keras_wavegpt.layers.multirate import (
    ChannelBottleneck,
    LFORouting,
    MultirateDecomposition,
)
from keras_wavegpt.layers.wavelet import CausalEMA, CausalWavelet

_MIXERS = {}
PLACEMENTS = ("gap", "block")
CHAIN = "+"  # "haar+canon": the parts of a composed mixer
PART = "."  # "canon.kernel_size": an argument of one part


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
    if CHAIN in name:
        _chain_parts(name)
        return "gap"
    return _lookup(name).placement


def mixer_names():
    """Registered mixer names, in registration order (`get_mixer` also takes
    their compositions, `"haar+canon"`)."""
    return tuple(_MIXERS)


def is_mixer(name):
    """Whether `get_mixer` knows `name`: a registered mixer or a valid
    composition of gap mixers."""
    try:
        mixer_placement(name)
    except ValueError:
        return False
    return True


def mixer_scope(name):
    """`name` as a layer or model name: `"haar+canon"` -> `"haar_canon"`."""
    return name.replace(CHAIN, "_")


def mixer_arguments(name):
    """Keyword arguments the mixer `name` accepts (besides layer kwargs).

    For a composition, each part's arguments as `"part.argument"`, then the
    plain names (those two parts share are rejected by `get_mixer`)."""
    if CHAIN in name:
        parts = _chain_parts(name)
        dotted = [f"{p}{PART}{a}" for p in parts for a in mixer_arguments(p)]
        plain = dict.fromkeys(a for p in parts for a in mixer_arguments(p))
        return tuple(dotted) + tuple(plain)
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
        A layer for a `"gap"` mixer (a `MixerChain` for `"a+b"`); for a
        `"block"` mixer, the dict of `DSPDecoderBlock` slot layers.
    """
    if CHAIN in name:
        return _chain(name, context_length, kwargs)
    return _lookup(name)(context_length=context_length, **kwargs)


def _chain_parts(name):
    parts = [p.strip() for p in name.split(CHAIN)]
    for part in parts:
        _lookup(part)
        if _MIXERS[part].placement != "gap":
            raise ValueError(
                f"Mixer {name!r}: only gap mixers compose, and {part!r} lives inside "
                "the blocks"
            )
    if len(set(parts)) != len(parts):
        raise ValueError(f"Mixer {name!r} names a part twice; each part may appear once")
    return parts


def _chain(name, context_length, kwargs):
    """A `MixerChain` of the parts of `name`, each given its own arguments."""
    parts = _chain_parts(name)
    layer_kwargs = {k: kwargs.pop(k) for k in ("name", "dtype") if k in kwargs}
    own = {part: dict(kwargs.pop(part, None) or {}) for part in parts}
    for key, value in kwargs.items():
        part, dot, argument = key.partition(PART)
        if dot:
            if part not in own:
                raise ValueError(f"Mixer {name!r} has no part {part!r} (argument {key!r})")
            targets = [part]
        else:
            argument = key
            targets = [p for p in parts if argument in mixer_arguments(p)]
            if len(targets) > 1:
                raise ValueError(
                    f"Mixer {name!r}: argument {key!r} is accepted by {targets}; say "
                    f"which part it is for, e.g. {targets[0]}{PART}{key}"
                )
            if not targets:
                raise ValueError(
                    f"Mixer {name!r}: no part accepts argument {key!r} (they accept "
                    f"{list(mixer_arguments(name))})"
                )
        if argument not in mixer_arguments(targets[0]):
            raise ValueError(
                f"Mixer {name!r}: part {targets[0]!r} does not accept {argument!r} (it "
                f"accepts {list(mixer_arguments(targets[0]))})"
            )
        own[targets[0]][argument] = value
    prefix = layer_kwargs.get("name", mixer_scope(name))
    layers = [
        get_mixer(part, context_length=context_length, name=f"{prefix}_{part}",
                  dtype=layer_kwargs.get("dtype"), **own[part])
        for part in parts
    ]
    return MixerChain(layers, **layer_kwargs)


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
def _haar(context_length=None, max_kernel=None, fraction=0.5, schedule="dyadic",
          levels=None, **kwargs):
    max_kernel = _default_kernel(max_kernel, context_length)
    return CausalWavelet(max_kernel, fraction, schedule, learnable=False, levels=levels,
                         **kwargs)


@register_mixer("learnable")
def _learnable(
    context_length=None, max_kernel=None, fraction=0.5, schedule="dyadic", fft=False,
    levels=None, **kwargs
):
    max_kernel = _default_kernel(max_kernel, context_length)
    return CausalWavelet(max_kernel, fraction, schedule, learnable=True, fft=fft,
                         levels=levels, **kwargs)


@register_mixer("ema")
def _ema(context_length=None, fraction=0.5, **kwargs):
    return CausalEMA(fraction, **kwargs)


@register_mixer("filterbank")
def _filterbank(context_length=None, **kwargs):
    return TimeFrequencyFilterbank(**kwargs)


_filterbank.layer_class = TimeFrequencyFilterbank


@register_mixer("canon")
def _canon(context_length=None, **kwargs):
    return CanonLayer(**kwargs)


_canon.layer_class = CanonLayer

# Canon positions inside a block and the `DSPDecoderBlock` slot of each: A
# after the attention's LayerNorm, C after the MLP's. (B and D sit inside the
# attention and MLP projections, which the block does not open up.)
CANON_POSITIONS = {"A": "attention_input", "C": "feedforward_input"}


@register_mixer("canon_block", placement="block")
def _canon_block(context_length=None, positions="AC", kernel_size=4, fraction=1.0,
                 residual=True, name=None, dtype=None):
    """Canon layers inside every block, at `positions` (a string of `"A"`
    and `"C"`: before attention, before the MLP, each after its LayerNorm)."""
    if not isinstance(positions, str) or not positions or set(positions) - set(CANON_POSITIONS):
        raise ValueError(
            f"`positions` must be a non-empty string of {tuple(CANON_POSITIONS)}, got "
            f"{positions!r}"
        )
    prefix = f"{name}_" if name else ""
    return {
        CANON_POSITIONS[p]: CanonLayer(kernel_size, fraction, residual,
                                       name=f"{prefix}canon_{p.lower()}", dtype=dtype)
        for p in sorted(set(positions))
    }


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
