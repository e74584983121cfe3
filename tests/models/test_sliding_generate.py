import keras
import numpy as np
import pytest

from keras_wavegpt.data import causal_lm_inputs
from keras_wavegpt.models import build_gpt, build_llama, gpt_preset, sampler_with_seed, \
    sliding_generate
from tests.helpers import to_numpy

VOCAB = 27
CONTEXT = 32  # the tiny preset's


@pytest.fixture(scope="module")
def lm():
    keras.utils.set_random_seed(0)
    model = build_gpt(VOCAB, mixer="haar", **gpt_preset("tiny"))
    model.compile(sampler="greedy")
    return model


def greedy_by_full_passes(model, prompt, max_length, stride=CONTEXT // 2):
    """The same windows as `sliding_generate`, each token the argmax of a
    full forward pass over its window's tokens before it.

    Each pass sees one (1, CONTEXT) shape, the window zero-filled on the
    right: the model is causal (tests/layers prove it), so the fill cannot
    reach the position read, and one compiled pass serves every window
    where a shape per length would compile again for each token."""
    tokens = list(prompt)
    while len(tokens) < max_length:
        new = min(stride, max_length - len(tokens))
        start = len(tokens) - min(len(tokens), CONTEXT - new)
        for _ in range(new):
            window = np.zeros((1, CONTEXT), "int32")  # (1, T)
            length = len(tokens) - start
            window[0, :length] = tokens[start:]
            logits = to_numpy(model.predict_on_batch(causal_lm_inputs(window)))  # (1, T, V)
            tokens.append(int(logits[0, length - 1].argmax()))
    return np.array(tokens)


@pytest.mark.parametrize("max_length", [20, 70])  # inside the context, then sliding past it
def test_greedy_windows_equal_full_passes(lm, max_length):
    out = sliding_generate(lm, np.array([3, 1, 4, 1, 5]), max_length)
    assert out.shape == (max_length,) and out.dtype == np.int32
    np.testing.assert_array_equal(out, greedy_by_full_passes(lm, [3, 1, 4, 1, 5], max_length))


def test_batches_and_llama():
    keras.utils.set_random_seed(0)
    llama = build_llama(VOCAB, mixer="haar", **gpt_preset("tiny"))
    llama.compile(sampler="greedy")
    prompt = np.array([[1, 2, 3], [20, 0, 9]])
    out = sliding_generate(llama, prompt, 40, stride=8)
    assert out.shape == (2, 40)
    np.testing.assert_array_equal(out[:, :3], prompt)
    np.testing.assert_array_equal(out[1], sliding_generate(llama, prompt[1], 40, stride=8))


def test_seeded_samplers_repeat(lm):
    draws = []
    for _ in range(2):
        lm.compile(sampler=sampler_with_seed("top_k", seed=7))
        draws.append(sliding_generate(lm, [5, 6], 40))
    lm.compile(sampler="greedy")
    np.testing.assert_array_equal(*draws)
    assert sampler_with_seed("greedy", seed=7).get_config() == {"temperature": 1.0}


def test_loaded_multirate_model_under_mixed_precision(tmp_path):
    # bfloat16: XLA on CPU has no float16 matmul inside a compiled loop.
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    model = build_gpt(VOCAB, mixer="multirate", adaptive=True, **gpt_preset("tiny"))
    path = str(tmp_path / "m.keras")
    model.save(path)
    restored = keras.saving.load_model(path, compile=False)
    for m in (model, restored):
        m.compile(sampler="greedy")
    np.testing.assert_array_equal(sliding_generate(restored, [1, 2, 3], 40),
                                  sliding_generate(model, [1, 2, 3], 40))


@pytest.mark.parametrize(
    "prompt,max_length,kwargs,error,match",
    [
        (np.array([1.0, 2.0]), 8, {}, ValueError, "integer token ids"),
        (np.zeros((2, 2, 2), "int32"), 8, {}, ValueError, "integer token ids"),
        (np.zeros((1, 0), "int32"), 8, {}, ValueError, "length >= 1"),
        ([1, 2, 3], 3, {}, ValueError, "max_length"),
        ([1, 2, 3], 7.5, {}, TypeError, "max_length"),
        ([1, 2], 8, dict(stride=32), ValueError, "below the model's context 32"),
        ([1, 2], 8, dict(stride=0), ValueError, "stride"),
    ],
)
def test_bad_input(lm, prompt, max_length, kwargs, error, match):
    with pytest.raises(error, match=match):
        sliding_generate(lm, prompt, max_length, **kwargs)
