import keras
import numpy as np
import pytest

from keras_wavegpt.layers import (
    TimeFrequencyFilterbank,
    filterbank_activation_size,
    get_mixer,
)
from tests.helpers import assert_causal, layer_model, sgd_gradients, to_numpy


# --- independent numpy reference ----------------------------------------------


def causal_correlate(signal, kernel):
    """out[t] = sum_j kernel[j] * signal[t - k + 1 + j], zeros before the start."""
    k = len(kernel)
    padded = np.concatenate([np.zeros(k - 1), signal])
    return np.array([padded[t : t + k] @ kernel for t in range(len(signal))])


def relu(v):
    return np.maximum(v, 0.0)


def gelu(v):
    from scipy.special import erf

    return 0.5 * v * (1 + erf(v / np.sqrt(2)))


def ref_filterbank(x, params, kernel_sizes, start, token_weights=None, act=relu):
    """The layer's equations, one signal and one filter at a time, in float64."""
    x = x.astype(np.float64)
    batch, time, _ = x.shape
    y = x.copy()
    per_group = params["gain"].shape[0] // len(kernel_sizes)
    for b in range(batch):
        for i in range(start, x.shape[2]):
            u = x[b, :, i]
            r = np.zeros(time)
            for g in range(len(kernel_sizes)):
                A, bias = params[f"analysis_{g}"], params[f"analysis_bias_{g}"]
                D, S = params[f"depthwise_{g}"], params[f"synthesis_{g}"]
                for m in range(per_group):
                    a = act(causal_correlate(u, A[:, m]) + bias[m])
                    s = causal_correlate(a, D[:, m])
                    f = g * per_group + m
                    w = 1.0 if token_weights is None else token_weights[b, :, f]
                    r += causal_correlate(s * params["gain"][f] * w, S[:, m])
            y[b, :, i] = u + r
    return y


def randomize(layer, rng, scale=0.5):
    """Move every weight off its initial value; returns {name: value}."""
    values = {}
    for w in layer.weights:
        value = (rng.normal(size=w.shape) * scale).astype("float32")
        w.assign(value)
        values[w.name] = value
    return values


# --- numbers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "kernel_sizes,time,act", [((5,), 19, relu), ((2, 4, 8), 19, relu), ((8,), 5, gelu)]
)
def test_matches_reference(kernel_sizes, time, act):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, time, 6)).astype("float32")
    layer = TimeFrequencyFilterbank(
        num_filters=6, kernel_sizes=kernel_sizes, activation=act.__name__
    )
    layer.build(x.shape)
    params = randomize(layer, rng)
    expected = ref_filterbank(x, params, kernel_sizes, start=3, act=act)
    np.testing.assert_allclose(to_numpy(layer(x)), expected, atol=1e-4)


def test_channel_chunks_match_reference(monkeypatch):
    from keras_wavegpt.layers import time_frequency_filterbank as filterbank

    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 19, 6)).astype("float32")
    # Room for two channels' representations per chunk: 3 channels -> 2 + 1.
    monkeypatch.setattr(filterbank, "_CHUNK_FLOATS", 2 * (2 * 19 * 6))
    layer = TimeFrequencyFilterbank(num_filters=6, kernel_sizes=(2, 4))
    layer.build(x.shape)
    chunks = [(0, 3)] if keras.backend.backend() == "tensorflow" else [(0, 2), (2, 3)]
    assert layer._chunks(x.shape, 3) == chunks
    params = randomize(layer, rng)
    expected = ref_filterbank(x, params, (2, 4), start=3)
    np.testing.assert_allclose(to_numpy(layer(x)), expected, atol=1e-4)


def test_adaptive_matches_reference_given_its_token_weights():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 12, 4)).astype("float32")
    layer = TimeFrequencyFilterbank(
        num_filters=4, kernel_sizes=(3, 5), adaptive=True, adaptive_dim=8, adaptive_heads=2
    )
    layer.build(x.shape)
    params = randomize(layer, rng)
    w = to_numpy(layer.token_weights(x))
    assert w.shape == (2, 12, 4)
    assert (w > 0).all() and (w < 2).all() and w.std() > 0.05  # really token-adaptive
    expected = ref_filterbank(x, params, (3, 5), start=2, token_weights=w)
    np.testing.assert_allclose(to_numpy(layer(x)), expected, atol=1e-4)


