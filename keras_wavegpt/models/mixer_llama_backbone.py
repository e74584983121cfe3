"""`MixerBackbone` around keras_hub's Llama decoder."""

import keras
import keras_hub

from keras_wavegpt.models.mixer_backbone import MixerBackbone


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class MixerLlamaBackbone(MixerBackbone):
    """A `keras_hub.models.LlamaBackbone` with a mixer between its
    transformer layers; what `add_mixers` returns for a Llama backbone.

    Its own class, so that a preset names its family: keras_hub's
    `CausalLM.from_preset` finds `MixerLlamaCausalLM` by it.

    Args:
        backbone: `keras_hub.models.LlamaBackbone`. The wrapped decoder.
        mixer: str. A gap mixer or chain. Defaults to `"none"`.
        mixer_config: dict or `None`. The mixer's arguments. Defaults to `None`.
        max_sequence_length: int or `None`. The context the mixers' defaults
            follow (rotary positions set no limit). Defaults to `None`: the
            mixer's default (512 for the Haar mixers).
        dtype: string or `keras.mixed_precision.DTypePolicy`. Defaults to
            `None`: the wrapped backbone's.

    Example:

    >>> import keras_hub, numpy as np
    >>> llama = keras_hub.models.LlamaBackbone(vocabulary_size=50, num_layers=2,
    ...     num_query_heads=2, num_key_value_heads=1, hidden_dim=16, intermediate_dim=32)
    >>> backbone = MixerLlamaBackbone(llama, mixer="haar", max_sequence_length=32)
    >>> ids = {"token_ids": np.ones((1, 12), "int32"), "padding_mask": np.ones((1, 12), "int32")}
    >>> tuple(backbone(ids).shape)
    (1, 12, 16)
    """

    wrapped_cls = keras_hub.models.LlamaBackbone
