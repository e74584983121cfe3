"""Text corpora and pipelines, on real text that ships with Python and Debian."""

import os
import zipfile

import numpy as np
import pytest

from keras_wavegpt import data
from keras_wavegpt.data.text import PYDOCS_DIR, html_to_text
from tests.helpers import once_on

# The pipelines are tf.data and numpy: no backend path, so they run once.
pytestmark = once_on("tensorflow", "tf.data and numpy pipelines")


@pytest.fixture(scope="module")
def topics():
    return data.load_pydoc_topics()


def test_normalisation_follows_text8_rules():
    assert data.normalize_text8("Hello, World! 42 cafés") == "hello world four two caf s"
    ids = data.encode_text8("a z")
    assert ids.tolist() == [1, 0, 26] and ids.dtype == np.uint8
    assert data.decode_text8(ids) == "a z"
    with pytest.raises(ValueError, match="normalize_text8"):
        data.encode_text8("Abc")


def test_html_is_stripped():
    page = "<html><style>p {}</style><p>Read <b>this</b></p><script>x=1</script></html>"
    assert data.normalize_text8(html_to_text(page)) == "read this"


def test_pydoc_topics_corpus(topics):
    assert topics.vocabulary_size == 27 and len(topics.ids) > 350_000
    assert topics.ids.min() == 0 and topics.ids.max() == 26
    text = topics.decode(topics.ids[:5000])
    assert " the " in text and "  " not in text


def test_splits_are_deterministic_and_disjoint(topics):
    n = len(topics.ids)
    train, val, test = (topics.split(s) for s in ("train", "validation", "test"))
    assert len(train) + len(val) + len(test) == n
    assert len(train) == round(0.9 * n) and abs(len(val) - len(test)) <= 1
    np.testing.assert_array_equal(np.concatenate([train, val, test]), topics.ids)
    with pytest.raises(ValueError, match="accepted values"):
        topics.split("dev")


def test_pydocs_corpus(tmp_path):
    corpus = data.load_pydocs(cache_dir=str(tmp_path))
    assert 9_000_000 < len(corpus.ids) < 12_000_000
    assert corpus.ids.max() == 26
    text = corpus.decode(corpus.ids[:200_000])
    assert "python" in text and "function" in text
    cached = data.load_pydocs(cache_dir=str(tmp_path))  # from the .npy cache
    np.testing.assert_array_equal(cached.ids, corpus.ids)


def test_text8_and_enwik8_read_local_archives(tmp_path, topics):
    # Real text laid out as the real archives are: one member named like the zip.
    text8 = topics.decode(topics.ids).encode("ascii")
    with zipfile.ZipFile(tmp_path / "text8.zip", "w") as z:
        z.writestr("text8", text8)
    corpus = data.load_corpus("text8", data_dir=str(tmp_path))
    np.testing.assert_array_equal(corpus.ids, topics.ids)
    (tmp_path / "enwik8").write_bytes(text8[:1000])
    enwik = data.load_enwik8(str(tmp_path))
    assert enwik.vocabulary_size == 256 and enwik.decode(enwik.ids) == text8[:1000].decode()


def test_missing_file_names_the_expected_path(tmp_path, monkeypatch):
    import keras

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "text8.zip")):
        data.load_text8(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.load_corpus("file", text_file=str(tmp_path / "nothing.txt"))
    with pytest.raises(FileNotFoundError, match="apt-get install"):
        data.load_pydocs(str(tmp_path / "no_docs"))
    with pytest.raises(ValueError, match="accepted values"):
        data.load_corpus("wikipedia")


def test_text_files_and_folders(tmp_path):
    pages = sorted(os.listdir(os.path.join(PYDOCS_DIR, "tutorial")))[:3]
    folder = tmp_path / "pages"
    folder.mkdir()
    for p in pages:
        with open(os.path.join(PYDOCS_DIR, "tutorial", p), "rb") as f:
            (folder / p).write_bytes(f.read())
    corpus = data.load_corpus("file", text_file=str(folder))
    first = data.load_text_files(str(folder / pages[0]))
    assert corpus.name == "pages" and len(corpus.ids) > len(first.ids) > 100
    np.testing.assert_array_equal(corpus.ids[: len(first.ids)], first.ids)


def test_train_batches_are_shifted_crops_and_reproducible(topics):
    ids = topics.split("train")
    batches = list(data.train_dataset(ids, 16, 4, seed=3).take(3))
    again = list(data.train_dataset(ids, 16, 4, seed=3, start_step=1).take(2))
    other = next(iter(data.train_dataset(ids, 16, 4, seed=4)))
    for x, y in batches:
        # keras_hub's causal LM inputs; every window is full.
        assert (x["padding_mask"].numpy() == 1).all()
        x, y = x["token_ids"].numpy(), y.numpy()
        assert x.shape == y.shape == (4, 16) and x.dtype == np.int32
        np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
        for row_x, row_y in zip(x, y):  # each row is a real crop of the corpus
            window = np.concatenate([row_x, row_y[-1:]])
            starts = np.flatnonzero(np.all(
                np.lib.stride_tricks.sliding_window_view(ids, 17)[:, :4] == window[:4], axis=1))
            assert any(np.array_equal(ids[s : s + 17], window) for s in starts)
    # Batch k depends only on (seed, step): resuming at step 1 continues the order.
    np.testing.assert_array_equal(again[0][1].numpy(), batches[1][1].numpy())
    assert not np.array_equal(other[1].numpy(), batches[0][1].numpy())


def test_eval_windows_are_fixed_and_contiguous(topics):
    ids = topics.split("validation")
    ds = data.eval_dataset(ids, 32, 8, max_windows=20)
    xs = [x["token_ids"].numpy() for x, _ in ds]
    assert [len(x) for x in xs] == [8, 8]  # 20 rounded down to whole batches
    assert all(np.array_equal(a, b) for a, b in zip(xs, [x["token_ids"].numpy() for x, _ in ds]))
    x0, y0 = next(iter(ds))
    assert (x0["padding_mask"].numpy() == 1).all()
    np.testing.assert_array_equal(x0["token_ids"].numpy()[0], ids[:32])
    np.testing.assert_array_equal(y0.numpy()[0], ids[1:33])


def test_too_small_splits_fail_clearly(topics):
    with pytest.raises(ValueError, match="fewer than one window"):
        data.train_dataset(topics.ids[:10], 16, 4)
    with pytest.raises(ValueError, match="fewer than one batch"):
        data.eval_dataset(topics.ids[:100], 32, 8)

