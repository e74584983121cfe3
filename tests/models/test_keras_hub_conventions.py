"""keras_hub's backbone, task and preset checks (tests/keras_hub_checks.py)
on our backbone and causal LM, and on a mixer backbone and its causal LM."""

import keras_hub
import numpy as np
import pytest

from keras_wavegpt.models import (
    MixerGPT2CausalLM,
    WaveletGPTBackbone,
    WaveletGPTCausalLM,
    WaveletGPTCausalLMPreprocessor,
    add_mixers,
    build_llama,
    gpt_preset,
)
from keras_wavegpt.tokenizers import Text8Tokenizer
from tests.helpers import GPT2_MERGES, GPT2_VOCABULARY, once_on, to_numpy
from tests.keras_hub_checks import check_backbone, check_preset, check_task

INPUTS = {"token_ids": np.ones((2, 8), "int32"), "padding_mask": np.ones((2, 8), "int32")}
TEXT = (["the quick brown fox", "the earth is round"],)
GPT2_TEXT = ([" airplane at airport", " the airplane is the best"],)


def wavelet_backbone():
    return WaveletGPTBackbone(vocabulary_size=27, num_layers=2, num_heads=2, hidden_dim=16,
                              intermediate_dim=32, max_sequence_length=16, mixer="haar+canon")


def mixer_backbone():
    gpt2 = keras_hub.models.GPT2Backbone(vocabulary_size=50, num_layers=2, num_heads=2,
                                         hidden_dim=16, intermediate_dim=32,
                                         max_sequence_length=16)
    return add_mixers(gpt2, "haar")


def wavelet_causal_lm(**kwargs):
    preprocessor = WaveletGPTCausalLMPreprocessor(Text8Tokenizer(), sequence_length=8)
    return WaveletGPTCausalLM(wavelet_backbone(), preprocessor=preprocessor,
                              head_hidden_dim=32, **kwargs)


def mixer_causal_lm(**kwargs):
    tokenizer = keras_hub.models.GPT2Tokenizer(vocabulary=GPT2_VOCABULARY, merges=GPT2_MERGES)
    preprocessor = keras_hub.models.GPT2CausalLMPreprocessor(tokenizer, sequence_length=8)
    return MixerGPT2CausalLM(mixer_backbone(), preprocessor=preprocessor, **kwargs)


@pytest.mark.parametrize("make", [wavelet_backbone, mixer_backbone])
def test_backbone(make, tmp_path):
    check_backbone(make, INPUTS, (2, 8, 16), tmp_path)


@pytest.mark.parametrize("make,data,vocabulary", [
    (wavelet_causal_lm, TEXT, 27),
    # keras_hub's own task class and preprocessor around our backbone:
    # test_mixer_backbone.py trains it on every backend.
    pytest.param(mixer_causal_lm, GPT2_TEXT, 50,
                 marks=once_on("torch", "keras_hub's GPT2 task conventions")),
])
def test_task(make, data, vocabulary):
    check_task(make, data, (2, 8, vocabulary))


def llama_causal_lm(**kwargs):
    return build_llama(50, mixer="haar+canon", **dict(gpt_preset("tiny"), hidden_dim=16),
                       **kwargs)


@pytest.mark.parametrize("make,vocabulary", [(wavelet_causal_lm, 27), (mixer_causal_lm, 50),
                                             (llama_causal_lm, 50)])
def test_preset(make, vocabulary, tmp_path):
    task = make()
    preset = str(tmp_path / "preset")
    task.save_to_preset(preset)
    for cls in (type(task), keras_hub.models.CausalLM):
        lm, logits = check_preset(cls, preset, INPUTS, (2, 8, vocabulary))
        assert type(lm) is type(task)
        np.testing.assert_allclose(to_numpy(logits), to_numpy(task(INPUTS)), atol=1e-5)
    check_preset(keras_hub.models.Backbone, preset, INPUTS, (2, 8, 16))
