"""keras_hub's Llama causal LM over a `MixerLlamaBackbone`, generating with its mixers."""

import keras
import keras_hub

from keras_wavegpt.models.mixer_backbone import MIXER_CAUSAL_LMS
from keras_wavegpt.models.mixer_causal_lm import MixerCausalLM
from keras_wavegpt.models.mixer_llama_backbone import MixerLlamaBackbone
from keras_wavegpt.models.mixer_llama_causal_lm_preprocessor import (
    MixerLlamaCausalLMPreprocessor,
)


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class MixerLlamaCausalLM(MixerCausalLM, keras_hub.models.LlamaCausalLM):
    """`keras_hub.models.LlamaCausalLM` whose backbone is
    `add_mixers(LlamaBackbone(...), mixer)`: `fit`, cached `generate` with
    every sampler, and `score`, all through the mixers.

    Args:
        backbone: `MixerLlamaBackbone`. `add_mixers` of a
            `keras_hub.models.LlamaBackbone`.
        preprocessor: `keras_hub.models.LlamaCausalLMPreprocessor` (or its
            `MixerLlamaCausalLMPreprocessor`) or `None`.
            Defaults to `None`.
        **kwargs: passed to keras_hub's `LlamaCausalLM`.

    Example:

    >>> import keras_hub, numpy as np
    >>> from keras_wavegpt.models import add_mixers
    >>> llama = keras_hub.models.LlamaBackbone(vocabulary_size=50, num_layers=2,
    ...     num_query_heads=2, num_key_value_heads=1, hidden_dim=16, intermediate_dim=32)
    >>> lm = MixerLlamaCausalLM(add_mixers(llama, "haar+canon", max_sequence_length=32))
    >>> lm.compile(sampler="greedy")
    >>> prompt = {"token_ids": np.array([[5, 6, 7, 0, 0, 0]]),
    ...           "padding_mask": np.array([[1, 1, 1, 0, 0, 0]])}
    >>> lm.generate(prompt, stop_token_ids=None)["token_ids"].shape
    (1, 6)
    """

    backbone_cls = MixerLlamaBackbone
    preprocessor_cls = MixerLlamaCausalLMPreprocessor


MIXER_CAUSAL_LMS["LlamaBackbone"] = MixerLlamaCausalLM
