"""The exponential-moving-average mixer, WaveletGPT's ablation."""

import keras
import numpy as np
from keras import ops

from keras_wavegpt.layers.causal_ops import processed_channels
from keras_wavegpt.utils.validation import (
    check_float_input,
    check_fraction,
    check_stream,
)


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class CausalEMA(keras.layers.Layer):
    """Causal exponential moving average on part of the channels (ablation).

        s_i[0] = x_i[0],    s_i[t] = a_i * x_i[t] + (1 - a_i) * s_i[t - 1]

    with `a_i` falling linearly from 1 (no smoothing) on the first processed
    channel to `1 / n` on the last, `n` the number of processed channels. The
    first `E - n` channels pass through. The recurrence runs as a parallel
    associative scan in float32. No weights.

    Args:
        fraction: float. Share of channels processed, in `(0, 1]`. Defaults
            to `0.5`.
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Shapes: `(B, T, E)` -> `(B, T, E)`.

    Example:

    >>> tuple(CausalEMA()(keras.random.normal((2, 16, 8))).shape)
    (2, 16, 8)

    References:
        Verma, "WaveletGPT", §4.5 (similarities and differences with EMA).
    """

    def __init__(self, fraction=0.5, **kwargs):
        super().__init__(**kwargs)
        check_fraction("fraction", fraction)
        self.fraction = float(fraction)

    def build(self, input_shape):
        check_stream(self, input_shape)
        channels = int(input_shape[-1])
        n = processed_channels(channels, self.fraction)
        self._start = channels - n
        self.alpha = (1.0 - np.arange(n) / n).astype("float32")

    def call(self, inputs):
        check_float_input(self, inputs)
        keep, smoothed = self._smooth(inputs)
        return ops.concatenate([keep, ops.cast(smoothed, inputs.dtype)], axis=-1)

    def _smooth(self, inputs):
        """The passed-through channels, and the float32 averages `s` of the
        processed ones `(B, T, n)`."""
        keep = inputs[:, :, : self._start]
        x = ops.cast(inputs[:, :, self._start :], "float32")  # (B, T, n)
        alpha = ops.convert_to_tensor(self.alpha)
        # s[t] = decay[t] * s[t-1] + drive[t]; decay[0] = 0 makes s[0] = x[0].
        first = ops.zeros_like(x[:, :1])
        decay = ops.concatenate([first, ops.ones_like(x[:, 1:]) * (1.0 - alpha)], axis=1)
        drive = ops.concatenate([x[:, :1], x[:, 1:] * alpha], axis=1)

        def compose(earlier, later):
            return earlier[0] * later[0], later[0] * earlier[1] + later[1]

        _, smoothed = ops.associative_scan(compose, (decay, drive), axis=1)
        return keep, ops.reshape(smoothed, ops.shape(x))  # TF's scan drops static dims

    @property
    def receptive_field(self):
        """How many steps, the current one included, an output reads:
        `None`, the whole past (a recurrence)."""
        return None

    @property
    def streaming(self):
        """`call_with_cache` runs one token in O(E): the recurrence's last value."""
        return True

    def initial_cache(self, batch, length):
        """The state for one-token-at-a-time inference.

        Args:
            batch: int. The batch size.
            length: int. The longest sequence.

        Returns:
            float32 zeros of shape `(batch, length, n)`, to hold the
            averages `s[t]` of the `n` processed channels.
        """
        return ops.zeros((batch, length, len(self.alpha)), "float32")

    def call_with_cache(self, inputs, cache, index):
        """The layer's output for `inputs` placed at `index`, and its new state.

        A whole sequence (`L > 1`, at index 0) runs the scan and stores `s`;
        one token costs O(E), `s[t] = a x[t] + (1 - a) s[t - 1]`, the full
        layer's value at `t` up to float32 round-off.

        Args:
            inputs: tensor of shape `(B, L, E)`.
            cache: the state from `initial_cache` or the previous call.
            index: int or scalar tensor. The position of the first step.

        Returns:
            tuple `(outputs, cache)`, `outputs` of shape `(B, L, E)`.
        """
        if inputs.shape[1] != 1:
            keep, smoothed = self._smooth(inputs)
            cache = ops.slice_update(cache, [0, 0, 0], smoothed)
            return ops.concatenate([keep, ops.cast(smoothed, inputs.dtype)], axis=-1), cache
        keep = inputs[:, :, : self._start]
        x = ops.cast(inputs[:, :, self._start :], "float32")  # (B, 1, n)
        index = ops.convert_to_tensor(index, "int32")
        previous = ops.take(cache, ops.maximum(index - 1, 0)[None], axis=1)  # (B, 1, n)
        alpha = ops.convert_to_tensor(self.alpha)
        smoothed = ops.where(index > 0, alpha * x + (1.0 - alpha) * previous, x)
        cache = ops.slice_update(cache, [0, index, 0], smoothed)
        return ops.concatenate([keep, ops.cast(smoothed, inputs.dtype)], axis=-1), cache

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(fraction=self.fraction)
        return config
