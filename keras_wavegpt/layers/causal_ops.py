"""Causal operations on `(B, T, n)` streams, shared by the mixers.

Every function here reads only the present and the past along time: output
step `t` depends on input steps `<= t`.
"""

import math

import numpy as np
from keras import ops

from keras_wavegpt.utils.validation import check_fraction

# Time steps per block of `block_causal_conv` (fewer for shorter kernels).
BLOCK_STEPS = 32


def processed_channels(num_channels, fraction):
    """Number of channels a mixer processes: `round(fraction * num_channels)`.

    Rounds half up (so 0.5 * 5 gives 3) and refuses to round to zero.

    Args:
        num_channels: int. The width of the stream.
        fraction: float. The share of channels processed, in `(0, 1]`.

    Returns:
        int, between 1 and `num_channels`.
    """
    check_fraction("fraction", fraction)
    n = int(math.floor(fraction * num_channels + 0.5))
    if n < 1:
        raise ValueError(
            f"fraction={fraction} of {num_channels} channels rounds to 0 "
            "processed channels; raise `fraction` or widen the model."
        )
    return n


def split_channels(x, starts, axis=-1):
    """Splits `x` along an axis before each index in `starts`.

    TensorFlow and torch reject an empty list of split points, so no
    `starts` gives `[x]`.

    Args:
        x: tensor.
        starts: list of int. Where each part after the first starts.
        axis: int. The axis to split. Defaults to `-1` (channels).

    Returns:
        list of `len(starts) + 1` tensors.
    """
    return ops.split(x, starts, axis=axis) if starts else [x]


def toeplitz(h, rows, cols, shift):
    """Toeplitz matrices of taps: `W[c, w, t] = h[t + shift - w, c]`.

    Entries whose lag falls outside `[0, K)` are 0. With g[i] = h[shift + cols - 1 - i] (the taps from lag shift + cols - 1
    down to shift - rows + 1), W[w, t] = g[w + cols - 1 - t]: a Hankel matrix
    of g, flipped. g is repeated cols + 1 times and read back with a stride
    one longer than its length, so each row starts one tap later: no gather,
    and the gradient is one sum. About c·cols·(rows + cols) floats, so it is
    built along the short side (cols).

    Args:
        h: tensor of shape `(K, c)`. Taps in lag order.
        rows: int. Rows of each matrix (input steps).
        cols: int. Columns of each matrix (output steps).
        shift: int. The lag of row 0, column 0.

    Returns:
        tensor of shape `(c, rows, cols)`.
    """
    k, c = h.shape
    length = rows + cols - 1
    lead = rows - 1 - shift  # where lag 0 sits in the window of lags
    window = ops.pad(ops.transpose(h), [[0, 0], [max(lead, 0), max(length - lead - k, 0)]])
    g = ops.flip(window[:, max(-lead, 0) :][:, :length], axis=1)  # (c, rows + cols - 1)
    # Broadcast, not tile: its gradient is one sum (torch's tile loops).
    flat = ops.reshape(ops.broadcast_to(g[:, None], (c, cols + 1, length)), (c, -1))
    hankel = ops.reshape(flat[:, : cols * (length + 1)], (c, cols, length + 1))
    hankel = hankel[:, :, :rows]  # hankel[r, w] = g[w + r]
    return ops.transpose(ops.flip(hankel, axis=1), (0, 2, 1))  # r = cols - 1 - t


def head_steps(x, steps, axis=1):
    """The first `steps` entries along `axis`, taken by a split.

    Not a strided slice: TensorFlow's gradient of a strided slice
    (StridedSliceGrad) fills a zero tensor of the whole input, which
    dominated the Haar layer's backward pass on CPU; a split's gradient is a
    concatenation.

    Args:
        x: tensor, with `axis` of known length.
        steps: int. How many entries to keep.
        axis: int. The axis to cut. Defaults to `1` (time).

    Returns:
        tensor, `x` cut to `steps` entries along `axis`.
    """
    return x if steps == x.shape[axis] else ops.split(x, [steps], axis=axis)[0]


def delay(x, steps):
    """Delays a stream by `steps` along time, zeros first.

    The output is `steps` zeros followed by the first `T - steps` inputs
    (cut by a split where T is known; see `head_steps`).

    Args:
        x: tensor of shape `(B, T, n)`.
        steps: int. The delay, `0 <= steps <= T`.

    Returns:
        tensor of shape `(B, T, n)`.
    """
    time = x.shape[1]
    if time is None:
        return ops.pad(x, [[0, 0], [steps, 0], [0, 0]])[:, : ops.shape(x)[1]]
    return ops.pad(head_steps(x, time - steps), [[0, 0], [steps, 0], [0, 0]])


def block_causal_conv(x, h, block):
    """`y[c, :, t] = sum_k h[k, c] x[c, :, t - k]` as one matrix product per channel.

    Time is cut into J blocks of `block` steps; output block j reads a
    window of the M + 1 blocks ending with its own (M blocks back reach lag
    K - 1) through a (window, block) Toeplitz matrix of taps. Costs
    B·T·c·(M + 1)·block multiply-adds instead of B·T·c·K, but in dense
    products, where XLA's and torch's depthwise convolutions are slow on CPU
    (`docs/benchmarks.md` has the figures); channels first, each is one
    contiguous batched matmul. Inputs after t meet exact zeros: causal for
    finite activations (a NaN or inf reaches earlier steps of its block
    through 0·inf, as through any matrix product).

    Args:
        x: tensor of shape `(c, B, T)`, channels first, with T known.
        h: tensor of shape `(K, c)`. Taps in lag order.
        block: int. Time steps per block.

    Returns:
        tensor of shape `(c, B, T)`.
    """
    c, time = x.shape[0], x.shape[2]
    blocks = -(-time // block)
    back = min(-(-(h.shape[0] - 1) // block), blocks - 1)  # M
    w = toeplitz(h, (back + 1) * block, block, back * block)  # (c, L, block)
    padded = ops.pad(x, [[0, 0], [0, 0], [back * block, blocks * block - time]])
    padded = ops.reshape(padded, (c, -1, blocks + back, block))  # (c, B, J + M, block)
    index = np.arange(blocks)[:, None] + np.arange(back + 1)  # (J, M + 1)
    frames = ops.take(padded, index, axis=2)  # (c, B, J, M + 1, block)
    frames = ops.reshape(frames, (c, -1, (back + 1) * block))  # (c, B·J, L)
    y = ops.matmul(frames, w)  # (c, B·J, block)
    return head_steps(ops.reshape(y, (c, -1, blocks * block)), time, axis=2)  # (c, B, T)


def fft_causal_conv(x, h, time):
    """`y[c, :, t] = sum_k h[k, c] x[c, :, t - k]` via a zero-padded float32 FFT.

    Padding to `>= T + K - 1` makes the circular convolution linear, so
    nothing wraps from the end to the start; future samples still reach the
    past through round-off (~1e-7 relative).

    Args:
        x: tensor of shape `(c, B, T)`, channels first.
        h: tensor of shape `(K, c)`. Taps in lag order.
        time: int. T, the number of output steps.

    Returns:
        tensor of shape `(c, B, T)`.
    """
    size = 1 << (time + h.shape[0] - 2).bit_length()
    xr, xi = ops.rfft(x, size)  # (c, B, F)
    hr, hi = ops.rfft(ops.transpose(h), size)  # (c, F)
    hr, hi = hr[:, None], hi[:, None]
    return head_steps(ops.irfft((xr * hr - xi * hi, xr * hi + xi * hr), size), time, axis=2)
