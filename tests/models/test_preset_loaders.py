"""Every preset a run can write loads through keras_hub's own entry points."""

import io

import keras
import keras_hub
import numpy as np
import pytest
import sentencepiece
from pydoc_data.topics import topics

from keras_wavegpt.data.bpe import train_bpe
from keras_wavegpt.models import (
    MixerGPT2CausalLM,
    MixerGPT2CausalLMPreprocessor,
    MixerLlamaCausalLM,
    MixerLlamaCausalLMPreprocessor,
    WaveletGPTBackbone,
    WaveletGPTCausalLM,
    WaveletGPTCausalLMPreprocessor,
    add_mixers,
)
from keras_wavegpt.tokenizers import (
    ByteTokenizer,
    MidiEventTokenizer,
    MuLawTokenizer,
    Text8Tokenizer,
    WaveletGPTTokenizer,
)
from tests.helpers import GPT2_MERGES, GPT2_VOCABULARY, to_numpy


def _bpe(folder):
    text = "".join(topics[k] for k in sorted(topics)[:40])  # Python's own docs
    vocabulary, merges = train_bpe(text, 300, str(folder))
    return WaveletGPTTokenizer(vocabulary=vocabulary, merges=merges)


TOKENIZERS = {
    "text8": lambda folder: Text8Tokenizer(),
    "byte": lambda folder: ByteTokenizer(),
    "bpe": _bpe,
    "mu_law": lambda folder: MuLawTokenizer(),
    "midi": lambda folder: MidiEventTokenizer(),
}


@pytest.fixture(params=sorted(TOKENIZERS))
def preset(request, tmp_path):
    tokenizer = TOKENIZERS[request.param](tmp_path / "bpe")
    keras.utils.set_random_seed(0)
    backbone = WaveletGPTBackbone(vocabulary_size=tokenizer.vocabulary_size(), num_layers=2,
                                  num_heads=2, hidden_dim=16, intermediate_dim=32,
                                  max_sequence_length=16, mixer="haar")
    preprocessor = WaveletGPTCausalLMPreprocessor(tokenizer, sequence_length=16)
    lm = WaveletGPTCausalLM(backbone, preprocessor=preprocessor, head_hidden_dim=16)
    path = str(tmp_path / "preset")
    lm.save_to_preset(path)
    return path, lm


def test_every_entry_point_loads_every_preset(preset):
    path, lm = preset
    kind = type(lm.preprocessor.tokenizer)
    for loader in (kind, keras_hub.tokenizers.Tokenizer):
        tokenizer = loader.from_preset(path)
        assert type(tokenizer) is kind
        assert tokenizer.get_vocabulary() == lm.preprocessor.tokenizer.get_vocabulary()
    preprocessor = keras_hub.models.CausalLMPreprocessor.from_preset(path)
    assert type(preprocessor) is WaveletGPTCausalLMPreprocessor
    assert type(preprocessor.tokenizer) is kind
    ids = np.arange(12, dtype="int32")[None] % lm.backbone.vocabulary_size
    inputs = {"token_ids": ids, "padding_mask": np.ones_like(ids)}
    backbone = keras_hub.models.Backbone.from_preset(path)
    assert type(backbone) is WaveletGPTBackbone
    np.testing.assert_allclose(to_numpy(backbone(inputs)), to_numpy(lm.backbone(inputs)),
                               atol=1e-6)
    restored = keras_hub.models.CausalLM.from_preset(path)
    assert type(restored) is WaveletGPTCausalLM
    np.testing.assert_allclose(to_numpy(restored(inputs)), to_numpy(lm(inputs)), atol=1e-6)


def test_another_tokenizers_preset_is_refused_clearly(tmp_path):
    lm = WaveletGPTCausalLM(
        WaveletGPTBackbone(vocabulary_size=256, num_layers=1, num_heads=2, hidden_dim=16,
                           intermediate_dim=32, max_sequence_length=16),
        preprocessor=WaveletGPTCausalLMPreprocessor(ByteTokenizer(), sequence_length=16))
    lm.save_to_preset(str(tmp_path / "bytes"))
    with pytest.raises(ValueError, match="holds a ByteTokenizer, not a Text8Tokenizer; load it "
                                         "with ByteTokenizer.from_preset"):
        Text8Tokenizer.from_preset(str(tmp_path / "bytes"))


def _gpt2_family():
    tokenizer = keras_hub.models.GPT2Tokenizer(vocabulary=GPT2_VOCABULARY, merges=GPT2_MERGES)
    backbone = keras_hub.models.GPT2Backbone(vocabulary_size=30, num_layers=2, num_heads=2,
                                             hidden_dim=16, intermediate_dim=32,
                                             max_sequence_length=16)
    return (tokenizer, keras_hub.models.GPT2CausalLMPreprocessor, backbone, MixerGPT2CausalLM,
            MixerGPT2CausalLMPreprocessor, " airplane at the airport")


def _llama_family():
    text = "".join(topics[k] for k in sorted(topics)[:20])  # Python's own docs
    proto = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(text.splitlines()), model_writer=proto, vocab_size=60,
        model_type="WORD", pad_id=-1, unk_id=0, bos_id=1, eos_id=2, unk_piece="<unk>",
        bos_piece="<s>", eos_piece="</s>", minloglevel=2)
    tokenizer = keras_hub.models.LlamaTokenizer(proto=proto.getvalue())
    backbone = keras_hub.models.LlamaBackbone(vocabulary_size=60, num_layers=2,
                                              num_query_heads=2, num_key_value_heads=1,
                                              hidden_dim=16, intermediate_dim=32)
    return (tokenizer, keras_hub.models.LlamaCausalLMPreprocessor, backbone, MixerLlamaCausalLM,
            MixerLlamaCausalLMPreprocessor, "the module and the function")


@pytest.mark.parametrize("family", [_gpt2_family, _llama_family])
def test_every_entry_point_loads_a_mixer_preset(family, tmp_path):
    # A mixer preset holds the family's keras_hub tokenizer and preprocessor;
    # keras_hub's loaders find them by the preset's backbone class.
    tokenizer, preprocessor_cls, backbone, causal_lm, mixer_preprocessor, text = family()
    lm = causal_lm(add_mixers(backbone, "haar", max_sequence_length=16),
                   preprocessor=preprocessor_cls(tokenizer, sequence_length=12))
    path = str(tmp_path / "preset")
    lm.save_to_preset(path)
    for loader in (type(tokenizer), keras_hub.tokenizers.Tokenizer):
        loaded = loader.from_preset(path)
        assert isinstance(loaded, type(tokenizer))
        assert to_numpy(loaded(text)).tolist() == to_numpy(tokenizer(text)).tolist()
    preprocessor = keras_hub.models.CausalLMPreprocessor.from_preset(path)
    assert type(preprocessor) is mixer_preprocessor
    assert preprocessor.sequence_length == 12  # the saved setting, not the default
    x, _, _ = preprocessor([text])
    assert x["token_ids"].shape == (1, 12)
    backbone = keras_hub.models.Backbone.from_preset(path)
    assert type(backbone) is type(lm.backbone)
    np.testing.assert_allclose(to_numpy(backbone(x)), to_numpy(lm.backbone(x)), atol=1e-6)
    restored = keras_hub.models.CausalLM.from_preset(path)
    assert type(restored) is causal_lm
    np.testing.assert_allclose(to_numpy(restored(x)), to_numpy(lm(x)), atol=1e-5)
