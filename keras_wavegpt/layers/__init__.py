"""Layers: residual-stream mixers and the pieces of the decoder."""

from keras_wavegpt.layers.bounded_parameter import (
    BoundedParameter,
    is_meta_parameter,
    meta_parameters,
)
from keras_wavegpt.layers.canon_layer import CanonLayer
from keras_wavegpt.layers.causal_ema import CausalEMA
from keras_wavegpt.layers.causal_ops import processed_channels
from keras_wavegpt.layers.causal_wavelet import CausalWavelet, kernel_schedule
from keras_wavegpt.layers.channel_bottleneck import ChannelBottleneck
from keras_wavegpt.layers.dsp_decoder_block import DSPDecoderBlock
from keras_wavegpt.layers.gpt_embedding import GPTEmbedding
from keras_wavegpt.layers.lfo_routing import LFORouting
from keras_wavegpt.layers.mixer_chain import MixerChain
from keras_wavegpt.layers.multirate_decomposition import MultirateDecomposition
from keras_wavegpt.layers.registry import (
    get_mixer,
    is_mixer,
    mixer_arguments,
    mixer_names,
    mixer_placement,
    mixer_scope,
    register_mixer,
)
from keras_wavegpt.layers.time_frequency_filterbank import (
    TimeFrequencyFilterbank,
    filterbank_activation_size,
)
