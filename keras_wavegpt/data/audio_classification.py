"""Labelled audio clips (WaveletGPT §4.4: FSD-50K with the Audio Transformer).

A `ClipSet` holds fixed-length waveforms (each clip's first `clip_seconds`
at `sample_rate`, zero-padded when shorter), multi-hot labels and the split
of every clip. One folder layout serves every source: WAV files plus a CSV
with the columns `fname` (file name without `.wav`), `labels` (class names
joined by commas) and optionally `split`:

- FSD-50K (Fonseca et al., 2020): `FSD50K.dev_audio/` + `dev.csv` (its
  `split` column: train / val) and `FSD50K.eval_audio/` + `eval.csv` (the
  test split), class names from `vocabulary.csv`; 200 classes, 44.1 kHz
  clips resampled to `sample_rate`.
- Spoken digits, offline: `synthesize_spoken_digits` has Debian's
  `espeak-ng` say one or two different digits ("seven three") in 7 English
  accents x 12 voice variants, at random speeds (170-260 words a minute) and
  pitches (20-80), writes the WAVs and `labels.csv`; 10 classes,
  multi-label, split 80/10/10 by a seed-0 permutation.

Unreadable or empty WAV files are skipped with one warning that counts them.
"""

import csv
import dataclasses
import os
import shutil
import subprocess

import numpy as np

from keras_wavegpt.data.audio import read_wav, resample
from keras_wavegpt.data.lra import epoch_batches
from keras_wavegpt.data.text import warn_skipped
from keras_wavegpt.utils.imports import tensorflow
from keras_wavegpt.utils.validation import check_int

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ESPEAK_ACCENTS = ("en-gb", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp",
                  "en-gb-x-gbcwmd", "en-029")
ESPEAK_VARIANTS = tuple(f"m{i}" for i in range(1, 8)) + tuple(f"f{i}" for i in range(1, 6))
SPLITS = ("train", "validation", "test")
_SPLIT_NAMES = {"train": "train", "val": "validation", "validation": "validation",
                "test": "test", "eval": "test"}


