"""Learnable causal time-frequency filterbank on the residual stream.

Verma & Pilanci, "Towards Signal Processing In Large Language Models" (2024):
every processed channel's activation signal over time is decomposed by a
learnable causal filterbank into a time-frequency representation, weighted
per filter (optionally per token), and reconstructed; the reconstruction is
added back to the channel.
"""

import keras
import keras_hub
import numpy as np
from keras import ops

from keras_wavegpt.layers.causal_ops import processed_channels
from keras_wavegpt.utils.validation import (
    check_float_input,
    check_fraction,
    check_int,
    check_stream,
)


def filterbank_activation_size(batch, time, channels, num_filters=144, fraction=0.5):
    """Floats in one time-frequency tensor of `TimeFrequencyFilterbank`.

    The representation of a `(batch, time, channels)` input holds
    `batch * time * n * num_filters` numbers, `n = round(fraction * channels)`
    the processed channels. Training keeps two such tensors per layer for the
    backward pass (before and after the analysis nonlinearity), three with
    `adaptive=True` (the weighted representation too); lower `fraction` or
    `num_filters` to shrink it.

    Args:
        batch: int. The batch size.
        time: int. The sequence length.
        channels: int. E, the stream's width.
        num_filters: int. Filters per processed channel. Defaults to `144`.
        fraction: float. The share of channels processed, in `(0, 1]`.
            Defaults to `0.5`.

    Returns:
        int, the number of floats.
    """
    return batch * time * processed_channels(channels, fraction) * num_filters


# The most floats one chunk of channels puts in a time-frequency tensor on JAX
# and torch (see `TimeFrequencyFilterbank._chunks`).
_CHUNK_FLOATS = 1 << 22


def _causal_patches(u, k):
    """(N, T) -> (N, T, k): patch[t, j] = u[t - k + 1 + j], zeros before the start.

    `patches @ A` is then the causal convolution with kernels `A` (k, M) as
    one matrix product.
    """
    up = ops.pad(u, [[0, 0], [k - 1, 0]])
    return ops.stack([up[:, j : j - k + 1 or None] for j in range(k)], axis=-1)


