"""Layers: residual-stream mixers and the pieces of the decoder."""

from keras_wavegpt.layers.canon import CanonLayer
from keras_wavegpt.layers.chain import MixerChain
from keras_wavegpt.layers.decoder import DSPDecoderBlock
from keras_wavegpt.layers.embedding import GPTEmbedding
from keras_wavegpt.layers.filterbank import (
    TimeFrequencyFilterbank,
    filterbank_activation_size,
)
from keras_wavegpt.layers.registry import (
    get_mixer,
    is_mixer,
    mixer_arguments,
    mixer_names,
    mixer_placement,
    mixer_scope,
    register_mixer,
)
from keras_wavegpt.layers.multirate import (
    BoundedParameter,
    ChannelBottleneck,
    LFORouting,
    MultirateDecomposition,
    is_meta_parameter,
    meta_parameters,
)
from keras_wavegpt.layers.wavelet import (
    CausalEMA,
    CausalWavelet,
    kernel_schedule,
    processed_channels,
)
