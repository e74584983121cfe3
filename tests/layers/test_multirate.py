import keras
import numpy as np
import pytest

from keras_wavegpt.layers import (
    BoundedParameter,
    ChannelBottleneck,
    DSPDecoderBlock,
    LFORouting,
    MultirateDecomposition,
    is_meta_parameter,
)
from tests.helpers import assert_causal, layer_model, sgd_gradients, to_numpy

# --- independent numpy references (float64, one time step at a time) -------------


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def gelu(v):
    from scipy.special import erf

    return 0.5 * v * (1 + erf(v / np.sqrt(2)))


def bounded(logit, lo, hi):
    return lo + (hi - lo) * sigmoid(logit)


def causal_fir(x, kernel):
    """y[:, t, c] = sum_j kernel[j, c] x[:, t - L + 1 + j, c]."""
    taps = kernel.shape[0]
    y = np.zeros_like(x)
    for t in range(x.shape[1]):
        for j in range(taps):
            source = t - taps + 1 + j
            if source >= 0:
                y[:, t] += kernel[j] * x[:, source]
    return y


def ref_multirate(x, p, s):
    x = x.astype(np.float64)
    taps = p["lowpass"].shape[0]
    upsampled = np.zeros_like(x)
    j = 0
    while (j + 1) * s - 1 < x.shape[1]:  # complete blocks only
        end = (j + 1) * s - 1
        for k in range(taps):
            if end - taps + 1 + k >= 0:
                upsampled[:, end] += p["lowpass"][k] * x[:, end - taps + 1 + k]
        j += 1
    low = causal_fir(upsampled, p["reconstruction"])
    detail = causal_fir(x - low, p["detail"])
    m, alpha = bounded(p["mix_ratio"], 0.2, 0.6), bounded(p["detail_strength"], 0.5, 1.0)
    return m * x + (1 - m) * (low + alpha * detail)


def ref_lfo(x, p, routes, max_frequency):
    x = x.astype(np.float64)
    batch, time, channels = x.shape
    d = channels // routes
    kernel, bias = p["kernel"], p["bias"]  # (ks, d, D), (D,)
    routed = np.zeros_like(x) + bias
    for f in range(channels):
        r = f // d
        for j in range(kernel.shape[0]):
            for i in range(d):
                shifted = np.zeros((batch, time))
                lag = kernel.shape[0] - 1 - j
                shifted[:, lag:] = x[:, : time - lag, r * d + i]
                routed[:, :, f] += kernel[j, i, f] * shifted
    frequency = max_frequency * sigmoid(p["frequency_logit"])
    temperature = bounded(p["gate_temperature"], 0.5, 2.0)
    rho = bounded(p["residual_mix"], 0.2, 0.5)
    y = np.empty_like(x)
    for t in range(time):
        u = (p["amplitude"] * np.sin(2 * np.pi * frequency * t + p["phase"])).sum(-1)
        gamma = np.repeat(sigmoid((u + p["gate_bias"]) / temperature), d)  # (D,)
        mixed = gamma * routed[:, t] + (1 - gamma) * x[:, t]
        y[:, t] = rho * x[:, t] + (1 - rho) * mixed
    return y


def ref_bottleneck(x, p):
    x = x.astype(np.float64)
    channels = x.shape[-1]
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    z = (x - mean) / np.sqrt(var + 1e-5) * p["gamma"] + p["beta"]
    hidden = gelu(z @ p["down/kernel"] + p["down/bias"])
    width = bounded(p["bottleneck_ratio"], 0.15, 0.35) * channels
    mask = sigmoid(width - (np.arange(hidden.shape[-1]) + 0.5))
    update = ((hidden * mask) @ p["up/kernel"] + p["up/bias"]) * p["residual_weight"]
    return x + (1 - bounded(p["residual_mix"], 0.3, 0.7)) * update


def randomize(layer, rng, scale=0.5):
    """Move every weight off its initial value; returns {short path: value}."""
    values = {}
    prefix = layer.path + "/"
    for w in layer.weights:
        value = (rng.normal(size=w.shape) * scale).astype("float32")
        w.assign(value)
        key = w.path[len(prefix):].replace("/logit", "")
        key = key.split("route_conv/")[-1].split("norm/")[-1]
        values[key] = value
    return values