@dataclasses.dataclass
class ClipSet:
    """Fixed-length labelled clips and the split of each.

    Args:
        name: str. The set's name.
        x: float32 array of shape `(N, samples)`. Waveforms in `[-1, 1]`.
        y: float32 array of shape `(N, C)`. Multi-hot labels.
        splits: array of shape `(N,)`. Each clip's `"train"`,
            `"validation"` or `"test"`.
        classes: tuple of str. The `C` class names.
        sample_rate: int. The clips' rate in Hz.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    splits: np.ndarray
    classes: tuple
    sample_rate: int

    def split(self, name):
        """The clips of one split.

        Args:
            name: str. `"train"`, `"validation"` or `"test"`.

        Returns:
            tuple `(x, y)`.
        """
        if name not in SPLITS:
            raise ValueError(f"Unknown split {name!r}; accepted values: {SPLITS}")
        index = np.flatnonzero(self.splits == name)
        return self.x[index], self.y[index]


# --- reading ------------------------------------------------------------------


def _fixed_length(x, samples):
    out = np.zeros(samples, np.float32)
    out[: min(samples, len(x))] = x[:samples]
    return out


def load_labelled_clips(audio_dir, csv_path, classes=None, sample_rate=16000,
                        clip_seconds=1.0, split=None, name=None):
    """A `ClipSet` of the clips `csv_path` lists (see module) from `audio_dir`.

    Args:
        audio_dir: str. The folder of `<fname>.wav`.
        csv_path: str. A CSV with `fname`, `labels` and (unless `split`)
            `split`.
        classes: tuple of str or `None`. Class names in output order; a
            label outside them is an error. Defaults to `None`, every label
            seen, sorted.
        sample_rate: int. Clips are resampled to this rate. Defaults to
            `16000`.
        clip_seconds: float. Clips are cut or zero-padded to this length.
            Defaults to `1.0`.
        split: str or `None`. The split of every clip, instead of a `split`
            column. Defaults to `None`.
        name: str or `None`. The set's name. Defaults to `None`, the CSV's
            file name.

    Returns:
        A `ClipSet`.
    """
    if not os.path.isfile(csv_path):
        raise FileNotFoundError(f"Label file {csv_path!r} does not exist")
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    missing = {"fname", "labels", *(() if split else ("split",))} - set(rows[0] if rows else ())
    if missing:
        raise ValueError(f"{csv_path!r} lacks the column(s) {sorted(missing)}")
    seen = sorted({label for row in rows for label in row["labels"].split(",")})
    classes = tuple(classes) if classes is not None else tuple(seen)
    unknown = sorted(set(seen) - set(classes))
    if unknown:
        raise ValueError(f"{csv_path!r} uses labels outside the class list: {unknown[:5]}")
    column = {c: i for i, c in enumerate(classes)}
    samples = int(round(sample_rate * clip_seconds))
    x, y, splits, skipped = [], [], [], []
    for row in rows:
        label_split = split or row["split"]
        if label_split not in _SPLIT_NAMES:
            raise ValueError(f"{csv_path!r}: clip {row['fname']} has split {label_split!r}; "
                             f"accepted values: {sorted(_SPLIT_NAMES)}")
        path = os.path.join(audio_dir, row["fname"] + ".wav")
        try:
            wave, rate = read_wav(path)
        except (ValueError, FileNotFoundError) as err:
            skipped.append(f"{row['fname']} ({err})")
            continue
        if len(wave) == 0:
            skipped.append(f"{row['fname']} (no samples)")
            continue
        x.append(_fixed_length(resample(wave, rate, sample_rate), samples))
        hot = np.zeros(len(classes), np.float32)
        hot[[column[label] for label in row["labels"].split(",")]] = 1.0
        y.append(hot)
        splits.append(_SPLIT_NAMES[label_split])
    warn_skipped(skipped, len(rows), f"clips listed in {csv_path!r}")
    if not x:
        raise FileNotFoundError(f"None of the {len(rows)} clips listed in {csv_path!r} is "
                                f"usable under {audio_dir!r}")
    return ClipSet(name or os.path.splitext(os.path.basename(csv_path))[0], np.stack(x),
                   np.stack(y), np.asarray(splits), classes, sample_rate)


def load_fsd50k(root, sample_rate=16000, clip_seconds=1.0):
    """FSD-50K from its unpacked release folder (see module).

    Args:
        root: str. The folder holding `FSD50K.dev_audio`,
            `FSD50K.eval_audio` and `FSD50K.ground_truth`.
        sample_rate: int. Clips are resampled to this rate. Defaults to
            `16000`.
        clip_seconds: float. Clips are cut or zero-padded to this length.
            Defaults to `1.0`.

    Returns:
        A `ClipSet` named `"fsd50k"` of 200 classes.

    Raises:
        FileNotFoundError: the release is not under `root`.
    """
    truth = os.path.join(root, "FSD50K.ground_truth")
    vocabulary = os.path.join(truth, "vocabulary.csv")
    if not os.path.isfile(vocabulary):
        raise FileNotFoundError(
            f"FSD-50K not found: {vocabulary!r} does not exist. Download FSD50K from "
            "https://zenodo.org/record/4060432, unpack FSD50K.dev_audio, FSD50K.eval_audio "
            "and FSD50K.ground_truth into one folder and pass it as --data_dir."
        )
    with open(vocabulary, newline="", encoding="utf-8") as f:
        classes = [row[1] for row in csv.reader(f)]  # index, label, mid; no header
    dev = load_labelled_clips(os.path.join(root, "FSD50K.dev_audio"),
                              os.path.join(truth, "dev.csv"), classes, sample_rate, clip_seconds)
    test = load_labelled_clips(os.path.join(root, "FSD50K.eval_audio"),
                               os.path.join(truth, "eval.csv"), classes, sample_rate,
                               clip_seconds, split="test")
    return ClipSet("fsd50k", np.concatenate([dev.x, test.x]), np.concatenate([dev.y, test.y]),
                   np.concatenate([dev.splits, test.splits]), tuple(classes), sample_rate)


# --- spoken digits with espeak-ng ---------------------------------------------------


def synthesize_spoken_digits(out_dir, num_clips=1200, clip_seconds=1.0, seed=0):
    """Writes spoken-digit WAVs and `labels.csv` with `espeak-ng` (see module).

    Clips already there are kept. Each clip is trimmed of leading silence;
    one that still runs past `clip_seconds` is said again faster.

    Args:
        out_dir: str. The folder to write into.
        num_clips: int. How many clips, at least 10. Defaults to `1200`.
        clip_seconds: float. The longest clip. Defaults to `1.0`.
        seed: int. Seeds the words, voices, speeds, pitches and split.
            Defaults to `0`.

    Returns:
        str, the CSV's path.

    Raises:
        FileNotFoundError: `espeak-ng` is not installed.
    """
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise FileNotFoundError("espeak-ng is not installed (apt-get install -y espeak-ng)")
    check_int("num_clips", num_clips, minimum=10)
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    order = rng.permutation(num_clips)
    rows = []
    for i in range(num_clips):
        count = 1 + int(rng.integers(2))
        words = [DIGITS[d] for d in rng.choice(10, size=count, replace=False)]
        voice = (f"{ESPEAK_ACCENTS[rng.integers(len(ESPEAK_ACCENTS))]}"
                 f"+{ESPEAK_VARIANTS[rng.integers(len(ESPEAK_VARIANTS))]}")
        speed, pitch = int(rng.integers(170, 261)), int(rng.integers(20, 81))
        fname = f"clip{i:05d}"
        path = os.path.join(out_dir, fname + ".wav")
        if not os.path.isfile(path):
            _speak(espeak, " ".join(words), voice, speed, pitch, clip_seconds, path)
        rank = order[i] / num_clips
        rows.append(dict(fname=fname, labels=",".join(sorted(words, key=DIGITS.index)),
                         split="train" if rank < 0.8 else "val" if rank < 0.9 else "test",
                         voice=voice, speed=speed, pitch=pitch))
    csv_path = os.path.join(out_dir, "labels.csv")
    with open(csv_path + ".tmp", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(csv_path + ".tmp", csv_path)
    return csv_path


def _speak(espeak, text, voice, speed, pitch, clip_seconds, path):
    import wave

    while True:
        tmp = path + ".tmp.wav"
        subprocess.run([espeak, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", tmp,
                        text], check=True, capture_output=True)
        x, rate = read_wav(tmp)
        loud = np.flatnonzero(np.abs(x) > 1e-3)
        x = x[loud[0] : loud[-1] + 1] if len(loud) else x
        if len(x) <= clip_seconds * rate or speed >= 450:
            break
        speed += 40
    with wave.open(tmp, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(np.round(x * 32767).astype("<i2").tobytes())
    os.replace(tmp, path)


def load_spoken_digits(data_dir, num_clips=1200, sample_rate=16000, clip_seconds=1.0):
    """The espeak-ng spoken digits, synthesised into `data_dir` on first use.

    Args:
        data_dir: str. Where the clips are (or are written).
        num_clips: int. How many clips. Defaults to `1200`.
        sample_rate: int. Clips are resampled to this rate. Defaults to
            `16000`.
        clip_seconds: float. The clips' length. Defaults to `1.0`.

    Returns:
        A `ClipSet` named `"spoken_digits"` of 10 classes.
    """
    csv_path = synthesize_spoken_digits(data_dir, num_clips, clip_seconds)
    return load_labelled_clips(data_dir, csv_path, DIGITS, sample_rate, clip_seconds,
                               name="spoken_digits")


# --- tf.data ----------------------------------------------------------------------


def clip_datasets(clips, batch_size, seed=0):
    """The training and validation `tf.data` pipelines of a clip set.

    Training batches are endless, in `epoch_batches`' order (each epoch a
    permutation keyed by `(seed, epoch)`, so a resumed run sees the same
    batches); validation batches are fixed (last partial batch dropped).
    Clips are gathered from numpy, so a set larger than 2 GB works.

    Args:
        clips: `ClipSet`.
        batch_size: int. Clips per batch.
        seed: int. Seeds the training order. Defaults to `0`.

    Returns:
        tuple `(train, validation)` of datasets of `(x (B, samples),
        y (B, C))` float32 batches.

    Raises:
        ValueError: a split holds fewer clips than one batch.
    """
    tf = tensorflow()

    x_train, y_train = clips.split("train")
    x_val, y_val = clips.split("validation")
    indices = epoch_batches(len(y_train), batch_size, seed)
    if len(y_val) < batch_size or len(y_train) < batch_size:
        raise ValueError(f"{clips.name}: {len(y_train)} training / {len(y_val)} validation "
                         f"clips, fewer than one batch of {batch_size}")
    samples, classes = x_train.shape[1], y_train.shape[1]

    def gather(index):
        x, y = tf.numpy_function(lambda i: (x_train[i], y_train[i]), [index],
                                 (tf.float32, tf.float32), stateful=False)
        return tf.ensure_shape(x, (batch_size, samples)), tf.ensure_shape(y, (batch_size, classes))

    train = indices.map(gather).prefetch(tf.data.AUTOTUNE)
    val = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(batch_size, drop_remainder=True)
    return train, val
