"""Character and byte text corpora and their `tf.data` pipelines (`docs/design.md`, "Data").

Corpora are integer arrays (`numpy.uint8` here) split deterministically into
90% / 5% / 5% train / validation / test (text8 and enwik8: exactly
90M / 5M / 5M of their 100M symbols).

- `text8`: 27 symbols, space = 0 and `a..z` = 1..26.
- `enwik8`: raw bytes, 256 symbols.
- `pydocs`: Python's HTML documentation (Debian `python3.11-doc`), stripped
  and normalised to the text8 alphabet (~10.3M chars): the offline demo
  corpus.
- `pydoc_topics`: the English help topics that ship inside Python
  (`pydoc_data.topics`), text8 alphabet: small, for quick tests.
- any text or HTML file or folder, normalised to the text8 alphabet.

Training batches are random crops of `seq_len + 1` symbols, drawn from a
stateless generator keyed by `(seed, step)`, so the data order is a pure
function of the seed and the step (a resumed run sees the same batches).
Validation uses fixed contiguous windows.
"""

import hashlib
import html.parser
import os
import re
import warnings
import zipfile
from dataclasses import dataclass

import numpy as np

from keras_wavegpt.utils.imports import tensorflow
from keras_wavegpt.utils.validation import check_int

TEXT8_URL = "http://mattmahoney.net/dc/text8.zip"
ENWIK8_URL = "http://mattmahoney.net/dc/enwik8.zip"
PYDOCS_DIR = "/usr/share/doc/python3.11/html"
TEXT8_ALPHABET = " abcdefghijklmnopqrstuvwxyz"
SPLIT_FRACTIONS = {"train": (0.0, 0.9), "validation": (0.9, 0.95), "test": (0.95, 1.0)}
DATASETS = ("text8", "enwik8", "pydocs", "pydoc_topics", "file")

_DIGITS = {
    str(d): f" {w} "
    for d, w in enumerate("zero one two three four five six seven eight nine".split())
}
_NOT_LETTERS = re.compile(r"[^a-z]+")


def split_bounds(n):
    """Where each split of `SPLIT_FRACTIONS` lies in a corpus of `n` symbols.

    Args:
        n: int. The corpus' length.

    Returns:
        dict mapping each split's name to its `(start, end)`.
    """
    return {name: (int(round(lo * n)), int(round(hi * n)))
            for name, (lo, hi) in SPLIT_FRACTIONS.items()}


@dataclass
class TextCorpus:
    """A tokenised corpus and its splits.

    Args:
        name: str. The corpus' name (runs record it).
        ids: numpy array of shape `(N,)`. The tokens: uint8, or int16/int32
            for vocabularies over 256.
        vocabulary_size: int. The number of token ids.
        bounds: dict or `None`. Each split's `(start, end)` in `ids`, for
            corpora that come split (WikiText-103); `None` cuts by
            `SPLIT_FRACTIONS`. Defaults to `None`.
    """

    name: str
    ids: np.ndarray
    vocabulary_size: int
    bounds: dict = None

    def split(self, name):
        """The ids of one split, a fixed slice.

        Args:
            name: str. `"train"`, `"validation"` or `"test"`.

        Returns:
            numpy array, a view into `ids`.
        """
        if name not in SPLIT_FRACTIONS:
            raise ValueError(
                f"Unknown split {name!r}; accepted values: {tuple(SPLIT_FRACTIONS)}"
            )
        lo, hi = (self.bounds or split_bounds(len(self.ids)))[name]
        return self.ids[lo:hi]

    def decode(self, ids):
        """Token ids back to a string.

        Args:
            ids: array-like of ints. text8 letters for a 27-symbol corpus,
                else bytes, read as UTF-8 with invalid sequences (a sample
                cut inside a character) as U+FFFD.

        Returns:
            str.
        """
        ids = np.asarray(ids, dtype=np.uint8)
        if self.vocabulary_size == 27:
            return decode_text8(ids)
        return ids.tobytes().decode("utf-8", errors="replace")


