"""experiments/midi.py end to end on Bach chorales from music21's corpus."""

import json

from tests.experiments.test_text8_script import run_experiment
from tests.helpers import once_on


@once_on("jax", "midi.py's flags and outputs")
def test_chorales_train_side_by_side(tmp_path):
    result = run_experiment(
        "midi.py",
        "--composers=bach", "--max_pieces=6", f"--cache_dir={tmp_path / 'cache'}",
        "--preset=tiny", "--variants=none,haar", "--steps=4",
        "--eval_every=2", "--warmup_steps=1", "--batch_size=4", "--val_windows=4",
        "--verbose=0", f"--out_dir={tmp_path / 'run'}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["config"]["dataset"] == "music21-bach"
    none, haar = summary["variants"]["none"], summary["variants"]["haar"]
    assert none["params"] == haar["params"] and none["steps"] == 4
    assert 0 < none["final_val_loss"] < 7  # nats per event; uniform over 388 is 5.96
    assert "vocabulary 388" in result.stdout
