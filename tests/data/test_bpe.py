"""BPE text: a vocabulary learned from real text, keras_hub's tokenizer
against Hugging Face's on held-out text, split bounds and the cache, the
WikiText-103 file layout, and bad input."""

import os
import re
import zipfile

import numpy as np
import pytest
from pydoc_data.topics import topics

from keras_wavegpt.data import bpe
from keras_wavegpt.data.text import PYDOCS_DIR

TEXT = "\n".join(topics[k] for k in sorted(topics))  # Python's help text, ~0.46M chars


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    out = tmp_path_factory.mktemp("bpe")
    return bpe.train_bpe(bpe.split_text(TEXT)["train"], 700, str(out))


def test_keras_hub_tokenizes_like_the_trainer_on_held_out_text(learned):
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab, merges = learned
    tokenizer = bpe.bpe_tokenizer(vocab, merges)
    assert tokenizer.vocabulary_size() == 700
    # Runs of spaces are collapsed, as the pipelines do: keras_hub 0.32 splits
    # exactly two spaces before a word as one piece ("a  b": "  ", "b") where
    # GPT-2's regex gives (" ", " b"); every other run tokenises alike.
    held_out = re.sub(" +", " ", bpe.split_text(TEXT)["test"][:20000])
    ids = np.asarray(tokenizer(held_out))
    # Hugging Face's Rust BPE with the same files is the independent reference.
    reference = Tokenizer(models.BPE.from_file(vocab, merges))
    reference.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    np.testing.assert_array_equal(ids, reference.encode(held_out).ids)
    assert tokenizer.detokenize(ids) == held_out  # byte-level BPE is lossless
    assert 2 < len(held_out) / len(ids) < 6  # merges learned: several chars a token
    with pytest.raises(ValueError, match="vocabulary_size"):
        bpe.train_bpe("abc", 256, str(os.path.dirname(vocab)))


def test_splits_are_tokenized_apart_and_cached(learned, tmp_path):
    tokenizer = bpe.bpe_tokenizer(*learned)
    splits = bpe.split_text(TEXT)
    assert sum(map(len, splits.values())) == len(TEXT)
    assert abs(len(splits["validation"]) / len(TEXT) - 0.05) < 1e-4
    corpus = bpe.tokenize_splits(tokenizer, splits, "topics", cache_dir=str(tmp_path))
    assert corpus.ids.dtype == np.int32 and corpus.vocabulary_size == 700
    assert 0 <= corpus.ids.min() and corpus.ids.max() < 700
    for name in ("train", "validation", "test"):
        assert tokenizer.detokenize(corpus.split(name)) == splits[name]
    assert corpus.bounds["train"][1] == corpus.bounds["validation"][0]
    assert len(list(tmp_path.glob("topics-bpe-*.npz"))) == 1
    again = bpe.tokenize_splits(tokenizer, splits, "topics", cache_dir=str(tmp_path))
    np.testing.assert_array_equal(again.ids, corpus.ids)
    assert again.bounds == corpus.bounds


def test_chunks_keep_whole_lines(monkeypatch):
    monkeypatch.setattr(bpe, "_CHUNK_CHARS", 1000)
    chunks = list(bpe._chunks(TEXT[:20000]))
    assert "".join(chunks) == TEXT[:20000] and len(chunks) > 10
    assert all(c.endswith("\n") for c in chunks[:-1])


def test_wikitext103_layout_folder_and_zip(tmp_path):
    # The loader's file layout, filled with Python's help text (no WikiText offline).
    parts = bpe.split_text(TEXT)
    folder = tmp_path / "wikitext-103-raw"
    folder.mkdir()
    for split, name in bpe.WIKITEXT103_FILES.items():
        (folder / name).write_text(parts[split], encoding="utf-8")
    assert bpe.read_wikitext103(str(tmp_path)) == parts
    zipped = tmp_path / "zipped"
    zipped.mkdir()
    with zipfile.ZipFile(zipped / "wikitext-103-raw-v1.zip", "w") as z:
        for name in bpe.WIKITEXT103_FILES.values():
            z.write(folder / name, f"wikitext-103-raw/{name}")
    assert bpe.read_wikitext103(str(zipped)) == parts


@pytest.mark.skipif(not os.path.isdir(PYDOCS_DIR), reason="needs Debian's python3.11-doc")
def test_pydocs_text_keeps_case_and_punctuation():
    splits = bpe.read_text_splits("file", text_file=os.path.join(PYDOCS_DIR, "tutorial"))
    train = splits["train"]
    assert 200_000 < len(train) < 2_000_000
    assert "Python" in train and "print(" in train and "  " not in train


def test_bad_input(learned, tmp_path):
    vocab, merges = learned
    with pytest.raises(FileNotFoundError, match="`merges` file"):
        bpe.bpe_tokenizer(vocab, str(tmp_path / "missing.txt"))
    with pytest.raises(ValueError, match="not both"):
        bpe.bpe_tokenizer(vocab, merges, preset="gpt2_base_en")
    with pytest.raises(ValueError, match="Unknown dataset 'wiki'.*wikitext103"):
        bpe.read_text_splits("wiki")
    with pytest.raises(ValueError, match="needs `text_file`"):
        bpe.read_text_splits("file")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        bpe.read_text_splits("file", text_file=str(tmp_path / "nowhere"))