# --- BoundedParameter ---------------------------------------------------------------


def test_bounded_parameter_starts_at_its_value_and_tags_only_adaptive():
    fixed = BoundedParameter(0.5, 2.0, 1.2, name="t")
    fixed.build()
    assert float(to_numpy(fixed.value)) == pytest.approx(1.2, abs=1e-6)
    assert not fixed.logit.trainable and not is_meta_parameter(fixed.logit)
    adaptive = BoundedParameter(0.5, 2.0, 1.2, adaptive=True)
    adaptive.build()
    assert adaptive.logit.trainable and is_meta_parameter(adaptive.logit)
    clone = BoundedParameter.from_config(adaptive.get_config())
    assert clone.get_config() == adaptive.get_config()


@pytest.mark.parametrize("step", [1e3, -1e3, 1e6, -1e6])
def test_bounded_parameter_stays_in_range_after_huge_steps(step):
    p = BoundedParameter(0.15, 0.35, 0.25, adaptive=True)
    p.build()
    p.logit.assign(p.logit + step)
    value = float(to_numpy(p.value))
    assert 0.15 <= value <= 0.35
    assert value == pytest.approx(0.35 if step > 0 else 0.15, abs=1e-6)


def test_bounded_parameters_stay_in_range_under_a_huge_sgd_step():
    rng = np.random.default_rng(4)
    layer = ChannelBottleneck(adaptive=True)
    model = layer_model(layer, 6, 16)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e9), loss="mse")
    x = rng.normal(size=(4, 6, 16)).astype("float32")
    model.train_on_batch(x, 100 * x)
    for p in (layer.bottleneck_ratio, layer.residual_mix):
        assert abs(float(to_numpy(p.logit))) > 100  # it really was pushed far
        assert p.lo <= float(to_numpy(p.value)) <= p.hi


@pytest.mark.parametrize(
    "args,error,match",
    [
        ((0.6, 0.2, 0.4), ValueError, "lo < hi"),
        ((0.2, 0.2, 0.2), ValueError, "lo < hi"),
        ((0.2, 0.6, 0.6), ValueError, "strictly inside"),
        ((0.2, 0.6, 0.1), ValueError, "strictly inside"),
        ((0.2, float("nan"), 0.4), ValueError, "finite"),
        ((0.2, "0.6", 0.4), TypeError, "number"),
    ],
)
def test_bounded_parameter_bad_ranges(args, error, match):
    with pytest.raises(error, match=match):
        BoundedParameter(*args)


# --- numbers against the references ----------------------------------------------------


@pytest.mark.parametrize("s,taps,time", [(2, 4, 13), (3, 3, 14), (4, 6, 3), (1, 2, 7)])
def test_multirate_matches_reference(s, taps, time):
    rng = np.random.default_rng(s * 10 + taps)
    layer = MultirateDecomposition(s, taps)
    layer.build((2, time, 5))
    p = randomize(layer, rng)
    x = rng.normal(size=(2, time, 5)).astype("float32")
    np.testing.assert_allclose(to_numpy(layer(x)), ref_multirate(x, p, s), atol=2e-5)


def test_multirate_starts_as_the_mean_of_the_latest_complete_block():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 11, 3)).astype("float32")
    layer = MultirateDecomposition(downsample=3)
    layer.build(x.shape)
    low = to_numpy(layer.coarse(x))
    for t in range(11):
        done = (t + 1) // 3  # complete blocks so far
        expected = np.zeros(3) if done == 0 else x[0, 3 * done - 3 : 3 * done].mean(0)
        np.testing.assert_allclose(low[0, t], expected, atol=1e-6)


@pytest.mark.parametrize("routes,kernel_size,time", [(4, 3, 11), (2, 1, 6), (1, 4, 9)])
def test_lfo_routing_matches_reference(routes, kernel_size, time):
    rng = np.random.default_rng(routes)
    layer = LFORouting(routes, num_lfos=3, kernel_size=kernel_size, max_frequency=0.2)
    layer.build((2, time, 8))
    p = randomize(layer, rng)
    x = rng.normal(size=(2, time, 8)).astype("float32")
    np.testing.assert_allclose(to_numpy(layer(x)), ref_lfo(x, p, routes, 0.2), atol=2e-5)


