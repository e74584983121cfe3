"""Canon layer: a short causal depthwise convolution, added back residually."""

import keras
import numpy as np
from keras import ops

from keras_wavegpt.layers.causal_ops import delay, processed_channels
from keras_wavegpt.utils.validation import (
    check_bool,
    check_float_input,
    check_fraction,
    check_int,
    check_stream,
)


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class CanonLayer(keras.layers.Layer):
    """Causal short convolution per channel, added to its input (Canon layer).

    For a processed channel `i`:

        y_i[t] = x_i[t] + sum_{k = 0}^{K - 1} w_i[k] * x_i[t - k]

    with `x_i[m] = 0` for `m < 0`. With `residual=False` the `x_i[t]` term is
    left out. Channels `[0, E - n)` pass through, the last
    `n = round(fraction * E)` are processed (all of them by default, as in
    Allen-Zhu's Canon layers).

    Initialisation: the layer starts as the identity, so a model with Canon
    layers equals the same model without them at step 0 (as the learnable
    wavelet starts as the Haar one). With `residual=True` every tap starts at
    zero; the gradient of a tap is the correlation of the upstream gradient
    with the lagged input, which is not zero, so the taps move from the first
    step. With `residual=False` lag 0 starts at one and the others at zero.

    The weight `kernel` has shape `(kernel_size, n)`, lag order. The sum runs
    in float32 under mixed precision as `kernel_size` shifted copies (lags
    that reach past the start of the sequence are skipped); the output has
    the input's dtype. Exactly causal.

    Args:
        kernel_size: int. Taps per channel, the current step included.
            Defaults to `4` (the Canon paper's).
        fraction: float in (0, 1]. Share of channels processed, the last
            ones. Defaults to `1.0`.
        residual: bool. Add the input back. Defaults to `True`.
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Shapes: `(B, T, E)` -> `(B, T, E)`.

    Example:

    >>> layer = CanonLayer(kernel_size=3)
    >>> x = keras.ops.ones((1, 5, 2))
    >>> bool(keras.ops.all(layer(x) == x))  # the identity at init
    True
    >>> tuple(layer.kernel.shape)
    (3, 2)

    References:
        Allen-Zhu, "Physics of Language Models: Part 4.1, Architecture Design
        and the Magic of Canon Layers", 2025. https://arxiv.org/abs/2512.17351
    """

    def __init__(self, kernel_size=4, fraction=1.0, residual=True, **kwargs):
        super().__init__(**kwargs)
        check_int("kernel_size", kernel_size)
        check_fraction("fraction", fraction)
        check_bool("residual", residual)
        self.kernel_size = int(kernel_size)
        self.fraction = float(fraction)
        self.residual = residual

    def build(self, input_shape):
        check_stream(self, input_shape)
        channels = int(input_shape[-1])
        n = processed_channels(channels, self.fraction)
        self._start = channels - n

        def identity(shape, dtype=None):
            taps = np.zeros(shape, "float32")
            taps[0] = 0.0 if self.residual else 1.0
            return ops.cast(taps, dtype)

        self.kernel = self.add_weight(
            name="kernel", shape=(self.kernel_size, n), initializer=identity,
            dtype="float32", autocast=False,
        )

    def call(self, inputs):
        check_float_input(self, inputs)
        if self._start:
            keep, x = ops.split(inputs, [self._start], axis=-1)  # (B, T, E - n), (B, T, n)
        else:
            keep, x = None, inputs
        x = ops.cast(x, "float32")  # (B, T, n)
        y = x * self.kernel[0]
        if self.residual:
            y = y + x
        time = x.shape[1]
        for lag in range(1, self.kernel_size):
            if time is not None and lag >= time:
                break  # only the zero padding before the start
            y = y + delay(x, lag) * self.kernel[lag]
        y = ops.cast(y, inputs.dtype)
        return y if keep is None else ops.concatenate([keep, y], axis=-1)

    @property
    def receptive_field(self):
        """How many steps, the current one included, an output reads:
        `kernel_size`. Cached generation keeps that many past inputs."""
        return self.kernel_size

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            kernel_size=self.kernel_size, fraction=self.fraction, residual=self.residual
        )
        return config

