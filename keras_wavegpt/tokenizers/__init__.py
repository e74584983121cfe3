"""Tokenizers as keras_hub `Tokenizer` layers."""

from keras_wavegpt.tokenizers.byte_tokenizer import ByteTokenizer
from keras_wavegpt.tokenizers.midi_event_tokenizer import MidiEventTokenizer
from keras_wavegpt.tokenizers.mu_law_tokenizer import MuLawTokenizer
from keras_wavegpt.tokenizers.text8_tokenizer import Text8Tokenizer
from keras_wavegpt.tokenizers.wavelet_gpt_tokenizer import WaveletGPTTokenizer
