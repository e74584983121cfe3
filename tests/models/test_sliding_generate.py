import keras
import keras_hub
import numpy as np
import pytest

from keras_wavegpt import generate
from keras_wavegpt.models import build_gpt, gpt_preset
from tests.helpers import to_numpy

VOCAB = 27


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return build_gpt(VOCAB, mixer="haar", **gpt_preset("tiny"))  # context 32


def next_logits(model, tokens, start, context=32):
    """Row i: logits for token `start + i` given the `context` tokens before it
    (fewer at the start, right-padded: the model is causal), in one call."""
    windows, last = [], []
    for i in range(start, len(tokens)):
        window = np.zeros(context, "int32")
        prefix = tokens[max(0, i - context) : i]
        window[: len(prefix)] = prefix
        windows.append(window)
        last.append(len(prefix) - 1)
    logits = to_numpy(model(np.stack(windows)))
    return logits[np.arange(len(last)), last]


@pytest.mark.parametrize("max_length", [20, 45])  # inside the context, then sliding past it
def test_greedy_takes_the_argmax_of_every_prefix(model, max_length):
    out = generate(model, np.array([3, 1, 4, 1, 5]), max_length)
    assert out.shape == (max_length,) and out.dtype == np.int32
    np.testing.assert_array_equal(out[:5], [3, 1, 4, 1, 5])
    np.testing.assert_array_equal(out[5:], next_logits(model, out, 5).argmax(-1))


def test_top_k_draws_among_the_k_best_and_repeats_with_a_seed(model):
    prompt = np.array([[1, 2, 3], [20, 0, 9]])
    out = generate(model, prompt, 16, sampler="top_k", k=3, seed=7)
    assert out.shape == (2, 16)
    np.testing.assert_array_equal(out[:, :3], prompt)
    for row in out:
        best = np.argsort(next_logits(model, row, 3), axis=-1)[:, -3:]
        assert all(token in candidates for token, candidates in zip(row[3:], best))
    np.testing.assert_array_equal(out, generate(model, prompt, 16, sampler="top_k", k=3, seed=7))


def test_temperature_sampler_and_sampler_objects(model):
    out = generate(model, [5, 6], 12, sampler="temperature", temperature=0.7, seed=1)
    assert out.shape == (12,) and 0 <= out.min() and out.max() < VOCAB
    greedy = generate(model, [5, 6], 12, sampler=keras_hub.samplers.GreedySampler())
    np.testing.assert_array_equal(greedy, generate(model, [5, 6], 12))


def test_generates_from_a_loaded_multirate_model_under_mixed_precision(tmp_path):
    # bfloat16: XLA on CPU has no float16 matmul inside a compiled loop.
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    model = build_gpt(VOCAB, mixer="multirate", adaptive=True, **gpt_preset("tiny"))
    path = str(tmp_path / "m.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    out = generate(restored, [1, 2, 3], 10, sampler="top_k", seed=0)
    assert out.shape == (10,) and 0 <= out.min() and out.max() < VOCAB
    np.testing.assert_array_equal(generate(restored, [1, 2, 3], 10), generate(model, [1, 2, 3], 10))


@pytest.mark.parametrize(
    "prompt,max_length,kwargs,match",
    [
        (np.array([1.0, 2.0]), 8, {}, "integer token ids"),
        (np.zeros((2, 2, 2), "int32"), 8, {}, "integer token ids"),
        (np.zeros((1, 0), "int32"), 8, {}, "empty"),
        ([1, 2, 3], 3, {}, "greater than the prompt length 3"),
        ([1, 2, 3], 7.5, {}, "max_length"),
        ([1, 27], 8, {}, r"in \[0, 27\)"),
        ([-1, 2], 8, {}, r"in \[0, 27\)"),
        ([1, 2], 8, dict(sampler="nucleus"), "accepted values"),
    ],
)
def test_bad_input(model, prompt, max_length, kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate(model, prompt, max_length, **kwargs)
