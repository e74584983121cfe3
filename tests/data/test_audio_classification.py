"""Labelled clips: spoken digits from espeak-ng, the CSV + WAV folder loader
(FSD-50K's layout), bad files, and the tf.data pipelines."""

import csv
import os
import shutil

import numpy as np
import pytest

from keras_wavegpt.data import audio_classification as ac
from keras_wavegpt.data.audio import read_wav
from tests.helpers import once_on

# The pipelines are tf.data and numpy: no backend path, so they run once.
pytestmark = once_on("tensorflow", "tf.data and numpy pipelines")

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="needs Debian's espeak-ng")


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("needs Debian's espeak-ng")
    out = tmp_path_factory.mktemp("digits")
    ac.synthesize_spoken_digits(str(out), num_clips=40)
    return out


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@needs_espeak
def test_spoken_digits_are_real_speech_with_their_labels(digits_dir):
    rows = _rows(digits_dir / "labels.csv")
    assert len(rows) == 40 and {r["split"] for r in rows} == {"train", "val", "test"}
    assert {len(r["labels"].split(",")) for r in rows} == {1, 2}
    assert all(set(r["labels"].split(",")) <= set(ac.DIGITS) for r in rows)
    # One or two words: about 0.1 to 1 s of sound at espeak's 22,050 Hz.
    durations = [len(read_wav(digits_dir / f"{r['fname']}.wav")[0]) / 22050 for r in rows]
    assert 0.1 < min(durations) and max(durations) <= 1.0
    two = [d for d, r in zip(durations, rows) if "," in r["labels"]]
    one = [d for d, r in zip(durations, rows) if "," not in r["labels"]]
    assert np.mean(two) > 1.3 * np.mean(one)  # two words take longer to say
    clips = ac.load_spoken_digits(str(digits_dir), num_clips=40)
    assert clips.x.shape == (40, 16000) and clips.x.dtype == np.float32
    assert clips.y.shape == (40, 10) and clips.classes == ac.DIGITS
    np.testing.assert_array_equal(clips.y.sum(1), [len(r["labels"].split(",")) for r in rows])
    assert (np.abs(clips.x).max(1) > 0.05).all()  # every clip has sound
    assert [len(clips.split(s)[1]) for s in ac.SPLITS] == [
        sum(r["split"] == s for r in rows) for s in ("train", "val", "test")]
    # The same seed says the same things; existing clips are kept.
    before = os.path.getmtime(digits_dir / "clip00000.wav")
    ac.synthesize_spoken_digits(str(digits_dir), num_clips=40)
    assert _rows(digits_dir / "labels.csv") == rows
    assert os.path.getmtime(digits_dir / "clip00000.wav") == before


@needs_espeak
def test_fsd50k_layout(digits_dir, tmp_path):
    # FSD-50K's folders and CSVs, holding the spoken digits (no FSD-50K offline).
    rows = _rows(digits_dir / "labels.csv")
    truth = tmp_path / "FSD50K.ground_truth"
    truth.mkdir()
    for folder, subset, columns in (("FSD50K.dev_audio", rows[:30], ("fname", "labels", "split")),
                                    ("FSD50K.eval_audio", rows[30:], ("fname", "labels"))):
        (tmp_path / folder).mkdir()
        for r in subset:
            shutil.copy(digits_dir / f"{r['fname']}.wav", tmp_path / folder)
        name = "dev.csv" if folder.endswith("dev_audio") else "eval.csv"
        with open(truth / name, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(columns)
            writer.writerows([[{"test": "val"}.get(r[c], r[c]) for c in columns]
                              for r in subset])
    classes = list(reversed(ac.DIGITS))  # the vocabulary file sets the order
    with open(truth / "vocabulary.csv", "w", newline="") as f:
        csv.writer(f).writerows([[i, c, f"/m/{i}"] for i, c in enumerate(classes)])
    clips = ac.load_fsd50k(str(tmp_path))
    assert clips.classes == tuple(classes) and clips.x.shape == (40, 16000)
    assert (clips.splits[30:] == "test").all()
    assert set(clips.splits[:30]) <= {"train", "validation"}
    first = rows[0]["labels"].split(",")
    assert sorted(np.array(classes)[clips.y[0] > 0]) == sorted(first)
    with pytest.raises(FileNotFoundError, match="zenodo"):
        ac.load_fsd50k(str(tmp_path / "nowhere"))


@needs_espeak
def test_bad_clips_are_skipped_with_a_count(digits_dir, tmp_path):
    rows = _rows(digits_dir / "labels.csv")[:4]
    for r in rows[:2]:
        shutil.copy(digits_dir / f"{r['fname']}.wav", tmp_path)
    (tmp_path / f"{rows[2]['fname']}.wav").write_bytes(b"RIFF")  # cut short
    # rows[3]'s file is missing.
    with open(tmp_path / "labels.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.warns(UserWarning, match="Skipped 2 of 4 clips"):
        clips = ac.load_labelled_clips(str(tmp_path), str(tmp_path / "labels.csv"), ac.DIGITS)
    assert len(clips.x) == 2
    with pytest.raises(ValueError, match="outside the class list"):
        ac.load_labelled_clips(str(tmp_path), str(tmp_path / "labels.csv"), ("zero",))
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['split'\]"):
        (tmp_path / "nosplit.csv").write_text("fname,labels\nclip00000,one\n")
        ac.load_labelled_clips(str(tmp_path), str(tmp_path / "nosplit.csv"))
    for r in rows[:2]:
        os.remove(tmp_path / f"{r['fname']}.wav")
    with pytest.warns(UserWarning), pytest.raises(FileNotFoundError, match="None of the 4"):
        ac.load_labelled_clips(str(tmp_path), str(tmp_path / "labels.csv"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ac.load_labelled_clips(str(tmp_path), str(tmp_path / "missing.csv"))
    with pytest.raises(ValueError, match="num_clips"):
        ac.synthesize_spoken_digits(str(tmp_path), num_clips=3)


@needs_espeak
def test_pipelines_are_a_function_of_seed_and_epoch(digits_dir):
    clips = ac.load_spoken_digits(str(digits_dir), num_clips=40, sample_rate=8000)
    x_train, y_train = clips.split("train")
    n = len(y_train)
    train, val = ac.clip_datasets(clips, batch_size=4, seed=3)
    batches = list(train.take(2 * (n // 4)).as_numpy_iterator())
    assert batches[0][0].shape == (4, 8000) and batches[0][1].shape == (4, 10)
    # The first epoch shows training clips without repeats.
    seen = np.concatenate([x for x, _ in batches[: n // 4]])
    index = [int(np.flatnonzero((x_train == row).all(1))[0]) for row in seen]
    assert len(set(index)) == len(index) == 4 * (n // 4)
    again = list(ac.clip_datasets(clips, batch_size=4, seed=3)[0].take(3).as_numpy_iterator())
    for (a, b), (c, d) in zip(batches, again):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    other = next(ac.clip_datasets(clips, batch_size=4, seed=4)[0].as_numpy_iterator())
    assert not np.array_equal(other[0], batches[0][0])
    assert sum(1 for _ in val) == len(clips.split("validation")[1]) // 4
    with pytest.raises(ValueError, match="fewer than one batch"):
        ac.clip_datasets(clips, batch_size=64)
