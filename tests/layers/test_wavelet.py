import keras
import numpy as np
import pytest

from keras_wavegpt.layers import CausalEMA, CausalWavelet, causal_ops, causal_wavelet, kernel_schedule
from tests.helpers import assert_causal, layer_model, sgd_gradients, to_numpy


# --- independent numpy references -------------------------------------------


def ref_moving_average(x, sizes):
    """y[t] = sum(x[t-f+1 .. t]) / f per channel, zeros before the start."""
    y = x.astype(np.float64).copy()
    for i, f in enumerate(sizes):
        if f == 1:
            continue
        for t in range(x.shape[1]):
            y[:, t, i] = x[:, max(0, t - f + 1) : t + 1, i].sum(axis=1) / f
    return y


def ref_fir(x, kernels, start):
    """y_i[t] = sum_k h_i[k] x_i[t-k] for channels >= start; kernels[c] = h."""
    y = x.astype(np.float64).copy()
    for c, h in enumerate(kernels):
        i = start + c
        for t in range(x.shape[1]):
            y[:, t, i] = sum(h[k] * x[:, t - k, i] for k in range(min(len(h), t + 1)))
    return y


def assign_random_kernels(layer, rng, start):
    """Random taps for a built learnable layer; returns each processed
    channel's kernel (channels from `start`), in lag order."""
    taps = rng.normal(size=layer.taps.shape).astype("float32")
    layer.taps.assign(taps)
    return np.split(taps, np.cumsum(layer.channel_kernel_sizes[start:])[:-1])


def ref_ema(x, alphas, start):
    y = x.astype(np.float64).copy()
    for c, a in enumerate(alphas):
        i = start + c
        for t in range(1, x.shape[1]):
            y[:, t, i] = a * x[:, t, i] + (1 - a) * y[:, t - 1, i]
    return y


@pytest.fixture(params=["conv", "matmul"])
def fir_method(request, monkeypatch):
    """Runs the learnable layer as a depthwise convolution and as blocked
    matrix products, whichever its backend uses by default."""
    matmul = {keras.backend.backend(): 1} if request.param == "matmul" else {}
    monkeypatch.setattr(causal_wavelet, "MATMUL_FROM_STEPS", matmul)


@pytest.fixture(params=["shift", "gather"])
def box_method(request, monkeypatch):
    """Runs the fixed layer with each way of reading its windows from the
    pyramid, whichever its schedule uses by default."""
    monkeypatch.setattr(causal_wavelet, "MAX_SHIFTS", 16 if request.param == "shift" else 0)


# --- the kernel schedule ----------------------------------------------------


def test_dyadic_schedule_by_hand():
    assert kernel_schedule(8, max_kernel=8).tolist() == [1, 1, 1, 1, 2, 2, 4, 8]


def test_linear_schedule_by_hand():
    assert kernel_schedule(8, 16, schedule="linear").tolist() == [1, 1, 1, 1, 2, 7, 11, 16]


def test_paper_schedule_levels_one_to_nine():
    sizes = kernel_schedule(128, 512)
    assert (sizes[:64] == 1).all()
    levels, counts = np.unique(sizes[64:], return_counts=True)
    assert levels.tolist() == [2, 4, 8, 16, 32, 64, 128, 256, 512]
    assert counts.min() >= 64 // 9 and counts.max() <= 64 // 9 + 1  # spread linearly
    assert (np.diff(sizes[64:]) >= 0).all()


@pytest.mark.parametrize(
    "levels,expected",
    [
        ((1, 2), [2, 2, 2, 2, 4, 4, 4, 4]),  # the fine levels: max_kernel=4's schedule
        ((6, 7), [64, 64, 64, 64, 128, 128, 128, 128]),  # the coarse ones
        ((3, 5, 7), [8, 8, 8, 32, 32, 32, 128, 128]),
        (4, [16] * 8),
    ],
)
def test_levels_keep_only_the_chosen_dyadic_levels(levels, expected):
    sizes = kernel_schedule(16, max_kernel=128, levels=levels)
    assert sizes[8:].tolist() == expected and (sizes[:8] == 1).all()
    all_levels = kernel_schedule(16, max_kernel=128, levels=tuple(range(1, 8)))
    assert all_levels.tolist() == kernel_schedule(16, max_kernel=128).tolist()
    assert kernel_schedule(16, 128, levels=(1, 2)).tolist() == kernel_schedule(16, 4).tolist()


@pytest.mark.parametrize("learnable", [False, True])
def test_levels_layer_matches_reference(learnable):
    x = np.random.default_rng(11).normal(size=(2, 70, 16)).astype("float32")
    layer = CausalWavelet(max_kernel=128, levels=(6, 7), learnable=learnable)
    np.testing.assert_allclose(
        to_numpy(layer(x)), ref_moving_average(x, layer.channel_kernel_sizes), atol=2e-5
    )
    assert set(layer.channel_kernel_sizes[8:].tolist()) == {64, 128}
    assert CausalWavelet.from_config(layer.get_config()).levels == (6, 7)