def _causal_reduce(a, kernel):
    """Causal M -> 1 convolution: out[t] = sum_{j, m} kernel[j, m] a[t - K + 1 + j, m].

    One matrix product gives every tap's contribution at its source time,
    `z = a @ kernel.T` (N, T, K); tap `j` then lands `K - 1 - j` steps later, so
    the output is a sum of K shifted columns. This avoids the (N, T, K*M)
    im2col buffer a convolution with M input channels and one output builds.
    Slicing each column out of `z` directly would make every slice's gradient
    a full (N, T+K-1, K) array.
    """
    taps = kernel.shape[0]
    z = ops.matmul(a, ops.transpose(kernel))  # (N, T, K)
    z = ops.pad(z, [[0, 0], [taps - 1, 0], [0, 0]])  # (N, T+K-1, K)
    # Split first: a slice's gradient is a zero-padded copy of what it slices.
    columns = ops.split(z, taps, axis=-1)  # K x (N, T+K-1, 1)
    return sum(c[:, j : j - taps + 1 or None, 0] for j, c in enumerate(columns))  # (N, T)


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class TimeFrequencyFilterbank(keras.layers.Layer):
    """Learnable causal filterbank: analyse, weight, resynthesise, add.

    The last `n = round(fraction * E)` channels of `x` are treated as `n`
    separate signals `u[t]`. The `M = num_filters` filters split into
    `G = len(kernel_sizes)` groups of `M / G`; group `g` uses kernel length
    `k_g` in all three convolutions. With every convolution causal (left zero
    padding) and kernels stored oldest tap first (Keras `Conv1D` layout, tap
    `k - 1` multiplies the current sample):

        a_m[t] = act(b_m + sum_j A[j, m] u[t - k + 1 + j])      analysis 1: 1 -> M
        s_m[t] = sum_j D[j, m] a_m[t - k + 1 + j]                analysis 2: per filter
        r[t]   = sum_m sum_j S[j, m] c_m w_m[t] s_m[t - k + 1 + j]   synthesis: M -> 1
        y[t]   = u[t] + r[t]

    `s` is the time-frequency representation (`analyze` returns it), `c` a
    learnable gain per filter, and `w_m[t] = 1` unless `adaptive=True`; then
    a one-block causal Transformer of width `adaptive_dim` reads the
    representation averaged over the processed channels, `(B, T, M)`, and
    emits `w[t] = 2 * sigmoid(z[t])` per token and filter (its output layer
    starts at zero, so `w = 1`). All filter weights are shared by the
    channels. `S` starts at zero, so the layer starts as the identity.

    Cost: without `adaptive`, analysis 2, the gain and the synthesis are
    linear and run fused as one `M -> 1` convolution of length `2k - 1`
    (`S` and `D` convolved per filter), so the representation `s` is never
    built, and on JAX and torch the channels run in chunks of at most 16 MiB
    of representation each. Activations: see `filterbank_activation_size`.

    Args:
        num_filters: int. Filters `M` (the paper's 144); divisible by the
            number of groups. Defaults to `144`.
        kernel_sizes: tuple of int. One kernel length per multi-scale group,
            e.g. `(4, 16, 64)`. Defaults to `(16,)`.
        fraction: float. Share of channels processed, in `(0, 1]`; the last
            `round(fraction * E)` channels. Defaults to `0.5`.
        adaptive: bool. Add the token-adaptive Transformer weighting.
            Defaults to `False`.
        adaptive_dim: int. Width of that Transformer. Defaults to `32`.
        adaptive_heads: int. Its attention heads; must divide
            `adaptive_dim`. Defaults to `4`.
        activation: str or callable. Nonlinearity between the two analysis
            layers (ReLU is the rectifier of an envelope detector, and the
            cheapest on CPU). Defaults to `"relu"`.
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Shapes: `(B, T, E)` -> `(B, T, E)`, any `T`.

    Example:

    >>> layer = TimeFrequencyFilterbank(num_filters=12, kernel_sizes=(4, 8))
    >>> tuple(layer(keras.random.normal((2, 16, 8))).shape)
    (2, 16, 8)
    >>> layer.count_params()  # A, D, S: (4 + 8) x 6 each; bias, gain: 12 each
    240

    References:
        Verma & Pilanci, "Towards Signal Processing In Large Language Models",
        arXiv 2406.10254 (learnable front end, M = 144; multi-scale filters;
        token-adaptive weighting with a small Transformer).
    """

    def __init__(
        self,
        num_filters=144,
        kernel_sizes=(16,),
        fraction=0.5,
        adaptive=False,
        adaptive_dim=32,
        adaptive_heads=4,
        activation="relu",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_int("num_filters", num_filters)
        if isinstance(kernel_sizes, (int, np.integer)):
            kernel_sizes = (kernel_sizes,)
        kernel_sizes = tuple(kernel_sizes)
        if not kernel_sizes:
            raise ValueError("`kernel_sizes` needs at least one kernel length")
        for k in kernel_sizes:
            check_int("kernel_sizes", k)
        if num_filters % len(kernel_sizes):
            raise ValueError(
                f"`num_filters`={num_filters} does not split into "
                f"{len(kernel_sizes)} equal groups (kernel_sizes={kernel_sizes})"
            )
        check_fraction("fraction", fraction)
        if adaptive:
            check_int("adaptive_dim", adaptive_dim)
            check_int("adaptive_heads", adaptive_heads)
            if adaptive_dim % adaptive_heads:
                raise ValueError(
                    f"`adaptive_heads`={adaptive_heads} must divide "
                    f"`adaptive_dim`={adaptive_dim}"
                )
        self.num_filters = int(num_filters)
        self.kernel_sizes = tuple(int(k) for k in kernel_sizes)
        self.fraction = float(fraction)
        self.adaptive = bool(adaptive)
        self.adaptive_dim = int(adaptive_dim)
        self.adaptive_heads = int(adaptive_heads)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        check_stream(self, input_shape)
        channels = int(input_shape[-1])
        self._start = channels - processed_channels(channels, self.fraction)
        per_group = self.num_filters // len(self.kernel_sizes)
        fan_in = keras.initializers.VarianceScaling(1.0, "fan_in", "uniform")
        self.analysis, self.analysis_bias, self.depthwise, self.synthesis = [], [], [], []
        for g, k in enumerate(self.kernel_sizes):
            self.analysis.append(
                self.add_weight(name=f"analysis_{g}", shape=(k, per_group), initializer=fan_in)
            )
            self.analysis_bias.append(
                self.add_weight(name=f"analysis_bias_{g}", shape=(per_group,), initializer="zeros")
            )
            self.depthwise.append(
                self.add_weight(name=f"depthwise_{g}", shape=(k, per_group), initializer=fan_in)
            )
            self.synthesis.append(
                self.add_weight(name=f"synthesis_{g}", shape=(k, per_group), initializer="zeros")
            )
        self.gain = self.add_weight(name="gain", shape=(self.num_filters,), initializer="ones")
        if self.adaptive:
            self.adaptive_in = keras.layers.Dense(
                self.adaptive_dim, name="adaptive_in", dtype=self.dtype_policy
            )
            self.adaptive_block = keras_hub.layers.TransformerDecoder(
                intermediate_dim=4 * self.adaptive_dim,
                num_heads=self.adaptive_heads,
                activation="gelu",
                normalize_first=True,
                name="adaptive_block",
                dtype=self.dtype_policy,
            )
            self.adaptive_out = keras.layers.Dense(
                self.num_filters,
                kernel_initializer="zeros",
                name="adaptive_out",
                dtype=self.dtype_policy,
            )
            self.adaptive_in.build((None, None, self.num_filters))
            self.adaptive_block.build((None, None, self.adaptive_dim))
            self.adaptive_out.build((None, None, self.adaptive_dim))

    # --- the pieces -----------------------------------------------------

    def _channels(self, inputs):
        """(B, T, E) -> the processed channels as signals over time, (B, n, T)."""
        return ops.transpose(inputs[:, :, self._start :], (0, 2, 1))

    def _signals(self, inputs):
        """(B, T, E) -> the processed channels as one batch of signals, (B*n, T)."""
        return ops.reshape(self._channels(inputs), (-1, ops.shape(inputs)[1]))

    def _analysis(self, u):
        """Per group: first analysis layer, after the nonlinearity. (N, T, M/G).

        `u` (N, T) holds N signals; the bias rides in the matrix product as a
        column of ones, which saves a pass over the (N, T, M/G) result.
        """
        ones = ops.ones_like(u)[:, :, None]  # (N, T, 1)
        return [
            self.activation(
                ops.matmul(
                    ops.concatenate([_causal_patches(u, k), ones], axis=-1),  # (N, T, k+1)
                    ops.concatenate([A, b[None]], axis=0),  # (k+1, M/G)
                )
            )
            for A, b, k in zip(self.analysis, self.analysis_bias, self.kernel_sizes)
        ]

    def _chunks(self, shape, n):
        """Channel ranges whose representation fits in `_CHUNK_FLOATS` floats.

        On CPU, a tensor over 32 MiB gets fresh pages from the allocator on
        every step; chunks of 16 MiB make the small GPT's training step 15%
        faster on JAX and torch (`docs/design.md`). TensorFlow runs the
        chunks concurrently, which only adds memory, so it gets one range.
        """
        if keras.backend.backend() == "tensorflow" or None in shape[:2]:
            return [(0, n)]
        size = max(1, _CHUNK_FLOATS // (shape[0] * shape[1] * self.num_filters))
        return [(lo, min(lo + size, n)) for lo in range(0, n, size)]

    def _representation(self, analysed):
        """Second analysis layer per group, concatenated: (B*n, T, M)."""
        outputs = []
        for a, D, k in zip(analysed, self.depthwise, self.kernel_sizes):
            ap = ops.pad(a, [[0, 0], [k - 1, 0], [0, 0]])
            outputs.append(ops.depthwise_conv(ap, D[:, :, None]))
        return ops.concatenate(outputs, axis=-1)

    def _fused_synthesis(self, analysed):
        """Analysis 2, gain and synthesis as one M -> 1 filter of length 2k-1."""
        out = 0
        gains = ops.split(self.gain, len(self.kernel_sizes))  # equal groups
        for a, D, S, c, k in zip(
            analysed, self.depthwise, self.synthesis, gains, self.kernel_sizes
        ):
            # F[l, m] = c_m * sum_{i + j = l} D[i, m] S[j, m] (full convolution).
            padded = ops.pad(D, [[k - 1, k - 1], [0, 0]])[None]  # (1, 3k-2, m)
            fused = ops.depthwise_conv(padded, ops.flip(S, axis=0)[:, :, None])[0] * c
            out = out + _causal_reduce(a, fused)
        return out

    def token_weights(self, inputs):
        """Per-token filter weights `w[t]` of the adaptive layer.

        Args:
            inputs: tensor of shape `(B, T, E)`.

        Returns:
            tensor of shape `(B, T, M)`.

        Raises:
            ValueError: the layer is not adaptive.
        """
        if not self.adaptive:
            raise ValueError("token_weights needs a layer built with adaptive=True")
        self._build_for(inputs)
        s = self._representation(self._analysis(self._signals(inputs)))
        return self._token_weights(s, ops.shape(inputs))

    def _token_weights(self, s, shape):
        b, t = shape[0], shape[1]
        n = shape[2] - self._start
        summary = ops.mean(ops.reshape(s, (b, n, t, self.num_filters)), axis=1)  # (B, T, M)
        h = self.adaptive_block(self.adaptive_in(summary))  # (B, T, adaptive_dim)
        return 2.0 * ops.sigmoid(self.adaptive_out(h))  # (B, T, M)

    def analyze(self, inputs):
        """The time-frequency representation `s` of the processed channels.

        Args:
            inputs: tensor of shape `(B, T, E)`.

        Returns:
            tensor of shape `(B, T, n, M)`.
        """
        self._build_for(inputs)
        b, t = ops.shape(inputs)[0], ops.shape(inputs)[1]
        n = ops.shape(inputs)[2] - self._start
        s = self._representation(self._analysis(self._signals(inputs)))  # (B*n, T, M)
        return ops.transpose(ops.reshape(s, (b, n, t, self.num_filters)), (0, 2, 1, 3))

    def call(self, inputs):
        check_float_input(self, inputs)
        shape = ops.shape(inputs)
        b, t, n = shape[0], shape[1], shape[2] - self._start
        if not self.adaptive:
            # Channels are independent signals: process them in chunks.
            x = self._channels(inputs)  # (B, n, T)
            pieces = []
            for lo, hi in self._chunks(inputs.shape, n):
                u = ops.reshape(x[:, lo:hi], (-1, t))  # (B*c, T)
                r = self._fused_synthesis(self._analysis(u))  # (B*c, T)
                pieces.append(ops.reshape(u + r, (b, hi - lo, t)))
            y = ops.concatenate(pieces, axis=1) if len(pieces) > 1 else pieces[0]
        else:
            u = self._signals(inputs)  # (B*n, T)
            s = self._representation(self._analysis(u))  # (B*n, T, M)
            w = self._token_weights(s, shape) * self.gain  # (B, T, M)
            weighted = ops.reshape(s, (b, n, t, self.num_filters)) * w[:, None]  # (B, n, T, M)
            weighted = ops.reshape(weighted, (-1, t, self.num_filters))  # (B*n, T, M)
            groups = ops.split(weighted, len(self.kernel_sizes), axis=-1)  # G x (B*n, T, M/G)
            r = sum(_causal_reduce(sg, S) for sg, S in zip(groups, self.synthesis))
            y = ops.reshape(u + r, (b, n, t))
        out = ops.concatenate([inputs[:, :, : self._start], ops.transpose(y, (0, 2, 1))], axis=-1)
        return ops.reshape(out, shape)  # keeps TF's static shape

    def _build_for(self, inputs):
        check_float_input(self, inputs)
        if not self.built:
            self.build(tuple(inputs.shape))
            self.built = True

    @property
    def receptive_field(self):
        """How many steps, the current one included, an output reads: three
        causal convolutions of the longest kernel `k` (analysis, second
        analysis layer, synthesis) read `3k - 2`; `None` with `adaptive`,
        whose Transformer reads the whole past. Cached generation keeps that
        many past inputs."""
        return None if self.adaptive else 3 * max(self.kernel_sizes) - 2

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_filters=self.num_filters,
            kernel_sizes=list(self.kernel_sizes),
            fraction=self.fraction,
            adaptive=self.adaptive,
            adaptive_dim=self.adaptive_dim,
            adaptive_heads=self.adaptive_heads,
            activation=keras.activations.serialize(self.activation),
        )
        return config
