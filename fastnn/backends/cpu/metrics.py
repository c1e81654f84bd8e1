"""Metric kernels: each adds one batch's sums to the metric's slots of the stats vector (the loop sums
over the epoch, metrics.py's `finish` turns the sums into the value).

A compiled metric is a row (code, first slot, integer argument) of the `metrics` table: one slot
holding the sum of a per-sample value for most; true positives and false positives (precision) or
false negatives (recall); for AUC, with `arg` thresholds, how many positive and how many negative
outputs fall between each pair of consecutive thresholds (a histogram the ROC curve is built from).
"""

import math

from ..codes import (ACC_BINARY, ACC_CATEGORICAL, ACC_SPARSE, AUC, METRIC_MAE, METRIC_MSE, PRECISION, RECALL,
                     TOP_K, TOP_K_SPARSE)
from .jit import inlined, kernel

THRESHOLD = 0.5  # what counts as a positive prediction for accuracy, precision and recall (Keras's default)


@inlined
def _argmax(a, r, n):
    """Index of the first largest of row r's first n entries (as NumPy's argmax)."""
    best = 0
    for j in range(1, n):
        if a[r, j] > a[r, best]:
            best = j
    return best


@inlined
def auc_bucket(p, thresholds):
    """How many of Keras's AUC thresholds (-eps, 1/(t-1), ..., (t-2)/(t-1), 1+eps) lie below p: 0..t."""
    if p > 1.0 + 1e-7:
        return thresholds
    if not p > -1e-7:
        return 0
    inner = int(math.ceil(p * (thresholds - 1))) - 1  # i/(t-1) < p for i = 1..inner
    return 1 + min(max(inner, 0), thresholds - 2)


@kernel("I1 F2 F2 D1")
def metric_into(spec, p, y, stats):
    """Add one batch's sums of metric spec = (code, first slot, argument) to stats (Keras 3's definitions)."""
    metric, at, arg = spec[0], spec[1], spec[2]
    units = p.shape[1]
    if metric == ACC_SPARSE or metric == ACC_CATEGORICAL:
        for r in range(p.shape[0]):
            want = int(y[r, 0]) if metric == ACC_SPARSE else _argmax(y, r, units)  # (y may hold weights after)
            stats[at] += 1.0 if _argmax(p, r, units) == want else 0.0
    elif metric == TOP_K or metric == TOP_K_SPARSE:  # in the top k: fewer than k scores above the target's
        for r in range(p.shape[0]):
            want = int(y[r, 0]) if metric == TOP_K_SPARSE else _argmax(y, r, units)
            above = 0
            for j in range(units):
                above += 1 if p[r, j] > p[r, want] else 0
            stats[at] += 1.0 if above < arg else 0.0
    elif metric == PRECISION or metric == RECALL:  # (true positives, false positives or negatives)
        for r in range(p.shape[0]):
            for j in range(units):
                predicted, actual = p[r, j] > THRESHOLD, y[r, j] != 0
                stats[at] += 1.0 if predicted and actual else 0.0
                if metric == PRECISION:
                    stats[at + 1] += 1.0 if predicted and not actual else 0.0
                else:
                    stats[at + 1] += 1.0 if actual and not predicted else 0.0
    elif metric == AUC:  # (positives per bucket, then negatives per bucket)
        for r in range(p.shape[0]):
            for j in range(units):
                bucket = auc_bucket(float(p[r, j]), arg)
                stats[at + bucket + (0 if y[r, j] != 0 else arg + 1)] += 1.0
    else:
        total = 0.0
        for r in range(p.shape[0]):
            s = 0.0
            for j in range(units):
                d = float(p[r, j]) - float(y[r, j])
                if metric == ACC_BINARY:
                    s += 1.0 if (1.0 if p[r, j] > THRESHOLD else 0.0) == y[r, j] else 0.0
                elif metric == METRIC_MAE:
                    s += abs(d)
                elif metric == METRIC_MSE:
                    s += d * d
            total += s / units
        stats[at] += total


@inlined
def metrics_into(metrics, p, y, stats):
    """Add the batch's sums of every compiled metric (a row of `metrics`) to stats."""
    for k in range(metrics.shape[0]):
        metric_into(metrics[k], p, y, stats)
