import json

import keras
import numpy as np
import pytest

from keras_wavegpt.data import causal_lm_inputs
from keras_wavegpt.models import WaveletGPTCausalLM, build_gpt, gpt_preset
from tests.helpers import sgd_gradients, to_numpy

VOCAB = 27
ARCH = dict(max_sequence_length=32, num_layers=3, hidden_dim=16, num_heads=2, intermediate_dim=32, head_hidden_dim=64)
MIXERS = ["none", "haar", "learnable", "ema", "filterbank", "multirate"]
DSP_SLOTS = ("multirate", "lfo_routing", "bottleneck")


def perturb_mixers(model, seed=3):
    """Move every mixer weight off its initial value (filterbank: off identity;
    multirate: the DSP slots inside the blocks)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        parts = w.path.split("/")
        if any(p.startswith("mixer_") for p in parts) or any(slot in parts for slot in DSP_SLOTS):
            w.assign(w + 0.3 * rng.normal(size=w.shape).astype("float32"))


def token_ids(batch, length, seed=0):
    return np.random.default_rng(seed).integers(0, VOCAB, size=(batch, length)).astype("int32")


def tokens(batch, length, seed=0):
    """The causal LM's inputs: full windows of random ids."""
    return causal_lm_inputs(token_ids(batch, length, seed))


def layer_names(model):
    return [layer.name for layer in model.backbone.layers
            if not isinstance(layer, keras.layers.InputLayer)]


def test_structure_and_shapes():
    model = build_gpt(VOCAB, mixer="haar", **ARCH)
    assert isinstance(model, WaveletGPTCausalLM)
    # A mixer in each of the N - 1 gaps, between consecutive blocks.
    assert layer_names(model) == ["embedding", "block_0", "mixer_1", "block_1", "mixer_2",
                                  "block_2", "final_norm"]
    out = model(tokens(2, 32))
    assert tuple(out.shape) == (2, 32, VOCAB)
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    assert tuple(model(tokens(1, 7)).shape) == (1, 7, VOCAB)  # shorter than context


def test_parameter_counts():
    counts = {m: build_gpt(VOCAB, mixer=m, **ARCH).count_params() for m in MIXERS}
    assert counts["haar"] == counts["none"] == counts["ema"]
    learnable = build_gpt(VOCAB, mixer="learnable", **ARCH)
    extra = sum(int(layer.channel_kernel_sizes[8:].sum())
                for layer in learnable.backbone.mixer_layers if layer is not None)
    assert counts["learnable"] == counts["none"] + extra
    # The filterbank's 7,200 weights per gap (144 filters of length 16).
    assert counts["filterbank"] == counts["none"] + 2 * 7_200


@pytest.mark.parametrize(
    "kwargs,slots",
    [
        ({}, DSP_SLOTS),
        (dict(adaptive=True), DSP_SLOTS),
        (dict(use_multirate=False), ("lfo_routing", "bottleneck")),
        (dict(use_lfo=False), ("multirate", "bottleneck")),
        (dict(use_bottleneck=False), ("multirate", "lfo_routing")),
        (dict(use_multirate=False, use_lfo=False, use_bottleneck=False), ()),
    ],
)
def test_multirate_fills_the_slots_of_every_block(kwargs, slots):
    from keras_wavegpt.layers import DSPDecoderBlock

    model = build_gpt(VOCAB, mixer="multirate", **ARCH, **kwargs)
    assert layer_names(model)[1:4] == ["block_0", "block_1", "block_2"]  # no gap mixers
    for i in range(3):
        block = model.backbone.get_layer(f"block_{i}")
        assert isinstance(block, DSPDecoderBlock)
        present = [s.name for s in (block.pre_attention, block.post_attention, block.post_mlp) if s]
        assert tuple(present) == slots
    meta = [w for w in model.trainable_weights if w.path.endswith("/logit")]
    assert len(meta) == (6 * ARCH["num_layers"] if kwargs.get("adaptive") else 0)
    if not slots:  # every slot off: the baseline's architecture
        assert model.count_params() == build_gpt(VOCAB, **ARCH).count_params()


def test_paper_preset_is_the_paper_model():
    arch = gpt_preset("paper")
    assert arch == dict(num_layers=10, hidden_dim=128, num_heads=8, intermediate_dim=512, max_sequence_length=512)
    model = build_gpt(VOCAB, mixer="haar", **arch)
    gaps = [layer for layer in model.backbone.mixer_layers if layer is not None]
    assert len(gaps) == 9
    assert sorted(set(gaps[0].channel_kernel_sizes[64:].tolist())) == [2 ** j for j in range(1, 10)]


