import keras
import numpy as np
import pytest
from keras.src import testing

from keras_wavegpt.layers import (
    CanonLayer,
    CausalWavelet,
    DSPDecoderBlock,
    MixerChain,
    get_mixer,
    is_mixer,
    mixer_arguments,
    mixer_placement,
)
from keras_wavegpt.data import causal_lm_inputs
from keras_wavegpt.models import build_gpt, gpt_preset
from tests.helpers import assert_causal, layer_model, to_numpy


def ref_canon(x, kernel, start, residual):
    """y_i[t] = [x_i[t]] + sum_k w[k, i] x_i[t - k] for channels >= start."""
    y = x.astype(np.float64).copy()
    for c in range(kernel.shape[1]):
        i = start + c
        for t in range(x.shape[1]):
            conv = sum(kernel[k, c] * x[:, t - k, i] for k in range(min(len(kernel), t + 1)))
            y[:, t, i] = conv + (x[:, t, i] if residual else 0.0)
    return y


def random_kernel(layer, rng):
    kernel = rng.normal(size=layer.kernel.shape).astype("float32")
    layer.kernel.assign(kernel)
    return kernel


# --- the Canon layer ----------------------------------------------------------


@pytest.mark.parametrize("residual", [True, False])
@pytest.mark.parametrize(
    # kernel 9 > T = 6: lags past the start meet only the padding.
    "kernel_size,fraction,shape",
    [(4, 1.0, (2, 13, 8)), (1, 0.5, (1, 5, 6)), (9, 0.25, (2, 6, 8)), (3, 1.0, (3, 40, 4))],
)
def test_canon_matches_reference(kernel_size, fraction, shape, residual):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype("float32")
    layer = CanonLayer(kernel_size, fraction, residual)
    layer.build(shape)
    kernel = random_kernel(layer, rng)
    start = shape[-1] - kernel.shape[1]
    np.testing.assert_allclose(to_numpy(layer(x)), ref_canon(x, kernel, start, residual),
                               atol=1e-5)


@pytest.mark.parametrize("residual", [True, False])
def test_canon_is_the_identity_at_init(residual):
    x = np.random.default_rng(1).normal(size=(2, 11, 8)).astype("float32")
    layer = CanonLayer(fraction=0.5, residual=residual)
    np.testing.assert_array_equal(to_numpy(layer(x)), x)
    assert layer.count_params() == 4 * 4


@pytest.mark.parametrize("position", [0, 5, 30])
def test_canon_is_causal(position):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 32, 8)).astype("float32")
    layer = CanonLayer(kernel_size=5, fraction=0.75)
    layer.build(x.shape)
    random_kernel(layer, rng)
    assert_causal(layer, x, lambda v: v + 10.0, position)


def test_canon_time_unknown_at_trace():
    rng = np.random.default_rng(3)
    layer = CanonLayer(kernel_size=3)
    model = layer_model(layer, None, 4)
    kernel = random_kernel(layer, rng)
    for time in (2, 9):
        x = rng.normal(size=(2, time, 4)).astype("float32")
        np.testing.assert_allclose(to_numpy(model(x)), ref_canon(x, kernel, 0, True), atol=1e-5)


def test_canon_gradients_reach_every_tap_from_zero():
    rng = np.random.default_rng(4)
    layer = CanonLayer(kernel_size=4)
    model = layer_model(layer, 16, 8)
    x = rng.normal(size=(4, 16, 8)).astype("float32")
    with_grad = keras.optimizers.SGD(learning_rate=1.0)
    model.compile(optimizer=with_grad, loss="mse")
    model.train_on_batch(x, rng.normal(size=x.shape).astype("float32"))
    moved = to_numpy(layer.kernel)
    assert np.isfinite(moved).all() and (moved != 0).all()


