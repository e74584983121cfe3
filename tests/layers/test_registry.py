import pytest

from keras_wavegpt.layers import (
    CausalEMA,
    CausalWavelet,
    get_mixer,
    mixer_arguments,
    mixer_names,
    mixer_placement,
    register_mixer,
)


def test_names():
    assert set(mixer_names()) >= {"none", "haar", "learnable", "ema", "filterbank", "canon",
                                  "canon_block", "multirate"}
    assert [mixer_placement(m) for m in ("haar", "filterbank", "canon_block", "multirate")] == [
        "gap", "gap", "block", "block"]


def test_factories_build_the_right_layers():
    haar = get_mixer("haar", max_sequence_length=96, fraction=0.25, name="gap")
    assert isinstance(haar, CausalWavelet) and not haar.learnable
    assert haar.max_kernel == 64  # largest power of two <= context
    assert haar.fraction == 0.25 and haar.name == "gap"
    assert get_mixer("learnable", max_kernel=8).learnable
    assert get_mixer("learnable", max_kernel=8, fft=True).fft
    assert isinstance(get_mixer("ema"), CausalEMA)
    assert get_mixer("none").__class__.__name__ == "Identity"


def test_multirate_returns_the_block_slots():
    from keras_wavegpt.layers import ChannelBottleneck, LFORouting, MultirateDecomposition

    slots = get_mixer("multirate", max_sequence_length=64, downsample=4, num_routes=2,
                      lfo_residual_mix=0.3, bottleneck_ratio=0.2, adaptive=True)
    assert isinstance(slots["pre_attention"], MultirateDecomposition)
    assert isinstance(slots["post_attention"], LFORouting)
    assert isinstance(slots["post_mlp"], ChannelBottleneck)
    assert slots["pre_attention"].downsample == 4 and slots["post_attention"].num_routes == 2
    assert slots["post_attention"].residual_mix.initial_value == 0.3
    assert slots["post_mlp"].bottleneck_ratio.initial_value == 0.2
    assert all(layer.adaptive for layer in slots.values())
    assert get_mixer("multirate", use_multirate=False, use_lfo=False).keys() == {"post_mlp"}
    with pytest.raises(ValueError, match="placement"):
        register_mixer("odd", placement="inside")


def test_arguments():
    assert set(mixer_arguments("haar")) == {"max_kernel", "fraction", "schedule", "levels"}
    assert mixer_arguments("ema") == ("fraction",)
    assert mixer_arguments("none") == ()
    assert {"num_filters", "kernel_sizes", "adaptive"} <= set(mixer_arguments("filterbank"))
    assert {"adaptive", "use_multirate", "use_lfo", "use_bottleneck", "downsample",
            "num_routes", "bottleneck_ratio"} <= set(mixer_arguments("multirate"))
    assert "name" not in mixer_arguments("multirate")


def test_unknown_name_and_duplicates():
    with pytest.raises(ValueError, match="accepted values"):
        get_mixer("wavelet")
    with pytest.raises(ValueError, match="already registered"):
        register_mixer("haar")(lambda max_sequence_length=None: None)
    with pytest.raises(ValueError, match="schedule"):
        get_mixer("ema", schedule="linear")



def _built_layers(name, **kwargs):
    import keras

    mixer = get_mixer(name, max_sequence_length=16, **kwargs)
    layers = list(mixer.values()) if isinstance(mixer, dict) else [mixer]
    for layer in layers:
        layer(keras.ops.ones((1, 16, 8)))
    return layers


@pytest.mark.parametrize("name", ["learnable", "filterbank", "canon", "haar+canon",
                                  "learnable+canon", "canon_block", "multirate"])
def test_trainable_false_freezes_every_mixer_and_chain(name):
    for layer in _built_layers(name, trainable=False):
        assert not layer.trainable and layer.weights and not layer.trainable_weights, layer.name
    assert all(layer.trainable_weights for layer in _built_layers(name))
