"""experiments/wikitext103.py end to end on Python's tutorial pages, with a
BPE vocabulary learned from their training split."""

import json
import os

import pytest

from keras_wavegpt.data.text import PYDOCS_DIR
from tests.experiments.test_text8_script import run_experiment
from tests.helpers import once_on


@pytest.mark.skipif(not os.path.isdir(PYDOCS_DIR), reason="needs Debian's python3.11-doc")
@once_on("tensorflow", "wikitext103.py's flags and outputs")
def test_bpe_tokens_train_side_by_side(tmp_path):
    result = run_experiment(
        "wikitext103.py",
        "--dataset=file", f"--text_file={os.path.join(PYDOCS_DIR, 'tutorial')}",
        "--bpe_vocab_size=1024", f"--cache_dir={tmp_path / 'cache'}", "--preset=tiny",
        "--variants=none,haar", "--steps=4", "--eval_every=2", "--warmup_steps=1",
        "--batch_size=4", "--val_windows=8", "--verbose=0", f"--out_dir={tmp_path / 'run'}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["config"]["tokenizer"] == "learned from the file training split"
    assert 2 < summary["config"]["chars_per_token"] < 6
    none, haar = summary["variants"]["none"], summary["variants"]["haar"]
    assert none["params"] == haar["params"] and none["steps"] == 4
    assert 0 < none["final_val_loss"] < 8  # nats per token; uniform over 1024 is 6.9
    assert (tmp_path / "run" / "bpe" / "merges.txt").is_file()
    assert "vocabulary 1024" in result.stdout
    # Each variant's preset carries the learned tokenizer and continues text.
    import keras_hub

    from keras_wavegpt.models import WaveletGPTCausalLM

    lm = WaveletGPTCausalLM.from_preset(str(tmp_path / "run" / "seed_0" / "haar" / "preset"))
    assert isinstance(lm.preprocessor.tokenizer, keras_hub.tokenizers.BytePairTokenizer)
    lm.compile(sampler="greedy")
    text = lm.generate("The Python tutorial", max_length=12)
    assert isinstance(text, str) and text.startswith("The Python tutorial")
