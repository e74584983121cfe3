"""keras_hub's Llama tokenizer, bound to `MixerLlamaBackbone` presets."""

import keras
import keras_hub

from keras_wavegpt.models.mixer_llama_backbone import MixerLlamaBackbone


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class MixerLlamaTokenizer(keras_hub.models.LlamaTokenizer):
    """`keras_hub.models.LlamaTokenizer`, bound to `MixerLlamaBackbone`.

    keras_hub's tokenizer loaders pick a tokenizer class by the preset's
    backbone class, so `keras_hub.tokenizers.Tokenizer.from_preset` and
    `LlamaTokenizer.from_preset` find this class for a mixer preset; the
    tokenizer they return is the one the preset saved.

    Args:
        **kwargs: those of `keras_hub.models.LlamaTokenizer`: `proto`, a
            SentencePiece model.

    Example:

    >>> MixerLlamaTokenizer.backbone_cls.__name__
    'MixerLlamaBackbone'
    """

    backbone_cls = MixerLlamaBackbone
