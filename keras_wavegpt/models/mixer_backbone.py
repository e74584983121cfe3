"""A keras_hub decoder backbone with a mixer between its transformer layers."""

import inspect

import keras
import keras_hub

from keras_wavegpt.layers.cached_call import call_with_cache
from keras_wavegpt.layers.registry import get_mixer, mixer_placement


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class MixerBackbone(keras_hub.models.Backbone):
    """A keras_hub decoder backbone whose residual stream passes through a
    mixer between its transformer layers.

    The wrapped backbone's layers are reused, weights and all: the new
    backbone runs the wrapped one's graph and calls a gap mixer (its own
    layer, named `mixer_<i>`) on the hidden states before each transformer
    layer but the first. With `mixer="none"` it computes what the wrapped
    backbone computes. Inputs and outputs are the wrapped backbone's, and
    `token_embedding` is shared, so the family's causal LM trains it with
    `fit` (`keras_hub.models.GPT2CausalLM(backbone=..., preprocessor=...)`).

    The wrapped backbone's attributes read through (`layer_norm`,
    `num_layers`, ...), and `transformer_layers` gives each layer with the
    mixer before it, so keras_hub's `score` and the other loops over the
    layers run the mixers. Cached generation needs each mixer's cache beside
    the attention cache: `MixerGPT2CausalLM` and `MixerLlamaCausalLM` keep
    both; keras_hub's own causal LMs, which have no room for it, raise an
    error naming them.

    Each family with such a causal LM has its own subclass
    (`MixerGPT2Backbone`, `MixerLlamaBackbone`), which `add_mixers` returns
    and a preset names, so keras_hub's `CausalLM.from_preset` finds the
    family's causal LM. `MixerBackbone` itself wraps any other decoder, for
    training.

    Args:
        backbone: `keras_hub.models.Backbone`. A decoder-only backbone with
            `transformer_layers` (`GPT2Backbone`, `LlamaBackbone`, ...).
        mixer: str. A gap mixer of `mixer_names()` or a chain (`"haar+canon"`).
            Block mixers (`"multirate"`, `"canon_block"`) live inside our own
            decoder blocks and are refused. Defaults to `"none"`.
        mixer_config: dict or `None`. The mixer's arguments. Defaults to `None`.
        max_sequence_length: int or `None`. The context the mixers' defaults
            follow (the Haar mixer's `max_kernel`). Defaults to `None`: the
            backbone's own `max_sequence_length` where it has one (GPT-2),
            else the mixer's default (512 for the Haar mixers).
        dtype: string or `keras.mixed_precision.DTypePolicy`. The mixers'
            dtype policy. Defaults to `None`: the wrapped backbone's.

    Example:

    >>> import keras_hub, numpy as np
    >>> gpt2 = keras_hub.models.GPT2Backbone(vocabulary_size=50, num_layers=2,
    ...     num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=32)
    >>> backbone = MixerBackbone(gpt2, mixer="haar", mixer_config={"fraction": 0.5})
    >>> ids = {"token_ids": np.ones((1, 12), "int32"), "padding_mask": np.ones((1, 12), "int32")}
    >>> tuple(backbone(ids).shape)
    (1, 12, 16)
    >>> [layer.name for layer in backbone.mixer_layers]
    ['mixer_1']
    """

    # The decoder class a family's subclass wraps; `None`: any.
    wrapped_cls = None

    def __init__(self, backbone, mixer="none", mixer_config=None, max_sequence_length=None,
                 dtype=None, **kwargs):
        if not isinstance(backbone, self.wrapped_cls or keras_hub.models.Backbone):
            wanted = (self.wrapped_cls or keras_hub.models.Backbone).__name__
            raise TypeError(f"{type(self).__name__} wraps a {wanted}, got {backbone!r}")
        layers = getattr(backbone, "transformer_layers", None)
        if not layers:
            raise ValueError(
                f"`backbone` ({type(backbone).__name__}) has no `transformer_layers`: "
                "mixers go between the layers of a keras_hub decoder backbone "
                "(GPT2Backbone, LlamaBackbone, ...)"
            )
        if mixer_placement(mixer) != "gap":
            raise ValueError(
                f"Mixer {mixer!r} lives inside our own decoder blocks; between keras_hub's "
                "transformer layers only gap mixers fit (for example 'haar', 'canon')"
            )
        if mixer_config is not None and not isinstance(mixer_config, dict):
            raise TypeError(f"`mixer_config` must be a dict or None, got {mixer_config!r}")
        mixer_config = dict(mixer_config or {})
        if max_sequence_length is None:
            max_sequence_length = getattr(backbone, "max_sequence_length", None)
        dtype = backbone.dtype_policy if dtype is None else dtype

        # === Layers ===
        self.token_embedding = backbone.token_embedding
        self.mixer_layers = [
            get_mixer(mixer, max_sequence_length=max_sequence_length, name=f"mixer_{i}",
                      dtype=dtype, **mixer_config)
            for i in range(1, len(layers))
        ]

        # === Functional model ===
        before = {id(layer): m for layer, m in zip(layers[1:], self.mixer_layers)}

        def call(layer, x, *args, **call_kwargs):
            if id(layer) in before:
                x = before[id(layer)](x)  # (B, T, E)
            return layer(x, *args, **call_kwargs)

        graph = keras.models.clone_model(backbone, clone_function=lambda layer: layer,
                                         call_function=call)
        super().__init__(inputs=graph.input, outputs=graph.output, dtype=dtype, **kwargs)

        # === Config ===
        self.backbone_config = _complete_config(backbone)
        self.mixer = mixer
        self.mixer_config = mixer_config
        self.max_sequence_length = max_sequence_length
        # Kept out of Keras' tracking: its layers are this model's already.
        object.__setattr__(self, "_wrapped", backbone)
        object.__setattr__(self, "_mixed_layers", [
            MixedLayer(layer, mixer, i, self)
            for i, (layer, mixer) in enumerate(zip(layers, [None] + self.mixer_layers))
        ])
        # Set by a mixer causal LM around its cached call: the mixers' caches.
        object.__setattr__(self, "cached_call_state", None)

    @property
    def transformer_layers(self):
        """The wrapped layers, each called after the mixer before it."""
        return self._mixed_layers

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)  # torch.nn.Module's submodules
        except AttributeError:
            pass
        wrapped = self.__dict__.get("_wrapped")
        if wrapped is not None and not name.startswith("_") and hasattr(wrapped, name):
            return getattr(wrapped, name)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def get_config(self):
        config = super().get_config()
        config.update(
            backbone=self.backbone_config,
            mixer=self.mixer,
            mixer_config=self.mixer_config,
            max_sequence_length=self.max_sequence_length,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        if cls is MixerBackbone:  # saved before the families had classes (0.1)
            cls = _family_class(config["backbone"])
        return super(MixerBackbone, cls).from_config(config)


class MixedLayer:
    """One transformer layer of a `MixerBackbone`, called after the mixer
    before it; what `MixerBackbone.transformer_layers` lists.

    A cached call (`self_attention_cache=...`) takes the mixer's cache from
    the backbone's `cached_call_state`, which a mixer causal LM sets.

    Args:
        layer: `keras.layers.Layer`. The wrapped transformer layer.
        mixer: `keras.layers.Layer` or `None`. The mixer before it.
        index: int. The layer's index.
        backbone: `MixerBackbone`. Its owner.
    """

    def __init__(self, layer, mixer, index, backbone):
        self.layer = layer
        self.mixer = mixer
        self.index = index
        self.backbone = backbone
        # Whether generation keeps a cache for the mixer: the identity needs none.
        self.cached = mixer is not None and not isinstance(mixer, keras.layers.Identity)

    def __getattr__(self, name):
        return getattr(self.__dict__["layer"], name)

    def __call__(self, x, *args, **kwargs):
        if self.mixer is not None:
            if "self_attention_cache" in kwargs:
                x = self._cached_mix(x, kwargs.get("self_attention_cache_update_index", 0))
            else:
                x = self.mixer(x)  # (B, T, E)
        return self.layer(x, *args, **kwargs)

    def _cached_mix(self, x, index):
        state = self.backbone.cached_call_state
        if state is None:
            family = self.backbone.backbone_config["class_name"]
            supported = ", ".join(f"{m.__name__} ({b})" for b, m in MIXER_CAUSAL_LMS.items())
            raise AttributeError(
                f"This causal LM's cached generation would skip the mixers of the "
                f"MixerBackbone around {family}: it keeps no cache for them. Generate with "
                f"the keras_wavegpt causal LM of the family: {supported}"
            )
        if not self.cached:
            return x
        y, state["new"][self.index] = call_with_cache(self.mixer, x, state["old"][self.index],
                                                      index)
        return y


# Backbone class name -> the causal LM that generates with its mixers; filled
# by the modules that define them.
MIXER_CAUSAL_LMS = {}


def _family_class(backbone):
    """The `MixerBackbone` class for `backbone`: the subclass whose
    `wrapped_cls` it is, or `MixerBackbone` for a family without one."""
    for cls in MixerBackbone.__subclasses__():
        if cls.wrapped_cls is not None and isinstance(backbone, cls.wrapped_cls):
            return cls
    return MixerBackbone


def _complete_config(backbone):
    """`backbone` serialized with every constructor argument it keeps as an
    attribute: keras_hub's `LlamaBackbone` holds `tie_word_embeddings` but
    leaves it out of `get_config`, so a rebuilt one would grow a second
    output table that the saved weights do not fill."""
    serialized = keras.saving.serialize_keras_object(backbone)
    config = serialized["config"]
    for name in inspect.signature(type(backbone).__init__).parameters:
        if name not in config and name not in ("self", "kwargs") and hasattr(backbone, name):
            config[name] = getattr(backbone, name)
    return serialized


def add_mixers(backbone, mixer, max_sequence_length=None, **mixer_kwargs):
    """Puts a gap mixer between the transformer layers of a keras_hub backbone.

    The family's `MixerBackbone` subclass (`MixerGPT2Backbone`,
    `MixerLlamaBackbone`), or `MixerBackbone` for any other decoder, with
    `mixer_config=mixer_kwargs`; the result shares every weight of
    `backbone`.

    Args:
        backbone: `keras_hub.models.Backbone`. A decoder backbone such as
            `GPT2Backbone` or `LlamaBackbone`.
        mixer: str. A registered gap mixer's name or a chain
            (`"haar+canon"`).
        max_sequence_length: int or `None`. The longest input, which sets the
            wavelet mixers' default `max_kernel`; `None` reads it from the
            backbone where it has one. Defaults to `None`.
        **mixer_kwargs: the mixer's arguments.

    Returns:
        A `MixerBackbone`, of the family's subclass where it has one.

    Example:

    >>> import keras_hub
    >>> llama = keras_hub.models.LlamaBackbone(vocabulary_size=50, num_layers=2,
    ...     num_query_heads=2, num_key_value_heads=1, hidden_dim=16, intermediate_dim=32)
    >>> backbone = add_mixers(llama, "haar", max_kernel=8)
    >>> lm = keras_hub.models.LlamaCausalLM(backbone=backbone, preprocessor=None)
    >>> lm.count_params() == llama.count_params()   # the Haar mixer has no weights
    True
    """
    return _family_class(backbone)(backbone, mixer=mixer, mixer_config=mixer_kwargs,
                                   max_sequence_length=max_sequence_length)
