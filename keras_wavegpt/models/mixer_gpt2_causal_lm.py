"""keras_hub's GPT-2 causal LM over a `MixerGPT2Backbone`, generating with its mixers."""

import keras
import keras_hub

from keras_wavegpt.models.mixer_backbone import MIXER_CAUSAL_LMS
from keras_wavegpt.models.mixer_causal_lm import MixerCausalLM
from keras_wavegpt.models.mixer_gpt2_backbone import MixerGPT2Backbone
from keras_wavegpt.models.mixer_gpt2_causal_lm_preprocessor import (
    MixerGPT2CausalLMPreprocessor,
)


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class MixerGPT2CausalLM(MixerCausalLM, keras_hub.models.GPT2CausalLM):
    """`keras_hub.models.GPT2CausalLM` whose backbone is
    `add_mixers(GPT2Backbone(...), mixer)`: `fit`, cached `generate` with
    every sampler, and `score`, all through the mixers.

    Args:
        backbone: `MixerGPT2Backbone`. `add_mixers` of a
            `keras_hub.models.GPT2Backbone`.
        preprocessor: `keras_hub.models.GPT2CausalLMPreprocessor` (or its
            `MixerGPT2CausalLMPreprocessor`) or `None`.
            Defaults to `None`.
        **kwargs: passed to keras_hub's `GPT2CausalLM`.

    Example:

    >>> import keras_hub, numpy as np
    >>> from keras_wavegpt.models import add_mixers
    >>> gpt2 = keras_hub.models.GPT2Backbone(vocabulary_size=50, num_layers=2,
    ...     num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=32)
    >>> lm = MixerGPT2CausalLM(add_mixers(gpt2, "haar", max_kernel=8))
    >>> lm.compile(sampler="greedy")
    >>> prompt = {"token_ids": np.array([[5, 6, 7, 0, 0, 0]]),
    ...           "padding_mask": np.array([[1, 1, 1, 0, 0, 0]])}
    >>> lm.generate(prompt, stop_token_ids=None)["token_ids"].shape
    (1, 6)
    """

    backbone_cls = MixerGPT2Backbone
    preprocessor_cls = MixerGPT2CausalLMPreprocessor


MIXER_CAUSAL_LMS["GPT2Backbone"] = MixerGPT2CausalLM
