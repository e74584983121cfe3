"""Backend-agnostic helpers for the tests."""

import keras
import numpy as np
import pytest

# A small byte-pair vocabulary, for keras_hub's GPT-2 tokenizer offline.
GPT2_VOCABULARY = {t: i for i, t in enumerate(
    list("Ġabcdefghijklmnopqrstuvwxyz") + ["ai", "air", "<|endoftext|>"])}
GPT2_MERGES = ["a i", "ai r"]


def once_on(backend, what):
    """Run a test of `what` (a script's flags, a tool's files: nothing a backend
    changes) in one backend's run of the suite only, to keep the suite's time."""
    return pytest.mark.skipif(keras.backend.backend() != backend,
                              reason=f"{what}, not a backend's: once, on {backend}")


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def sgd_gradients(model, x, y, loss):
    """Gradients of `loss` w.r.t. every trainable weight, on any backend:
    one plain SGD step with learning rate 1 moves each weight by -gradient."""
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss=loss)
    before = [to_numpy(w) for w in model.trainable_weights]
    model.train_on_batch(x, y)
    after = [to_numpy(w) for w in model.trainable_weights]
    return {w.path: b - a for w, b, a in zip(model.trainable_weights, before, after)}


def layer_model(layer, time, channels, dtype="float32"):
    """A functional model around one sequence layer: (B, T, E) -> (B, T, E)."""
    inputs = keras.Input(shape=(time, channels), dtype=dtype)
    return keras.Model(inputs, layer(inputs))


def assert_causal(fn, x, perturb, position):
    """fn(x)[:, :position+1] must not move when x[:, position+1:] changes."""
    changed = x.copy()
    changed[:, position + 1 :] = perturb(changed[:, position + 1 :])
    before, after = to_numpy(fn(x)), to_numpy(fn(changed))
    np.testing.assert_array_equal(before[:, : position + 1], after[:, : position + 1])
    # The perturbation must reach later outputs, or the test proves nothing.
    assert not np.allclose(before[:, position + 1 :], after[:, position + 1 :])
