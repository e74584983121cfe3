"""Models built with the Keras functional API."""

from keras_wavegpt.models.audio import build_audio_transformer
from keras_wavegpt.models.classifier import build_sequence_classifier
from keras_wavegpt.models.gpt import (
    PRESETS,
    block_stack,
    build_gpt,
    causal_lm_from_gpt,
    decoder_stack,
    gpt_preset,
)
from keras_wavegpt.models.generation import SAMPLERS, generate
from keras_wavegpt.models.llama import build_llama
from keras_wavegpt.models.mixer_backbone import MixerBackbone, add_mixers
from keras_wavegpt.models.mixer_gpt2_causal_lm import MixerGPT2CausalLM
from keras_wavegpt.models.mixer_llama_causal_lm import MixerLlamaCausalLM
from keras_wavegpt.models.wavelet_gpt_backbone import WaveletGPTBackbone
from keras_wavegpt.models.wavelet_gpt_causal_lm import WaveletGPTCausalLM
from keras_wavegpt.models.wavelet_gpt_causal_lm_preprocessor import (
    WaveletGPTCausalLMPreprocessor,
)