# --- text8 alphabet ---------------------------------------------------------


def normalize_text8(text):
    """Maps any text to the text8 alphabet, as text8 itself was made.

    Lower-cases, spells out digits ("1" -> " one "), turns every other
    character that is not `a..z` into a space and collapses runs of spaces
    (the rules of Mahoney's `wikifil.pl`).

    Args:
        text: str.

    Returns:
        str of `a..z` and single spaces, stripped.

    Example:

    >>> normalize_text8("Hi, 2 cats!")
    'hi two cats'
    """
    text = text.lower().translate(str.maketrans(_DIGITS))
    return _NOT_LETTERS.sub(" ", text).strip()


def encode_text8(text):
    """Token ids of a text8-alphabet string: space 0, `a..z` 1..26.

    Args:
        text: str. Normalised text (`normalize_text8`).

    Returns:
        uint8 numpy array.

    Raises:
        ValueError: `text` holds a character outside the alphabet.
    """
    raw = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    if raw.size and not np.all((raw == 32) | ((raw >= 97) & (raw <= 122))):
        raise ValueError("encode_text8 needs normalised text; call normalize_text8 first")
    return np.where(raw == 32, 0, raw - 96).astype(np.uint8)


def decode_text8(ids):
    """The text8-alphabet string of token ids.

    Args:
        ids: array-like of ints in `[0, 26]`.

    Returns:
        str.

    Raises:
        ValueError: an id lies outside `[0, 26]`.
    """
    ids = np.asarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() > 26):
        raise ValueError("text8 ids must lie in [0, 26]")
    table = np.frombuffer(TEXT8_ALPHABET.encode("ascii"), dtype=np.uint8)
    return table[ids.astype(np.int64)].tobytes().decode("ascii")