def test_fraction_rounds_half_up():
    assert (kernel_schedule(5, 4, fraction=0.5) > 1).sum() == 3
    assert (kernel_schedule(10, 4, fraction=1.0) > 1).sum() == 10


# --- numbers against the references ----------------------------------------


@pytest.mark.parametrize("schedule", ["dyadic", "linear"])
@pytest.mark.parametrize(
    "shape,max_kernel",
    # (2, 9, 4) with 2: one kernel length for all processed channels.
    [((2, 37, 16), 16), ((1, 5, 8), 32), ((3, 64, 12), 64), ((2, 9, 4), 2)],
)
def test_haar_matches_reference(schedule, shape, max_kernel, box_method):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    layer = CausalWavelet(max_kernel=max_kernel, schedule=schedule)
    y = to_numpy(layer(x))
    np.testing.assert_allclose(y, ref_moving_average(x, layer.channel_kernel_sizes), atol=2e-5)
    assert layer.channel_kernel_sizes.shape == (shape[-1],)
    assert not layer.weights


def _error_at_mean_50(layer, time, batch=1):
    x = (50.0 + np.random.default_rng(time).normal(size=(batch, time, 32))).astype("float32")
    return np.abs(to_numpy(layer(x)) - ref_moving_average_fast(x, layer.channel_kernel_sizes)).max()


def ref_moving_average_fast(x, sizes):
    """`ref_moving_average` through float64 cumulative sums, for long inputs."""
    sums = np.pad(np.cumsum(x.astype(np.float64), axis=1), [(0, 0), (1, 0), (0, 0)])
    steps = np.arange(x.shape[1])
    y = x.astype(np.float64).copy()
    for i, f in enumerate(sizes):
        if f > 1:
            y[:, :, i] = (sums[:, steps + 1, i] - sums[:, np.maximum(steps + 1 - f, 0), i]) / f
    return y


@pytest.mark.parametrize("schedule,shifts", [("dyadic", 16), ("linear", 0)])
def test_haar_is_exact_at_long_contexts_with_a_large_mean(schedule, shifts, monkeypatch):
    """Each window is a sum of its own inputs, not a difference of running
    sums: with inputs of mean 50 the error stays at float32 round-off of
    the window (~6e-6) at any length. A difference of running sums was off
    by 1.3e-2 at T = 4,096. (Both errors are maxima over as many outputs.)"""
    monkeypatch.setattr(causal_wavelet, "MAX_SHIFTS", shifts)  # windows by shifts; gathers
    layer = CausalWavelet(max_kernel=512, schedule=schedule)
    short, long = _error_at_mean_50(layer, 128, batch=32), _error_at_mean_50(layer, 4096)
    assert long < 5e-5 and long <= 2 * short, (short, long)


def test_haar_streaming_is_exact_with_a_large_mean():
    """One token at a time, the window's cached inputs summed directly."""
    time = 300
    x = (50.0 + np.random.default_rng(9).normal(size=(2, time, 16))).astype("float32")
    layer = CausalWavelet(max_kernel=256)
    layer.build(x.shape)
    cache = layer.initial_cache(2, time)
    steps = []
    for t in range(time):
        y, cache = layer.call_with_cache(x[:, t : t + 1], cache, t)
        steps.append(to_numpy(y))
    error = np.abs(np.concatenate(steps, 1) - ref_moving_average_fast(x, layer.channel_kernel_sizes))
    assert error.max() < 2e-5


@pytest.mark.parametrize("schedule", ["dyadic", "linear"])
def test_learnable_equals_haar_at_init(schedule):
    x = np.random.default_rng(1).normal(size=(2, 40, 16)).astype("float32")
    fixed = CausalWavelet(max_kernel=32, schedule=schedule)
    learned = CausalWavelet(max_kernel=32, schedule=schedule, learnable=True)
    np.testing.assert_allclose(to_numpy(learned(x)), to_numpy(fixed(x)), atol=2e-5)
    assert learned.count_params() == int(learned.channel_kernel_sizes[8:].sum())