@pytest.mark.parametrize("adaptive", [False, True])
def test_identity_at_init(adaptive):
    x = np.random.default_rng(2).normal(size=(2, 16, 8)).astype("float32")
    layer = TimeFrequencyFilterbank(num_filters=12, kernel_sizes=(4, 8), adaptive=adaptive)
    np.testing.assert_array_equal(to_numpy(layer(x)), x)
    if adaptive:  # the weighting also starts neutral: w = 1
        np.testing.assert_allclose(to_numpy(layer.token_weights(x)), 1.0)


def test_adaptive_at_neutral_weights_equals_fixed():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 10, 6)).astype("float32")
    fixed = TimeFrequencyFilterbank(num_filters=6, kernel_sizes=(2, 4))
    adaptive = TimeFrequencyFilterbank(num_filters=6, kernel_sizes=(2, 4), adaptive=True)
    fixed.build(x.shape)
    adaptive.build(x.shape)
    for w in fixed.weights:  # same filters; adaptive_out stays zero, so w = 1
        value = rng.normal(size=w.shape).astype("float32")
        w.assign(value)
        next(v for v in adaptive.weights if v.path.endswith(w.path.split("/", 1)[1])).assign(
            value
        )
    np.testing.assert_allclose(to_numpy(adaptive(x)), to_numpy(fixed(x)), atol=1e-5)


# --- shapes, parameters, memory ---------------------------------------------------


def test_multiscale_shapes_and_parameter_count():
    layer = TimeFrequencyFilterbank(num_filters=144, kernel_sizes=(4, 16, 64))
    x = np.random.default_rng(4).normal(size=(2, 20, 16)).astype("float32")
    assert layer(x).shape == (2, 20, 16)
    shapes = {w.name: tuple(w.shape) for w in layer.weights}
    for g, k in enumerate((4, 16, 64)):
        for kind in ("analysis", "depthwise", "synthesis"):
            assert shapes[f"{kind}_{g}"] == (k, 48)
        assert shapes[f"analysis_bias_{g}"] == (48,)
    assert shapes["gain"] == (144,)
    assert layer.count_params() == 3 * 48 * (4 + 16 + 64) + 144 + 144
    assert tuple(layer.analyze(x).shape) == (2, 20, 8, 144)


def test_default_overhead_is_thousands():
    layer = TimeFrequencyFilterbank()
    layer.build((None, None, 128))
    assert layer.count_params() == 3 * 144 * 16 + 144 + 144  # 7,200
    adaptive = TimeFrequencyFilterbank(adaptive=True)
    adaptive.build((None, None, 128))
    extra = sum(
        sub.count_params()
        for sub in (adaptive.adaptive_in, adaptive.adaptive_block, adaptive.adaptive_out)
    )
    assert adaptive.count_params() == 7_200 + extra < 30_000


@pytest.mark.parametrize("fraction,num_filters", [(1.0, 24), (0.5, 24), (0.25, 24), (0.5, 6)])
def test_representation_size_is_the_documented_formula(fraction, num_filters):
    x = np.random.default_rng(5).normal(size=(3, 10, 16)).astype("float32")
    layer = TimeFrequencyFilterbank(num_filters=num_filters, kernel_sizes=(2, 4), fraction=fraction)
    size = int(np.prod(layer.analyze(x).shape))
    assert size == filterbank_activation_size(3, 10, 16, num_filters, fraction)
    assert size == 3 * 10 * round(16 * fraction) * num_filters  # fraction and M bound it


# --- causality, gradients, serialisation ------------------------------------------


@pytest.mark.parametrize("adaptive", [False, True])
@pytest.mark.parametrize("position", [0, 7, 20])
def test_causal(adaptive, position):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 24, 8)).astype("float32")
    layer = TimeFrequencyFilterbank(num_filters=8, kernel_sizes=(3, 9), adaptive=adaptive)
    layer.build(x.shape)
    randomize(layer, rng)
    assert_causal(layer, x, lambda v: v + 3.0, position)
    if adaptive:  # the weighting Transformer on its own, too
        assert_causal(layer.token_weights, x, lambda v: v + 3.0, position)


