"""Models: keras_hub backbones and tasks, and the functional classifiers."""

from keras_wavegpt.models.audio import build_audio_transformer
from keras_wavegpt.models.classifier import build_sequence_classifier
from keras_wavegpt.models.gpt import (
    PRESETS,
    block_stack,
    build_gpt,
    decoder_stack,
    gpt_preset,
)
from keras_wavegpt.models.llama import build_llama
from keras_wavegpt.models.mixer_backbone import MixerBackbone, add_mixers
from keras_wavegpt.models.mixer_gpt2_backbone import MixerGPT2Backbone
from keras_wavegpt.models.mixer_gpt2_causal_lm import MixerGPT2CausalLM
from keras_wavegpt.models.mixer_gpt2_causal_lm_preprocessor import MixerGPT2CausalLMPreprocessor
from keras_wavegpt.models.mixer_gpt2_tokenizer import MixerGPT2Tokenizer
from keras_wavegpt.models.mixer_llama_backbone import MixerLlamaBackbone
from keras_wavegpt.models.mixer_llama_causal_lm import MixerLlamaCausalLM
from keras_wavegpt.models.mixer_llama_causal_lm_preprocessor import (
    MixerLlamaCausalLMPreprocessor,
)
from keras_wavegpt.models.mixer_llama_tokenizer import MixerLlamaTokenizer
from keras_wavegpt.models.sliding_generate import sampler_with_seed, sliding_generate
from keras_wavegpt.models.wavelet_gpt_backbone import WaveletGPTBackbone
from keras_wavegpt.models.wavelet_gpt_causal_lm import SAMPLERS, WaveletGPTCausalLM
from keras_wavegpt.models.wavelet_gpt_causal_lm_preprocessor import (
    WaveletGPTCausalLMPreprocessor,
)
