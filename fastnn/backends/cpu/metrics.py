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

PER_THRESHOLD_UNIT = 1e9  # binary accuracy, precision and recall get their threshold as an integer in 1e-9 units


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
def _class_hits(spec, p, y, stats):
    """Accuracy over classes, or in the top k: the target's score has fewer than k (1 for accuracy) above it."""
    metric, at = spec[0], spec[1]
    k = spec[2] if metric == TOP_K or metric == TOP_K_SPARSE else 1
    sparse = metric == ACC_SPARSE or metric == TOP_K_SPARSE
    units = p.shape[1]
    for r in range(p.shape[0]):
        want = int(y[r, 0]) if sparse else _argmax(y, r, units)  # (y may hold weights after the targets)
        if k == 1:  # argmax, first of equals, as Keras's accuracy
            stats[at] += 1.0 if _argmax(p, r, units) == want else 0.0
            continue
        above = 0
        for j in range(units):
            above += 1 if p[r, j] > p[r, want] else 0
        stats[at] += 1.0 if above < k else 0.0


@kernel("I1 F2 F2 D1")
def _mean_over_outputs(spec, p, y, stats):
    """Binary accuracy (above the threshold: 1), mean absolute or squared error: the per-sample mean over
    outputs, summed."""
    metric, at, threshold = spec[0], spec[1], spec[2] / PER_THRESHOLD_UNIT
    total = 0.0
    for r in range(p.shape[0]):
        s = 0.0
        for j in range(p.shape[1]):
            d = float(p[r, j]) - float(y[r, j])
            if metric == ACC_BINARY:
                s += 1.0 if (1.0 if p[r, j] > threshold else 0.0) == y[r, j] else 0.0
            elif metric == METRIC_MAE:
                s += abs(d)
            else:
                s += d * d
        total += s / p.shape[1]
    stats[at] += total


@kernel("I1 F2 F2 D1")
def _confusion_counts(spec, p, y, stats):
    """(true positives, false positives for precision or false negatives for recall) over every output,
    outputs above the threshold counting as predicted positives."""
    metric, at, threshold = spec[0], spec[1], spec[2] / PER_THRESHOLD_UNIT
    for r in range(p.shape[0]):
        for j in range(p.shape[1]):
            predicted, actual = p[r, j] > threshold, y[r, j] != 0
            stats[at] += 1.0 if predicted and actual else 0.0
            if metric == PRECISION:
                stats[at + 1] += 1.0 if predicted and not actual else 0.0
            else:
                stats[at + 1] += 1.0 if actual and not predicted else 0.0


@kernel("I1 F2 F2 D1")
def _auc_histograms(spec, p, y, stats):
    """How many positive, then negative, outputs fall in each bucket between AUC's spec[2] thresholds."""
    at, thresholds = spec[1], spec[2]
    for r in range(p.shape[0]):
        for j in range(p.shape[1]):
            bucket = auc_bucket(float(p[r, j]), thresholds)
            stats[at + bucket + (0 if y[r, j] != 0 else thresholds + 1)] += 1.0


@inlined
def metrics_into(metrics, p, y, stats):
    """Add the batch's sums of every compiled metric (a row of `metrics`) to stats."""
    for k in range(metrics.shape[0]):
        metric = metrics[k, 0]
        if metric == PRECISION or metric == RECALL:
            _confusion_counts(metrics[k], p, y, stats)
        elif metric == AUC:
            _auc_histograms(metrics[k], p, y, stats)
        elif metric == ACC_BINARY or metric == METRIC_MAE or metric == METRIC_MSE:
            _mean_over_outputs(metrics[k], p, y, stats)
        else:
            _class_hits(metrics[k], p, y, stats)


def kernels_for(metric):
    """The kernel metrics_into calls for metric code `metric`: all a model with it needs loaded."""
    if metric in (PRECISION, RECALL):
        return [_confusion_counts]
    if metric == AUC:
        return [_auc_histograms]
    return [_mean_over_outputs if metric in (ACC_BINARY, METRIC_MAE, METRIC_MSE) else _class_hits]


CHOSEN_BY_CODE = [_class_hits, _mean_over_outputs, _confusion_counts, _auc_histograms]  # kernels_for() picks
