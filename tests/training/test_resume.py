"""Resume: a run that is interrupted and continued equals one that never stopped.

In process, the data pipeline fails at a chosen step (as a crash would), and
the finished run's curve, optimizer state and weights match an uninterrupted
run's. Kills of the script at ten moments: tests/training/test_faults.py.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_wavegpt import data
from keras_wavegpt.models import build_gpt
from keras_wavegpt.layers import MultirateDecomposition
from keras_wavegpt.training import MetaOptimizer, TrainConfig, TrainingBackup, run_comparison
from tests.helpers import to_numpy

ARCH = dict(max_sequence_length=16, num_layers=2, hidden_dim=16, num_heads=2, intermediate_dim=32, head_hidden_dim=32)


@pytest.fixture(scope="module")
def corpus():
    return data.load_pydoc_topics()


def _comparison(corpus, out_dir, resume=False, fail_at_step=None):
    config = TrainConfig(
        variants=("haar",),
        steps=8, eval_every=4, batch_size=4, learning_rate=3e-3, lr_schedule="plateau",
        out_dir=str(out_dir),
        resume=resume, verbose=0,
    )

    def make_data(seed):
        train = data.train_dataset(corpus.split("train"), 16, 4, seed=seed)
        if fail_at_step is not None:  # the pipeline dies at this step, like a crash
            steps = tf.data.Dataset.counter()
            train = tf.data.Dataset.zip(train, steps).map(
                lambda batch, step: (
                    tf.debugging.assert_less(step, tf.cast(fail_at_step, tf.int64)),
                    batch,
                )[1]
            )
        return train, data.eval_dataset(corpus.split("validation"), 16, 4, max_windows=8)

    def build_model(mixer, kwargs):
        return build_gpt(corpus.vocabulary_size, mixer=mixer, **ARCH, **kwargs)

    return run_comparison(build_model, make_data, config)


def _optimizer_state(path):
    model = keras.saving.load_model(path)
    return [to_numpy(v) for v in model.optimizer.variables], [
        to_numpy(w) for w in model.weights
    ]


def test_interrupted_comparison_equals_uninterrupted(corpus, tmp_path):
    reference = _comparison(corpus, tmp_path / "reference")
    with pytest.raises(tf.errors.InvalidArgumentError):
        _comparison(corpus, tmp_path / "run", fail_at_step=6)  # in the 2nd of 2 epochs
    run_dir = tmp_path / "run" / "seed_0" / "haar"
    assert (run_dir / "backup" / "latest").read_text() == "epoch_000001"
    assert len((run_dir / "log.csv").read_text().splitlines()) == 1 + 1
    resumed = _comparison(corpus, tmp_path / "run", resume=True)

    for label, entry in reference["variants"].items():
        again = resumed["variants"][label]
        np.testing.assert_allclose(
            [v for _, v in again["curve"]], [v for _, v in entry["curve"]], rtol=1e-5
        )
        run = "seed_0/" + label + "/checkpoint.keras"
        (opt_a, w_a), (opt_b, w_b) = (
            _optimizer_state(tmp_path / "reference" / run),
            _optimizer_state(tmp_path / "run" / run),
        )
        assert len(opt_a) == len(opt_b)
        for a, b in zip(opt_a + w_a, opt_b + w_b):  # iterations, lr, moments, weights
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert resumed["variants"]["haar"]["runs"][0]["resumed_from_step"] == 4
    # The CSV log has one row per epoch, the lost one redone once.
    lines = (run_dir / "log.csv").read_text().splitlines()
    assert len(lines) == 1 + 2
    # Resuming a finished comparison trains nothing and reports the same.
    again = _comparison(corpus, tmp_path / "run", resume=True)
    assert again["variants"]["haar"]["curve"] == resumed["variants"]["haar"]["curve"]
    assert again["variants"]["haar"]["runs"][0]["resumed_from_step"] == 8


def _tiny_model(adaptive=False):
    layers = [keras.Input((3,)), keras.layers.Dense(2)]
    optimizer = keras.optimizers.Adam(0.1)
    if adaptive:  # adaptive hyperparameters: the MetaOptimizer's state must survive too
        layers = [keras.Input((8, 3)), MultirateDecomposition(adaptive=True),
                  keras.layers.Dense(2)]
        optimizer = MetaOptimizer(optimizer, meta_update_every=2, meta_learning_rate=0.1)
    model = keras.Sequential(layers)
    model.compile(optimizer, "mse")
    return model


def test_a_crash_during_a_save_keeps_the_previous_backup(tmp_path):
    x = np.random.default_rng(0).normal(size=(8, 8, 3)).astype("float32")
    y = np.zeros((8, 8, 2), "float32")
    model = _tiny_model(adaptive=True)
    backup = TrainingBackup(tmp_path / "backup", checkpoint_path=tmp_path / "ckpt.keras")
    model.fit(x, y, epochs=2, verbose=0, callbacks=[backup])
    saved = [to_numpy(w) for w in model.weights]
    saved_optimizer = [to_numpy(v) for v in model.optimizer.variables]

    def dies_halfway(path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"half a file")
        raise KeyboardInterrupt("killed while saving")

    model.save_weights = dies_halfway
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, initial_epoch=2, epochs=3, verbose=0, callbacks=[backup])

    fresh = _tiny_model(adaptive=True)
    assert TrainingBackup(tmp_path / "backup").restore(fresh) == 2
    assert int(to_numpy(fresh.optimizer.iterations)) == 2
    for a, b in zip(saved, fresh.weights):
        np.testing.assert_array_equal(a, to_numpy(b))
    assert len(fresh.optimizer.variables) == len(saved_optimizer) > 10
    for a, b in zip(saved_optimizer, fresh.optimizer.variables):
        np.testing.assert_array_equal(a, to_numpy(b))
    keras.saving.load_model(tmp_path / "ckpt.keras")  # the checkpoint is whole too
    assert not os.path.exists(tmp_path / "ckpt.tmp.keras")


def test_a_nan_epoch_is_not_saved(tmp_path, capsys):
    model = _tiny_model()
    backup = TrainingBackup(tmp_path / "backup", checkpoint_path=tmp_path / "ckpt.keras")
    x = np.ones((8, 3), "float32")
    model.fit(x, np.zeros((8, 2), "float32"), epochs=1, verbose=0, callbacks=[backup])
    good = [to_numpy(w) for w in model.weights]
    bad_y = np.full((8, 2), np.nan, "float32")
    model.fit(x, bad_y, initial_epoch=1, epochs=3, verbose=0,
              callbacks=[keras.callbacks.TerminateOnNaN(), backup])
    assert "non-finite ['loss']" in capsys.readouterr().out
    assert (tmp_path / "backup" / "latest").read_text() == "epoch_000001"
    loaded = keras.saving.load_model(tmp_path / "ckpt.keras")
    for a, b in zip(good, loaded.weights):
        np.testing.assert_array_equal(a, to_numpy(b))