def test_canon_mixed_precision_accumulates_in_float32():
    """Under mixed_float16 the taps and sums stay float32. Each third step
    reads 0.3 * 1000 and 0.3 * -999.5 back: float32 gives their sum, 0.15;
    float16 products (ulp 0.25 near 300) lose it."""
    pattern = np.array([1000.0, -999.5, 0.01], "float32")
    x = np.tile(pattern, 8)[None, :, None].repeat(8, axis=2)  # (1, 24, 8)
    x = x.astype("float16").astype("float32")  # what the layer sees
    kernel = np.zeros((4, 8), "float32")
    kernel[1:3] = 0.3
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    layer = CanonLayer(kernel_size=4)
    layer.build(x.shape)
    layer.kernel.assign(kernel)
    y = layer(keras.ops.cast(x, "float16"))
    assert keras.backend.standardize_dtype(y.dtype) == "float16"
    assert keras.backend.standardize_dtype(layer.kernel.dtype) == "float32"
    np.testing.assert_allclose(to_numpy(y).astype("float32"), ref_canon(x, kernel, 0, True),
                               rtol=1e-3, atol=1e-3)


class CanonHarnessTest(testing.TestCase):
    """Keras' own layer checks: config round trip, symbolic shapes, training,
    mixed precision."""

    def test_canon(self):
        self.run_layer_test(
            CanonLayer, init_kwargs=dict(kernel_size=3, fraction=0.5, residual=False),
            input_shape=(2, 7, 6), expected_output_shape=(2, 7, 6),
            expected_num_trainable_weights=1, expected_num_non_trainable_weights=0,
        )

    def test_chain(self):
        self.run_layer_test(
            # Configs, not layers: the harness builds several chains. Each
            # part keeps its own dtype policy, so no mixed-precision check.
            MixerChain, init_kwargs=dict(mixers=[
                keras.saving.serialize_keras_object(p)
                for p in (CausalWavelet(max_kernel=4, learnable=True), CanonLayer())
            ]),
            input_shape=(2, 7, 6), expected_output_shape=(2, 7, 6),
            expected_num_trainable_weights=2, expected_num_non_trainable_weights=0,
            run_mixed_precision_check=False,
        )


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(kernel_size=0), ValueError, "kernel_size"),
        (dict(kernel_size=2.0), TypeError, "kernel_size"),
        (dict(kernel_size=True), TypeError, "kernel_size"),
        (dict(fraction=0.0), ValueError, "fraction"),
        (dict(residual=1), TypeError, "residual"),
    ],
)
def test_canon_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        CanonLayer(**kwargs)


# --- composition ------------------------------------------------------------------


def test_chain_applies_parts_in_order_with_their_own_arguments():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 20, 8)).astype("float32")
    chain = get_mixer("haar+canon", max_sequence_length=32, name="gap",
                      **{"haar.levels": (1, 2), "kernel_size": 3})
    assert isinstance(chain, MixerChain) and chain.name == "gap"
    haar, canon = chain.mixers
    assert haar.levels == (1, 2) and haar.max_kernel == 32 and canon.kernel_size == 3
    assert [haar.name, canon.name] == ["gap_haar", "gap_canon"]
    chain.build(x.shape)
    kernel = random_kernel(canon, rng)
    smoothed = to_numpy(haar(x))
    np.testing.assert_allclose(to_numpy(chain(x)), ref_canon(smoothed, kernel, 0, True),
                               atol=1e-5)
    nested = get_mixer("haar+canon", haar={"fraction": 0.25}, canon={"fraction": 0.5})
    assert (nested.mixers[0].fraction, nested.mixers[1].fraction) == (0.25, 0.5)


def test_chain_in_the_registry():
    assert is_mixer("haar+canon") and is_mixer("learnable + ema")
    assert not is_mixer("haar+wave") and not is_mixer("haar+multirate")
    assert mixer_placement("haar+canon") == "gap"
    arguments = mixer_arguments("haar+canon")
    assert {"haar.levels", "canon.kernel_size", "kernel_size", "fraction"} <= set(arguments)


