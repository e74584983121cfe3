"""Same seed, same backend: the same losses, step for step (CPU).

`keras.utils.set_random_seed(seed)` (the runner calls it before building each
model) fixes the initial weights and the dropout masks; the training batches
are a function of (seed, step). On CPU all three backends then reproduce a run
exactly; GPUs can differ in the last bits unless the backend's deterministic
ops are enabled (README).
"""

import keras
import numpy as np

from keras_wavegpt import data
from keras_wavegpt.models import build_gpt
from keras_wavegpt.training import TrainConfig, run_comparison

ARCH = dict(max_sequence_length=16, num_layers=2, hidden_dim=16, num_heads=2, intermediate_dim=32, head_hidden_dim=32)


def run(tmp_path, name, seed):
    corpus = data.load_pydoc_topics()
    config = TrainConfig(
        variants=("learnable",), seeds=(seed,), steps=2, eval_every=1, batch_size=4,
        warmup_steps=1, learning_rate=1e-3, out_dir=str(tmp_path / name), verbose=0,
    )
    summary = run_comparison(
        lambda mixer, kwargs: build_gpt(corpus.vocabulary_size, mixer=mixer, dropout=0.2,
                                        **ARCH, **kwargs),
        lambda s: (data.train_dataset(corpus.split("train"), 16, 4, seed=s),
                   data.eval_dataset(corpus.split("validation"), 16, 4, max_windows=8)),
        config,
    )
    curves = {label: [v for _, v in e["curve"]] for label, e in summary["variants"].items()}
    weights = {}
    for label in curves:
        model = keras.saving.load_model(str(tmp_path / name / f"seed_{seed}" / label / "checkpoint.keras"))
        weights[label] = [keras.ops.convert_to_numpy(w) for w in model.weights]
    return curves, weights


def test_same_seed_same_run_other_seed_other_run(tmp_path):
    first, first_weights = run(tmp_path, "a", seed=3)
    again, again_weights = run(tmp_path, "b", seed=3)
    other, _ = run(tmp_path, "c", seed=4)
    assert first == again
    for label in first_weights:
        for a, b in zip(first_weights[label], again_weights[label]):
            np.testing.assert_array_equal(a, b)
    assert all(first[label] != other[label] for label in first)