@pytest.mark.parametrize(
    "schedule,time,max_kernel,fft",
    # fft=True with 128: groups of 32+ taps go through the FFT, with T shorter
    # and longer than the longest kernel.
    [("dyadic", 30, 16, False), ("linear", 30, 16, False), ("dyadic", 6, 16, False),
     ("dyadic", 70, 128, True), ("linear", 150, 128, True), ("linear", 150, 128, False)],
)
def test_learnable_matches_reference_with_random_kernels(
    schedule, time, max_kernel, fft, fir_method
):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, time, 12)).astype("float32")
    layer = CausalWavelet(max_kernel=max_kernel, schedule=schedule, learnable=True, fft=fft)
    layer.build(x.shape)
    kernels = assign_random_kernels(layer, rng, 6)
    assert [len(k) for k in kernels] == layer.channel_kernel_sizes[6:].tolist()
    np.testing.assert_allclose(to_numpy(layer(x)), ref_fir(x, kernels, 6), atol=1e-4)


@pytest.mark.parametrize("rows,cols,shift", [(4, 4, 0), (8, 4, 4), (6, 3, 2), (3, 3, 7), (2, 9, 1)])
def test_toeplitz_by_hand(rows, cols, shift):
    h = np.random.default_rng(6).normal(size=(5, 3)).astype("float32")  # (K, c)
    expected = np.zeros((3, rows, cols), "float32")
    for w in range(rows):
        for t in range(cols):
            if 0 <= t + shift - w < 5:
                expected[:, w, t] = h[t + shift - w]
    np.testing.assert_array_equal(to_numpy(causal_ops.toeplitz(h, rows, cols, shift)), expected)


def test_ema_matches_reference():
    x = np.random.default_rng(3).normal(size=(2, 25, 10)).astype("float32")
    layer = CausalEMA(fraction=0.5)
    y = to_numpy(layer(x))
    alphas = 1 - np.arange(5) / 5
    np.testing.assert_allclose(y, ref_ema(x, alphas, 5), atol=2e-5)
    np.testing.assert_array_equal(y[:, :, :5], x[:, :, :5])


# --- causality, gradients, precision ----------------------------------------


@pytest.mark.parametrize("position", [0, 9, 30])
def test_fft_path_is_causal_up_to_round_off(position):
    x = np.random.default_rng(4).normal(size=(2, 32, 8)).astype("float32")
    layer = CausalWavelet(max_kernel=64, learnable=True, fft=True)  # 32-tap group: FFT
    changed = x.copy()
    changed[:, position + 1 :] += 3.0
    before, after = to_numpy(layer(x)), to_numpy(layer(changed))
    np.testing.assert_allclose(before[:, : position + 1], after[:, : position + 1], atol=1e-5)
    assert not np.allclose(before[:, position + 1 :], after[:, position + 1 :])


@pytest.mark.parametrize(
    "layer_fn",
    [
        lambda: CausalWavelet(max_kernel=16),
        lambda: CausalWavelet(max_kernel=16, schedule="linear", learnable=True),
        lambda: CausalEMA(),
    ],
    ids=["haar", "learnable", "ema"],
)
@pytest.mark.parametrize("position", [0, 9, 30])
def test_mixers_are_causal(layer_fn, position):
    x = np.random.default_rng(4).normal(size=(2, 32, 8)).astype("float32")
    assert_causal(layer_fn(), x, lambda v: v + 3.0, position)


@pytest.mark.parametrize("position", [0, 31, 40, 68])
def test_haar_is_causal_every_way(position, box_method):
    # 70 steps, windows up to 64 steps.
    x = np.random.default_rng(4).normal(size=(2, 70, 8)).astype("float32")
    assert_causal(CausalWavelet(max_kernel=64), x, lambda v: v * 10.0 + 3.0, position)


@pytest.mark.parametrize("position", [0, 30, 31, 63])
def test_haar_keeps_nan_in_later_steps(position, box_method):
    # Sums and shifts only: a NaN reaches no earlier step.
    x = np.random.default_rng(5).normal(size=(2, 70, 8)).astype("float32")
    assert_causal(CausalWavelet(max_kernel=64), x, lambda v: v * np.nan, position)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="graphs of unknown T: TF")
@pytest.mark.parametrize("learnable", [False, True])
def test_time_unknown_at_trace(learnable, monkeypatch):
    # The running sum without blocks and the FIR as a depthwise convolution,
    # even where blocked products are asked for.
    monkeypatch.setattr(causal_wavelet, "MATMUL_FROM_STEPS", {"tensorflow": 1})
    import tensorflow as tf

    layer = CausalWavelet(max_kernel=32, schedule="linear", learnable=learnable)
    layer.build((None, None, 12))
    call = tf.function(layer, input_signature=[tf.TensorSpec((None, None, 12), "float32")])
    rng = np.random.default_rng(8)
    for time in (5, 37):
        x = rng.normal(size=(2, time, 12)).astype("float32")
        if learnable:
            expected = ref_fir(x, assign_random_kernels(layer, rng, 6), 6)
        else:
            expected = ref_moving_average(x, kernel_schedule(12, 32, schedule="linear"))
        np.testing.assert_allclose(call(x).numpy(), expected, atol=1e-4)