@pytest.mark.parametrize(
    "name,kwargs,match",
    [
        ("haar+wave", {}, "Unknown mixer 'wave'"),
        ("haar+multirate", {}, "only gap mixers compose"),
        ("canon+canon", {}, "twice"),
        ("haar+canon", {"fraction": 0.5}, "accepted by \\['haar', 'canon'\\]"),
        ("haar+canon", {"ema.fraction": 0.5}, "no part 'ema'"),
        ("haar+canon", {"canon.max_kernel": 4}, "does not accept 'max_kernel'"),
        ("haar+canon", {"width": 4}, "no part accepts argument 'width'"),
    ],
)
def test_chain_bad_arguments(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        get_mixer(name, **kwargs)


@pytest.mark.parametrize("position", [3, 17])
def test_chain_is_causal(position):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, 24, 8)).astype("float32")
    chain = get_mixer("learnable+canon", max_kernel=8)
    chain.build(x.shape)
    for w in chain.weights:
        w.assign(rng.normal(size=w.shape).astype("float32"))
    assert_causal(chain, x, lambda v: v * -3.0, position)


# --- Canon inside the blocks (positions A and C) ----------------------------


def test_canon_block_fills_positions_a_and_c():
    slots = get_mixer("canon_block", kernel_size=3, name="b0")
    assert set(slots) == {"attention_input", "feedforward_input"}
    assert all(isinstance(s, CanonLayer) and s.kernel_size == 3 for s in slots.values())
    assert list(get_mixer("canon_block", positions="C")) == ["feedforward_input"]
    with pytest.raises(ValueError, match="positions"):
        get_mixer("canon_block", positions="AB")


def test_canon_at_init_leaves_the_gpt_unchanged():
    """Identity at init: the same seed gives the same logits with or without
    Canon layers (their taps draw no random numbers, so the other weights
    match). In the blocks, against the same `DSPDecoderBlock` with empty
    slots."""
    tokens = np.random.default_rng(8).integers(0, 27, size=(2, 32))
    empty = dict(use_multirate=False, use_lfo=False, use_bottleneck=False)
    logits = {}
    for label, mixer, kwargs in [("none", "none", {}), ("canon", "canon", {}),
                                 ("canon_block", "canon_block", {}), ("haar", "haar", {}),
                                 ("haar+canon", "haar+canon", {}),
                                 ("empty_block", "multirate", empty)]:
        keras.utils.set_random_seed(0)
        model = build_gpt(27, mixer=mixer, **gpt_preset("tiny"), **kwargs)
        logits[label] = to_numpy(model(causal_lm_inputs(tokens)))
    np.testing.assert_allclose(logits["canon_block"], logits["empty_block"], atol=1e-5)
    np.testing.assert_allclose(logits["canon"], logits["none"], atol=1e-5)
    np.testing.assert_allclose(logits["haar+canon"], logits["haar"], atol=1e-5)


def test_canon_block_is_causal_and_round_trips(tmp_path):
    rng = np.random.default_rng(9)
    block = DSPDecoderBlock(4, 32, **get_mixer("canon_block"))
    model = layer_model(block, 16, 16)
    for w in (block.attention_input.kernel, block.feedforward_input.kernel):
        w.assign(rng.normal(size=w.shape).astype("float32"))
    x = rng.normal(size=(2, 16, 16)).astype("float32")
    assert_causal(model, x, lambda v: v + 5.0, 6)
    path = str(tmp_path / "block.keras")
    model.save(path)
    np.testing.assert_allclose(to_numpy(keras.saving.load_model(path)(x)), to_numpy(model(x)),
                               atol=1e-6)


@pytest.mark.parametrize("mixer", ["canon", "canon_block", "haar+canon"])
def test_gpt_with_canon_trains_and_round_trips(mixer, tmp_path):
    model = build_gpt(27, mixer=mixer, **gpt_preset("tiny"))
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    tokens = np.random.default_rng(10).integers(0, 27, size=(4, 33))
    first = model.train_on_batch(causal_lm_inputs(tokens[:, :-1]), tokens[:, 1:],
                                 return_dict=True)["loss"]
    assert np.isfinite(first)
    path = str(tmp_path / "gpt.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    inputs = causal_lm_inputs(tokens[:, 1:])
    np.testing.assert_allclose(to_numpy(restored(inputs)), to_numpy(model(inputs)), atol=1e-5)
