"""Byte-pair-encoded text: WikiText-103 and the pydocs corpus (WaveletGPT §4).

Text is tokenised with keras_hub's `BytePairTokenizer` (GPT-2's byte-level
BPE), from a `vocab.json` + `merges.txt` pair or a keras_hub preset when
online (`"gpt2_base_en"`: GPT-2's 50,257 tokens). Offline, a small
vocabulary is learned from the training split with the byte-level BPE
trainer of Hugging Face `tokenizers` (a keras_hub dependency), which writes
the same two files in the same format.

- `wikitext103`: WikiText-103 raw (Merity et al., 2016), its own
  train/validation/test files, from `data_dir` (the folder
  `wikitext-103-raw/` or the zip) or downloaded with `keras.utils.get_file`.
- `pydocs`: the visible text of Python's HTML docs (Debian
  `python3.11-doc`, same pages as the text8-alphabet `pydocs`, case and
  punctuation kept), split 90/5/5 by character.
- `file`: any text/HTML file or folder, split 90/5/5.

keras_hub 0.32 pre-tokenises a run of exactly two spaces before a word
("a  b" -> "a", "  ", "b") where GPT-2's regex gives ("a", " ", " b"); other
text matches GPT-2 (tests check it against Hugging Face's tokenizer). The
`pydocs` and `file` corpora collapse whitespace, so it never arises there.

Each split is tokenised on its own (in chunks of whole lines, about 1M
characters each) and the ids are cached under `cache_dir` keyed by the
vocabulary, merges and text.
"""

import hashlib
import os

import numpy as np

from keras_wavegpt.data.text import (
    PYDOCS_DIR,
    SPLIT_FRACTIONS,
    TextCorpus,
    pydocs_pages,
    read_archive_member,
    read_text_file,
    split_bounds,
    text_files,
)
from keras_wavegpt.utils.validation import check_int

WIKITEXT103_URL = "https://wikitext.smerity.com/wikitext-103-raw-v1.zip"
WIKITEXT103_FILES = {"train": "wiki.train.raw", "validation": "wiki.valid.raw",
                     "test": "wiki.test.raw"}
BPE_DATASETS = ("wikitext103", "pydocs", "file")
_CHUNK_CHARS = 1 << 20


# --- raw text ------------------------------------------------------------------


def read_wikitext103(data_dir=None):
    """The text of WikiText-103 (raw), split as released.

    Read from `data_dir/wikitext-103-raw/`, or from
    `data_dir/wikitext-103-raw-v1.zip`, downloaded there when missing and
    online.

    Args:
        data_dir: str or `None`. Defaults to `None`, `~/.keras/datasets`.

    Returns:
        dict mapping `"train"`, `"validation"` and `"test"` to str.

    Raises:
        FileNotFoundError: the data is missing and cannot be downloaded.
    """
    import keras

    data_dir = data_dir or os.path.join(os.path.expanduser("~"), ".keras", "datasets")
    folder = os.path.join(data_dir, "wikitext-103-raw")
    if all(os.path.isfile(os.path.join(folder, f)) for f in WIKITEXT103_FILES.values()):
        return {split: _read(os.path.join(folder, f)) for split, f in WIKITEXT103_FILES.items()}
    archive = os.path.join(data_dir, "wikitext-103-raw-v1.zip")
    if not os.path.isfile(archive):
        try:
            archive = keras.utils.get_file(
                "wikitext-103-raw-v1.zip", WIKITEXT103_URL, cache_dir=data_dir, cache_subdir="")
        except Exception as err:  # no network, proxy, HTTP error, ...
            raise FileNotFoundError(
                f"WikiText-103 not found and could not be downloaded ({err}). Put the "
                f"folder wikitext-103-raw/ (wiki.train.raw, wiki.valid.raw, wiki.test.raw) "
                f"or wikitext-103-raw-v1.zip (from {WIKITEXT103_URL}) in {data_dir!r}, "
                "or pass --data_dir with the folder that holds it."
            ) from err
    return {
        split: read_archive_member(archive, f"wikitext-103-raw/{f}").decode("utf-8")
        for split, f in WIKITEXT103_FILES.items()
    }


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def split_text(text):
    """Splits a text 90/5/5 by character (`SPLIT_FRACTIONS`).

    Args:
        text: str.

    Returns:
        dict mapping `"train"`, `"validation"` and `"test"` to str.
    """
    return {name: text[lo:hi] for name, (lo, hi) in split_bounds(len(text)).items()}


def read_text_splits(dataset, data_dir=None, text_file=None):
    """The split text of one of `BPE_DATASETS` (see module).

    Args:
        dataset: str. `"wikitext103"`, `"pydocs"` or `"file"`.
        data_dir: str or `None`. Where the dataset is. Defaults to `None`,
            the dataset's usual place.
        text_file: str or `None`. The file or folder of `dataset="file"`.
            Defaults to `None`.

    Returns:
        dict mapping `"train"`, `"validation"` and `"test"` to str.

    Raises:
        ValueError: `dataset` is unknown, or `"file"` without `text_file`.
    """
    if dataset == "wikitext103":
        return read_wikitext103(data_dir)
    if dataset == "pydocs":
        files = pydocs_pages(data_dir or PYDOCS_DIR)
    elif dataset == "file":
        if not text_file:
            raise ValueError("dataset='file' needs `text_file` (a text/HTML file or folder)")
        files = text_files(text_file)
    else:
        raise ValueError(f"Unknown dataset {dataset!r}; accepted values: {BPE_DATASETS}")
    # One page per line: whitespace inside a page (HTML layout) collapses.
    return split_text("\n".join(" ".join(read_text_file(f).split()) for f in files))


