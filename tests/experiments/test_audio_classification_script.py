"""experiments/audio_classification.py end to end on espeak-ng spoken digits."""

import json
import shutil

import keras
import keras_wavegpt  # noqa: F401  (registers the layers load_model needs)
import numpy as np
import pytest

from tests.experiments.test_text8_script import run_experiment
from tests.helpers import once_on


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs Debian's espeak-ng")
@once_on("torch", "audio_classification.py's flags and outputs")
def test_spoken_digits_tagged_side_by_side(tmp_path):
    result = run_experiment(
        "audio_classification.py",
        f"--data_dir={tmp_path / 'digits'}", "--num_clips=60", "--sample_rate=8000",
        "--patch=200", "--filter_length=100", "--num_filters=8", "--num_layers=2",
        "--hidden_dim=16", "--num_heads=2", "--intermediate_dim=32", "--variants=none,haar",
        "--steps=4", "--eval_every=2", "--warmup_steps=1", "--batch_size=4",
        "--verbose=0", f"--out_dir={tmp_path / 'run'}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["config"]["dataset"] == "spoken_digits" and summary["metrics"] == [
        "top1", "top5", "mAP"]
    none, haar = summary["variants"]["none"], summary["variants"]["haar"]
    assert none["params"] == haar["params"] and none["steps"] == 4
    for entry in (none, haar):
        assert 0 <= entry["final_val_top1"] <= entry["final_val_top5"] <= 1
        assert 0 < entry["final_val_mAP"] <= 1
        assert 0 < entry["final_val_loss"] < 1.5  # binary cross-entropy per class
    assert "10 classes" in result.stdout and "val mAP" in result.stdout
    # The checkpoint loads with its compiled metrics and tags a clip.
    model = keras.saving.load_model(str(tmp_path / "run" / "seed_0" / "haar" / "checkpoint.keras"))
    assert model.output_shape == (None, 10)
    assert np.isfinite(keras.ops.convert_to_numpy(model(np.zeros((1, 8000), "float32")))).all()
