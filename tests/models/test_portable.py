"""A `.keras` file or preset saved under one backend loads under the others with the same outputs.

The next backend in `BACKENDS` (a ring: TensorFlow's run of the suite meets
JAX's files, JAX's meets torch's, torch's meets TensorFlow's, so the three runs
try every backend as saver and as loader) builds every model kind in a
subprocess (the GPT with every mixer, learnable and adaptive ones included, the
LRA classifier and the Audio Transformer; weights moved off their initial
values), saves it, its inputs and its outputs; this backend loads each file and
must reproduce the outputs within 1e-5 (float32). The same subprocess loads a
preset this backend saved and compares its logits.
"""

import json
import os
import subprocess
import sys

import keras
import keras_hub
import numpy as np
import pytest

import keras_wavegpt  # noqa: F401  (registers the package's classes, as a user's import does)
from keras_wavegpt.data import causal_lm_inputs
from keras_wavegpt.models import WaveletGPTCausalLMPreprocessor
from keras_wavegpt.tokenizers import Text8Tokenizer
from tests.helpers import to_numpy
from tests.models.test_wavelet_gpt_causal_lm import causal_lm, full_logits, ids

BACKENDS = ("tensorflow", "jax", "torch")
VOCAB = 27
ARCH = dict(max_sequence_length=16, num_layers=3, hidden_dim=16, num_heads=2, intermediate_dim=32, head_hidden_dim=32)
MODELS = {
    "none": {},
    "haar": dict(fraction=0.75),
    "learnable": dict(max_kernel=8),
    "ema": {},
    "filterbank": dict(num_filters=6, kernel_sizes=(2, 4), adaptive=True, adaptive_dim=8,
                       adaptive_heads=2),
    "multirate": dict(adaptive=True, downsample=3),
    "classifier": dict(schedule="linear"),  # the LRA classifier with the haar mixer
    "audio": dict(max_kernel=8),  # the Audio Transformer with the learnable mixer
}
AUDIO = dict(sample_rate=1600, clip_seconds=0.5, num_filters=4, filter_length=20, patch=50,
             hidden_dim=16, num_layers=3, num_heads=2, intermediate_dim=32, head_hidden_dim=32)

SAVE = """
import json, sys
import keras, numpy as np
from keras_wavegpt.data import causal_lm_inputs
from keras_wavegpt.models import (WaveletGPTCausalLM, build_audio_transformer, build_gpt,
                                  build_sequence_classifier)
out, preset, models, arch, audio = (*sys.argv[1:3], *map(json.loads, sys.argv[3:]))
lm = WaveletGPTCausalLM.from_preset(f"{preset}/preset")
t = np.load(f"{preset}/tokens.npy")
logits = keras.ops.convert_to_numpy(lm({"token_ids": t, "padding_mask": np.ones_like(t)}))
print("PRESET", float(np.max(np.abs(logits - np.load(f"{preset}/logits.npy")))))
rng = np.random.default_rng(0)
tokens = rng.integers(0, 27, size=(2, 16)).astype("int32")
for mixer, kwargs in models.items():
    keras.utils.set_random_seed(1)
    inputs = tokens
    if mixer == "classifier":
        model = build_sequence_classifier(27, num_classes=5, mixer="haar", **arch, **kwargs)
    elif mixer == "audio":
        model = build_audio_transformer(5, mixer="learnable", **audio, **kwargs)
        inputs = rng.uniform(-1, 1, size=(2, 800)).astype("float32")
    else:
        model = build_gpt(27, mixer=mixer, **arch, **kwargs)
        inputs = causal_lm_inputs(tokens)
    rng = np.random.default_rng(2)
    for w in model.weights:  # off init (learned kernels, filterbank synthesis, logits)
        w.assign(w + 0.2 * rng.normal(size=w.shape).astype(w.dtype))
    model.save(f"{out}/{mixer}.keras")
    np.save(f"{out}/{mixer}_in.npy", inputs["token_ids"] if isinstance(inputs, dict) else inputs)
    np.save(f"{out}/{mixer}.npy", keras.ops.convert_to_numpy(model(inputs)))
"""


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(backend, folder, output) of the next backend in the ring; the output
    ends with the largest logit difference of this backend's preset."""
    preset = tmp_path_factory.mktemp("preset")
    preprocessor = WaveletGPTCausalLMPreprocessor(Text8Tokenizer(), sequence_length=16)
    lm = causal_lm("haar+canon", {"haar.max_kernel": 8}, preprocessor=preprocessor)
    lm.save_to_preset(str(preset / "preset"))
    tokens = ids(2)
    np.save(preset / "tokens.npy", tokens)
    np.save(preset / "logits.npy", full_logits(lm, tokens))
    backend = BACKENDS[(BACKENDS.index(keras.backend.backend()) + 1) % len(BACKENDS)]
    folder = tmp_path_factory.mktemp(backend)
    result = subprocess.run(
        [sys.executable, "-c", SAVE, str(folder), str(preset), json.dumps(MODELS),
         json.dumps(ARCH), json.dumps(AUDIO)],
        env=dict(os.environ, KERAS_BACKEND=backend), capture_output=True, text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return backend, folder, result.stdout


def test_preset_loads_on_another_backend(saved):
    """A preset saved under this backend gives the same logits under the
    next one (loaded in its own process)."""
    backend, _, output = saved
    (line,) = [line for line in output.splitlines() if line.startswith("PRESET ")]
    assert float(line.split()[1]) < 1e-5, f"logits under {backend}"


@pytest.mark.parametrize("mixer", list(MODELS))
def test_loads_with_the_same_outputs(saved, mixer):
    backend, folder, _ = saved
    model = keras.saving.load_model(str(folder / f"{mixer}.keras"))
    inputs = np.load(folder / f"{mixer}_in.npy")
    if isinstance(model, keras_hub.models.CausalLM):
        inputs = causal_lm_inputs(inputs)
    expected = np.load(folder / f"{mixer}.npy")
    np.testing.assert_allclose(
        to_numpy(model(inputs)), expected, atol=1e-5, err_msg=f"saved by {backend}"
    )