@pytest.mark.parametrize("position", [0, 31, 40, 68])
def test_learnable_is_causal_both_ways(position, fir_method):
    # 70 steps, kernels up to 64 taps: blocks of 32, windows three blocks long.
    x = np.random.default_rng(4).normal(size=(2, 70, 8)).astype("float32")
    layer = CausalWavelet(max_kernel=64, learnable=True)
    layer.build(x.shape)
    layer.taps.assign(np.random.default_rng(7).normal(size=layer.taps.shape).astype("float32"))
    assert_causal(layer, x, lambda v: v * 10.0 + 3.0, position)


@pytest.mark.parametrize("max_kernel,time,fft", [(16, 24, False), (40, 40, True), (64, 70, False)])
def test_learnable_gradients_reach_every_tap_and_are_finite(max_kernel, time, fft, fir_method):
    layer = CausalWavelet(max_kernel=max_kernel, schedule="linear", learnable=True, fft=fft)
    model = layer_model(layer, time, 8)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, time, 8)).astype("float32")
    grads = sgd_gradients(model, x, rng.normal(size=(4, time, 8)).astype("float32"), "mse")
    (g,) = grads.values()
    assert g.shape == (layer.channel_kernel_sizes[4:].sum(),)
    assert np.isfinite(g).all() and (g != 0).all()


@pytest.mark.parametrize("learnable", [False, True])
def test_mixed_precision_accumulates_in_float32(learnable):
    """Under mixed_float16, 128-step averages of float16 values near 1000
    are float32 sums (exact here: multiples of 0.5, divided by powers of
    two), rounded once to float16. Float16 sums would pass 65,504 and
    overflow."""
    x = (1000.0 + 4.0 * np.random.default_rng(6).normal(size=(2, 160, 16))).astype("float16")
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    layer = CausalWavelet(max_kernel=128, learnable=learnable)
    y = layer(x)
    assert keras.backend.standardize_dtype(y.dtype) == "float16"
    assert all(keras.backend.standardize_dtype(w.dtype) == "float32" for w in layer.weights)
    expected = ref_moving_average(x.astype("float64"), layer.channel_kernel_sizes)
    np.testing.assert_array_equal(to_numpy(y), expected.astype("float16"))


# --- serialisation ----------------------------------------------------------


@pytest.mark.parametrize(
    "layer_fn",
    [
        lambda: CausalWavelet(max_kernel=8, fraction=0.25, schedule="linear"),
        lambda: CausalWavelet(max_kernel=16, learnable=True),
        lambda: CausalWavelet(max_kernel=64, learnable=True, fft=True),
        lambda: CausalEMA(fraction=0.75),
    ],
    ids=["haar", "learnable", "learnable_fft", "ema"],
)
def test_layer_save_load_round_trip(layer_fn, tmp_path):
    layer = layer_fn()
    model = layer_model(layer, 20, 8)
    rng = np.random.default_rng(7)
    for w in layer.weights:
        w.assign(rng.normal(size=w.shape).astype("float32"))
    x = rng.normal(size=(2, 20, 8)).astype("float32")
    path = str(tmp_path / "layer.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(to_numpy(restored(x)), to_numpy(model(x)))
    clone = layer.__class__.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


# --- bad input ----------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(max_kernel=12), ValueError, "power of two"),
        (dict(max_kernel=1), ValueError, "max_kernel"),
        (dict(max_kernel=8.0), TypeError, "max_kernel"),
        (dict(fraction=0.0), ValueError, "fraction"),
        (dict(fraction=1.5), ValueError, "fraction"),
        (dict(schedule="cubic"), ValueError, "schedule"),
        (dict(max_kernel=8, levels=()), ValueError, "levels"),
        (dict(max_kernel=8, levels=(0, 1)), ValueError, "levels.*outside 1..3"),
        (dict(max_kernel=8, levels=(4,)), ValueError, "levels.*outside 1..3"),
        (dict(max_kernel=8, levels=(1, 1)), ValueError, "levels.*repeats"),
        (dict(max_kernel=8, levels=(1.0,)), TypeError, "levels"),
        (dict(max_kernel=8, levels=(1,), schedule="linear"), ValueError, "levels"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        CausalWavelet(**kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match="rank 2"):
        CausalWavelet(max_kernel=8)(np.zeros((2, 8), "float32"))
    with pytest.raises(TypeError, match="floating-point"):
        CausalWavelet(max_kernel=8)(np.zeros((2, 8, 4), "int32"))
    with pytest.raises(ValueError, match="rounds to 0"):
        CausalEMA(fraction=0.1)(np.zeros((2, 8, 4), "float32"))
