"""keras_hub's Llama causal LM preprocessor, bound to `MixerLlamaBackbone` presets."""

import keras
import keras_hub

from keras_wavegpt.models.mixer_llama_backbone import MixerLlamaBackbone
from keras_wavegpt.models.mixer_llama_tokenizer import MixerLlamaTokenizer
from keras_wavegpt.models.saved_preprocessor import SavedPreprocessor


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class MixerLlamaCausalLMPreprocessor(SavedPreprocessor,
                                      keras_hub.models.LlamaCausalLMPreprocessor):
    """`keras_hub.models.LlamaCausalLMPreprocessor`, bound to
    `MixerLlamaBackbone`.

    keras_hub's `CausalLMPreprocessor.from_preset` picks a preprocessor
    class by the preset's backbone class; for a mixer preset it finds this
    one, built from the saved preprocessor's settings. `MixerLlamaCausalLM`
    takes this class or keras_hub's own.

    Args:
        tokenizer: `keras_hub.models.LlamaTokenizer`. The tokenizer.
        sequence_length: int. Defaults to `1024`.
        add_start_token: bool. Defaults to `True`.
        add_end_token: bool. Defaults to `True`.
        **kwargs: those of `keras_hub.models.LlamaCausalLMPreprocessor`.

    Example:

    >>> MixerLlamaCausalLMPreprocessor.tokenizer_cls.__name__
    'MixerLlamaTokenizer'
    """

    backbone_cls = MixerLlamaBackbone
    tokenizer_cls = MixerLlamaTokenizer
