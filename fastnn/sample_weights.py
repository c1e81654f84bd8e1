"""Per-sample loss weights (`sample_weight=`, `class_weight=`), checked and attached to the targets.

The backends read a sample's weight from one more column of the targets array (see
backends/cpu/losses.py: has_weights), so weighted data travels, shuffles and batches with its
targets and no kernel needs another argument. Keras 3's semantics: the loss of a batch is
sum(w * loss) / batch size; the compiled metrics are not weighted.
"""

import numbers
from collections.abc import Mapping

import numpy as np

from .data import as_numeric


def checked(sample_weight, n, argname="sample_weight"):
    """sample_weight as float64 (n,) (a (n, 1) column is accepted), or None; else a clear error."""
    if sample_weight is None:
        return None
    w = as_numeric(sample_weight, argname).astype(np.float64)
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    if w.ndim != 1 or len(w) != n:
        raise ValueError(f"Expected {argname} to hold one weight per sample: shape ({n},). Received: shape "
                         f"{w.shape}")
    bad = np.flatnonzero(~(np.isfinite(w) & (w >= 0)))
    if bad.size:
        raise ValueError(f"Expected {argname} to hold finite numbers >= 0. Received: {w[bad[0]]} at index {bad[0]}")
    return w


def from_classes(class_weight, y, sparse):
    """Each sample's weight class_weight[its class] (1 for a class not in the dict), as Keras 3 maps it:
    the label itself for sparse targets, the argmax of one-hot rows, the rounded value of a single column."""
    if not isinstance(class_weight, Mapping):
        raise TypeError(f"Expected class_weight to be a dict mapping class indices to weights. Received: "
                        f"{class_weight!r}")
    table = {}
    for key, value in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, numbers.Integral):
            raise TypeError(f"class_weight's keys must be class indices (integers). Received: {key!r}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
            raise ValueError(f"class_weight's values must be finite numbers >= 0. Received: {key}: {value!r}")
        table[int(key)] = float(value)
    labels = np.round(y[:, 0] if sparse or y.shape[1] == 1 else np.argmax(y, axis=1)).astype(np.int64)
    weights = np.ones(len(y))
    for label, value in table.items():
        weights[labels == label] = value
    return weights


def attach(y, w):
    """The targets y (n, k) with the weights w as column k (C-contiguous, y's dtype)."""
    out = np.empty((len(y), y.shape[1] + 1), y.dtype)
    out[:, :-1] = y
    out[:, -1] = w
    return out


def refuse_both(sample_weight, class_weight):
    """Refuse both at once, as Keras 3 does."""
    if sample_weight is not None and class_weight is not None:
        raise ValueError("You cannot use class_weight and sample_weight at the same time: multiply the class "
                         "weights into sample_weight instead.")
