import keras
import numpy as np
import pytest

from keras_wavegpt.layers import BoundedParameter
from keras_wavegpt.data import causal_lm_inputs
from keras_wavegpt.models import build_gpt, gpt_preset
from keras_wavegpt.training import MetaOptimizer, MetaParameterLogger, meta_optimizer_for
from tests.helpers import to_numpy


class Scale(keras.layers.Layer):
    """y = (w + p) x with w an ordinary weight and p in [0, 2] a meta-parameter."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.p = BoundedParameter(0.0, 2.0, 1.4, adaptive=True, name="p")

    def build(self, input_shape):
        self.w = self.add_weight(name="w", shape=(), initializer=keras.initializers.Constant(0.3))
        self.p.build()

    def call(self, x):
        return x * (self.w + keras.ops.cast(self.p.value, x.dtype))


def scale_model():
    inputs = keras.Input((1,))
    return keras.Model(inputs, Scale(name="scale")(inputs))


def ref_training(x, y, steps, n, objective, decay, lr, meta_lr):
    """SGD on w every step; the documented meta rule (Keras' Adam) on z."""
    sigmoid = lambda v: 1 / (1 + np.exp(-v))
    w, z = 0.3, np.log(0.7 / 0.3)
    ema = previous = m = v = 0.0
    updates, history = 0, []
    for step in range(steps):
        s = sigmoid(z)
        residual = (w + 2 * s) * x - y
        g_pred = 2 * residual / residual.size
        g_w = float(np.sum(g_pred * x))
        g_z = g_w * 2 * s * (1 - s)
        w -= lr * g_w
        ema = decay * ema + (1 - decay) * g_z
        direction = {
            "smoothed_loss": ema,
            "convergence_rate": (ema - previous) / n,
            "composite": 0.7 * ema + 0.3 * (ema - previous) / n,
        }[objective]
        if (step + 1) % n == 0:
            previous = ema
            updates += 1
            m += (direction - m) * 0.1
            v += (direction**2 - v) * 0.001
            alpha = meta_lr * np.sqrt(1 - 0.999**updates) / (1 - 0.9**updates)
            z -= alpha * m / (np.sqrt(v) + 1e-7)
        history.append((w, z))
    return history


@pytest.mark.parametrize(
    "objective,n,decay",
    [("smoothed_loss", 3, 0.9), ("convergence_rate", 2, 0.5), ("composite", 3, 0.8),
     ("smoothed_loss", 1, 0.0)],
)
def test_meta_updates_match_reference(objective, n, decay):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 1)).astype("float32")
    y = (1.7 * x + 0.1 * rng.normal(size=(8, 1))).astype("float32")
    model = scale_model()
    model.compile(
        optimizer=MetaOptimizer(
            keras.optimizers.SGD(0.05), meta_learning_rate=0.03, meta_update_every=n,
            meta_objective=objective, ema_decay=decay,
        ),
        loss="mse",
    )
    layer = model.get_layer("scale")
    expected = ref_training(x, y, 7, n, objective, decay, 0.05, 0.03)
    for step, (w, z) in enumerate(expected):
        model.train_on_batch(x, y)
        assert float(to_numpy(layer.w)) == pytest.approx(w, abs=1e-5), step
        assert float(to_numpy(layer.p.logit)) == pytest.approx(z, abs=1e-5), step
    # Between meta updates z must not move at all: the model's SGD never sees it.
    zs = [z for _, z in expected]
    assert all(zs[i] == zs[i - 1] for i in range(1, 7) if (i + 1) % n)
    assert all(zs[i] != zs[i - 1] for i in range(1, 7) if (i + 1) % n == 0)


def test_meta_state_survives_save_and_load(tmp_path):
    rng = np.random.default_rng(1)
    model = build_gpt(27, mixer="multirate", adaptive=True, **gpt_preset("tiny"))
    model.compile(
        optimizer=MetaOptimizer(keras.optimizers.Adam(1e-3), meta_learning_rate=0.01,
                                meta_update_every=2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x, y = rng.integers(0, 27, (2, 4, 32)), rng.integers(0, 27, (2, 4, 32))
    x = [causal_lm_inputs(batch) for batch in x]
    for _ in range(3):  # mid-window: the gradient EMA and the accumulators are live
        model.train_on_batch(x[0], y[0])
    path = str(tmp_path / "adaptive.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored.optimizer, MetaOptimizer)
    assert restored.optimizer.meta_update_every == 2
    assert len(restored.optimizer.variables) == len(model.optimizer.variables)
    for a, b in zip(model.optimizer.variables, restored.optimizer.variables):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b), err_msg=a.path)
    model.train_on_batch(x[1], y[1])  # the 4th step is a meta update
    restored.train_on_batch(x[1], y[1])
    for a, b in zip(model.weights, restored.weights):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-6, err_msg=a.path)


def test_logger_records_values_and_refuses_a_plain_optimizer(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(8, 1)).astype("float32")
    model = scale_model()
    model.compile(optimizer=keras.optimizers.Adam(), loss="mse")
    with pytest.raises(ValueError, match="MetaOptimizer"):
        model.fit(x, x, epochs=1, verbose=0, callbacks=[MetaParameterLogger()])
    model = scale_model()
    model.compile(optimizer=meta_optimizer_for(model, keras.optimizers.Adam()), loss="mse")
    history = model.fit(x, x, epochs=2, verbose=0, callbacks=[MetaParameterLogger()])
    assert history.history["meta/scale/p"] == pytest.approx([1.4, 1.4], abs=1e-6)
    plain = build_gpt(27, mixer="multirate", **gpt_preset("tiny"))
    optimizer = keras.optimizers.Adam()
    assert meta_optimizer_for(plain, optimizer) is optimizer


def test_meta_updates_under_loss_scaling():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(8, 1)).astype("float32")
    model = scale_model()
    model.compile(
        optimizer=MetaOptimizer(keras.optimizers.SGD(0.01), meta_learning_rate=0.1,
                                meta_update_every=2),
        loss="mse",
    )
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    logit = model.get_layer("scale").p.logit
    values = []
    for _ in range(4):
        model.train_on_batch(x, 2 * x)
        values.append(float(to_numpy(logit)))
    start = np.log(0.7 / 0.3)
    assert values[0] == pytest.approx(start, abs=1e-7)
    assert values[1] != pytest.approx(start, abs=1e-3) and values[2] == values[1]
    assert np.isfinite(values).all()


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(meta_objective="fastest"), ValueError, "meta_objective"),
        (dict(meta_update_every=0), ValueError, "meta_update_every"),
        (dict(meta_update_every=2.5), TypeError, "meta_update_every"),
        (dict(ema_decay=1.0), ValueError, "ema_decay"),
        (dict(meta_learning_rate=0.0), ValueError, "meta_learning_rate"),
        (dict(clipnorm=1.0), ValueError, "clipnorm"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        MetaOptimizer(keras.optimizers.Adam(), **kwargs)
    with pytest.raises(TypeError, match="keras optimizer"):
        MetaOptimizer("adam")
