"""Raw audio: mu-law against a numpy reference, WAV reading, the folder loader
on Debian's recorded speech prompts, and bad files."""

import os
import shutil
import wave

import numpy as np
import pytest

from keras_wavegpt.data.audio import (
    ASTERISK_SOUNDS,
    load_wav_folder,
    mu_law_decode,
    mu_law_encode,
    read_wav,
    resample,
)
from tests.helpers import once_on

# The pipelines are tf.data and numpy: no backend path, so they run once.
pytestmark = once_on("tensorflow", "tf.data and numpy pipelines")

needs_sounds = pytest.mark.skipif(not os.path.isdir(ASTERISK_SOUNDS),
                                  reason="needs Debian's asterisk-core-sounds-en-wav")


def test_mu_law_matches_the_g711_style_reference():
    x = np.linspace(-1, 1, 10001)
    # Reference written from the companding law directly: y = ln(1 + 255|x|) / ln 256.
    reference = np.floor((np.sign(x) * np.log(1 + 255 * np.abs(x)) / np.log(256) + 1) * 127.5 + 0.5)
    np.testing.assert_array_equal(mu_law_encode(x), reference.astype(np.uint8))
    ids = np.arange(256)
    assert np.array_equal(mu_law_encode(mu_law_decode(ids)), ids)  # ids survive a round trip
    # A waveform comes back within half a quantisation step: F moves by 1/255
    # at most, and dx/dF = ln(256) (1 + 255|x|) / 255 (10% for the curvature).
    rng = np.random.default_rng(0)
    wave_in = rng.uniform(-1, 1, 1000)
    back = mu_law_decode(mu_law_encode(wave_in))
    bound = 1.1 * np.log(256) * (1 + 255 * np.abs(wave_in)) / 255**2
    assert (np.abs(back - wave_in) <= bound).all()
    assert np.abs(back - wave_in).max() > 0.5 * bound.max() / 1.1 / 2  # the bound is tight
    assert mu_law_encode([0.0])[0] in (127, 128) and mu_law_encode([-1.0, 1.0]).tolist() == [0, 255]


def _write_wav(path, samples, rate, width=2, channels=1):
    with wave.open(str(path), "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(width)
        f.setframerate(rate)
        f.writeframes(samples.tobytes())


@needs_sounds
def test_read_wav_and_resample_a_real_prompt(tmp_path):
    x, rate = read_wav(os.path.join(ASTERISK_SOUNDS, "digits", "5.wav"))
    assert rate == 8000 and 0.2 < len(x) / rate < 2 and np.abs(x).max() <= 1
    y = resample(x, 8000, 16000)
    assert abs(len(y) - 2 * len(x)) <= 1
    # The same samples as 8-bit, 24-bit and stereo files read back alike.
    pcm = np.round(x * 32767).astype(np.int16)
    stereo = np.stack([pcm, pcm], axis=1)
    _write_wav(tmp_path / "stereo.wav", stereo, 8000, channels=2)
    np.testing.assert_allclose(read_wav(tmp_path / "stereo.wav")[0], pcm / 32768.0)
    wide = (pcm.astype(np.int32) << 8).astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3]
    _write_wav(tmp_path / "24bit.wav", np.ascontiguousarray(wide), 8000, width=3)
    np.testing.assert_allclose(read_wav(tmp_path / "24bit.wav")[0], pcm / 32768.0)
    narrow = ((pcm.astype(np.int32) >> 8) + 128).astype(np.uint8)
    _write_wav(tmp_path / "8bit.wav", narrow, 8000, width=1)
    np.testing.assert_allclose(read_wav(tmp_path / "8bit.wav")[0], pcm / 32768.0, atol=1 / 128)


@needs_sounds
def test_folder_of_real_prompts_becomes_a_token_stream():
    corpus = load_wav_folder(os.path.join(ASTERISK_SOUNDS, "digits"), 16000)
    assert corpus.vocabulary_size == 256 and corpus.ids.dtype == np.uint8
    seconds = len(corpus.ids) / 16000
    assert 10 < seconds < 120
    # Speech uses the whole mu-law range, centred on silence (127/128).
    counts = np.bincount(corpus.ids, minlength=256)
    assert counts[:64].sum() > 0 and counts[192:].sum() > 0 and counts.argmax() in range(120, 136)
    again = load_wav_folder(os.path.join(ASTERISK_SOUNDS, "digits"), 16000)
    np.testing.assert_array_equal(again.split("validation"), corpus.split("validation"))


@needs_sounds
def test_bad_files_are_skipped_with_a_count(tmp_path):
    for name in ("1.wav", "2.wav"):
        shutil.copy(os.path.join(ASTERISK_SOUNDS, "digits", name), tmp_path / name)
    (tmp_path / "empty.wav").write_bytes(b"")
    real = (tmp_path / "1.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(real[:30])  # a header cut short
    _write_wav(tmp_path / "silent.wav", np.zeros(0, np.int16), 8000)
    with pytest.warns(UserWarning, match="Skipped 3 of 5 WAV files"):
        corpus = load_wav_folder(str(tmp_path), 8000)
    expected = sum(len(read_wav(tmp_path / n)[0]) for n in ("1.wav", "2.wav"))
    assert len(corpus.ids) == expected
    for name in ("1.wav", "2.wav"):
        os.remove(tmp_path / name)
    with pytest.warns(UserWarning), pytest.raises(FileNotFoundError, match="None of the 3"):
        load_wav_folder(str(tmp_path), 8000)
    with pytest.raises(FileNotFoundError, match="No .wav files"):
        load_wav_folder(str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="sample_rate"):
        load_wav_folder(str(tmp_path), 0)
