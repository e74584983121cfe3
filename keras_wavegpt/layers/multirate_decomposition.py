"""Causal analysis-synthesis into a coarse and a detail band (multirate block)."""

import keras
import numpy as np
from keras import ops

from keras_wavegpt.layers.bounded_parameter import BoundedParameter
from keras_wavegpt.utils.validation import check_float_input, check_int, check_stream

MIX_RATIO_RANGE = (0.2, 0.6)
DETAIL_STRENGTH_RANGE = (0.5, 1.0)


def _causal_fir(x, kernel):
    """y[:, t, c] = sum_j kernel[j, c] x[:, t - L + 1 + j, c] (zeros before the start).

    kernel: (L, C), oldest tap first (tap L - 1 multiplies the current sample).
    Two formulations of the same sum, each the faster where it runs:
    TensorFlow's depthwise convolution is one kernel while its elementwise
    ops do not fuse; XLA (JAX) and torch run small depthwise convolutions
    slower than L shifted multiply-adds (docs/benchmarks.md, "Backend
    paths"). Both are tested against the same numpy reference.
    """
    taps = kernel.shape[0]
    padded = ops.pad(x, [[0, 0], [taps - 1, 0], [0, 0]])  # (B, T + L - 1, C)
    if keras.backend.backend() == "tensorflow":
        return ops.depthwise_conv(padded, kernel[:, :, None], strides=1, padding="valid")
    return sum(kernel[j] * padded[:, j : j - taps + 1 or None] for j in range(taps))


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class MultirateDecomposition(keras.layers.Layer):
    """Causal analysis-synthesis split into a coarse and a detail band, then blend.

    Per channel, with `s = downsample`, `L = filter_length` and every kernel
    stored oldest tap first:

        c_j    = sum_k h[k] x[(j + 1) s - L + k]        low-pass + decimate: block
                                                        j's last input is (j+1)s - 1
        u[t]   = c_j if t = (j + 1) s - 1, else 0        upsample (zero insertion)
        Lt[t]  = sum_k g[k] u[t - L + 1 + k]             reconstruction
        Dt[t]  = sum_k e[k] (x - Lt)[t - L + 1 + k]      detail path
        y      = m x + (1 - m) (Lt + alpha Dt)

    `m = mix_ratio` in [0.2, 0.6] and `alpha = detail_strength` in [0.5, 1.0]
    are `BoundedParameter`s. Each coarse sample is placed at the last input it
    summarises, never earlier, so the layer is causal (placing it at the
    start of its block, as a strided convolution followed by nearest-neighbour
    upsampling does, leaks up to `s - 1` future tokens). `u` is computed as
    the full-rate low-pass times a 0/1 mask on the block ends, which is the
    same signal and keeps every position's window tied to that position.
    Filters start as the Haar pair: `h` the mean of the block, `g` a hold of
    `s` taps (so `Lt[t]` is the mean of the latest complete block), `e` the
    identity.

    Args:
        downsample: int. Decimation factor `s >= 1`. Defaults to `2`.
        filter_length: int or `None`. Taps `L >= downsample` of all three
            filters. Defaults to `None`, `2 * downsample`.
        mix_ratio: float. Initial `m`, in `(0.2, 0.6)`. Defaults to `0.4`.
        detail_strength: float. Initial `alpha`, in `(0.5, 1.0)`. Defaults
            to `0.75`.
        adaptive: bool. Make `m` and `alpha` meta-parameters. Defaults to
            `False`.
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Shapes: `(B, T, D)` -> `(B, T, D)`, any `T`.

    Example:

    >>> layer = MultirateDecomposition(downsample=2)
    >>> tuple(layer(keras.random.normal((2, 16, 8))).shape)
    (2, 16, 8)

    References:
        adaptive-multirate-transformers README, "1. Multirate Subband
        Decomposition"; `docs/design.md`, "Multirate blocks" (the causal placement).
    """

    def __init__(
        self,
        downsample=2,
        filter_length=None,
        mix_ratio=0.4,
        detail_strength=0.75,
        adaptive=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_int("downsample", downsample)
        if filter_length is None:
            filter_length = 2 * downsample
        check_int("filter_length", filter_length)
        if filter_length < downsample:
            raise ValueError(
                f"`filter_length`={filter_length} must be >= `downsample`={downsample}"
            )
        self.downsample = int(downsample)
        self.filter_length = int(filter_length)
        self.adaptive = bool(adaptive)
        self.mix_ratio = BoundedParameter(
            *MIX_RATIO_RANGE, mix_ratio, adaptive=adaptive, name="mix_ratio"
        )
        self.detail_strength = BoundedParameter(
            *DETAIL_STRENGTH_RANGE, detail_strength, adaptive=adaptive, name="detail_strength"
        )

    def build(self, input_shape):
        check_stream(self, input_shape)
        channels = int(input_shape[-1])
        s, taps = self.downsample, self.filter_length
        block = np.zeros((taps, channels), "float32")
        block[taps - s :] = 1.0  # the s most recent taps
        delta = np.zeros((taps, channels), "float32")
        delta[-1] = 1.0
        self.lowpass = self.add_weight(
            name="lowpass", shape=(taps, channels),
            initializer=keras.initializers.Constant(block / s),
        )
        self.reconstruction = self.add_weight(
            name="reconstruction", shape=(taps, channels),
            initializer=keras.initializers.Constant(block),
        )
        self.detail = self.add_weight(
            name="detail", shape=(taps, channels),
            initializer=keras.initializers.Constant(delta),
        )
        self.mix_ratio.build()
        self.detail_strength.build()

    def coarse(self, x):
        """The reconstructed low band `Lt` of a stream.

        Args:
            x: tensor of shape `(B, T, D)`.

        Returns:
            tensor of shape `(B, T, D)`.
        """
        s = self.downsample
        position = ops.arange(ops.shape(x)[1])
        block_end = ops.cast(ops.equal((position + 1) % s, 0), x.dtype)[None, :, None]
        upsampled = _causal_fir(x, self.lowpass) * block_end  # (B, T, D): c_j at (j+1)s - 1
        return _causal_fir(upsampled, self.reconstruction)

    def call(self, inputs):
        check_float_input(self, inputs)
        x = inputs  # (B, T, D)
        low = self.coarse(x)  # (B, T, D)
        detail = _causal_fir(x - low, self.detail)  # (B, T, D)
        m = ops.cast(self.mix_ratio.value, x.dtype)
        alpha = ops.cast(self.detail_strength.value, x.dtype)
        return m * x + (1.0 - m) * (low + alpha * detail)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            downsample=self.downsample,
            filter_length=self.filter_length,
            mix_ratio=self.mix_ratio.initial_value,
            detail_strength=self.detail_strength.initial_value,
            adaptive=self.adaptive,
        )
        return config
