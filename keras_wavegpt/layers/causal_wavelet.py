"""Causal wavelet mixers for the residual stream (WaveletGPT, Verma 2024, §3).

Between two decoder blocks the residual stream `x` of shape `(B, T, E)` is
replaced by a copy whose last `n = round(fraction * E)` channels are causal
multi-scale approximations of themselves; the first `E - n` channels pass
through. Two flavours share that layout:

- `CausalWavelet(learnable=False)`: the Haar approximation, a causal moving
  average of length `f(i)` per channel (no weights).
- `CausalWavelet(learnable=True)`: a causal FIR kernel of length `f(i)` per
  channel, initialised to the Haar box.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_wavegpt.layers.causal_ops import (
    BLOCK_STEPS,
    block_causal_conv,
    delay,
    fft_causal_conv,
    processed_channels,
    split_channels,
)
from keras_wavegpt.utils.validation import (
    check_choice,
    check_float_input,
    check_int,
    check_fraction,
    check_stream,
)

KERNEL_SCHEDULES = ("dyadic", "linear")
# With fft=True, kernels at least this long convolve through the FFT.
FFT_MIN_TAPS = 32
# The learnable layer groups channels by the power of two bounding their
# kernel length, kernels of up to this many taps in one group: fewer, larger
# operations for a few zero taps.
MIN_GROUP_TAPS = 16
# From how many time steps (T known) each backend's learnable layer runs as
# time-blocked matrix products (see `block_causal_conv`); a backend not named
# here, and any graph of unknown T, uses a depthwise convolution. XLA's and
# torch's depthwise convolutions are slow on CPU at every context, while
# TensorFlow's beats the blocked products below 512 steps (measurements in
# docs/benchmarks.md, "Backend paths").
MATMUL_FROM_STEPS = {"jax": 1, "torch": 1, "tensorflow": 512}
# The fixed (Haar) layer assembles each window from the levels of a Haar
# pyramid by one shift per level and kernel length while there are at most
# this many lengths (the dyadic schedule has one per level), else by one
# gather per level.
MAX_SHIFTS = 16


def kernel_schedule(num_channels, max_kernel=512, fraction=0.5, schedule="dyadic",
                    levels=None):
    """Kernel length `f(i)` for every channel of a width-`num_channels` stream.

    Pass-through channels `[0, E - n)` get 1. For the processed channels, in
    increasing order:

    - `"dyadic"`: levels `1..L` with `L = log2(max_kernel)`, level `j` having
      length `2**j`, spread linearly so each level gets about `n / L` channels
      (processed channel `k` is at level `1 + floor(k * L / n)`). `levels`
      keeps only the listed levels, spread the same way: `(1, 2)` gives
      kernels 2 and 4 (as `max_kernel=4` does), `(6, 7)` only 64 and 128.
    - `"linear"`: `f` grows linearly from 2 to `max_kernel`, rounded to the
      nearest integer (a single processed channel gets 2).

    Args:
        num_channels: int. E, the width of the stream.
        max_kernel: int. The longest kernel. Defaults to `512`.
        fraction: float. The share of channels processed, in `(0, 1]`.
            Defaults to `0.5`.
        schedule: str. `"dyadic"` or `"linear"`. Defaults to `"dyadic"`.
        levels: tuple of int or `None`. The dyadic levels to keep; `None`
            keeps `1..log2(max_kernel)`. Defaults to `None`.

    Returns:
        numpy int64 array of shape `(num_channels,)`.

    Example:

    >>> kernel_schedule(8, max_kernel=16, levels=(3, 4)).tolist()
    [1, 1, 1, 1, 8, 8, 16, 16]
    """
    _check_schedule(schedule, max_kernel)
    levels = _check_levels(levels, schedule, max_kernel)
    n = processed_channels(num_channels, fraction)
    k = np.arange(n)
    if schedule == "dyadic":
        chosen = np.asarray(levels or range(1, int(math.log2(max_kernel)) + 1))
        lengths = 2 ** chosen[(k * len(chosen)) // n]
    else:
        lengths = np.rint(2 + (max_kernel - 2) * k / max(n - 1, 1))
    sizes = np.ones(num_channels, dtype=np.int64)
    sizes[num_channels - n :] = lengths.astype(np.int64)
    return sizes

def _check_schedule(schedule, max_kernel):
    check_choice("schedule", schedule, KERNEL_SCHEDULES)
    check_int("max_kernel", max_kernel, minimum=2)
    if schedule == "dyadic" and max_kernel & (max_kernel - 1):
        raise ValueError(
            f"`max_kernel` must be a power of two with schedule='dyadic', got "
            f"{max_kernel}; use a power of two or schedule='linear'."
        )


def _check_levels(levels, schedule, max_kernel):
    """`levels` as a sorted tuple of ints in 1..log2(max_kernel), or None."""
    if levels is None:
        return None
    if schedule != "dyadic":
        raise ValueError(f"`levels` needs schedule='dyadic', got schedule={schedule!r}")
    top = int(math.log2(max_kernel))
    if isinstance(levels, (int, np.integer)) and not isinstance(levels, bool):
        levels = (levels,)
    if not isinstance(levels, (list, tuple)) or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in levels
    ):
        raise TypeError(f"`levels` must be a tuple of integers in 1..{top}, got {levels!r}")
    if not levels:
        raise ValueError(f"`levels` must name at least one level in 1..{top}, got {levels!r}")
    outside = [v for v in levels if not 1 <= v <= top]
    if outside:
        raise ValueError(
            f"`levels` {outside} are outside 1..{top} (log2 of max_kernel={max_kernel})"
        )
    if len(set(levels)) != len(levels):
        raise ValueError(f"`levels` repeats a level: {tuple(levels)}")
    return tuple(sorted(int(v) for v in levels))

def _channels(x, low, high):
    """Channels `low` to `high` (exclusive; `None`: to the end) of a
    `(B, T, c)` stream, by a split (see `causal_ops.head_steps`)."""
    width = x.shape[-1]
    high = width if high is None else high
    parts = split_channels(x, [i for i in (low, high) if 0 < i < width])
    return parts[1 if low > 0 else 0]


def _shift(x, steps, time):
    """`x` delayed by `steps`, or `None` where that leaves only zeros."""
    if steps == 0:
        return x
    if time is not None and steps >= time:
        return None
    return delay(x, steps)


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class CausalWavelet(keras.layers.Layer):
    """Causal multi-scale (Haar) approximation on part of the channels.

    For a processed channel `i` with kernel length `f(i)`:

        fixed:      y_i[t] = (1 / f(i)) * sum_{m = t - f(i) + 1}^{t} x_i[m]
        learnable:  y_i[t] = sum_{k = 0}^{f(i) - 1} h_i[k] * x_i[t - k]

    with `x_i[m] = 0` for `m < 0` (left zero padding; the fixed variant always
    divides by `f(i)`, also near the start). `h_i` starts at `1 / f(i)`, so
    the learnable layer equals the fixed one at initialisation. Channels
    `[0, E - n)` are copied unchanged; see `kernel_schedule` for `f`.

    Cost: the fixed variant has no weights and is O(B·T·E·log f) float32
    additions: a Haar pyramid, level `j` the sum of the `2**j` inputs ending
    at each step (level `j - 1` plus itself `2**(j - 1)` steps back), from
    which each window is the sum of one level per set bit of `f(i)`. Every
    output is a sum of its own window's inputs and never a difference of
    longer sums, so its error stays within float32 round-off of those
    inputs at any length and mean, and a NaN or inf reaches only later
    steps. The learnable variant groups channels by the power of two that
    bounds their length (kernels of up to 16 taps together) and filters each
    group at once, taps past `f(i)` masked to zero, so short kernels never pay
    for the long ones: on JAX and torch (TensorFlow from T = 512) blocks of 32
    time steps through one dense matrix product per channel (faster there
    on CPU than a depthwise convolution; future inputs meet exact zeros,
    so it is causal for finite activations), otherwise or with `T` unknown at
    trace time a depthwise convolution (see `MATMUL_FROM_STEPS`). Its one
    weight `taps` holds exactly `sum_i f(i)` numbers: channel `i`'s kernel in
    lag order, channels one after another. Sums and convolutions run in
    float32 under mixed precision; the output has the input's dtype.

    After `build`, `channel_kernel_sizes` is a numpy int array of length `E` with
    `f(i)` per channel (1 for pass-through channels).

    Args:
        max_kernel: int. Longest kernel (the coarsest level); the paper uses
            the context length, 512. A power of two for
            `schedule="dyadic"`. Defaults to `512`.
        fraction: float. Share of channels processed, in `(0, 1]`; the last
            `round(fraction * E)` channels are processed. Defaults to `0.5`.
        schedule: str. `"dyadic"` (lengths 2, 4, ..., max_kernel, paper
            §3.2) or `"linear"` (lengths from 2 to max_kernel, paper §5).
            Defaults to `"dyadic"`.
        learnable: bool. Learn one causal FIR kernel per processed channel,
            initialised to the Haar box. Defaults to `False`.
        fft: bool. With `learnable`, convolve groups of 32 taps or more
            through a float32 FFT when `T` is known at trace time: O(T log T)
            instead of O(T K) per channel, but causal only up to round-off
            (~1e-7 relative), not exactly; a NaN or inf at any step reaches
            every step of its channel. Defaults to `False`.
        levels: tuple of int or `None`. With `schedule="dyadic"`, the levels
            to keep, integers in `1..log2(max_kernel)` (level `j` has length
            `2**j`): `(1, 2)` keeps the fine levels (kernels 2 and 4),
            `(3, ..., L)` the coarse ones; the processed channels spread over
            the kept levels as over all of them. Defaults to `None`, all.
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Shapes: `(B, T, E)` -> `(B, T, E)`, any `T` (kernels longer than `T` see
    only zero padding beyond the start).

    Example:

    >>> x = keras.random.normal((2, 16, 8))
    >>> layer = CausalWavelet(max_kernel=8)
    >>> tuple(layer(x).shape)
    (2, 16, 8)
    >>> layer.channel_kernel_sizes.tolist()
    [1, 1, 1, 1, 2, 2, 4, 8]

    References:
        Verma, "WaveletGPT: Wavelet Inspired Large Language Models", §3.2
        (Haar approximation by embedding coordinate) and §4.2 (learnable).
    """

    def __init__(
        self,
        max_kernel=512,
        fraction=0.5,
        schedule="dyadic",
        learnable=False,
        fft=False,
        levels=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_schedule(schedule, max_kernel)
        check_fraction("fraction", fraction)
        self.max_kernel = int(max_kernel)
        self.fraction = float(fraction)
        self.schedule = schedule
        self.learnable = bool(learnable)
        self.fft = bool(fft)
        self.levels = _check_levels(levels, schedule, max_kernel)
        self.channel_kernel_sizes = None

    def build(self, input_shape):
        check_stream(self, input_shape)
        channels = int(input_shape[-1])
        self.channel_kernel_sizes = kernel_schedule(
            channels, self.max_kernel, self.fraction, self.schedule, self.levels
        )
        self._start = channels - processed_channels(channels, self.fraction)
        lengths = self.channel_kernel_sizes[self._start :]
        self._lengths = lengths.astype("float32")
        # Runs of equal length (the processed channels are sorted by length).
        ends = np.nonzero(np.diff(lengths))[0] + 1
        starts = np.concatenate([[0], ends]).astype(int)
        self._runs = list(zip(starts.tolist(), lengths[starts].tolist()))  # (start, f)
        self._groups = []
        if self.learnable:
            # One flat weight: channel c's taps h_c[0..f_c) (lag order) sit at
            # offsets[c]; Haar box 1/f_c at init.
            offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
            self.taps = self.add_weight(
                name="taps",
                shape=(int(lengths.sum()),),
                initializer=lambda shape, dtype=None: ops.cast(
                    np.repeat(1.0 / lengths, lengths), dtype
                ),
                dtype="float32",
                autocast=False,
            )
            buckets = 2 ** np.ceil(np.log2(lengths)).astype(np.int64)
            buckets = np.maximum(buckets, min(MIN_GROUP_TAPS, buckets.max()))
            for bucket in np.unique(buckets):
                (index,) = np.nonzero(buckets == bucket)
                lo, hi = int(index[0]), int(index[-1]) + 1
                lag = np.arange(bucket)[:, None]  # (K, 1)
                valid = lag < lengths[None, lo:hi]  # (K, c)
                gather = np.where(valid, offsets[None, lo:hi] + lag, 0).astype("int32")
                self._groups.append((hi, gather, valid.astype("float32")))

    def call(self, inputs):
        check_float_input(self, inputs)
        keep, x = ops.split(inputs, [self._start], axis=-1)  # (B, T, E - n), (B, T, n)
        x = ops.cast(x, "float32")
        y = self._fir(x) if self.learnable else self._box(x)
        return ops.concatenate([keep, ops.cast(y, inputs.dtype)], axis=-1)

    @property
    def receptive_field(self):
        """How many steps, the current one included, an output reads:
        the longest kernel. Cached generation keeps that many past inputs."""
        if self.channel_kernel_sizes is not None:
            return int(self.channel_kernel_sizes.max())
        return 2 ** max(self.levels) if self.levels else self.max_kernel

    @property
    def streaming(self):
        """Whether `call_with_cache` runs one token in O(E): the fixed layer
        does; the learnable layer's caller keeps past inputs instead."""
        return not self.learnable

    def initial_cache(self, batch, length):
        """The fixed layer's state for one-token-at-a-time inference.

        Args:
            batch: int. The batch size.
            length: int. The longest sequence.

        Returns:
            float32 zeros of shape `(batch, length, n)`, to hold the inputs
            of the `n` processed channels at every position.
        """
        return ops.zeros((batch, length, len(self._lengths)), "float32")

    def call_with_cache(self, inputs, cache, index):
        """The layer's output for `inputs` placed at `index`, and its new cache.

        A whole sequence (`L > 1`, at index 0) runs the usual layer and
        stores its inputs. One token stores its input at `index` and sums
        each channel's window of cached inputs directly (the `f(i)` steps
        ending at `index`, out of the last `receptive_field` read in one
        slice): O(E·f) work per token, no running sums, so it agrees with
        the full layer to float32 round-off of the window's own values.

        Args:
            inputs: tensor of shape `(B, L, E)`.
            cache: the inputs from `initial_cache` or the previous call.
            index: int or scalar tensor. The position of the first step.

        Returns:
            tuple `(outputs, cache)`, `outputs` of shape `(B, L, E)`.
        """
        keep, x = ops.split(inputs, [self._start], axis=-1)
        x = ops.cast(x, "float32")  # (B, L, n)
        index = ops.convert_to_tensor(index, "int32")
        cache = ops.slice_update(cache, [0, index, 0], x)
        if inputs.shape[1] != 1:
            return self(inputs), cache
        total, n = cache.shape[1], cache.shape[2]
        width = min(self.receptive_field, total)
        if width == total:  # the whole cache: no slice (graph-mode TensorFlow pays per op)
            start, window = 0, cache
        else:
            start = ops.clip(index - width + 1, 0, total - width)
            window = ops.slice(cache, [0, start, 0], [ops.shape(cache)[0], width, n])  # (B, K, n)
        position = start + ops.arange(width, dtype="int32")[:, None]  # (K, 1)
        lengths = ops.convert_to_tensor(self.channel_kernel_sizes[self._start :], "int32")
        inside = ops.logical_and(position <= index, position > index - lengths)  # (K, n)
        # `where`, not a product with the mask: a NaN outside the window stays out.
        total_sum = ops.sum(ops.where(inside, window, 0.0), axis=1, keepdims=True)
        y = total_sum / ops.convert_to_tensor(self._lengths)
        return ops.concatenate([keep, ops.cast(y, inputs.dtype)], axis=-1), cache

    def _box(self, x):
        """Moving averages of every length from one Haar pyramid.

        Level `j` holds, for the channels whose kernel has at least `2**j`
        taps (a suffix: lengths ascend), the sum of the `2**j` inputs ending
        at each step. A window of `f` steps is the sum of one level per set
        bit of `f`, each shifted back by the higher bits.
        """
        time = x.shape[1]
        sizes = self.channel_kernel_sizes[self._start :]
        top = int(sizes.max()).bit_length() - 1
        first = [int(np.searchsorted(sizes, 2**j)) for j in range(top + 1)]
        levels = [x]  # levels[j]: channels first[j]..n - 1
        for j in range(1, top + 1):
            p = _channels(levels[-1], first[j] - first[j - 1], None)
            back = _shift(p, 2 ** (j - 1), time)
            levels.append(p if back is None else p + back)
        if len(self._runs) > MAX_SHIFTS:
            return self._gather_windows(levels, first) / ops.convert_to_tensor(self._lengths)
        ends = [start for start, _ in self._runs[1:]] + [len(sizes)]
        windows = []
        for (start, f), end in zip(self._runs, ends):
            window, offset = None, 0
            for b in reversed(range(f.bit_length())):
                if f >> b & 1:
                    part = _shift(_channels(levels[b], start - first[b], end - first[b]),
                                  offset, time)
                    if part is not None:
                        window = part if window is None else window + part
                    offset += 2**b
            windows.append(window)
        return ops.concatenate(windows, axis=-1) / ops.convert_to_tensor(self._lengths)

    def _gather_windows(self, levels, first):
        """The windows' sums from the pyramid by one gather per level: for
        many kernel lengths (the linear schedule), where a shift per length
        and level would be hundreds of small operations."""
        sizes = self.channel_kernel_sizes[self._start :]
        steps = ops.arange(ops.shape(levels[0])[1], dtype="int32")[:, None]  # (T, 1)
        total = None
        for b, level in enumerate(levels):
            own = sizes[first[b] :]
            offset = ops.convert_to_tensor((own >> (b + 1)) << (b + 1), "int32")
            source = steps - offset  # (T, c): the step this bit's level is read at
            take = ops.logical_and(source >= 0, ops.convert_to_tensor(own >> b & 1 == 1))
            index = ops.broadcast_to(ops.maximum(source, 0)[None], ops.shape(level))
            part = ops.where(take, ops.take_along_axis(level, index, axis=1), 0.0)
            part = ops.pad(part, [[0, 0], [0, 0], [first[b], 0]])
            total = part if total is None else total + part
        return total

    def _fir(self, x):
        """Causal FIR per group of similar kernel lengths: time-blocked matrix
        products (`MATMUL_FROM_STEPS`, T known), FFTs (`fft`), or a depthwise
        convolution."""
        static_t = x.shape[1]
        blocked = static_t is not None and static_t >= MATMUL_FROM_STEPS.get(
            keras.backend.backend(), math.inf
        )
        if blocked:
            # Channels first once for all groups: each group's split, product
            # and concatenation then moves contiguous rows (per group, the
            # transposes had cost TensorFlow more than the products).
            x = ops.transpose(x, (2, 0, 1))  # (n, B, T)
        axis = 0 if blocked else -1
        # One split, not a slice per group: torch's gradient of a slice fills
        # a zero tensor of the whole input for each.
        parts = split_channels(x, [end for end, _, _ in self._groups[:-1]], axis)
        outputs = []
        for (_, gather, valid), xg in zip(self._groups, parts):
            if static_t is not None and static_t < gather.shape[0]:
                # Lags >= T only ever meet the zero padding.
                gather, valid = gather[:static_t], valid[:static_t]
            h = ops.multiply(ops.take(self.taps, gather), valid)  # (K, c), lag order
            taps = gather.shape[0]
            if self.fft and static_t is not None and taps >= FFT_MIN_TAPS:
                if blocked:
                    outputs.append(fft_causal_conv(xg, h, static_t))
                else:
                    y = fft_causal_conv(ops.transpose(xg, (2, 0, 1)), h, static_t)
                    outputs.append(ops.transpose(y, (1, 2, 0)))
            elif blocked:
                block = min(static_t, taps, BLOCK_STEPS)
                outputs.append(block_causal_conv(xg, h, block))
            else:
                xg = ops.pad(xg, [[0, 0], [taps - 1, 0], [0, 0]])
                # Convolution correlates, so the oldest lag comes first.
                outputs.append(ops.depthwise_conv(xg, ops.flip(h, axis=0)[:, :, None]))
        y = ops.concatenate(outputs, axis=axis)
        return ops.transpose(y, (1, 2, 0)) if blocked else y

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            max_kernel=self.max_kernel,
            fraction=self.fraction,
            schedule=self.schedule,
            learnable=self.learnable,
            fft=self.fft,
            levels=self.levels,
        )
        return config