# --- the tokenizer -------------------------------------------------------------


def train_bpe(text, vocabulary_size, out_dir):
    """Learns a byte-level BPE vocabulary (Hugging Face `tokenizers`).

    GPT-2's pre-tokenisation and its 256 byte symbols, then merges up to
    `vocabulary_size` tokens.

    Args:
        text: str. The training text.
        vocabulary_size: int. Tokens in all, above 256.
        out_dir: str. Where `vocab.json` and `merges.txt` are written.

    Returns:
        tuple `(vocabulary_path, merges_path)`.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    check_int("vocabulary_size", vocabulary_size, minimum=257)  # above the 256 byte symbols
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocabulary_size, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    lines = text.splitlines(keepends=True)
    tokenizer.train_from_iterator(lines, trainer, length=len(lines))
    os.makedirs(out_dir, exist_ok=True)
    return tuple(tokenizer.model.save(out_dir))


def bpe_tokenizer(vocabulary=None, merges=None, preset=None):
    """A byte-pair tokenizer from files or from a preset.

    Args:
        vocabulary: str or `None`. The `vocab.json` path. Defaults to `None`.
        merges: str or `None`. The `merges.txt` path. Defaults to `None`.
        preset: str or `None`. A keras_hub preset instead of the files
            (`"gpt2_base_en"`; needs the network). Defaults to `None`.

    Returns:
        `keras_hub.tokenizers.BytePairTokenizer`: a `WaveletGPTTokenizer`
        from files, the preset's own class from a preset.

    Raises:
        ValueError: both a preset and files, or a preset whose tokenizer is
            not byte-pair.
        FileNotFoundError: a file is missing.
    """
    import keras_hub

    if preset:
        if vocabulary or merges:
            raise ValueError("Give `preset` or `vocabulary` + `merges`, not both")
        tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(preset)
        if not isinstance(tokenizer, keras_hub.tokenizers.BytePairTokenizer):
            raise ValueError(f"Preset {preset!r} has a {type(tokenizer).__name__}, "
                             "not a byte-pair tokenizer")
        return tokenizer
    for name, path in (("vocabulary", vocabulary), ("merges", merges)):
        if not path or not os.path.isfile(path):
            raise FileNotFoundError(f"`{name}` file {path!r} does not exist (give "
                                    "vocab.json and merges.txt, or a preset)")
    from keras_wavegpt.tokenizers import WaveletGPTTokenizer

    return WaveletGPTTokenizer(vocabulary=vocabulary, merges=merges)


def _chunks(text):
    """Whole lines, about `_CHUNK_CHARS` characters a chunk."""
    start = 0
    while start < len(text):
        end = text.find("\n", start + _CHUNK_CHARS)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def tokenize_splits(tokenizer, splits, name, cache_dir=None):
    """Tokenises split text into one corpus whose `bounds` keep the splits apart.

    The ids are cached (see module).

    Args:
        tokenizer: `keras_hub.tokenizers.BytePairTokenizer`.
        splits: dict mapping `"train"`, `"validation"` and `"test"` to str.
        name: str. The corpus' name.
        cache_dir: str or `None`. Where the ids are cached. Defaults to
            `None`, `~/.keras/datasets`.

    Returns:
        A `TextCorpus` of int32 BPE ids.
    """
    import keras

    stamp = hashlib.sha1()
    for piece in (repr(tokenizer.vocabulary), repr(tokenizer.merges)):
        stamp.update(piece.encode())
    for split in SPLIT_FRACTIONS:
        stamp.update(splits[split].encode())
    cache_dir = cache_dir or os.path.join(os.path.expanduser("~"), ".keras", "datasets")
    cache = os.path.join(cache_dir, f"{name}-bpe-{stamp.hexdigest()[:16]}.npz")
    if os.path.exists(cache):
        with np.load(cache) as stored:
            parts = {split: stored[split] for split in SPLIT_FRACTIONS}
    else:
        parts = {}
        for split in SPLIT_FRACTIONS:
            ids = [keras.ops.convert_to_numpy(tokenizer(chunk)) for chunk in _chunks(splits[split])]
            parts[split] = np.concatenate(ids or [np.zeros(0)]).astype(np.int32)
        os.makedirs(cache_dir, exist_ok=True)
        tmp = cache + f".tmp{os.getpid()}.npz"
        np.savez(tmp, **parts)
        os.replace(tmp, cache)
    bounds, start = {}, 0
    for split in SPLIT_FRACTIONS:
        bounds[split] = (start, start + len(parts[split]))
        start += len(parts[split])
    ids = np.concatenate([parts[split] for split in SPLIT_FRACTIONS])
    return TextCorpus(name, ids, int(tokenizer.vocabulary_size()), bounds)
