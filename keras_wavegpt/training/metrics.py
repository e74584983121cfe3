"""The numbers experiments report (`docs/design.md`, "Metrics")."""

import math

import keras
import numpy as np


def bits_per_char(nats):
    """Cross-entropy in nats per symbol -> bits per symbol.

    Args:
        nats: float or `None`. A loss in nats.

    Returns:
        float, or `None` for `None`.
    """
    return None if nats is None else nats / math.log(2.0)


def same_performance_step(curve, target):
    """First evaluated step whose validation loss is <= `target`, or None.

    Args:
        curve: sequence of `(step, val_loss)`. In increasing step order.
        target: float. The loss to reach (the baseline's final validation
            loss).

    Returns:
        int or `None` (never reached).
    """
    for step, loss in curve:
        if loss <= target:
            return int(step)
    return None


def speedup(spe, baseline_steps):
    """`1 - spe / baseline_steps`: the share of the baseline's steps saved.

    Args:
        spe: int or `None`. A same-performance step.
        baseline_steps: int. The steps the baseline trained.

    Returns:
        float, or `None` when `spe` is `None`.
    """
    return None if spe is None else 1.0 - spe / baseline_steps


def welch_test(a, b):
    """Welch's unequal-variance t-test of mean(a) vs mean(b).

    Args:
        a: sequence of float. One variant's values (e.g. final losses over
            seeds).
        b: sequence of float. The reference's values.

    Returns:
        `(t, p)` (two-sided; `t < 0` when `a`'s mean is lower), or
        `(None, None)` with fewer than two samples on either side or no
        variance at all.
    """
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2 or (a.var() == 0 and b.var() == 0):
        return None, None
    result = stats.ttest_ind(a, b, equal_var=False)
    return float(result.statistic), float(result.pvalue)


def welch_comparison(a, b, level=0.95):
    """Welch's test of mean(a) - mean(b), with what a reader needs beside p.

    Args:
        a: sequence of float. One variant's values (final losses over seeds).
        b: sequence of float. The reference's values.
        level: float. Confidence level of the interval. Defaults to `0.95`.

    Returns:
        dict with `"t"`, `"p"` (two-sided), `"diff"` (mean(a) - mean(b)),
        `"low"` and `"high"` (its `level` confidence interval, Welch-
        Satterthwaite degrees of freedom `"df"`), and `"detectable"`: the
        smallest difference that would reach `p < 1 - level` with these
        spreads and seed counts (the interval's half width), which bounds
        what a "no difference" result can rule out. `None` with fewer than
        two samples on either side or no variance at all.

    Example:

    >>> round(welch_comparison([1.0, 1.1, 1.2], [1.3, 1.4, 1.5])["diff"], 6)
    -0.3
    """
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    t, p = welch_test(a, b)
    if t is None:
        return None
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = float(np.sqrt(va + vb))
    df = float((va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)))
    half = float(stats.t.ppf(0.5 + level / 2, df)) * se
    diff = float(a.mean() - b.mean())
    return {"t": t, "p": p, "diff": diff, "low": diff - half, "high": diff + half, "df": df,
            "detectable": half}


def mean_std(values):
    """`(mean, sample std)` of the non-None values; std is 0 for one value,
    and both are None when nothing is left.

    Args:
        values: sequence of float or `None`.
    """
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return float(np.mean(values)), std


def sinusoid_fit(filters, num_frequencies=512):
    """How much of each filter a single sinusoid explains (R^2 in [0, 1]).

    For every column `h` of `filters` (k, M) this fits
    `c + a cos(w t) + b sin(w t)` by least squares for `num_frequencies`
    frequencies `w` in [0, pi] and keeps the best fraction of variance
    explained. A windowed pure tone scores 1; random filters of length `k`
    score about `2 ln(k) / k` or more. This is the quantitative form of
    "the learned filters are not sinusoids" (Verma & Pilanci).

    Args:
        filters: array of shape `(k, M)`. One filter per column.
        num_frequencies: int. Frequencies tried in `[0, pi]`. Defaults to
            `512`.

    Returns:
        numpy array of shape `(M,)`.
    """
    filters = np.asarray(filters, dtype=np.float64)
    k = filters.shape[0]
    t = np.arange(k)
    centred = filters - filters.mean(axis=0)
    total = (centred**2).sum(axis=0)
    best = np.zeros(filters.shape[1])
    for w in np.linspace(0.0, np.pi, num_frequencies):
        basis = np.stack([np.cos(w * t), np.sin(w * t)], axis=1)
        basis = basis - basis.mean(axis=0)
        # Least-squares projection onto span(basis) of every filter at once.
        coef, *_ = np.linalg.lstsq(basis, centred, rcond=None)
        explained = ((basis @ coef) ** 2).sum(axis=0)
        best = np.maximum(best, explained / np.maximum(total, 1e-30))
    return np.minimum(best, 1.0)


# --- multi-label tagging (FSD-50K style) ---------------------------------------


@keras.saving.register_keras_serializable(package="keras_wavegpt")
def multilabel_top_k_hit(y_true, y_pred, k=5):
    """Whether one of the `k` highest-scoring classes is a true label.

    Args:
        y_true: tensor of shape `(B, C)`. Multi-hot labels.
        y_pred: tensor of shape `(B, C)`. Scores or logits.
        k: int. How many top classes count. Defaults to `5`.

    Returns:
        float32 tensor of shape `(B,)`: 1.0 for a hit, else 0.0.
    """
    _, top = keras.ops.top_k(y_pred, k)  # (B, k)
    hits = keras.ops.take_along_axis(keras.ops.cast(y_true, "float32"), top, axis=-1)
    return keras.ops.cast(keras.ops.max(hits, axis=-1) > 0, "float32")  # (B,)


TAGGING_METRICS = ("top1", "top5", "mAP")


def tagging_task(num_classes, num_thresholds=500):
    """The loss and metrics of multi-label tagging on logits.

    Binary cross-entropy; top-1 and top-5 hit rate; and mAP as Keras' area
    under the precision-recall curve averaged over classes (a class with no
    positive example scores 0).

    Args:
        num_classes: int. The number of labels.
        num_thresholds: int. The interpolation points of the PR curve.
            Defaults to `500`.

    Returns:
        tuple `(loss, metrics)` for `model.compile`.
    """
    k = min(5, num_classes)
    return keras.losses.BinaryCrossentropy(from_logits=True), [
        keras.metrics.MeanMetricWrapper(multilabel_top_k_hit, name="top1", k=1),
        keras.metrics.MeanMetricWrapper(multilabel_top_k_hit, name="top5", k=k),
        keras.metrics.AUC(num_thresholds=num_thresholds, curve="PR", multi_label=True,
                          from_logits=True, name="mAP"),
    ]

