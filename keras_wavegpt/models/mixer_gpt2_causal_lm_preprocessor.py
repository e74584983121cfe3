"""keras_hub's GPT2 causal LM preprocessor, bound to `MixerGPT2Backbone` presets."""

import keras
import keras_hub

from keras_wavegpt.models.mixer_gpt2_backbone import MixerGPT2Backbone
from keras_wavegpt.models.mixer_gpt2_tokenizer import MixerGPT2Tokenizer
from keras_wavegpt.models.saved_preprocessor import SavedPreprocessor


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class MixerGPT2CausalLMPreprocessor(SavedPreprocessor,
                                      keras_hub.models.GPT2CausalLMPreprocessor):
    """`keras_hub.models.GPT2CausalLMPreprocessor`, bound to
    `MixerGPT2Backbone`.

    keras_hub's `CausalLMPreprocessor.from_preset` picks a preprocessor
    class by the preset's backbone class; for a mixer preset it finds this
    one, built from the saved preprocessor's settings. `MixerGPT2CausalLM`
    takes this class or keras_hub's own.

    Args:
        tokenizer: `keras_hub.models.GPT2Tokenizer`. The tokenizer.
        sequence_length: int. Defaults to `1024`.
        add_start_token: bool. Defaults to `True`.
        add_end_token: bool. Defaults to `True`.
        **kwargs: those of `keras_hub.models.GPT2CausalLMPreprocessor`.

    Example:

    >>> from keras_wavegpt.models import MixerGPT2Tokenizer
    >>> vocabulary = {"<|endoftext|>": 0, "Ġ": 1, "a": 2, "i": 3, "r": 4, "ai": 5, "air": 6}
    >>> tokenizer = MixerGPT2Tokenizer(vocabulary=vocabulary, merges=["a i", "ai r"])
    >>> preprocessor = MixerGPT2CausalLMPreprocessor(tokenizer, sequence_length=4)
    >>> x, y, sample_weight = preprocessor(["air"])
    >>> [int(t) for t in x["token_ids"][0]], [int(t) for t in y[0]]
    ([0, 6, 0, 0], [6, 0, 0, 0])
    """

    backbone_cls = MixerGPT2Backbone
    tokenizer_cls = MixerGPT2Tokenizer