class _HTMLText(html.parser.HTMLParser):
    """Collects the visible text of an HTML page (skips script and style)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup):
    """The visible text of an HTML document (no script or style).

    Args:
        markup: str. The HTML.

    Returns:
        str.
    """
    parser = _HTMLText()
    parser.feed(markup)
    parser.close()
    return " ".join(parser.parts)


def read_text_file(path):
    """A file's text; HTML (`.html`, `.htm`) is stripped to its visible text.

    Args:
        path: str. The file, read as UTF-8 with invalid bytes replaced.

    Returns:
        str.
    """
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    if path.lower().endswith((".html", ".htm")):
        text = html_to_text(text)
    return text


# --- corpora ----------------------------------------------------------------


def _corpus_from_files(files, name):
    text = " ".join(normalize_text8(read_text_file(f)) for f in files)
    ids = encode_text8(text)
    if ids.size == 0:
        raise ValueError(f"{name!r} holds no letters after text8 normalisation")
    return TextCorpus(name, ids, 27)


def warn_skipped(skipped, total, what, stacklevel=3):
    """One warning that counts the unusable files a loader left out.

    It names the first three.

    Args:
        skipped: list of str. `"name (reason)"` for each file left out.
        total: int. The files the loader looked at.
        what: str. What the files are, for the message (`"MIDI files"`).
        stacklevel: int. The warning's stack level. Defaults to `3` (the
            loader's caller).
    """
    if skipped:
        warnings.warn(
            f"Skipped {len(skipped)} of {total} {what}: "
            + "; ".join(skipped[:3]) + (" ..." if len(skipped) > 3 else ""),
            stacklevel=stacklevel,
        )


def _files_under(path, suffixes):
    return sorted(
        os.path.join(root, f)
        for root, _, names in os.walk(path)
        for f in names
        if f.lower().endswith(suffixes)
    )


def text_files(path):
    """The text files a path names.

    Args:
        path: str. A file, or a folder searched recursively.

    Returns:
        list of str: `[path]` for a file, or every `.txt`, `.html`, `.htm`
        and `.md` file under the folder, sorted by path.

    Raises:
        FileNotFoundError: `path` does not exist or its folder holds no text.
    """
    if os.path.isdir(path):
        files = _files_under(path, (".txt", ".html", ".htm", ".md"))
        if not files:
            raise FileNotFoundError(f"No .txt/.html/.htm/.md files under {path!r}")
        return files
    if os.path.isfile(path):
        return [path]
    raise FileNotFoundError(f"Text file or folder {path!r} does not exist")


def load_text_files(path, name=None):
    """The `text_files` of `path`, normalised to the text8 alphabet.

    Args:
        path: str. A text or HTML file, or a folder of them (read recursively,
            sorted by path).
        name: str or `None`. The corpus' name. Defaults to `None`, the last
            part of `path`.

    Returns:
        A 27-symbol `TextCorpus`.
    """
    return _corpus_from_files(text_files(path), name or os.path.basename(os.path.normpath(path)))


def pydocs_pages(path=PYDOCS_DIR):
    """The documentation pages of the pydocs corpus, sorted by path.

    Args:
        path: str. The folder of HTML pages. Defaults to `PYDOCS_DIR`.

    Returns:
        list of str, without the generated index pages.

    Raises:
        FileNotFoundError: the folder is missing or holds no pages.
    """
    if not os.path.isdir(path):
        raise FileNotFoundError(
            f"The pydocs corpus needs Python's HTML docs at {path!r}; install "
            "them with `apt-get install -y python3.11-doc` or pass another folder."
        )
    index_pages = re.compile(r"(^|/)(genindex[^/]*|py-modindex|search)\.html$")
    files = [f for f in _files_under(path, (".html",)) if not index_pages.search(f)]
    if not files:
        raise FileNotFoundError(f"No documentation pages (.html) under {path!r}")
    return files


def load_pydocs(path=PYDOCS_DIR, cache_dir=None):
    """Python's HTML documentation as a text8-alphabet corpus (~10.3M chars).

    Installed by Debian's `python3.11-doc` package. Every `.html` page, sorted
    by path, except the generated index pages (`genindex*`, `py-modindex`,
    `search`) and the reST copies under `_sources/`. The normalised ids are
    cached as `.npy` under `cache_dir` (default `~/.keras/datasets`), keyed by
    the pages' names, sizes and modification times.

    Args:
        path: str. The folder of HTML pages. Defaults to `PYDOCS_DIR`, where
            the Debian package puts them.
        cache_dir: str or `None`. Where the normalised ids are cached.
            Defaults to `None`, `~/.keras/datasets`.

    Returns:
        A 27-symbol `TextCorpus` named `"pydocs"`.
    """
    files = pydocs_pages(path)
    stamp = hashlib.sha1()
    for f in files:
        st = os.stat(f)
        stamp.update(f"{f}:{st.st_size}:{st.st_mtime_ns}".encode())
    cache_dir = cache_dir or os.path.join(os.path.expanduser("~"), ".keras", "datasets")
    cache = os.path.join(cache_dir, f"pydocs-{stamp.hexdigest()[:16]}.npy")
    if os.path.exists(cache):
        return TextCorpus("pydocs", np.load(cache), 27)
    corpus = _corpus_from_files(files, "pydocs")
    os.makedirs(cache_dir, exist_ok=True)
    tmp = cache + f".tmp{os.getpid()}.npy"
    np.save(tmp, corpus.ids)
    os.replace(tmp, cache)
    return corpus


def load_pydoc_topics():
    """The help topics inside Python (`pydoc_data.topics`, ~0.39M chars after normalisation)."""
    from pydoc_data.topics import topics

    text = " ".join(normalize_text8(topics[k]) for k in sorted(topics))
    return TextCorpus("pydoc_topics", encode_text8(text), 27)


def read_archive_member(path, name):
    """The bytes of an archive member, or of a plain file.

    Args:
        path: str. A zip archive, or the unzipped file itself.
        name: str. The member to read from a zip archive.

    Returns:
        bytes.

    Raises:
        ValueError: the zip lacks `name`, or a `.zip` is not readable.
    """
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            if name not in z.namelist():
                raise ValueError(
                    f"The zip archive {path!r} has no member {name!r} (it holds "
                    f"{z.namelist()[:5]})"
                )
            return z.read(name)
    if str(path).endswith(".zip"):
        raise ValueError(
            f"{path!r} is not a readable zip archive (an interrupted download?); "
            "delete it and load again, or put the unzipped file beside it."
        )
    with open(path, "rb") as f:
        return f.read()


def _read_archive(name, url, data_dir):
    """Bytes of `name` from `data_dir/name`, `data_dir/name.zip` or `url`."""
    data_dir = data_dir or os.path.join(os.path.expanduser("~"), ".keras", "datasets")
    for path in (os.path.join(data_dir, name), os.path.join(data_dir, name + ".zip")):
        if os.path.isfile(path):
            return read_archive_member(path, name), path
    import keras

    try:
        path = keras.utils.get_file(name + ".zip", url, cache_dir=data_dir, cache_subdir="")
    except Exception as err:  # no network, proxy, HTTP error, ...
        raise FileNotFoundError(
            f"{name} not found and could not be downloaded ({err}). Put {name} or "
            f"{name}.zip (from {url}) at {os.path.join(data_dir, name + '.zip')!r}, "
            "or pass --data_dir with the folder that holds it."
        ) from err
    return read_archive_member(path, name), path


def load_text8(data_dir=None):
    """text8 (Mahoney): 100M characters, 27 symbols, from a local copy or
    downloaded when online.

    Args:
        data_dir: str or `None`. The folder holding `text8` or `text8.zip`.
            Defaults to `None`, `~/.keras/datasets` (downloaded there when
            missing).

    Returns:
        A 27-symbol `TextCorpus` named `"text8"`.
    """
    raw, path = _read_archive("text8", TEXT8_URL, data_dir)
    try:
        ids = encode_text8(raw.decode("ascii"))
    except ValueError as err:  # UnicodeDecodeError is a ValueError too
        raise ValueError(
            f"{path!r} is not text8: it holds characters other than a-z and space "
            "(text8 is one line of lowercase words)"
        ) from err
    return TextCorpus("text8", ids, 27)


def load_enwik8(data_dir=None):
    """enwik8 (Hutter prize): the first 100M bytes of English Wikipedia XML,
    from a local copy or downloaded when online.

    Args:
        data_dir: str or `None`. The folder holding `enwik8` or `enwik8.zip`.
            Defaults to `None`, `~/.keras/datasets` (downloaded there when
            missing).

    Returns:
        A 256-symbol (byte) `TextCorpus` named `"enwik8"`.
    """
    raw, _ = _read_archive("enwik8", ENWIK8_URL, data_dir)
    return TextCorpus("enwik8", np.frombuffer(raw, dtype=np.uint8).copy(), 256)


def load_corpus(dataset, data_dir=None, text_file=None):
    """Load a corpus by name.

    Args:
        dataset: str. One of `DATASETS`: `"text8"`, `"enwik8"`, `"pydocs"`,
            `"pydoc_topics"` or `"file"`.
        data_dir: str or `None`. Where text8 or enwik8 are (or the pydocs
            HTML folder). Defaults to `None`, each loader's default.
        text_file: str or `None`. The file or folder `"file"` reads.
            Defaults to `None`.

    Returns:
        A `TextCorpus`.
    """
    if dataset == "text8":
        return load_text8(data_dir)
    if dataset == "enwik8":
        return load_enwik8(data_dir)
    if dataset == "pydocs":
        return load_pydocs(data_dir or PYDOCS_DIR)
    if dataset == "pydoc_topics":
        return load_pydoc_topics()
    if dataset == "file":
        if not text_file:
            raise ValueError("dataset='file' needs `text_file` (a text/HTML file or folder)")
        return load_text_files(text_file)
    raise ValueError(f"Unknown dataset {dataset!r}; accepted values: {DATASETS}")


# --- tf.data pipelines ------------------------------------------------------


def _check_windows(ids, seq_len, batch_size, what):
    check_int("seq_len", seq_len)
    check_int("batch_size", batch_size)
    if len(ids) < seq_len + 1:
        raise ValueError(
            f"The {what} split has {len(ids)} symbols, fewer than one window of "
            f"seq_len + 1 = {seq_len + 1}; use a larger corpus or a shorter seq_len."
        )


def train_dataset(ids, seq_len, batch_size, seed=0, start_step=0):
    """Endless batches of random crops: `(x, y)` as keras_hub's causal LMs
    take them, `x = {"token_ids", "padding_mask"}` and `y` the token ids
    shifted by one, all int32 `(B, seq_len)` (the mask all ones: every
    window is full). Batch `k` depends only on `(seed, start_step + k)`, so
    a resumed run sees the batches it would have seen.

    Args:
        ids: array of int. The token stream (a corpus split).
        seq_len: int. Window length.
        batch_size: int. Windows per batch.
        seed: int. Seed of the crop positions. Defaults to `0`.
        start_step: int. The first batch's step. Defaults to `0`.

    Returns:
        An endless `tf.data.Dataset` of `(x, y)`.
    """
    tf = tensorflow()

    _check_windows(ids, seq_len, batch_size, "training")
    data = tf.constant(ids)
    span = tf.range(seq_len + 1, dtype=tf.int64)
    high = len(ids) - seq_len  # crops start in [0, len - seq_len - 1]

    def batch(step):
        starts = tf.random.stateless_uniform(
            [batch_size], seed=tf.stack([tf.cast(seed, tf.int64), step]),
            maxval=high, dtype=tf.int64,
        )
        windows = tf.cast(tf.gather(data, starts[:, None] + span), tf.int32)
        return causal_lm_inputs(windows[:, :-1]), windows[:, 1:]

    return (
        tf.data.Dataset.counter(start=start_step)
        .map(batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .prefetch(tf.data.AUTOTUNE)
    )


def eval_dataset(ids, seq_len, batch_size, max_windows=None):
    """Fixed contiguous windows `(x, y)` spread evenly over `ids`.

    Uses every non-overlapping window of `seq_len + 1` symbols, or
    `max_windows` of them evenly spaced, rounded down to whole batches (at
    least one batch, repeating nothing).

    Args:
        ids: array of int. The token stream (a corpus split).
        seq_len: int. Window length.
        batch_size: int. Windows per batch.
        max_windows: int or `None`. At most this many windows. Defaults to
            `None`, all of them.

    Returns:
        A finite `tf.data.Dataset` of `(x, y)`, as `train_dataset`'s.
    """
    tf = tensorflow()

    _check_windows(ids, seq_len, batch_size, "evaluation")
    check_int("max_windows", max_windows, allow_none=True)
    available = len(ids) // (seq_len + 1)
    count = available if max_windows is None else min(available, max_windows)
    count = (count // batch_size) * batch_size
    if count == 0:
        raise ValueError(
            f"The evaluation split holds {available} windows of {seq_len + 1}, "
            f"fewer than one batch of {batch_size}; lower batch_size or seq_len."
        )
    starts = (np.arange(count) * available // count) * (seq_len + 1)
    windows = np.stack([ids[s : s + seq_len + 1] for s in starts]).astype(np.int32)
    return tf.data.Dataset.from_tensor_slices(
        (causal_lm_inputs(windows[:, :-1]), windows[:, 1:])
    ).batch(batch_size)


def causal_lm_inputs(token_ids):
    """keras_hub's causal LM inputs for full windows (no padding).

    Args:
        token_ids: int numpy array or `tf.Tensor` of shape `(B, T)`.

    Returns:
        dict of `"token_ids"` and an all-ones `"padding_mask"`, both
        `(B, T)`, of `token_ids`' kind.

    Example:

    >>> causal_lm_inputs(np.array([[3, 1, 4]]))["padding_mask"].tolist()
    [[1, 1, 1]]
    """
    if isinstance(token_ids, np.ndarray):
        return {"token_ids": token_ids, "padding_mask": np.ones_like(token_ids)}
    return {"token_ids": token_ids, "padding_mask": tensorflow().ones_like(token_ids)}
