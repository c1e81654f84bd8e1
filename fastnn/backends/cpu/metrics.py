"""Metric kernels: the per-batch sum of each sample's metric value (the loop averages)."""

from ..codes import ACC_BINARY, ACC_CATEGORICAL, ACC_SPARSE, METRIC_MAE, METRIC_MSE
from .jit import inlined, kernel


@inlined
def _argmax(a, r, n):
    """Index of the first largest of row r's first n entries (as NumPy's argmax)."""
    best = 0
    for j in range(1, n):
        if a[r, j] > a[r, best]:
            best = j
    return best


@kernel("i F2 F2 -> d")
def metric_sum(metric, p, y):
    """Sum over rows of one metric, with Keras 3's definitions."""
    total = 0.0
    if metric == ACC_SPARSE or metric == ACC_CATEGORICAL:
        for r in range(p.shape[0]):
            want = int(y[r, 0]) if metric == ACC_SPARSE else _argmax(y, r, p.shape[1])  # (y may hold weights after)
            total += 1.0 if _argmax(p, r, p.shape[1]) == want else 0.0
        return total
    for r in range(p.shape[0]):
        s = 0.0
        for j in range(p.shape[1]):
            d = float(p[r, j]) - float(y[r, j])
            if metric == ACC_BINARY:
                s += 1.0 if (1.0 if p[r, j] > 0.5 else 0.0) == y[r, j] else 0.0
            elif metric == METRIC_MAE:
                s += abs(d)
            elif metric == METRIC_MSE:
                s += d * d
        total += s / p.shape[1]
    return total


@inlined
def metrics_into(metrics, p, y, stats, first):
    """stats[first + k] += metric_sum(metrics[k]) for every compiled metric."""
    for k in range(metrics.size):
        stats[first + k] += metric_sum(metrics[k], p, y)
