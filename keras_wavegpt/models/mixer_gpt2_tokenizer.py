"""keras_hub's GPT2 tokenizer, bound to `MixerGPT2Backbone` presets."""

import keras
import keras_hub

from keras_wavegpt.models.mixer_gpt2_backbone import MixerGPT2Backbone


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class MixerGPT2Tokenizer(keras_hub.models.GPT2Tokenizer):
    """`keras_hub.models.GPT2Tokenizer`, bound to `MixerGPT2Backbone`.

    keras_hub's tokenizer loaders pick a tokenizer class by the preset's
    backbone class, so `keras_hub.tokenizers.Tokenizer.from_preset` and
    `GPT2Tokenizer.from_preset` find this class for a mixer preset; the
    tokenizer they return is the one the preset saved.

    Args:
        **kwargs: those of `keras_hub.models.GPT2Tokenizer`.

    Example:

    >>> vocabulary = {"<|endoftext|>": 0, "Ġ": 1, "a": 2, "i": 3, "r": 4, "ai": 5, "air": 6}
    >>> tokenizer = MixerGPT2Tokenizer(vocabulary=vocabulary, merges=["a i", "ai r"])
    >>> [int(t) for t in tokenizer("air")]
    [6]
    >>> MixerGPT2Tokenizer.backbone_cls.__name__
    'MixerGPT2Backbone'
    """

    backbone_cls = MixerGPT2Backbone