@pytest.mark.parametrize("mixer", MIXERS)
def test_gpt_is_causal(mixer):
    model = build_gpt(VOCAB, mixer=mixer, **ARCH)
    perturb_mixers(model)
    x = token_ids(2, 32)
    for position in (0, 13, 30):
        changed = x.copy()
        changed[:, position + 1 :] = (changed[:, position + 1 :] + 5) % VOCAB
        before = to_numpy(model(causal_lm_inputs(x)))
        after = to_numpy(model(causal_lm_inputs(changed)))
        np.testing.assert_allclose(before[:, : position + 1], after[:, : position + 1], atol=1e-6)
        assert not np.allclose(before[:, position + 1 :], after[:, position + 1 :])


@pytest.mark.parametrize(
    "mixer,kwargs",
    [("haar", {}), ("learnable", {}), ("filterbank", {}), ("multirate", dict(adaptive=True))],
)
def test_gradients_finite_and_reach_every_weight(mixer, kwargs):
    model = build_gpt(VOCAB, mixer=mixer, **ARCH, **kwargs)
    perturb_mixers(model)
    x = tokens(4, 32, seed=1)
    grads = sgd_gradients(
        model, x, token_ids(4, 32, seed=2),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    assert len(grads) == len(model.trainable_weights)
    for path, g in grads.items():
        assert np.isfinite(g).all(), path
        assert np.abs(g).max() > 0, path


@pytest.mark.parametrize(
    "mixer,kwargs",
    [("haar", dict(fraction=0.75)), ("learnable", dict(fraction=0.75)), ("ema", {}),
     ("filterbank", dict(fraction=0.75)), ("multirate", dict(adaptive=True, downsample=3))],
)
def test_save_load_round_trip(mixer, kwargs, tmp_path):
    model = build_gpt(VOCAB, mixer=mixer, dropout=0.1, **ARCH, **kwargs)
    perturb_mixers(model)
    x = tokens(2, 20)
    path = str(tmp_path / "gpt.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, WaveletGPTCausalLM)
    np.testing.assert_array_equal(to_numpy(restored(x)), to_numpy(model(x)))
    assert restored.count_params() == model.count_params()
    layer = "block_1" if mixer == "multirate" else "mixer_1"
    # Through JSON: slot build configs come back with lists for tuples.
    config = lambda m: json.loads(json.dumps(m.backbone.get_layer(layer).get_config()))
    assert config(restored) == config(model)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize(
    "mixer,kwargs",
    [("none", {}), ("haar", {}), ("learnable", {}), ("ema", {}),
     ("filterbank", dict(num_filters=12, kernel_sizes=(4, 8))), ("multirate", dict(adaptive=True))],
)
def test_mixed_precision_logits_close_to_float32(policy, mixer, kwargs):
    full = build_gpt(VOCAB, mixer=mixer, **ARCH, **kwargs)
    perturb_mixers(full)
    keras.mixed_precision.set_dtype_policy(policy)
    half = build_gpt(VOCAB, mixer=mixer, **ARCH, **kwargs)
    half.set_weights(full.get_weights())
    x = tokens(2, 32, seed=4)
    logits = half(x)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    reference = to_numpy(full(x))
    # bfloat16 keeps 8 bits of mantissa, float16 11.
    atol = 0.15 if policy == "mixed_bfloat16" else 0.02
    np.testing.assert_allclose(to_numpy(logits), reference, atol=atol)


def test_sequence_too_long():
    model = build_gpt(VOCAB, **ARCH)
    with pytest.raises(ValueError, match="exceeds the model's max_sequence_length 32"):
        model(tokens(1, 33))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(mixer="wavelet"), "accepted values"),
        (dict(num_heads=3), "must divide"),
        (dict(num_layers=0), "num_layers"),
        (dict(dropout=1.0), "dropout"),
        (dict(mixer="haar", max_kernel=24), "power of two"),
        (dict(mixer="multirate", num_routes=3), "num_routes"),
        (dict(mixer="multirate", downsample=0), "downsample"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_gpt(VOCAB, **{**ARCH, **kwargs})


def test_unknown_preset():
    with pytest.raises(ValueError, match="accepted values"):
        gpt_preset("huge")
