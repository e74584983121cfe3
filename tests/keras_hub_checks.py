"""Our equivalents of keras_hub's model test helpers.

keras_hub's `TestCase.run_backbone_test`, `run_task_test` and
`run_preset_test` (keras_hub/src/tests/test_case.py) import `grain`, which is
not a dependency here, so these functions make the same checks with plain
asserts, backend by backend.
"""

import json
import os

import keras
import numpy as np
from keras import tree

from tests.helpers import to_numpy


def check_serialization(instance):
    """keras_hub's `run_serialization_test`: `get_config` -> `from_config`,
    and `serialize_keras_object` through JSON, both give back the same
    config and the same attributes (without a full save)."""
    config = json.dumps(instance.get_config(), sort_keys=True)
    attributes = set(dir(instance)) - {"__annotations__"}
    for revived in (
        type(instance).from_config(instance.get_config()),
        keras.saving.deserialize_keras_object(
            json.loads(json.dumps(keras.saving.serialize_keras_object(instance)))),
    ):
        assert json.dumps(revived.get_config(), sort_keys=True) == config
        assert set(dir(revived)) - {"__annotations__"} == attributes


def check_backbone(make, input_data, expected_output_shape, tmp_path):
    """keras_hub's `run_backbone_test`: serialization, an eager call, the
    token embedding, variable lengths, mixed precision and a `.keras` round
    trip. `make()` builds a fresh backbone under the current dtype policy."""
    backbone = make()
    check_serialization(backbone)
    output = backbone(input_data)
    assert tuple(output.shape) == tuple(expected_output_shape)
    # The token embedding alone, eagerly.
    assert tuple(backbone.token_embedding(np.zeros((2, 3), "int32")).shape)[:2] == (2, 3)
    # Shorter sequences than the first call's.
    for n in (2, 5):
        backbone(tree.map_structure(lambda x: np.asarray(x)[:, :n], input_data))
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        half = make()
        assert keras.backend.standardize_dtype(half(input_data).dtype) == "float16"
        assert all(keras.backend.standardize_dtype(w.dtype) == "float32" for w in half.weights)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    path = os.path.join(tmp_path, "backbone.keras")
    backbone.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(backbone)
    np.testing.assert_allclose(to_numpy(restored(input_data)), to_numpy(output), atol=1e-6)
    return backbone


def check_task(make, train_data, expected_output_shape, batch_size=2):
    """keras_hub's `run_task_test`: the preprocessor feeds the task's inputs,
    `predict` and `fit` on raw data, a dataset and split preprocessing, and
    an uncompiled task refuses to `fit`. `make(**kwargs)` builds a fresh
    task."""
    import tensorflow as tf

    task = make()
    check_serialization(task)
    preprocessor = task.preprocessor
    ds = tf.data.Dataset.from_tensor_slices(train_data).batch(batch_size)
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(train_data)
    tree.assert_same_structure(preprocessor(*train_data)[0], task._inputs_struct,
                               check_types=False)
    output = task.predict(x, verbose=0)
    assert tuple(output.shape) == tuple(expected_output_shape)
    np.testing.assert_allclose(task.predict(ds, verbose=0), output, atol=1e-6)
    task.preprocessor = None
    np.testing.assert_allclose(task.predict(ds.map(preprocessor), verbose=0), output, atol=1e-6)
    task.preprocessor = preprocessor
    task.fit(x, y, sample_weight=sample_weight, verbose=0)
    task.fit(ds, verbose=0)
    task.preprocessor = None
    task.fit(ds.map(preprocessor), verbose=0)
    task.preprocessor = preprocessor
    uncompiled = make(compile=False)
    try:
        uncompiled.fit(ds, verbose=0)
    except ValueError as error:
        assert "compile" in str(error)
    else:
        raise AssertionError("an uncompiled task trained")
    return task


def check_preset(cls, preset, input_data, expected_output_shape):
    """keras_hub's `run_preset_test`: an unknown preset is an error; the
    preset loads with and without its weights and runs."""
    try:
        cls.from_preset("clowntown")
    except Exception:  # keras_hub's own check: any error
        pass
    else:
        raise AssertionError("an unknown preset loaded")
    instance = cls.from_preset(preset)
    output = instance(input_data)
    assert tuple(output.shape) == tuple(expected_output_shape)
    cls.from_preset(preset, load_weights=False)(input_data)
    return instance, output
