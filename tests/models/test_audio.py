"""The Audio Transformer: the front end against numpy, shapes and parameters,
bidirectional attention, save/load, bad arguments."""

import keras
import numpy as np
import pytest

from keras_wavegpt.models import build_audio_transformer
from tests.helpers import to_numpy

SMALL = dict(sample_rate=8000, clip_seconds=0.5, num_filters=8, filter_length=20, patch=50,
             hidden_dim=16, num_layers=2, num_heads=2, intermediate_dim=32, head_hidden_dim=32)  # 80 patches


def test_front_end_is_a_filter_bank_max_pooled_per_patch():
    model = build_audio_transformer(5, **SMALL)
    rng = np.random.default_rng(0)
    wave = rng.uniform(-1, 1, (2, 4000)).astype("float32")
    filters = model.get_layer("filters")
    kernel, bias = (to_numpy(w) for w in filters.weights)  # (1, F, 1, C), (C,)
    front = keras.Model(model.input, model.get_layer("patch_vectors").output)
    got = to_numpy(front(wave))  # (B, P, C)
    # Reference: correlate each 50-sample patch with each filter, keep the maximum.
    patches = wave.reshape(2, 80, 50)
    windows = np.lib.stride_tricks.sliding_window_view(patches, 20, axis=-1)  # (B, P, 31, F)
    reference = (windows @ kernel[0, :, 0, :] + bias).max(axis=2)  # (B, P, C)
    np.testing.assert_allclose(got, reference, rtol=1e-4, atol=1e-5)
    # A filter never reads across a patch boundary.
    changed = wave.copy()
    changed[:, 50:100] = rng.uniform(-1, 1, (2, 50))
    moved = to_numpy(front(changed))
    np.testing.assert_array_equal(np.delete(moved, 1, axis=1), np.delete(got, 1, axis=1))


def test_shapes_and_haar_adds_no_parameters():
    none = build_audio_transformer(10, **SMALL)
    haar = build_audio_transformer(10, mixer="haar", **SMALL)
    wave = np.random.default_rng(1).uniform(-1, 1, (3, 4000)).astype("float32")
    logits = haar(wave)
    assert tuple(logits.shape) == (3, 10)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert none.count_params() == haar.count_params()
    assert haar.get_layer("mixer_1").channel_kernel_sizes.max() == 64  # largest power of 2 <= 80 patches
    # The paper's size: 128 filters of 200 samples, 40 patches of 25 ms, width 64.
    paper = build_audio_transformer(200, mixer="haar")
    assert paper.input_shape == (None, 16000) and paper.output_shape == (None, 200)
    assert paper.get_layer("patch_vectors").output.shape == (None, 40, 128)


def test_attention_is_bidirectional():
    model = build_audio_transformer(4, mixer="haar", **SMALL)
    wave = np.random.default_rng(2).uniform(-1, 1, (2, 4000)).astype("float32")
    trunk = keras.Model(model.input, model.get_layer("final_norm").output)
    base = to_numpy(trunk(wave))
    changed = wave.copy()
    changed[:, -50:] = 0.0  # only the last patch
    assert not np.allclose(to_numpy(trunk(changed))[:, 0], base[:, 0])


@pytest.mark.parametrize("mixer", ["haar", "learnable"])
def test_save_load_round_trip(mixer, tmp_path):
    model = build_audio_transformer(6, mixer=mixer, **SMALL)
    wave = np.random.default_rng(3).uniform(-1, 1, (2, 4000)).astype("float32")
    path = str(tmp_path / "audio.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(to_numpy(loaded(wave)), to_numpy(model(wave)), atol=1e-6)


@pytest.mark.parametrize("change, message", [
    (dict(num_classes=1), "num_classes"),
    (dict(patch=300), "multiple of `patch`"),
    (dict(clip_seconds=0), "multiple of `patch`"),
    (dict(filter_length=60), "filter_length"),
    (dict(num_filters=0), "num_filters"),
    (dict(num_heads=3), "num_heads"),
])
def test_bad_arguments(change, message):
    args = dict(SMALL, num_classes=3)
    args.update(change)
    with pytest.raises(ValueError, match=message):
        build_audio_transformer(**args)
