"""experiments/raw_audio.py end to end on Debian's recorded speech prompts."""

import json
import os

import pytest

import numpy as np

from keras_wavegpt.data.audio import ASTERISK_SOUNDS, read_wav
from tests.experiments.test_text8_script import run_experiment
from tests.helpers import once_on


@pytest.mark.skipif(not os.path.isdir(ASTERISK_SOUNDS),
                    reason="needs Debian's asterisk-core-sounds-en-wav")
@once_on("torch", "raw_audio.py's flags and outputs")
def test_speech_prompts_train_side_by_side(tmp_path):
    result = run_experiment(
        "raw_audio.py",
        f"--wav_dir={os.path.join(ASTERISK_SOUNDS, 'digits')}", "--preset=tiny",
        "--variants=none,haar", "--steps=4", "--eval_every=2", "--warmup_steps=1",
        "--batch_size=4", "--val_windows=8", "--verbose=0", f"--out_dir={tmp_path}",
        "--sample", "--prompt_length=40", "--sample_length=24",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["config"]["sample_rate"] == 16000 and summary["config"]["dataset"] == "digits"
    none, haar = summary["variants"]["none"], summary["variants"]["haar"]
    assert none["params"] == haar["params"] and none["steps"] == 4
    assert 0 < none["final_val_loss"] < 7  # nats per sample; uniform over 256 is 5.5
    assert "min train" in result.stdout
    # --sample: the prompt and each variant's continuation as 16 kHz WAV files.
    prompt, rate = read_wav(tmp_path / "prompt.wav")
    assert rate == 16000 and len(prompt) == 40
    for variant in ("none", "haar"):
        sample, rate = read_wav(tmp_path / "seed_0" / variant / "sample.wav")
        assert rate == 16000 and len(sample) == 64
        # The prompt comes back to 16-bit precision; the continuation is new.
        np.testing.assert_allclose(sample[:40], prompt, atol=1e-4)
