"""Metric device functions, twins of cpu/metrics.py: one row's contribution to a metric's sums.

The loss kernel calls `metric_row` (or, for the two-count metrics, `counts_row`, and for AUC
`auc_row`) for each compiled metric (code, first slot, argument) right after a row's loss, so
metrics cost no launch of their own.
"""

import math

from ..codes import (ACC_BINARY, ACC_CATEGORICAL, ACC_SPARSE, METRIC_MAE, METRIC_MSE, PRECISION, TOP_K,
                     TOP_K_SPARSE)
from ..cpu.metrics import PER_THRESHOLD_UNIT
from .device import cuda, device_fn


@device_fn
def argmax_row(a, r, n):
    """Index of the first maximum of row r's first n entries (the first NaN, as np.argmax)."""
    best = 0
    for j in range(n):
        v = a[r, j]
        if v != v:
            return j
        if v > a[r, best]:
            best = j
    return best


@device_fn
def metric_row(metric, arg, p, y, r, yr):
    """Row r's value of a one-slot metric (Keras 3's definitions); y's row is yr."""
    if metric == ACC_SPARSE:
        return 1.0 if argmax_row(p, r, p.shape[1]) == int(y[yr, 0]) else 0.0
    if metric == ACC_CATEGORICAL:  # (y may hold a weight after the targets)
        return 1.0 if argmax_row(p, r, p.shape[1]) == argmax_row(y, yr, p.shape[1]) else 0.0
    if metric == TOP_K or metric == TOP_K_SPARSE:  # fewer than k scores above the target's
        want = int(y[yr, 0]) if metric == TOP_K_SPARSE else argmax_row(y, yr, p.shape[1])
        above = 0
        for j in range(p.shape[1]):
            above += 1 if p[r, j] > p[r, want] else 0
        return 1.0 if above < arg else 0.0
    s = 0.0
    for j in range(p.shape[1]):
        d = float(p[r, j]) - float(y[yr, j])
        if metric == ACC_BINARY:
            s += 1.0 if (1.0 if p[r, j] > arg / PER_THRESHOLD_UNIT else 0.0) == y[yr, j] else 0.0
        elif metric == METRIC_MAE:
            s += abs(d)
        elif metric == METRIC_MSE:
            s += d * d
    return s / p.shape[1]


@device_fn
def counts_row(metric, arg, p, y, r, yr):
    """Row r's (true positives, false positives for PRECISION or false negatives for RECALL), outputs above
    the threshold (arg, in 1e-9 units) counting as predicted positives."""
    tp, other = 0.0, 0.0
    for j in range(p.shape[1]):
        predicted, actual = p[r, j] > arg / PER_THRESHOLD_UNIT, y[yr, j] != 0
        tp += 1.0 if predicted and actual else 0.0
        if metric == PRECISION:
            other += 1.0 if predicted and not actual else 0.0
        else:
            other += 1.0 if actual and not predicted else 0.0
    return tp, other


@device_fn
def auc_bucket(p, thresholds):
    """How many of Keras's AUC thresholds (-eps, 1/(t-1), ..., (t-2)/(t-1), 1+eps) lie below p: 0..t."""
    if p > 1.0 + 1e-7:
        return thresholds
    if not p > -1e-7:
        return 0
    inner = int(math.ceil(p * (thresholds - 1))) - 1  # i/(t-1) < p for i = 1..inner
    return 1 + min(max(inner, 0), thresholds - 2)


@device_fn
def auc_row(thresholds, p, y, r, yr, status, at):
    """Count row r's outputs into AUC's histograms at status[at:]: positives by bucket, then negatives."""
    for j in range(p.shape[1]):
        bucket = auc_bucket(float(p[r, j]), thresholds)
        cuda.atomic.add(status, at + bucket + (0 if y[yr, j] != 0 else thresholds + 1), 1.0)
