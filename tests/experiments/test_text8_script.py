"""experiments/text8.py end to end, in a subprocess, as a user runs it."""

import ast
import json
import os
import subprocess
import sys

import keras
import keras_hub
import numpy as np

from keras_wavegpt.models import MixerLlamaCausalLM
from tests.helpers import once_on

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_experiment(script, *flags):
    """Run `experiments/<script>` with `flags` under this test's backend."""
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "experiments", script), *flags],
        env=dict(os.environ, KERAS_BACKEND=keras.backend.backend()),
        capture_output=True, text=True, timeout=600,
    )


def run_script(tmp_path, *flags):
    return run_experiment("text8.py", *flags, f"--out_dir={tmp_path}")


def test_smoke_run_writes_summary(tmp_path):
    flagfile = tmp_path / "flags.txt"
    flagfile.write_text("--preset=tiny\n--batch_size=4\n")
    result = run_script(
        tmp_path, f"--flagfile={flagfile}", "--dataset=pydoc_topics",
        "--variants=none,haar,learnable,ema", "--steps=4", "--eval_every=2",
        "--warmup_steps=1", "--val_windows=8", "--mixer_kwargs=schedule=linear",
        "--verbose=1", "--sample", "--sample_length=12", "--prompt_length=5",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "4/4" not in result.stdout and "2/2" in result.stdout  # Keras progress bar
    with open(tmp_path / "summary.json") as f:
        summary = json.load(f)
    assert summary["config"]["dataset"] == "pydoc_topics"
    assert summary["config"]["preset"] == "tiny" and summary["config"]["batch_size"] == 4
    assert list(summary["variants"]) == ["none", "haar", "learnable", "ema"]
    for name, v in summary["variants"].items():
        for key in ("params", "final_val_loss", "final_val_bpc", "steps",
                    "sec_per_step", "spe", "speedup"):
            assert key in v, (name, key)
        assert v["steps"] == 4 and v["final_val_loss"] > 0
    assert summary["variants"]["haar"]["params"] == summary["variants"]["none"]["params"]
    assert summary["variants"]["learnable"]["params"] > summary["variants"]["none"]["params"]
    assert "| learnable |" in result.stdout
    assert os.path.exists(tmp_path / "val_loss.png")
    # --sample: every variant continues the same 5-character validation prompt by 12.
    samples = (tmp_path / "samples.txt").read_text().splitlines()
    assert samples[0].startswith("prompt: ") and len(ast.literal_eval(samples[0][8:])) == 5
    assert [line.split(":")[0] for line in samples[1:]] == ["none", "haar", "learnable", "ema"]
    assert all(len(ast.literal_eval(line.split(": ", 1)[1])) == 12 for line in samples[1:])
    assert samples[1] in result.stdout
    # Each variant's checkpoint as a keras_hub preset that generates text.
    from keras_wavegpt.models import WaveletGPTCausalLM

    lm = WaveletGPTCausalLM.from_preset(str(tmp_path / "seed_0" / "learnable" / "preset"))
    assert lm.backbone.mixer == "learnable"
    assert lm.backbone.mixer_config == {"schedule": "linear"}
    lm.compile(sampler="greedy")
    assert lm.generate("the ", max_length=10).startswith("the ")


def _our_lines(stderr):
    """stderr without TensorFlow's and XLA's start-up logging."""
    return [line for line in stderr.splitlines()
            if line and not line.startswith(("WARNING: All log", "I0000", "E0000", "W0000"))]


@once_on("tensorflow", "text8.py's flag errors")
def test_bad_flags_fail_in_one_line(tmp_path):
    for flags, message in [
        (["--dataset=pydoc_topics", "--variants=none,wavelet"], "accepted values"),
        (["--dataset=file", "--text_file=/nonexistent.txt"], "does not exist"),
        (["--dataset=pydoc_topics", "--steps=10", "--eval_every=3"], "eval_every"),
        (["--dataset=pydoc_topics", "--mixer_kwargs=fraction"], "key=value"),
    ]:
        result = run_script(tmp_path, "--preset=tiny", *flags)
        lines = _our_lines(result.stderr)
        assert result.returncode == 2, result.stderr[-3000:]
        assert len(lines) == 1 and lines[0].startswith("text8.py: error: "), lines
        assert message in lines[0]


@once_on("tensorflow", "text8.py's --help")
def test_help_starts_with_the_usage_text():
    """No start-up lines from TensorFlow, CUDA or absl before the usage."""
    result = run_experiment("text8.py", "--help")
    first = (result.stderr + result.stdout).lstrip().splitlines()[0]
    assert first == "Character-level language modelling: compare mixers on text8-style data."


@once_on("tensorflow", "text8.py's --help")
def test_help_lists_the_training_flags_and_no_others():
    result = run_experiment("text8.py", "--help")  # absl exits with 1 after --help
    for flag in ("--steps", "--preset", "--variants", "--batch_size", "--learning_rate",
                 "--lr_schedule", "--dataset"):
        assert f"  {flag}:" in result.stdout, flag
    assert "--xla_" not in result.stdout and "absl" not in result.stdout


@once_on("jax", "text8.py's multirate flags")
def test_multirate_fixed_adaptive_and_ablations(tmp_path):
    result = run_script(
        tmp_path, "--dataset=pydoc_topics", "--preset=tiny", "--batch_size=4",
        "--variants=multirate", "--variant=adaptive=multirate:adaptive=True",
        "--variant=no_lfo=multirate:use_lfo=False",
        "--steps=4", "--eval_every=2", "--warmup_steps=1", "--val_windows=8",
        "--meta_update_every=2", "--meta_learning_rate=0.05", "--verbose=0",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with open(tmp_path / "summary.json") as f:
        summary = json.load(f)
    # (Each ablation's blocks are checked in tests/models/test_gpt.py; one here
    # shows the flags reach the model.)
    assert list(summary["variants"]) == ["multirate", "adaptive", "no_lfo"]
    assert summary["config"]["meta_update_every"] == 2
    params = {k: v["params"] for k, v in summary["variants"].items()}
    assert params["adaptive"] == params["multirate"] > params["no_lfo"]
    # The adaptive run logs every meta-parameter, and they move between epochs.
    import csv

    with open(tmp_path / "seed_0" / "adaptive" / "log.csv") as f:
        rows = list(csv.DictReader(f))
    meta = [k for k in rows[0] if k.startswith("meta/")]
    assert len(meta) == 6 * 2  # six bounded hyperparameters per block, two blocks
    assert "meta/block_0/multirate/mix_ratio" in meta
    assert any(rows[0][k] != rows[1][k] for k in meta)
    with open(tmp_path / "seed_0" / "multirate" / "log.csv") as f:
        assert not any(k.startswith("meta/") for k in next(csv.reader(f)))


@once_on("torch", "text8.py's --architecture")
def test_llama_architecture_trains_with_the_mixers(tmp_path):
    result = run_script(
        tmp_path, "--dataset=pydoc_topics", "--preset=tiny", "--batch_size=4",
        "--architecture=llama", "--variants=none,haar_canon=haar+canon", "--steps=4",
        "--eval_every=2", "--warmup_steps=1", "--val_windows=8", "--verbose=0",
        "--sample", "--sample_length=6", "--prompt_length=3",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with open(tmp_path / "summary.json") as f:
        summary = json.load(f)
    assert summary["config"]["architecture"] == "llama"
    params = {k: v["params"] for k, v in summary["variants"].items()}
    assert params["haar_canon"] == params["none"] + 4 * 32  # one Canon layer in the one gap
    model = keras.saving.load_model(str(tmp_path / "seed_0" / "haar_canon" / "checkpoint.keras"))
    assert isinstance(model, MixerLlamaCausalLM) and model.backbone.mixer == "haar+canon"
    assert len((tmp_path / "samples.txt").read_text().splitlines()) == 3
    # The trained task's preset, token ids in and out, generates cached with its mixers.
    lm = keras_hub.models.CausalLM.from_preset(
        str(tmp_path / "seed_0" / "haar_canon" / "preset"))
    assert isinstance(lm, MixerLlamaCausalLM) and lm.preprocessor is None
    lm.compile(sampler="greedy")
    out = lm.generate({"token_ids": np.array([[5, 6, 7, 0, 0]]),
                       "padding_mask": np.array([[1, 1, 1, 0, 0]])}, stop_token_ids=None)
    assert out["token_ids"].shape == (1, 5)
