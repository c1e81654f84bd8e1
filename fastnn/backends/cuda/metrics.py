"""Metric device functions, twins of cpu/metrics.py: one row's contribution to a metric sum.

The loss kernel calls `metric_row` for each compiled metric right after a row's loss, so
metrics cost no launch of their own.
"""

from ..codes import ACC_BINARY, ACC_CATEGORICAL, ACC_SPARSE, METRIC_MAE, METRIC_MSE
from .device import device_fn


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
def metric_row(metric, p, y, r, yr):
    """Row r's value of one metric (Keras 3's definitions); y's row is yr."""
    if metric == ACC_SPARSE:
        return 1.0 if argmax_row(p, r, p.shape[1]) == int(y[yr, 0]) else 0.0
    if metric == ACC_CATEGORICAL:  # (y may hold a weight after the targets)
        return 1.0 if argmax_row(p, r, p.shape[1]) == argmax_row(y, yr, p.shape[1]) else 0.0
    s = 0.0
    for j in range(p.shape[1]):
        d = float(p[r, j]) - float(y[yr, j])
        if metric == ACC_BINARY:
            s += 1.0 if (1.0 if p[r, j] > 0.5 else 0.0) == y[yr, j] else 0.0
        elif metric == METRIC_MAE:
            s += abs(d)
        elif metric == METRIC_MSE:
            s += d * d
    return s / p.shape[1]
