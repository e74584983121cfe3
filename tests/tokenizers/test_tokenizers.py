"""The tokenizers: plain Python and tf.data give the same ids, text round
trips, bad ids are named, and presets carry them."""

import keras
import numpy as np
import pytest
from pydoc_data.topics import topics

from keras_wavegpt.models import (
    WaveletGPTBackbone,
    WaveletGPTCausalLM,
    WaveletGPTCausalLMPreprocessor,
)
from keras_wavegpt.tokenizers import ByteTokenizer, Text8Tokenizer

# Real text: Python's own help topics, plus characters of one, two, three and
# four UTF-8 bytes.
TEXTS = [topics["assert"][:300], topics["lambda"][:200], "née 1990 € 𝄞", ""]


def tf_ids(tokenizer, texts):
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(texts).map(tokenizer)
    return [row.numpy().tolist() for row in dataset]


@pytest.mark.parametrize("tokenizer", [ByteTokenizer(), Text8Tokenizer()], ids=lambda t: t.name)
def test_python_and_tf_data_agree(tokenizer):
    python = [row.tolist() for row in tokenizer(TEXTS)]
    assert tf_ids(tokenizer, TEXTS) == python
    assert tokenizer(TEXTS[0]).tolist() == python[0]


def test_bytes_round_trip_as_utf8():
    tokenizer = ByteTokenizer()
    for text in TEXTS:
        ids = tokenizer(text)
        assert ids.tolist() == list(text.encode("utf-8"))
        assert tokenizer.detokenize(ids) == text
    assert tokenizer(b"\xff\x00").tolist() == [255, 0]  # bytes pass through
    # A cut multi-byte character decodes to U+FFFD, not to latin-1 letters.
    cut = list("€".encode("utf-8"))[:2]
    assert tokenizer.detokenize([104, 105] + cut) == "hi\ufffd"
    assert tokenizer.detokenize([[104, 105], [226, 130, 172]]) == ["hi", "€"]
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        tokenizer.detokenize([104, 256])
    with pytest.raises(TypeError, match="ByteTokenizer takes strings"):
        tokenizer(3.5)
    assert tokenizer.vocabulary_size() == 256 and tokenizer.token_to_id("a") == 97


def test_byte_preset_round_trip(tmp_path):
    backbone = WaveletGPTBackbone(vocabulary_size=256, num_layers=2, num_heads=2, hidden_dim=16,
                                  intermediate_dim=32, max_sequence_length=32, mixer="haar")
    preprocessor = WaveletGPTCausalLMPreprocessor(ByteTokenizer(), sequence_length=32)
    lm = WaveletGPTCausalLM(backbone, preprocessor=preprocessor, head_hidden_dim=32)
    lm.save_to_preset(str(tmp_path / "bytes"))
    restored = WaveletGPTCausalLM.from_preset(str(tmp_path / "bytes"))
    assert isinstance(restored.preprocessor.tokenizer, ByteTokenizer)
    for model in (lm, restored):
        model.compile(sampler="greedy")
    prompt = "née "
    out = lm.generate(prompt, max_length=12)
    assert isinstance(out, str) and out.startswith(prompt)
    assert restored.generate(prompt, max_length=12) == out
    ids = np.array([list(b"hello world")], "int32")
    x = {"token_ids": ids, "padding_mask": np.ones_like(ids)}
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(x)),
                               keras.ops.convert_to_numpy(lm(x)), atol=1e-6)
