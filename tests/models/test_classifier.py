"""The LRA sequence classifier: shapes, parameters, last-token reading, save/load."""

import keras
import numpy as np
import pytest

from keras_wavegpt.models import build_sequence_classifier
from tests.helpers import to_numpy

ARCH = dict(num_layers=2, hidden_dim=16, num_heads=2, intermediate_dim=32, head_hidden_dim=32)


def test_shapes_and_haar_adds_no_parameters():
    none = build_sequence_classifier(16, 40, 10, **ARCH)
    haar = build_sequence_classifier(16, 40, 10, mixer="haar", schedule="linear", **ARCH)
    tokens = np.random.default_rng(0).integers(0, 16, (3, 40)).astype("int32")
    logits = haar(tokens)
    assert tuple(logits.shape) == (3, 10)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert none.count_params() == haar.count_params()
    assert haar.get_layer("mixer_1").channel_kernel_sizes.max() == 32  # linear 2..32 for context 40


def test_the_class_reads_the_whole_sequence():
    model = build_sequence_classifier(16, 24, 3, mixer="haar", **ARCH)
    tokens = np.random.default_rng(1).integers(1, 16, (2, 24)).astype("int32")
    base = to_numpy(model(tokens))
    for position in (0, 11, 23):  # the first, a middle and the last token all matter
        changed = tokens.copy()
        changed[:, position] = (changed[:, position] % 15) + 1
        assert not np.allclose(to_numpy(model(changed)), base), position


def test_save_load_round_trip(tmp_path):
    model = build_sequence_classifier(256, 32, 2, mixer="learnable", **ARCH)
    tokens = np.random.default_rng(2).integers(0, 256, (2, 32)).astype("int32")
    path = str(tmp_path / "classifier.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(to_numpy(loaded(tokens)), to_numpy(model(tokens)), atol=1e-6)


@pytest.mark.parametrize("num_classes,error", [(1, ValueError), (2.5, TypeError),
                                               (True, TypeError)])
def test_bad_num_classes(num_classes, error):
    with pytest.raises(error, match="num_classes"):
        build_sequence_classifier(16, 8, num_classes, **ARCH)
