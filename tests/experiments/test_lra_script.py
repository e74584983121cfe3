"""experiments/lra.py end to end on each task's offline data, as a user runs it."""

import json
import os
import subprocess
import sys

import keras

from tests.experiments.test_text8_script import ROOT
from tests.helpers import once_on

SMALL = ["--num_layers=2", "--hidden_dim=16", "--num_heads=2", "--intermediate_dim=32", "--steps=4",
         "--eval_every=2", "--warmup_steps=1", "--batch_size=4", "--verbose=0"]


def _launch(out_dir, *flags):
    return subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "experiments", "lra.py"), *SMALL, *flags,
         f"--out_dir={out_dir}"],
        env=dict(os.environ, KERAS_BACKEND=keras.backend.backend()),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


@once_on("torch", "lra.py's flags and outputs")
def test_every_task_runs_and_reports_accuracy(tmp_path):
    runs = {  # side by side: most of each run is start-up
        "listops": _launch(tmp_path / "listops", "--task=listops", "--num_examples=100",
                           "--min_length=10", "--max_length=48", "--variants=none,haar"),
        "image": _launch(tmp_path / "image", "--task=image", "--variants=haar"),
        "text": _launch(tmp_path / "text", "--task=text", "--text_length=64",
                        "--variants=haar"),
        "bad": _launch(tmp_path / "bad", "--task=image", "--source=pydocs"),
    }
    logs = {task: p.communicate(timeout=600)[0] for task, p in runs.items()}
    for task in ("listops", "image", "text"):
        assert runs[task].returncode == 0, logs[task][-3000:]
        summary = json.loads((tmp_path / task / "summary.json").read_text())
        assert summary["metrics"] == ["accuracy"] and summary["config"]["task"] == task
        for entry in summary["variants"].values():
            assert 0.0 <= entry["final_val_accuracy"] <= 1.0 and entry["steps"] == 4
        assert "val accuracy" in logs[task]
    listops = json.loads((tmp_path / "listops" / "summary.json").read_text())
    assert listops["config"]["max_sequence_length"] == 48 and listops["config"]["num_classes"] == 10
    assert listops["variants"]["none"]["params"] == listops["variants"]["haar"]["params"]
    image = json.loads((tmp_path / "image" / "summary.json").read_text())
    assert image["config"]["dataset"] == "mnist_5k" and image["config"]["max_sequence_length"] == 784
    text = json.loads((tmp_path / "text" / "summary.json").read_text())
    assert text["config"]["dataset"] == "pydocs_sections" and "library" in text["config"]["classes"]
    assert runs["bad"].returncode != 0 and "not a source of --task=image" in logs["bad"]