def test_lfo_frequencies_start_spread_below_the_maximum():
    layer = LFORouting(num_routes=2, num_lfos=2, max_frequency=0.1)
    layer.build((1, 4, 8))
    frequency = 0.1 / (1 + np.exp(-to_numpy(layer.frequency_logit)))
    np.testing.assert_allclose(np.sort(frequency.ravel()), [0.0125, 0.0375, 0.0625, 0.0875], atol=1e-6)


@pytest.mark.parametrize("channels", [8, 20])
def test_bottleneck_matches_reference(channels):
    rng = np.random.default_rng(channels)
    layer = ChannelBottleneck(bottleneck_ratio=0.3)
    layer.build((2, 5, channels))
    assert layer.max_width == int(np.ceil(0.35 * channels))
    p = randomize(layer, rng)
    x = rng.normal(size=(2, 5, channels)).astype("float32")
    np.testing.assert_allclose(to_numpy(layer(x)), ref_bottleneck(x, p), atol=2e-5)


def test_bottleneck_ratio_gets_a_gradient_through_the_mask():
    rng = np.random.default_rng(3)
    model = layer_model(ChannelBottleneck(adaptive=True), 6, 16)
    x = rng.normal(size=(4, 6, 16)).astype("float32")
    grads = sgd_gradients(model, x, rng.normal(size=(4, 6, 16)).astype("float32"), "mse")
    ratio = [g for path, g in grads.items() if "bottleneck_ratio" in path]
    assert len(ratio) == 1 and abs(float(ratio[0])) > 0


# --- causality --------------------------------------------------------------------------


LAYERS = {
    "multirate": lambda: MultirateDecomposition(downsample=3, filter_length=5),
    "lfo": lambda: LFORouting(num_routes=2, kernel_size=3),
    "bottleneck": lambda: ChannelBottleneck(),
    "block": lambda: DSPDecoderBlock(
        2, 16, pre_attention=MultirateDecomposition(4), post_attention=LFORouting(2),
        post_mlp=ChannelBottleneck(),
    ),
}


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("position", [0, 4, 10])
def test_causal(name, position):
    rng = np.random.default_rng(position)
    layer = LAYERS[name]()
    layer.build((2, 17, 8))
    randomize(layer, rng, scale=0.3)
    x = rng.normal(size=(2, 17, 8)).astype("float32")
    assert_causal(layer, x, lambda v: v + 1.0 + rng.normal(size=v.shape), position)


# --- the decoder block ---------------------------------------------------------------------


def test_block_without_slots_is_keras_hubs_transformer_decoder():
    import keras_hub

    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 9, 16)).astype("float32")
    reference = keras_hub.layers.TransformerDecoder(32, 4, normalize_first=True, activation="gelu")
    reference.build((2, 9, 16))
    block = DSPDecoderBlock(4, 32)
    block.build((2, 9, 16))
    assert [w.shape for w in block.weights] == [w.shape for w in reference.weights]
    block.set_weights([(rng.normal(size=w.shape) * 0.3).astype("float32") for w in block.weights])
    reference.set_weights(block.get_weights())
    np.testing.assert_allclose(to_numpy(block(x)), to_numpy(reference(x)), atol=1e-5)


def test_non_causal_block_is_keras_hubs_transformer_encoder():
    import keras_hub

    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 9, 16)).astype("float32")
    reference = keras_hub.layers.TransformerEncoder(
        32, 4, normalize_first=True, activation="gelu", layer_norm_epsilon=1e-5)
    reference.build((2, 9, 16))
    block = DSPDecoderBlock(4, 32, causal=False)
    block.build((2, 9, 16))
    block.set_weights([(rng.normal(size=w.shape) * 0.3).astype("float32") for w in block.weights])
    # Same weights under other names and in another order: match them by name.
    ours = {w.path.split("/", 1)[1].replace("self_attention/", "self_attention_layer/"): w
            for w in block.weights}
    for w in reference.weights:
        w.assign(ours[w.path.split("/", 1)[1]])
    np.testing.assert_allclose(to_numpy(block(x)), to_numpy(reference(x)), atol=1e-5)
    # Bidirectional: the first position sees the last one.
    later = x.copy()
    later[:, -1] = rng.normal(size=later[:, -1].shape)
    assert not np.allclose(to_numpy(block(later))[:, 0], to_numpy(block(x))[:, 0])
    assert DSPDecoderBlock.from_config(block.get_config()).causal is False


