"""Metrics by name or as objects (Keras 3's classes): which backend metric code each stands for.

The compiled loop sums one value per sample for each metric; an epoch's value is that sum over
the samples seen, passed through the metric's `finish` (the square root for RootMeanSquaredError).
"""

import math

from .backends import codes

_ACCURACY = ("accuracy", "acc")
_FIXED = {
    "binary_accuracy": codes.ACC_BINARY,
    "categorical_accuracy": codes.ACC_CATEGORICAL,
    "sparse_categorical_accuracy": codes.ACC_SPARSE,
    "mae": codes.METRIC_MAE, "mean_absolute_error": codes.METRIC_MAE,
    "mse": codes.METRIC_MSE, "mean_squared_error": codes.METRIC_MSE,
    "rmse": codes.METRIC_MSE, "root_mean_squared_error": codes.METRIC_MSE,
}
_ROOTS = ("rmse", "root_mean_squared_error")
KNOWN = sorted(_ACCURACY + tuple(_FIXED))


class Metric:
    """A metric the compiled loop computes: `name` is its log key, `key` what it computes."""

    key = None

    def __init__(self, name=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Expected name to be a string. Received: name={name!r}")
        self.name = name or self.key

    def finish(self, mean):
        """The epoch's value from the mean of the per-sample values."""
        return math.sqrt(mean) if self.key in _ROOTS else mean

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


class SparseCategoricalAccuracy(Metric):
    key = "sparse_categorical_accuracy"


class CategoricalAccuracy(Metric):
    key = "categorical_accuracy"


class BinaryAccuracy(Metric):
    """Share of outputs on the right side of 0.5 (fastnn's kernels compare with 0.5 only)."""

    key = "binary_accuracy"

    def __init__(self, name=None, threshold=0.5):
        super().__init__(name)
        if threshold != 0.5:
            raise ValueError(f"fastnn's BinaryAccuracy compares with threshold=0.5 only. "
                             f"Received: threshold={threshold!r}")
        self.threshold = 0.5


class MeanSquaredError(Metric):
    key = "mean_squared_error"


class MeanAbsoluteError(Metric):
    key = "mean_absolute_error"


class RootMeanSquaredError(Metric):
    key = "root_mean_squared_error"


CLASSES = {cls.__name__: cls for cls in (SparseCategoricalAccuracy, CategoricalAccuracy, BinaryAccuracy,
                                         MeanSquaredError, MeanAbsoluteError, RootMeanSquaredError)}


class _Named(Metric):
    """A metric given by its name, e.g. "accuracy" (logged under that name)."""

    def __init__(self, name):
        self.key = self.name = name


def check_names(metrics):
    """The metrics as Metric objects, validated (codes are resolved once the output width is known)."""
    if metrics is None:
        return []
    if isinstance(metrics, (str, Metric)) or not isinstance(metrics, (list, tuple)):
        raise TypeError(f"Expected metrics to be a list of names or fastnn.metrics objects. Received: "
                        f"metrics={metrics!r}")
    out = []
    for metric in metrics:
        if isinstance(metric, str) and metric.lower() in KNOWN:
            metric = _Named(metric)
        elif not isinstance(metric, Metric) or isinstance(metric, str):
            raise ValueError(f"Unknown metric: {metric!r}. Expected one of {KNOWN} or one of fastnn.metrics."
                             f"{sorted(CLASSES)}")
        if any(metric.name == other.name for other in out):
            raise ValueError(f"Two metrics are named {metric.name!r}: give one another name=.")
        out.append(metric)
    return out


def get_config(metric):
    """How a compiled metric is saved: its name, or its class and config."""
    return metric.name if isinstance(metric, _Named) else {"class_name": type(metric).__name__,
                                                            "config": metric.get_config()}


def from_config(entry):
    """A metric saved by get_config."""
    if isinstance(entry, str):
        return entry
    cls = CLASSES.get(entry.get("class_name")) if isinstance(entry, dict) else None
    if cls is None:
        raise ValueError(f"Unknown saved metric {entry!r}; expected a name or one of {sorted(CLASSES)}")
    return cls(**entry.get("config", {}))


def resolve(metric, loss, units):
    """Backend code of `metric` for a model with `units` outputs trained on `loss`."""
    key, name = metric.key.lower(), metric.name
    sparse_targets = loss.code == codes.SCCE
    if key in _ACCURACY:
        if sparse_targets:
            return codes.ACC_SPARSE
        if units == 1 or loss.code == codes.BCE:
            return codes.ACC_BINARY
        return codes.ACC_CATEGORICAL
    code = _FIXED[key]
    if sparse_targets and code != codes.ACC_SPARSE:
        raise ValueError(f"Metric {name!r} compares outputs with targets of the same shape, but "
                         f"{loss.name} takes integer labels. Use 'accuracy' or a dense loss.")
    if code == codes.ACC_SPARSE and not sparse_targets:
        raise ValueError(f"Metric {name!r} needs integer labels (sparse_categorical_crossentropy). "
                         f"Received loss: {loss.name}")
    return code
