import math

import numpy as np
import pytest
from scipy import stats

from keras_wavegpt.training import metrics


def test_same_performance_step_and_speedup():
    curve = [[100, 2.0], [200, 1.5], [300, 1.2], [400, 1.1]]
    assert metrics.same_performance_step(curve, 1.5) == 200
    assert metrics.same_performance_step(curve, 1.19) == 400
    assert metrics.same_performance_step(curve, 1.0) is None
    assert metrics.speedup(200, 500) == pytest.approx(0.6)
    assert metrics.speedup(None, 500) is None


def test_bits_per_char():
    assert metrics.bits_per_char(math.log(2)) == pytest.approx(1.0)


def test_welch_against_textbook_formula():
    a, b = [1.0, 1.1, 0.9, 1.05], [1.2, 1.3, 1.25]
    t, p = metrics.welch_test(a, b)
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    assert t == pytest.approx((np.mean(a) - np.mean(b)) / math.sqrt(va + vb))
    dof = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    assert p == pytest.approx(2 * stats.t.sf(abs(t), dof))
    assert metrics.welch_test([1.0], b) == (None, None)


def test_welch_comparison_interval_is_scipys():
    a, b = [1.0, 1.1, 0.9, 1.05], [1.2, 1.3, 1.25]
    test = metrics.welch_comparison(a, b)
    interval = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (test["low"], test["high"]) == (pytest.approx(interval.low),
                                           pytest.approx(interval.high))
    assert test["diff"] == pytest.approx(np.mean(a) - np.mean(b))
    assert test["detectable"] == pytest.approx((interval.high - interval.low) / 2)
    # A difference exactly as large as `detectable` sits at p = 0.05.
    shifted = metrics.welch_comparison(
        np.array(a) - np.mean(a) + np.mean(b) + test["detectable"], b)
    assert shifted["p"] == pytest.approx(0.05)
    assert metrics.welch_comparison([1.0], b) is None


def test_mean_std():
    assert metrics.mean_std([1.0, None, 3.0]) == (2.0, pytest.approx(math.sqrt(2)))
    assert metrics.mean_std([None]) == (None, None)


def test_sinusoid_fit_tells_tones_from_noise():
    from keras_wavegpt.training.metrics import sinusoid_fit

    t = np.arange(16)[:, None]
    tones = np.concatenate(
        [np.cos(0.7 * t + 0.3), 2 * np.sin(2.1 * t) + 0.5, np.cos(np.pi * t)], axis=1
    )
    np.testing.assert_allclose(sinusoid_fit(tones), 1.0, atol=1e-3)  # frequency grid
    noise = np.random.default_rng(0).normal(size=(16, 200))
    r2 = sinusoid_fit(noise)
    assert 0.1 < np.median(r2) < 0.6  # a few frequencies always fit noise a little
    two_tones = np.cos(0.5 * t) + np.cos(2.5 * t)  # equal power: one tone explains half
    assert 0.4 < sinusoid_fit(two_tones)[0] < 0.6


def _average_precision(y_true, scores):
    """Reference mAP: per class, the mean precision at each positive's rank."""
    per_class = []
    for c in range(y_true.shape[1]):
        ranked = y_true[np.argsort(-scores[:, c], kind="stable"), c] > 0
        hits = np.cumsum(ranked)
        per_class.append(np.mean(hits[ranked] / (np.flatnonzero(ranked) + 1)))
    return np.mean(per_class)


def test_tagging_metrics_against_numpy():
    import keras

    from keras_wavegpt.training.metrics import multilabel_top_k_hit, tagging_task

    rng = np.random.default_rng(0)
    y = (rng.random((400, 6)) < 0.3).astype("float32")
    y[np.arange(400), rng.integers(0, 6, 400)] = 1.0  # every clip has a label
    logits = (2.0 * y + rng.normal(size=y.shape)).astype("float32")  # informative scores
    top2 = np.argsort(-logits, axis=1)[:, :2]
    expected = y[np.arange(400)[:, None], top2].max(axis=1)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(multilabel_top_k_hit(y, logits, k=2)), expected)
    loss, (top1, top5, average) = tagging_task(6)
    for metric in (top1, top5, average):
        metric.update_state(y, logits)
    assert float(top1.result()) == pytest.approx(y[np.arange(400), logits.argmax(1)].mean())
    assert float(top5.result()) == pytest.approx(
        y[np.arange(400)[:, None], np.argsort(-logits, 1)[:, :5]].max(1).mean())
    # Keras' interpolated PR area is within 0.01 of the exact mean average precision.
    reference = _average_precision(y, logits)
    assert 0.5 < reference < 0.95
    assert float(average.result()) == pytest.approx(reference, abs=0.01)
    bce = -np.mean(y * np.log(1 / (1 + np.exp(-logits))) + (1 - y) * np.log(1 / (1 + np.exp(logits))))
    assert float(loss(y, logits)) == pytest.approx(bce, rel=1e-5)