@pytest.mark.parametrize("adaptive", [False, True])
def test_gradients_reach_every_weight(adaptive):
    rng = np.random.default_rng(7)
    layer = TimeFrequencyFilterbank(num_filters=6, kernel_sizes=(2, 4), adaptive=adaptive)
    model = layer_model(layer, 12, 6)
    randomize(layer, rng, scale=0.3)
    x = rng.normal(size=(4, 12, 6)).astype("float32")
    grads = sgd_gradients(model, x, rng.normal(size=(4, 12, 6)).astype("float32"), "mse")
    assert len(grads) == len(layer.trainable_weights)
    for path, g in grads.items():
        assert np.isfinite(g).all(), path
        if not path.endswith("key/bias"):  # softmax ignores a bias shared by all keys
            assert np.abs(g).max() > 0, path


def test_from_zero_synthesis_one_step_moves_it():
    """At init only the synthesis gets a gradient (the rest sits behind S = 0)."""
    rng = np.random.default_rng(8)
    layer = TimeFrequencyFilterbank(num_filters=6, kernel_sizes=(2, 4))
    model = layer_model(layer, 12, 6)
    x = rng.normal(size=(4, 12, 6)).astype("float32")
    grads = sgd_gradients(model, x, rng.normal(size=(4, 12, 6)).astype("float32"), "mse")
    moved = {path.rsplit("/", 1)[1] for path, g in grads.items() if np.abs(g).max() > 0}
    assert moved == {"synthesis_0", "synthesis_1"}


@pytest.mark.parametrize("adaptive", [False, True])
def test_save_load_round_trip(adaptive, tmp_path):
    rng = np.random.default_rng(9)
    layer = TimeFrequencyFilterbank(
        num_filters=6, kernel_sizes=[3, 5], fraction=0.75, adaptive=adaptive,
        adaptive_dim=8, adaptive_heads=2, activation="gelu",
    )
    model = layer_model(layer, 15, 8)
    randomize(layer, rng)
    x = rng.normal(size=(2, 15, 8)).astype("float32")
    path = str(tmp_path / "filterbank.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(to_numpy(restored(x)), to_numpy(model(x)))
    clone = TimeFrequencyFilterbank.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_registry_passes_arguments_through():
    layer = get_mixer("filterbank", max_sequence_length=64, num_filters=12, kernel_sizes=(4, 8), name="gap")
    assert isinstance(layer, TimeFrequencyFilterbank)
    assert (layer.num_filters, layer.kernel_sizes, layer.name) == (12, (4, 8), "gap")


# --- bad input --------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(num_filters=10, kernel_sizes=(4, 16, 64)), ValueError, "equal groups"),
        (dict(num_filters=0), ValueError, "num_filters"),
        (dict(num_filters=12.0), TypeError, "num_filters"),
        (dict(kernel_sizes=(4, 0)), ValueError, "kernel_sizes"),
        (dict(kernel_sizes=()), ValueError, "kernel_sizes"),
        (dict(fraction=0.0), ValueError, "fraction"),
        (dict(fraction=1.5), ValueError, "fraction"),
        (dict(adaptive=True, adaptive_dim=30, adaptive_heads=4), ValueError, "adaptive_heads"),
        (dict(activation="wiggle"), ValueError, "wiggle"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        TimeFrequencyFilterbank(**kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match="rank 2"):
        TimeFrequencyFilterbank()(np.zeros((2, 8), "float32"))
    with pytest.raises(TypeError, match="floating-point"):
        TimeFrequencyFilterbank()(np.zeros((2, 8, 4), "int32"))


@pytest.mark.parametrize("adaptive", [False, True])
def test_mixed_precision_close_to_float32(adaptive):
    rng = np.random.default_rng(10)
    x = rng.normal(size=(2, 24, 8)).astype("float32")
    kwargs = dict(num_filters=12, kernel_sizes=(4, 8), adaptive=adaptive, adaptive_dim=8)
    full = TimeFrequencyFilterbank(**kwargs)
    full.build(x.shape)
    values = [(rng.normal(size=w.shape) * 0.3).astype("float32") for w in full.weights]
    for w, v in zip(full.weights, values):
        w.assign(v)
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    half = TimeFrequencyFilterbank(**kwargs)
    half.build(x.shape)
    for w, v in zip(half.weights, values):
        w.assign(v)
    y = half(keras.ops.cast(x, "float16"))
    assert keras.backend.standardize_dtype(y.dtype) == "float16"
    assert all(keras.backend.standardize_dtype(w.dtype) == "float32" for w in half.weights)
    np.testing.assert_allclose(to_numpy(y).astype("float32"), to_numpy(full(x)), atol=3e-2)
