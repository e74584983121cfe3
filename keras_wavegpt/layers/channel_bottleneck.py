"""A gated channel bottleneck after the MLP (multirate block)."""

import math

import keras
from keras import ops

from keras_wavegpt.layers.bounded_parameter import BoundedParameter
from keras_wavegpt.utils.validation import check_float_input, check_stream

BOTTLENECK_RATIO_RANGE = (0.15, 0.35)
BOTTLENECK_RESIDUAL_MIX_RANGE = (0.3, 0.7)


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class ChannelBottleneck(keras.layers.Layer):
    """Per-token D -> D_b -> D GELU MLP added back with a bounded residual mix.

        Z   = LayerNorm(H)
        Zb  = W2 (mask * gelu(W1 Z + b1)) + b2
        y   = H + (1 - rho) * w_res * Zb

    The hidden layer has the widest size `D_max = ceil(0.35 D)`;
    `mask_i = sigmoid((beta D - i - 1/2) / softness)` keeps about the first
    `beta D` units, so the width `beta = bottleneck_ratio` in [0.15, 0.35]
    gets a gradient. `rho = residual_mix` in [0.3, 0.7] and `beta` are
    `BoundedParameter`s; `w_res` (starting at 1) is an ordinary weight.

    Args:
        bottleneck_ratio: float. Initial `beta`, in `(0.15, 0.35)`. Defaults
            to `0.25`.
        residual_mix: float. Initial `rho`, in `(0.3, 0.7)`. Defaults to
            `0.5`.
        mask_softness: float. Width, in hidden units, of the soft mask's
            edge. Defaults to `1.0`.
        adaptive: bool. Make `beta` and `rho` meta-parameters. Defaults to
            `False`.
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Shapes: `(B, T, D)` -> `(B, T, D)`.

    Example:

    >>> layer = ChannelBottleneck()
    >>> tuple(layer(keras.random.normal((2, 16, 8))).shape)
    (2, 16, 8)

    References:
        adaptive-multirate-transformers README, "3. Channel Bottleneck
        Regularization"; `docs/design.md`, "Multirate blocks" (the soft mask).
    """

    def __init__(
        self,
        bottleneck_ratio=0.25,
        residual_mix=0.5,
        mask_softness=1.0,
        adaptive=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(mask_softness, bool) or not mask_softness > 0:
            raise ValueError(f"`mask_softness` must be > 0, got {mask_softness!r}")
        self.mask_softness = float(mask_softness)
        self.adaptive = bool(adaptive)
        self.bottleneck_ratio = BoundedParameter(
            *BOTTLENECK_RATIO_RANGE, bottleneck_ratio, adaptive=adaptive, name="bottleneck_ratio"
        )
        self.residual_mix = BoundedParameter(
            *BOTTLENECK_RESIDUAL_MIX_RANGE, residual_mix, adaptive=adaptive, name="residual_mix"
        )

    def build(self, input_shape):
        check_stream(self, input_shape)
        channels = int(input_shape[-1])
        self.max_width = math.ceil(BOTTLENECK_RATIO_RANGE[1] * channels)
        self.norm = keras.layers.LayerNormalization(
            epsilon=1e-5, name="norm", dtype=self.dtype_policy
        )
        self.down = keras.layers.Dense(
            self.max_width, activation="gelu", name="down", dtype=self.dtype_policy
        )
        self.up = keras.layers.Dense(channels, name="up", dtype=self.dtype_policy)
        self.norm.build(input_shape)
        self.down.build(input_shape)
        self.up.build(tuple(input_shape[:-1]) + (self.max_width,))
        self.residual_weight = self.add_weight(
            name="residual_weight", shape=(), initializer="ones"
        )
        self.bottleneck_ratio.build()
        self.residual_mix.build()

    def mask(self, channels):
        """The soft width mask over the bottleneck's units.

        Args:
            channels: int. The stream's width.

        Returns:
            float32 tensor of shape `(max_width,)`.
        """
        width = self.bottleneck_ratio.value * channels
        units = ops.cast(ops.arange(self.max_width), "float32") + 0.5
        return ops.sigmoid((width - units) / self.mask_softness)

    def call(self, inputs):
        check_float_input(self, inputs)
        x = inputs  # (B, T, D)
        hidden = self.down(self.norm(x))  # (B, T, D_max)
        hidden = hidden * ops.cast(self.mask(x.shape[-1]), hidden.dtype)
        update = self.up(hidden) * ops.cast(self.residual_weight, x.dtype)  # (B, T, D)
        rho = ops.cast(self.residual_mix.value, x.dtype)
        return x + (1.0 - rho) * update

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            bottleneck_ratio=self.bottleneck_ratio.initial_value,
            residual_mix=self.residual_mix.initial_value,
            mask_softness=self.mask_softness,
            adaptive=self.adaptive,
        )
        return config
