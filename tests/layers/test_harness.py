"""Keras' own layer checks for every layer (config round trip, symbolic
shapes, training, mixed precision), beside the numpy references in the other
files. CanonLayer and MixerChain have theirs in test_canon.py."""

from absl.testing import parameterized
from keras.src import testing

from keras_wavegpt.layers import (
    CausalEMA,
    CausalWavelet,
    ChannelBottleneck,
    DSPDecoderBlock,
    LFORouting,
    MultirateDecomposition,
    TimeFrequencyFilterbank,
)

SHAPE = (2, 8, 8)
# (layer class, arguments, trainable weights, non-trainable weights)
CASES = {
    "haar": (CausalWavelet, dict(max_kernel=4), 0, 0),
    "learnable": (CausalWavelet, dict(max_kernel=4, learnable=True), 1, 0),
    "ema": (CausalEMA, dict(fraction=0.5), 0, 0),
    "filterbank": (TimeFrequencyFilterbank, dict(num_filters=4, kernel_sizes=(2, 4)), 9, 0),
    "filterbank_adaptive": (TimeFrequencyFilterbank,
                            dict(num_filters=4, kernel_sizes=(2,), adaptive=True,
                                 adaptive_dim=8, adaptive_heads=2), 25, 0),
    "multirate": (MultirateDecomposition, dict(), 3, 2),
    "lfo_routing": (LFORouting, dict(num_routes=4), 6, 2),
    "bottleneck": (ChannelBottleneck, dict(), 7, 2),
    "dsp_block": (DSPDecoderBlock, dict(num_heads=2, intermediate_dim=16), 16, 0),
}


class LayerHarnessTest(testing.TestCase):
    @parameterized.named_parameters(*[(name, *case) for name, case in CASES.items()])
    def test_layer(self, layer_class, kwargs, trainable, non_trainable):
        self.run_layer_test(
            layer_class, init_kwargs=kwargs, input_shape=SHAPE, expected_output_shape=SHAPE,
            expected_num_trainable_weights=trainable,
            expected_num_non_trainable_weights=non_trainable,
        )