@pytest.mark.parametrize("adaptive", [False, True])
def test_save_load_round_trip(adaptive, tmp_path):
    rng = np.random.default_rng(11)
    block = DSPDecoderBlock(
        2, 16,
        pre_attention=MultirateDecomposition(2, adaptive=adaptive),
        post_attention=LFORouting(4, adaptive=adaptive),
        post_mlp=ChannelBottleneck(adaptive=adaptive),
    )
    model = layer_model(block, 12, 8)
    randomize(block, rng, scale=0.3)
    x = rng.normal(size=(2, 12, 8)).astype("float32")
    path = str(tmp_path / "block.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(to_numpy(restored(x)), to_numpy(model(x)))
    tags = [is_meta_parameter(w) for w in restored.weights if w.path.endswith("/logit")]
    assert len(tags) == 6 and all(t == adaptive for t in tags)
    for layer in (block.pre_attention, block.post_attention, block.post_mlp):
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build,error,match",
    [
        (lambda: MultirateDecomposition(downsample=0), ValueError, "downsample"),
        (lambda: MultirateDecomposition(downsample=1.5), TypeError, "downsample"),
        (lambda: MultirateDecomposition(downsample="2"), TypeError, "downsample"),
        (lambda: MultirateDecomposition(downsample=4, filter_length=3), ValueError, "filter_length"),
        (lambda: MultirateDecomposition(mix_ratio=0.9), ValueError, "strictly inside"),
        (lambda: LFORouting(num_routes=0), ValueError, "num_routes"),
        (lambda: LFORouting(max_frequency=0.7), ValueError, "max_frequency"),
        (lambda: LFORouting(gate_temperature=3.0), ValueError, "strictly inside"),
        (lambda: ChannelBottleneck(bottleneck_ratio=0.5), ValueError, "strictly inside"),
        (lambda: ChannelBottleneck(mask_softness=0), ValueError, "mask_softness"),
    ],
)
def test_bad_arguments(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_bad_inputs():
    with pytest.raises(ValueError, match="num_routes.*divide the model width 10"):
        LFORouting(num_routes=4)(np.zeros((2, 5, 10), "float32"))
    with pytest.raises(ValueError, match="rank 2"):
        MultirateDecomposition()(np.zeros((2, 8), "float32"))
    for layer in (MultirateDecomposition(), LFORouting(2), ChannelBottleneck()):
        with pytest.raises(TypeError, match="floating-point"):
            layer(np.zeros((2, 8, 4), "int32"))
    with pytest.raises(ValueError, match="num_heads"):
        DSPDecoderBlock(3, 16)(np.zeros((2, 8, 8), "float32"))


@pytest.mark.parametrize("name", ["multirate", "lfo", "bottleneck"])
def test_mixed_precision_close_to_float32(name):
    rng = np.random.default_rng(12)
    x = rng.normal(size=(2, 16, 8)).astype("float32")
    full = LAYERS[name]()
    full.build(x.shape)
    values = [(rng.normal(size=w.shape) * 0.3).astype("float32") for w in full.weights]
    full.set_weights(values)
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    half = LAYERS[name]()
    half.build(x.shape)
    half.set_weights(values)
    y = half(keras.ops.cast(x, "float16"))
    assert keras.backend.standardize_dtype(y.dtype) == "float16"
    assert all(keras.backend.standardize_dtype(w.dtype) == "float32" for w in half.weights)
    np.testing.assert_allclose(to_numpy(y).astype("float32"), to_numpy(full(x)), atol=3e-2)
