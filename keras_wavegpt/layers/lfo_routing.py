"""Low-frequency-oscillator routing of channel groups (multirate block)."""

import math

import keras
import numpy as np
from keras import ops

from keras_wavegpt.layers.bounded_parameter import BoundedParameter
from keras_wavegpt.utils.validation import check_float_input, check_int, check_stream

LFO_RESIDUAL_MIX_RANGE = (0.2, 0.5)
GATE_TEMPERATURE_RANGE = (0.5, 2.0)


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class LFORouting(keras.layers.Layer):
    """Channel routes gated in time by learnable low-frequency oscillators.

    The `D` channels split into `R = num_routes` routes of `d = D / R`. For
    route `r` and token position `t` (0 at the first token):

        u_r(t)     = sum_k a[r, k] sin(2 pi f[r, k] t + phi[r, k]) + b[r]
        gamma_r(t) = sigmoid(u_r(t) / T_gate)
        Hr         = causal grouped Conv1D(H), one group per route
        Ht(t, r)   = gamma_r(t) Hr(t, r) + (1 - gamma_r(t)) H(t, r)
        y          = rho H + (1 - rho) Ht

    `f[r, k] = max_frequency * sigmoid(.)` stays in `[0, max_frequency]`
    (cycles per token); `a`, `phi`, `b` and `f` are ordinary weights. The
    temperature `T_gate` in [0.5, 2.0] and `rho = residual_mix` in [0.2, 0.5]
    are `BoundedParameter`s. The gate depends on the position only and the
    convolution is causal, so the layer is causal. Frequencies start spread
    evenly over `(0, max_frequency)`, phases uniform in `[0, 2 pi)`.

    Args:
        num_routes: int. Routes `R`; must divide the width `D`. Defaults to
            `4`.
        num_lfos: int. Oscillators `K` summed per route. Defaults to `2`.
        kernel_size: int. Taps of the route convolution. Defaults to `3`.
        max_frequency: float. The highest LFO frequency, in cycles per
            token, in `(0, 0.5]`. Defaults to `0.05`.
        residual_mix: float. Initial `rho`, in `(0.2, 0.5)`. Defaults to
            `0.35`.
        gate_temperature: float. Initial `T_gate`, in `(0.5, 2.0)`. Defaults
            to `1.0`.
        adaptive: bool. Make `rho` and `T_gate` meta-parameters. Defaults to
            `False`.
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Shapes: `(B, T, D)` -> `(B, T, D)`, any `T`.

    Example:

    >>> layer = LFORouting(num_routes=4)
    >>> tuple(layer(keras.random.normal((2, 16, 8))).shape)
    (2, 16, 8)

    References:
        adaptive-multirate-transformers README, "2. LFO-Based Temporal Routing".
    """

    def __init__(
        self,
        num_routes=4,
        num_lfos=2,
        kernel_size=3,
        max_frequency=0.05,
        residual_mix=0.35,
        gate_temperature=1.0,
        adaptive=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_int("num_routes", num_routes)
        check_int("num_lfos", num_lfos)
        check_int("kernel_size", kernel_size)
        if isinstance(max_frequency, bool) or not 0 < max_frequency <= 0.5:
            raise ValueError(
                f"`max_frequency` must be in (0, 0.5] cycles per token, got {max_frequency!r}"
            )
        self.num_routes = int(num_routes)
        self.num_lfos = int(num_lfos)
        self.kernel_size = int(kernel_size)
        self.max_frequency = float(max_frequency)
        self.adaptive = bool(adaptive)
        self.residual_mix = BoundedParameter(
            *LFO_RESIDUAL_MIX_RANGE, residual_mix, adaptive=adaptive, name="residual_mix"
        )
        self.gate_temperature = BoundedParameter(
            *GATE_TEMPERATURE_RANGE, gate_temperature, adaptive=adaptive, name="gate_temperature"
        )

    def build(self, input_shape):
        check_stream(self, input_shape)
        channels = int(input_shape[-1])
        if channels % self.num_routes:
            raise ValueError(
                f"`num_routes`={self.num_routes} must divide the model width {channels}"
            )
        shape = (self.num_routes, self.num_lfos)
        spread = (np.arange(np.prod(shape)).reshape(shape) + 0.5) / np.prod(shape)
        self.frequency_logit = self.add_weight(
            name="frequency_logit", shape=shape,
            initializer=keras.initializers.Constant(np.log(spread / (1 - spread))),
            autocast=False,  # the gates are computed in float32
        )
        self.phase = self.add_weight(
            name="phase", shape=shape,
            initializer=keras.initializers.RandomUniform(0.0, 2 * math.pi), autocast=False,
        )
        self.amplitude = self.add_weight(
            name="amplitude", shape=shape, initializer="ones", autocast=False
        )
        self.gate_bias = self.add_weight(
            name="gate_bias", shape=(self.num_routes,), initializer="zeros", autocast=False
        )
        self.route_conv = keras.layers.Conv1D(
            channels, self.kernel_size, padding="causal", groups=self.num_routes,
            name="route_conv", dtype=self.dtype_policy,
        )
        self.route_conv.build(input_shape)
        self.residual_mix.build()
        self.gate_temperature.build()

    def gates(self, time):
        """The routing gates `gamma` of positions `0 .. time - 1`.

        Args:
            time: int. The number of positions.

        Returns:
            float32 tensor of shape `(time, R)`.
        """
        t = ops.cast(ops.arange(time), "float32")[:, None, None]  # (T, 1, 1)
        frequency = self.max_frequency * ops.sigmoid(self.frequency_logit)
        wave = self.amplitude * ops.sin(2 * math.pi * frequency * t + self.phase)  # (T, R, K)
        u = ops.sum(wave, axis=-1) + self.gate_bias  # (T, R)
        return ops.sigmoid(u / self.gate_temperature.value)

    def call(self, inputs):
        check_float_input(self, inputs)
        x = inputs  # (B, T, D)
        batch, time, channels = ops.shape(x)[0], ops.shape(x)[1], x.shape[-1]
        d = channels // self.num_routes
        gamma = ops.cast(self.gates(time), x.dtype)[None, :, :, None]  # (1, T, R, 1)
        routed = ops.reshape(self.route_conv(x), (batch, time, self.num_routes, d))
        grouped = ops.reshape(x, (batch, time, self.num_routes, d))
        mixed = gamma * routed + (1.0 - gamma) * grouped  # (B, T, R, d)
        mixed = ops.reshape(mixed, (batch, time, channels))
        rho = ops.cast(self.residual_mix.value, x.dtype)
        return rho * x + (1.0 - rho) * mixed

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_routes=self.num_routes,
            num_lfos=self.num_lfos,
            kernel_size=self.kernel_size,
            max_frequency=self.max_frequency,
            residual_mix=self.residual_mix.initial_value,
            gate_temperature=self.gate_temperature.initial_value,
            adaptive=self.adaptive,
        )
        return config
