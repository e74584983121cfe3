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

from keras_wavegpt.layers.canon_layer import CanonLayer
from keras_wavegpt.layers.causal_ema import CausalEMA
from keras_wavegpt.layers.causal_wavelet import CausalWavelet
from keras_wavegpt.layers.channel_bottleneck import ChannelBottleneck
from keras_wavegpt.layers.lfo_routing import LFORouting
from keras_wavegpt.layers.mixer_chain import MixerChain
from keras_wavegpt.layers.multirate_decomposition import MultirateDecomposition
from keras_wavegpt.layers.time_frequency_filterbank import TimeFrequencyFilterbank

_MIXERS = {}
PLACEMENTS = ("gap", "block")
CHAIN = "+"  # "haar+canon": the parts of a composed mixer
PART = "."  # "canon.kernel_size": an argument of one part
# What every mixer takes besides its own arguments: the layer's.
LAYER_ARGUMENTS = ("name", "dtype", "trainable")


def register_mixer(name, placement="gap"):
    """Decorator: register `factory(max_sequence_length=None, **kwargs)`.

    A `"gap"` factory returns a layer; a `"block"` factory returns a dict of
    `DSPDecoderBlock` slot layers.

    Args:
        name: str. The mixer's name, for `get_mixer` and `--variants`.
        placement: str. `"gap"` or `"block"`. Defaults to `"gap"`.
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
    """`"gap"` (a layer between blocks) or `"block"` (slots inside every block).

    Args:
        name: str. A registered mixer or a chain (`"haar+canon"`, a gap mixer).
    """
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
    composition of gap mixers.

    Args:
        name: str.
    """
    try:
        mixer_placement(name)
    except ValueError:
        return False
    return True


def mixer_scope(name):
    """`name` as a layer or model name: `"haar+canon"` -> `"haar_canon"`.

    Args:
        name: str. A mixer name.
    """
    return name.replace(CHAIN, "_")


def mixer_arguments(name):
    """Keyword arguments the mixer `name` accepts (besides layer kwargs).

    For a composition, each part's arguments as `"part.argument"`, then the
    plain names (those two parts share are rejected by `get_mixer`).

    Args:
        name: str. A registered mixer or a chain.

    Returns:
        tuple of str.
    """
    if CHAIN in name:
        parts = _chain_parts(name)
        dotted = [f"{p}{PART}{a}" for p in parts for a in mixer_arguments(p)]
        plain = dict.fromkeys(a for p in parts for a in mixer_arguments(p))
        return tuple(dotted) + tuple(plain)
    factory = _lookup(name)
    # A factory forwards **kwargs to its layers and lists what they take.
    return getattr(factory, "arguments", None) or tuple(
        p for p in inspect.signature(factory).parameters
        if p not in ("max_sequence_length", "kwargs", "name", "dtype")
    )


def get_mixer(name, /, max_sequence_length=None, **kwargs):
    """Build the mixer layer registered as `name`.

    Args:
        name: one of `mixer_names()`.
        max_sequence_length: the model's context, used for defaults that depend on
            it (the wavelet mixers' `max_kernel`).
        **kwargs: the layer's arguments (and the layer's own `name`,
            `dtype`, ...).

    Returns:
        A layer for a `"gap"` mixer (a `MixerChain` for `"a+b"`); for a
        `"block"` mixer, the dict of `DSPDecoderBlock` slot layers.
    """
    if CHAIN in name:
        return _chain(name, max_sequence_length, kwargs)
    factory = _lookup(name)
    stray = sorted(set(kwargs) - set(mixer_arguments(name)) - set(LAYER_ARGUMENTS))
    if stray:
        raise ValueError(f"Mixer {name!r} does not accept {stray} (it accepts "
                         f"{list(mixer_arguments(name))})")
    return factory(max_sequence_length=max_sequence_length, **kwargs)


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


def _chain(name, max_sequence_length, kwargs):
    """A `MixerChain` of the parts of `name`, each given its own arguments."""
    parts = _chain_parts(name)
    layer_kwargs = {k: kwargs.pop(k) for k in LAYER_ARGUMENTS if k in kwargs}
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
        get_mixer(part, max_sequence_length=max_sequence_length, name=f"{prefix}_{part}",
                  dtype=layer_kwargs.get("dtype"),
                  trainable=layer_kwargs.get("trainable", True), **own[part])
        for part in parts
    ]
    return MixerChain(layers, **layer_kwargs)


def _lookup(name):
    if name not in _MIXERS:
        raise ValueError(f"Unknown mixer {name!r}; accepted values: {mixer_names()}")
    return _MIXERS[name]


def default_max_kernel(max_sequence_length):
    """Largest power of two <= max_sequence_length (the paper: the context, 512).

    Args:
        max_sequence_length: int. The model's context.
    """
    return 1 << (int(max_sequence_length).bit_length() - 1)


def _arguments(layer_class, fixed=(), renames=None):
    """`{mixer argument: layer argument}` for the arguments of `layer_class`
    a factory forwards: all but the layer kwargs and those it `fixed`,
    under `renames` (layer argument -> mixer argument) where two layers of a
    block mixer share a name."""
    renames = renames or {}
    params = inspect.signature(layer_class.__init__).parameters
    return {renames.get(p, p): p for p in params
            if p not in ("self", "kwargs", "name", "dtype") + tuple(fixed)}


