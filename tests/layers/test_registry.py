import pytest

from keras_wavegpt.layers import (
    CausalEMA,
    CausalWavelet,
    get_mixer,
    mixer_arguments,
    mixer_names,
    register_mixer,
)


def test_names():
    assert set(mixer_names()) >= {"none", "haar", "learnable", "ema", "filterbank"}


def test_factories_build_the_right_layers():
    haar = get_mixer("haar", context_length=96, fraction=0.25, name="gap")
    assert isinstance(haar, CausalWavelet) and not haar.learnable
    assert haar.max_kernel == 64  # largest power of two <= context
    assert haar.fraction == 0.25 and haar.name == "gap"
    assert get_mixer("learnable", max_kernel=8).learnable
    assert get_mixer("learnable", max_kernel=8, fft=True).fft
    assert isinstance(get_mixer("ema"), CausalEMA)
    assert get_mixer("none").__class__.__name__ == "Identity"


def test_arguments():
    assert set(mixer_arguments("haar")) == {"max_kernel", "fraction", "schedule"}
    assert mixer_arguments("ema") == ("fraction",)
    assert mixer_arguments("none") == ()
    assert {"num_filters", "kernel_sizes", "adaptive"} <= set(mixer_arguments("filterbank"))


def test_unknown_name_and_duplicates():
    with pytest.raises(ValueError, match="accepted values"):
        get_mixer("wavelet")
    with pytest.raises(ValueError, match="already registered"):
        register_mixer("haar")(lambda context_length=None: None)
    with pytest.raises(ValueError, match="schedule"):
        get_mixer("ema", schedule="linear")
