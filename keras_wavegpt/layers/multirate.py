"""Multirate DSP blocks with bounded (optionally meta-learned) hyperparameters.

Yifee, "Adaptive Frequency-Domain DSP for Language Model Training"
(github.com/eladwf/adaptive-multirate-transformers, README "Method Overview"):
three blocks that act on the hidden states `H` (B, T, D) inside a decoder
block, each with hyperparameters kept in a range by a sigmoid:

    MultirateDecomposition   before attention   (mix_ratio, detail_strength)
    LFORouting               after attention    (residual_mix, gate_temperature)
    ChannelBottleneck        after the MLP      (bottleneck_ratio, residual_mix)

With `adaptive=True` those hyperparameters are meta-parameters: the model's
optimizer leaves them alone and `keras_wavegpt.training.MetaOptimizer` moves
them every `meta_update_every` steps. With `adaptive=False` they stay at their
initial values.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_wavegpt.layers.filterbank import _check_positive_int
from keras_wavegpt.layers.wavelet import _check_float, _check_stream

# The README's ranges (SPEC §3).
MIX_RATIO_RANGE = (0.2, 0.6)
DETAIL_STRENGTH_RANGE = (0.5, 1.0)
LFO_RESIDUAL_MIX_RANGE = (0.2, 0.5)
GATE_TEMPERATURE_RANGE = (0.5, 2.0)
BOTTLENECK_RATIO_RANGE = (0.15, 0.35)
BOTTLENECK_RESIDUAL_MIX_RANGE = (0.3, 0.7)

_META_TAG = "_keras_wavegpt_meta_parameter"


def is_meta_parameter(variable):
    """True for the logit of an adaptive `BoundedParameter`."""
    return bool(getattr(variable, _META_TAG, False))


def meta_parameters(model):
    """`{path: BoundedParameter}` of every adaptive bounded parameter in `model`."""
    return {
        layer.logit.path: layer
        for layer in model._flatten_layers(include_self=True, recursive=True)
        if isinstance(layer, BoundedParameter) and layer.adaptive
    }


# ---------------------------------------------------------------------------
# BoundedParameter
# ---------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class BoundedParameter(keras.layers.Layer):
    """A scalar hyperparameter kept in `[lo, hi]`: `p = lo + (hi - lo) * sigmoid(z)`.

    The weight is the logit `z`, initialised so that `p = initial_value`.
    With `adaptive=False` it is not trainable (a fixed hyperparameter); with
    `adaptive=True` it is trainable and tagged as a meta-parameter
    (`is_meta_parameter(layer.logit)`), so `MetaOptimizer` takes it away from
    the model's optimizer. The parent layer builds it (`build()` takes no
    shape) and reads `value` in its `call`.

    Args:
        lo: lower bound.
        hi: upper bound, `> lo`.
        initial_value: starting value, strictly inside `(lo, hi)`.
        adaptive: make it a meta-parameter.
        **kwargs: standard layer arguments (`name`, ...).

    Example:

    >>> p = BoundedParameter(0.2, 0.6, 0.4, name="mix_ratio")
    >>> p.build()
    >>> round(float(p.value), 6)
    0.4

    References:
        adaptive-multirate-transformers README, "Adaptive Hyperparameter
        Learning: Parameterization".
    """

    def __init__(self, lo, hi, initial_value, adaptive=False, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        for arg, value in (("lo", lo), ("hi", hi), ("initial_value", initial_value)):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
                raise TypeError(f"`{arg}` must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"`{arg}` must be finite, got {value}")
        if not lo < hi:
            raise ValueError(f"Bounded parameter {self.name!r} needs lo < hi, got [{lo}, {hi}]")
        if not lo < initial_value < hi:
            raise ValueError(
                f"`initial_value` of {self.name!r} must lie strictly inside "
                f"({lo}, {hi}), got {initial_value}"
            )
        self.lo, self.hi = float(lo), float(hi)
        self.initial_value = float(initial_value)
        self.adaptive = bool(adaptive)

    def build(self, input_shape=None):
        fraction = (self.initial_value - self.lo) / (self.hi - self.lo)
        self.logit = self.add_weight(
            name="logit",
            shape=(),
            initializer=keras.initializers.Constant(math.log(fraction / (1.0 - fraction))),
            trainable=self.adaptive,
            dtype="float32",
            autocast=False,  # read in float32 inside a mixed-precision parent
        )
        setattr(self.logit, _META_TAG, self.adaptive)

    @property
    def value(self):
        """The current value, a float32 scalar tensor in `[lo, hi]`."""
        # The clip only catches float32 round-off when the sigmoid saturates.
        value = self.lo + (self.hi - self.lo) * ops.sigmoid(self.logit)
        return ops.clip(value, self.lo, self.hi)

    def get_config(self):
        config = super().get_config()
        config.update(
            lo=self.lo, hi=self.hi, initial_value=self.initial_value, adaptive=self.adaptive
        )
        return config


def _bounded(name, bounds, value, adaptive):
    return BoundedParameter(*bounds, value, adaptive=adaptive, name=name)


def _causal_fir(x, kernel):
    """y[:, t, c] = sum_j kernel[j, c] x[:, t - L + 1 + j, c] (zeros before the start).

    kernel: (L, C), oldest tap first (tap L - 1 multiplies the current sample).
    Two formulations of the same sum, each the fastest where it runs (GPT
    training step on CPU, `tools/bench_layers.py`): TensorFlow's depthwise
    convolution is one kernel while its elementwise ops do not fuse; XLA (JAX)
    and torch run small depthwise convolutions 4-12x slower than L shifted
    multiply-adds. Both are tested against the same numpy reference.
    """
    taps = kernel.shape[0]
    padded = ops.pad(x, [[0, 0], [taps - 1, 0], [0, 0]])  # (B, T + L - 1, C)
    if keras.backend.backend() == "tensorflow":
        return ops.depthwise_conv(padded, kernel[:, :, None], strides=1, padding="valid")
    return sum(kernel[j] * padded[:, j : j - taps + 1 or None] for j in range(taps))


# ---------------------------------------------------------------------------
# MultirateDecomposition
# ---------------------------------------------------------------------------


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
        downsample: decimation factor `s >= 1`.
        filter_length: taps `L >= downsample` of all three filters (default
            `2 * downsample`).
        mix_ratio: initial `m`.
        detail_strength: initial `alpha`.
        adaptive: make `m` and `alpha` meta-parameters.
        **kwargs: standard layer arguments.

    Shapes: `(B, T, D)` -> `(B, T, D)`, any `T`.

    Example:

    >>> layer = MultirateDecomposition(downsample=2)
    >>> layer(keras.random.normal((2, 16, 8))).shape
    (2, 16, 8)

    References:
        adaptive-multirate-transformers README, "1. Multirate Subband
        Decomposition"; SPEC §3 (the causal placement).
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
        _check_positive_int("downsample", downsample)
        if filter_length is None:
            filter_length = 2 * downsample
        _check_positive_int("filter_length", filter_length)
        if filter_length < downsample:
            raise ValueError(
                f"`filter_length`={filter_length} must be >= `downsample`={downsample}"
            )
        self.downsample = int(downsample)
        self.filter_length = int(filter_length)
        self.adaptive = bool(adaptive)
        self.mix_ratio = _bounded("mix_ratio", MIX_RATIO_RANGE, mix_ratio, adaptive)
        self.detail_strength = _bounded(
            "detail_strength", DETAIL_STRENGTH_RANGE, detail_strength, adaptive
        )

    def build(self, input_shape):
        _check_stream(self, input_shape)
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
        """The reconstructed low band `Lt` (B, T, D)."""
        s = self.downsample
        position = ops.arange(ops.shape(x)[1])
        block_end = ops.cast(ops.equal((position + 1) % s, 0), x.dtype)[None, :, None]
        upsampled = _causal_fir(x, self.lowpass) * block_end  # (B, T, D): c_j at (j+1)s - 1
        return _causal_fir(upsampled, self.reconstruction)

    def call(self, inputs):
        _check_float(self, inputs)
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


# ---------------------------------------------------------------------------
# LFORouting
# ---------------------------------------------------------------------------


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
        num_routes: routes `R`; must divide the width `D`.
        num_lfos: oscillators `K` summed per route.
        kernel_size: taps of the route convolution.
        max_frequency: the highest LFO frequency, in cycles per token.
        residual_mix: initial `rho`.
        gate_temperature: initial `T_gate`.
        adaptive: make `rho` and `T_gate` meta-parameters.
        **kwargs: standard layer arguments.

    Shapes: `(B, T, D)` -> `(B, T, D)`, any `T`.

    Example:

    >>> layer = LFORouting(num_routes=4)
    >>> layer(keras.random.normal((2, 16, 8))).shape
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
        _check_positive_int("num_routes", num_routes)
        _check_positive_int("num_lfos", num_lfos)
        _check_positive_int("kernel_size", kernel_size)
        if isinstance(max_frequency, bool) or not 0 < max_frequency <= 0.5:
            raise ValueError(
                f"`max_frequency` must be in (0, 0.5] cycles per token, got {max_frequency!r}"
            )
        self.num_routes = int(num_routes)
        self.num_lfos = int(num_lfos)
        self.kernel_size = int(kernel_size)
        self.max_frequency = float(max_frequency)
        self.adaptive = bool(adaptive)
        self.residual_mix = _bounded(
            "residual_mix", LFO_RESIDUAL_MIX_RANGE, residual_mix, adaptive
        )
        self.gate_temperature = _bounded(
            "gate_temperature", GATE_TEMPERATURE_RANGE, gate_temperature, adaptive
        )

    def build(self, input_shape):
        _check_stream(self, input_shape)
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
        """gamma (T, R) in float32 for positions 0 .. time - 1."""
        t = ops.cast(ops.arange(time), "float32")[:, None, None]  # (T, 1, 1)
        frequency = self.max_frequency * ops.sigmoid(self.frequency_logit)
        wave = self.amplitude * ops.sin(2 * math.pi * frequency * t + self.phase)  # (T, R, K)
        u = ops.sum(wave, axis=-1) + self.gate_bias  # (T, R)
        return ops.sigmoid(u / self.gate_temperature.value)

    def call(self, inputs):
        _check_float(self, inputs)
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


# ---------------------------------------------------------------------------
# ChannelBottleneck
# ---------------------------------------------------------------------------


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
        bottleneck_ratio: initial `beta`.
        residual_mix: initial `rho`.
        mask_softness: width, in hidden units, of the mask's edge.
        adaptive: make `beta` and `rho` meta-parameters.
        **kwargs: standard layer arguments.

    Shapes: `(B, T, D)` -> `(B, T, D)`.

    Example:

    >>> layer = ChannelBottleneck()
    >>> layer(keras.random.normal((2, 16, 8))).shape
    (2, 16, 8)

    References:
        adaptive-multirate-transformers README, "3. Channel Bottleneck
        Regularization"; SPEC §3 (the soft mask).
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
        self.bottleneck_ratio = _bounded(
            "bottleneck_ratio", BOTTLENECK_RATIO_RANGE, bottleneck_ratio, adaptive
        )
        self.residual_mix = _bounded(
            "residual_mix", BOTTLENECK_RESIDUAL_MIX_RANGE, residual_mix, adaptive
        )

    def build(self, input_shape):
        _check_stream(self, input_shape)
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
        """The soft width mask (D_max,) in float32."""
        width = self.bottleneck_ratio.value * channels
        units = ops.cast(ops.arange(self.max_width), "float32") + 0.5
        return ops.sigmoid((width - units) / self.mask_softness)

    def call(self, inputs):
        _check_float(self, inputs)
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