@register_mixer("none")
def _identity(max_sequence_length=None, **kwargs):
    return keras.layers.Identity(**kwargs)


_identity.arguments = ()


def _default_kernel(max_kernel, max_sequence_length):
    if max_kernel is None:
        max_kernel = 512 if max_sequence_length is None else default_max_kernel(max_sequence_length)
    return max_kernel


@register_mixer("haar")
def _haar(max_sequence_length=None, max_kernel=None, **kwargs):
    return CausalWavelet(max_kernel=_default_kernel(max_kernel, max_sequence_length),
                         learnable=False, **kwargs)


_haar.arguments = tuple(_arguments(CausalWavelet, fixed=("learnable", "fft")))


@register_mixer("learnable")
def _learnable(max_sequence_length=None, max_kernel=None, **kwargs):
    return CausalWavelet(max_kernel=_default_kernel(max_kernel, max_sequence_length),
                         learnable=True, **kwargs)


_learnable.arguments = tuple(_arguments(CausalWavelet, fixed=("learnable",)))


@register_mixer("ema")
def _ema(max_sequence_length=None, **kwargs):
    return CausalEMA(**kwargs)


_ema.arguments = tuple(_arguments(CausalEMA))


@register_mixer("filterbank")
def _filterbank(max_sequence_length=None, **kwargs):
    return TimeFrequencyFilterbank(**kwargs)


_filterbank.arguments = tuple(_arguments(TimeFrequencyFilterbank))


@register_mixer("canon")
def _canon(max_sequence_length=None, **kwargs):
    return CanonLayer(**kwargs)


_canon.arguments = tuple(_arguments(CanonLayer))

# Canon positions inside a block and the `DSPDecoderBlock` slot of each: A
# after the attention's LayerNorm, C after the MLP's. (B and D sit inside the
# attention and MLP projections, which the block does not open up.)
CANON_POSITIONS = {"A": "attention_input", "C": "feedforward_input"}


@register_mixer("canon_block", placement="block")
def _canon_block(max_sequence_length=None, positions="AC", name=None, dtype=None,
                 trainable=True, **kwargs):
    """Canon layers inside every block, at `positions` (a string of `"A"`
    and `"C"`: before attention, before the MLP, each after its LayerNorm);
    `kwargs` go to each `CanonLayer`."""
    if not isinstance(positions, str) or not positions or set(positions) - set(CANON_POSITIONS):
        raise ValueError(
            f"`positions` must be a non-empty string of {tuple(CANON_POSITIONS)}, got "
            f"{positions!r}"
        )
    prefix = f"{name}_" if name else ""
    return {
        CANON_POSITIONS[p]: CanonLayer(name=f"{prefix}canon_{p.lower()}", dtype=dtype,
                                       trainable=trainable, **kwargs)
        for p in sorted(set(positions))
    }


_canon_block.arguments = ("positions",) + tuple(_arguments(CanonLayer))

# The multirate block's slots: (switch, slot, layer class, layer name, and
# {mixer argument: layer argument}, under the mixer's own names for layer
# arguments two of its layers share).
MULTIRATE_SLOTS = tuple(
    (switch, slot, layer_class, layer_name,
     _arguments(layer_class, fixed=("adaptive",), renames=renames))
    for switch, slot, layer_class, layer_name, renames in (
        ("use_multirate", "pre_attention", MultirateDecomposition, "multirate", {}),
        ("use_lfo", "post_attention", LFORouting, "lfo_routing",
         {"residual_mix": "lfo_residual_mix", "kernel_size": "route_kernel_size"}),
        ("use_bottleneck", "post_mlp", ChannelBottleneck, "bottleneck",
         {"residual_mix": "bottleneck_residual_mix"}),
    )
)


@register_mixer("multirate", placement="block")
def _multirate(max_sequence_length=None, adaptive=False, use_multirate=True, use_lfo=True,
               use_bottleneck=True, name=None, dtype=None, trainable=True, **kwargs):
    """The three DSP slots of the adaptive multirate Transformer.

    `use_multirate`, `use_lfo`, `use_bottleneck` switch each slot off (the
    ablations); `adaptive` makes every bounded hyperparameter a
    meta-parameter (train with `keras_wavegpt.training.MetaOptimizer`); the
    other arguments go to the slot's layer that takes them.
    """
    prefix = f"{name}_" if name else ""
    switches = {"use_multirate": use_multirate, "use_lfo": use_lfo,
                "use_bottleneck": use_bottleneck}
    slots = {}
    for switch, slot, layer_class, layer_name, own in MULTIRATE_SLOTS:
        if switches[switch]:
            slots[slot] = layer_class(
                adaptive=adaptive, name=prefix + layer_name, dtype=dtype, trainable=trainable,
                **{own[k]: v for k, v in kwargs.items() if k in own},
            )
    return slots


_multirate.arguments = ("adaptive", "use_multirate", "use_lfo", "use_bottleneck") + tuple(
    a for *_, own in MULTIRATE_SLOTS for a in own
)
