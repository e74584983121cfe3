"""`MixerBackbone` around keras_hub's GPT-2 decoder."""

import keras
import keras_hub

from keras_wavegpt.models.mixer_backbone import MixerBackbone


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class MixerGPT2Backbone(MixerBackbone):
    """A `keras_hub.models.GPT2Backbone` with a mixer between its
    transformer layers; what `add_mixers` returns for a GPT-2 backbone.

    Its own class, so that a preset names its family: keras_hub's
    `CausalLM.from_preset` finds `MixerGPT2CausalLM` by it.

    Args:
        backbone: `keras_hub.models.GPT2Backbone`. The wrapped decoder.
        mixer: str. A gap mixer or chain. Defaults to `"none"`.
        mixer_config: dict or `None`. The mixer's arguments. Defaults to `None`.
        max_sequence_length: int or `None`. Defaults to `None`: the GPT-2
            backbone's own.
        dtype: string or `keras.mixed_precision.DTypePolicy`. Defaults to
            `None`: the wrapped backbone's.

    Example:

    >>> import keras_hub, numpy as np
    >>> gpt2 = keras_hub.models.GPT2Backbone(vocabulary_size=50, num_layers=2,
    ...     num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=32)
    >>> backbone = MixerGPT2Backbone(gpt2, mixer="haar")
    >>> ids = {"token_ids": np.ones((1, 12), "int32"), "padding_mask": np.ones((1, 12), "int32")}
    >>> tuple(backbone(ids).shape)
    (1, 12, 16)
    """

    wrapped_cls = keras_hub.models.GPT2Backbone
