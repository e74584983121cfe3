"""The tokenizers: plain Python and tf.data give the same ids, text round
trips, bad ids are named, and presets carry them."""

import glob
import os

import keras
import numpy as np
import pytest
from pydoc_data.topics import topics

from keras_wavegpt.models import (
    WaveletGPTBackbone,
    WaveletGPTCausalLM,
    WaveletGPTCausalLMPreprocessor,
)
from keras_wavegpt.data.audio import ASTERISK_SOUNDS, mu_law_encode, read_wav
from keras_wavegpt.tokenizers import (
    ByteTokenizer,
    MidiEventTokenizer,
    MuLawTokenizer,
    Text8Tokenizer,
)

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


@pytest.mark.skipif(not os.path.isdir(ASTERISK_SOUNDS),
                    reason="needs Debian's asterisk-core-sounds-en-wav")
def test_mu_law_tokenizer_on_recorded_speech():
    tokenizer = MuLawTokenizer()
    path = sorted(glob.glob(os.path.join(ASTERISK_SOUNDS, "digits", "*.wav")))[0]
    wave, _ = read_wav(path)
    ids = tokenizer(wave)
    np.testing.assert_array_equal(ids, mu_law_encode(wave))
    assert [row.tolist() for row in tokenizer([wave[:50], wave[50:90]])] == [
        ids[:50].tolist(), ids[50:90].tolist()]
    decoded = tokenizer.detokenize(ids)
    assert decoded.dtype == np.float32 and len(decoded) == len(wave)
    # 8-bit mu-law: the error grows with the amplitude, ~3% of it at most.
    assert np.all(np.abs(decoded - wave) <= 0.04 * np.abs(wave) + 1e-3)
    assert tokenizer.id_to_token(tokenizer.pad_token_id) == "level_128"
    with pytest.raises(TypeError, match="float waveforms"):
        tokenizer(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        tokenizer.detokenize([3, 256])


def test_midi_event_tokenizer_on_bach():
    pytest.importorskip("music21")
    from keras_wavegpt.data.midi import (
        events_to_notes,
        music21_corpus_paths,
        notes_to_events,
        score_to_notes,
    )

    notes = score_to_notes(music21_corpus_paths(("bach",))[0])[:40]
    tokenizer = MidiEventTokenizer()
    ids = tokenizer(notes)
    np.testing.assert_array_equal(ids, notes_to_events(notes))
    assert tokenizer.detokenize(ids) == events_to_notes(ids)
    assert [len(r) for r in tokenizer.detokenize([ids[:10].tolist(), ids.tolist()])][1] == 40
    names = [tokenizer.id_to_token(i) for i in ids.tolist()]
    assert all(tokenizer.token_to_id(n) == i for n, i in zip(names, ids.tolist()))
    assert tokenizer.vocabulary_size() == 388 and len(set(tokenizer.get_vocabulary())) == 388
    with pytest.raises(TypeError, match="list of Note"):
        tokenizer("C4")
    with pytest.raises(ValueError, match="is not a token of MidiEventTokenizer"):
        tokenizer.token_to_id("NOTE_ON_200")
