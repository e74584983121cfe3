"""The numbers experiments report (SPEC §6)."""

import math

import numpy as np


def bits_per_char(nats):
    """Cross-entropy in nats per symbol -> bits per symbol."""
    return None if nats is None else nats / math.log(2.0)


def same_performance_step(curve, target):
    """First evaluated step whose validation loss is <= `target`, or None.

    Args:
        curve: sequence of `(step, val_loss)` in increasing step order.
        target: the loss to reach (the baseline's final validation loss).
    """
    for step, loss in curve:
        if loss <= target:
            return int(step)
    return None


def speedup(spe, baseline_steps):
    """`1 - spe / baseline_steps`: the share of the baseline's steps saved."""
    return None if spe is None else 1.0 - spe / baseline_steps


def welch_test(a, b):
    """Welch's unequal-variance t-test of mean(a) vs mean(b).

    Returns `(t, p)` (two-sided), or `(None, None)` with fewer than two
    samples on either side or no variance at all.
    """
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2 or (a.var() == 0 and b.var() == 0):
        return None, None
    result = stats.ttest_ind(a, b, equal_var=False)
    return float(result.statistic), float(result.pvalue)


def mean_std(values):
    """`(mean, sample std)` of the non-None values; std is 0 for one value,
    and both are None when nothing is left."""
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return float(np.mean(values)), std
