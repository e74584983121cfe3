"""The layers, models and generation run without TensorFlow (JAX, PyTorch):
a GPU host may have no TensorFlow at all. A subprocess blocks it from
import, then uses the package as a user would there."""

import os
import subprocess
import sys
import textwrap

import keras
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = textwrap.dedent('''
    import sys

    # As if not installed: `import tensorflow` raises ImportError, and
    # importlib.util.find_spec (which torch and keras_hub probe) says None.
    sys.modules["tensorflow"] = None

    import keras
    import numpy as np

    import keras_wavegpt
    from keras_wavegpt import data
    from keras_wavegpt.layers import mixer_names
    from keras_wavegpt.models import (WaveletGPTBackbone, WaveletGPTCausalLM,
                                      WaveletGPTCausalLMPreprocessor, build_gpt, gpt_preset)
    from keras_wavegpt.tokenizers import Text8Tokenizer

    tokens = np.random.default_rng(0).integers(0, 27, size=(2, 33))
    inputs = data.causal_lm_inputs(tokens[:, :-1])
    # Every mixer's layers run; one model trains (gradients and the optimizer
    # come from the backend, whatever the mixer).
    for mixer in mixer_names():
        logits = build_gpt(27, mixer=mixer, **gpt_preset("tiny"))(inputs)
        assert np.isfinite(keras.ops.convert_to_numpy(logits)).all(), mixer
    model = build_gpt(27, mixer="haar+canon", **gpt_preset("tiny"))
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    loss = float(model.train_on_batch(inputs, tokens[:, 1:], return_dict=True)["loss"])
    assert np.isfinite(loss)
    backbone = WaveletGPTBackbone(27, 2, 2, 16, 32, 32, mixer="haar+canon")
    preprocessor = WaveletGPTCausalLMPreprocessor(Text8Tokenizer(), sequence_length=16)
    lm = WaveletGPTCausalLM(backbone, preprocessor=preprocessor, head_hidden_dim=32)
    lm.compile(sampler="greedy")
    text = lm.generate("the ", max_length=16)
    assert text.startswith("the ") and len(text) == 16, text
    try:
        data.train_dataset(np.zeros(100, "uint8"), 8, 2)
    except ImportError as error:
        assert "need TensorFlow" in str(error), error
    else:
        raise AssertionError("tf.data pipelines ran without TensorFlow")
    assert sys.modules["tensorflow"] is None
    print("TENSORFLOW-FREE OK")
''')


@pytest.mark.skipif(keras.backend.backend() == "tensorflow",
                    reason="the TensorFlow backend needs TensorFlow")
def test_package_runs_with_tensorflow_blocked():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, KERAS_BACKEND=keras.backend.backend()),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "TENSORFLOW-FREE OK" in result.stdout
