"""Raw audio as 8-bit mu-law tokens (WaveletGPT §4: vocabulary 256, 16 kHz).

A folder of WAV files (YouTube-Mix style, any layout below it) becomes one
token stream: each file is read (PCM 8/16/24/32-bit, channels averaged),
resampled to `sample_rate`, mu-law encoded, and the files are concatenated
in a fixed shuffled order (seed 0, so no split is all one kind of file)
into a `TextCorpus` of vocabulary 256 that the text pipelines
(`train_dataset`, `eval_dataset`) serve like any other stream.

Offline data: the 568 recorded English speech prompts of Debian's
`asterisk-core-sounds-en-wav` (8 kHz, ~25 minutes), `ASTERISK_SOUNDS`.
"""

import glob
import math
import os
import wave

import numpy as np

from keras_wavegpt.data.text import TextCorpus, warn_skipped
from keras_wavegpt.utils.validation import check_int

ASTERISK_SOUNDS = "/usr/share/asterisk/sounds/en_US_f_Allison"
MU = 255


def mu_law_encode(x, mu=MU):
    """Waveform in [-1, 1] -> integer ids in [0, mu]:
    `F(x) = sign(x) ln(1 + mu|x|) / ln(1 + mu)`, then `round((F + 1) / 2 * mu)`.

    Args:
        x: array of float. Samples; values outside [-1, 1] are clipped.
        mu: int. The largest id (256 levels for 255). Defaults to `MU`.

    Returns:
        An array of ids, uint8 for `mu < 256`, else int32.
    """
    x = np.clip(np.asarray(x, np.float64), -1.0, 1.0)
    f = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    return np.rint((f + 1.0) / 2.0 * mu).astype(np.uint8 if mu < 256 else np.int32)


def mu_law_decode(ids, mu=MU):
    """Integer ids in [0, mu] -> waveform in [-1, 1] (the inverse of `F`).

    Args:
        ids: array of int. Mu-law ids.
        mu: int. The largest id. Defaults to `MU`.

    Returns:
        A float64 array of samples.
    """
    y = 2.0 * np.asarray(ids, np.float64) / mu - 1.0
    return np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu


def read_wav(path):
    """Reads a PCM WAV file (8, 16, 24 or 32-bit); several channels are averaged.

    Args:
        path: str. The file.

    Returns:
        tuple `(waveform, sample_rate)`: float64 samples in `[-1, 1]` and
        the rate in Hz.

    Raises:
        ValueError: the file is not a readable PCM WAV file.
    """
    try:
        with wave.open(str(path), "rb") as f:
            rate, channels, width = f.getframerate(), f.getnchannels(), f.getsampwidth()
            raw = f.readframes(f.getnframes())
    except (wave.Error, EOFError) as err:
        raise ValueError(f"{path!r} is not a readable PCM WAV file: {err}") from err
    if width == 1:  # unsigned 8-bit
        samples = np.frombuffer(raw, np.uint8).astype(np.float64) / 128.0 - 1.0
    elif width in (2, 4):
        dtype = np.int16 if width == 2 else np.int32
        samples = np.frombuffer(raw, dtype).astype(np.float64) / -np.iinfo(dtype).min
    elif width == 3:  # 24-bit little endian: widen to int32
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        samples = ((b[:, 0] << 8 | b[:, 1] << 16 | b[:, 2] << 24) >> 8) / float(1 << 23)
    else:
        raise ValueError(f"{path!r}: unsupported sample width {width} bytes")
    frames = len(samples) // channels
    return samples[: frames * channels].reshape(frames, channels).mean(axis=1), rate


def write_wav(path, waveform, sample_rate):
    """Write `waveform` as a mono 16-bit PCM WAV file (`read_wav` reads it back).

    Args:
        path: str. The file to write.
        waveform: array of float. Samples in [-1, 1]; others are clipped.
        sample_rate: int. Samples per second.
    """
    check_int("sample_rate", sample_rate)
    samples = np.clip(np.asarray(waveform, np.float64), -1.0, 1.0)
    pcm = np.round(samples * 32767).astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(int(sample_rate))
        f.writeframes(pcm.tobytes())


def resample(x, rate, target):
    """Polyphase resampling (scipy's `resample_poly`).

    Args:
        x: 1-D array. The waveform.
        rate: int. Its sample rate in Hz.
        target: int. The sample rate wanted.

    Returns:
        1-D array at `target` Hz (`x` itself when the rates agree).
    """
    if rate == target:
        return x
    from scipy.signal import resample_poly

    g = math.gcd(int(rate), int(target))
    return resample_poly(x, target // g, rate // g)


def load_wav_folder(path=ASTERISK_SOUNDS, sample_rate=16000, name=None):
    """Every `*.wav` under `path` as one mu-law token stream (see module).

    Files that cannot be read or hold no samples are skipped with one
    warning that counts them; a folder with no usable file raises
    `FileNotFoundError`.

    Args:
        path: str. A folder searched recursively. Defaults to
            `ASTERISK_SOUNDS`, the speech prompts of Debian's
            `asterisk-core-sounds-en-wav`.
        sample_rate: int. Every file is resampled to this rate. Defaults to
            `16000`.
        name: str or `None`. The corpus' name. Defaults to `None`, the
            folder's name.

    Returns:
        A 256-symbol `TextCorpus` of mu-law ids, the files one after another.
    """
    check_int("sample_rate", sample_rate)
    files = sorted(glob.glob(os.path.join(path, "**", "*.wav"), recursive=True))
    if not files:
        hint = (" (install Debian's asterisk-core-sounds-en-wav)"
                if os.path.abspath(path) == ASTERISK_SOUNDS else "")
        raise FileNotFoundError(f"No .wav files under {path!r}{hint}")
    order = np.random.default_rng(0).permutation(len(files))
    streams, skipped = [], []
    for i in order:
        try:
            x, rate = read_wav(files[i])
        except ValueError as err:
            skipped.append(f"{files[i]} ({err})")
            continue
        if len(x) == 0:
            skipped.append(f"{files[i]} (no samples)")
            continue
        streams.append(mu_law_encode(resample(x, rate, sample_rate)))
    warn_skipped(skipped, len(files), f"WAV files under {path!r}")
    if not streams:
        raise FileNotFoundError(f"None of the {len(files)} .wav files under {path!r} is usable")
    return TextCorpus(name or os.path.basename(os.path.normpath(path)), np.concatenate(streams), 256)
