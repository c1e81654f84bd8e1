"""Metrics by name or as objects (Keras 3's classes): which backend metric code each stands for.

The compiled loop adds each batch's sums to the metric's slots of a stats vector (one slot, the sum
of a per-sample value, for most; see backends/cpu/metrics.py); an epoch's value is those sums over
the samples seen, passed through the metric's `finish` (the mean, its square root for
RootMeanSquaredError, a ratio of counts for Precision and Recall, the area under the ROC curve
for AUC).
"""

import math

import numpy as np

from ._checks import check_float, check_int
from .backends import codes
from .backends.cpu.metrics import PER_THRESHOLD_UNIT

_ACCURACY = ("accuracy", "acc")
_FIXED = {
    "binary_accuracy": codes.ACC_BINARY,
    "categorical_accuracy": codes.ACC_CATEGORICAL,
    "sparse_categorical_accuracy": codes.ACC_SPARSE,
    "mae": codes.METRIC_MAE, "mean_absolute_error": codes.METRIC_MAE,
    "mse": codes.METRIC_MSE, "mean_squared_error": codes.METRIC_MSE,
    "rmse": codes.METRIC_MSE, "root_mean_squared_error": codes.METRIC_MSE,
    "top_k_categorical_accuracy": codes.TOP_K, "sparse_top_k_categorical_accuracy": codes.TOP_K_SPARSE,
    "precision": codes.PRECISION, "recall": codes.RECALL, "auc": codes.AUC,
}
_ROOTS = ("rmse", "root_mean_squared_error")
_SPARSE = (codes.ACC_SPARSE, codes.TOP_K_SPARSE)  # the metrics that take integer labels
KNOWN = sorted(_ACCURACY + tuple(_FIXED))


class Metric:
    """A metric the compiled loop computes: `name` is its log key, `key` what it computes."""

    key = None
    arg = 0  # the kernel's integer argument (k, or AUC's thresholds)

    def __init__(self, name=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Expected name to be a string. Received: name={name!r}")
        self.name = name or self.key

    def width(self):
        """How many slots of the stats vector the kernel fills."""
        return 2 * (self.arg + 1) if self.key == "auc" else 2 if self.key in ("precision", "recall") else 1

    def finish(self, sums, count):
        """The epoch's value from its slots' sums over `count` samples."""
        if self.key in ("precision", "recall"):  # true positives over (true positives + the other count)
            return sums[0] / (sums[0] + sums[1]) if sums[0] + sums[1] else 0.0
        if self.key == "auc":
            return roc_auc(sums[:self.arg + 1], sums[self.arg + 1:])
        return math.sqrt(sums[0] / count) if self.key in _ROOTS else sums[0] / count

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


def roc_auc(positives, negatives):
    """Area under the ROC curve from per-bucket counts, as Keras's AUC (interpolation summation): the
    trapezoid rule over the rates at each threshold (bucket b holds outputs above thresholds 0..b-1)."""
    tp = np.cumsum(positives[::-1])[::-1][1:]  # above threshold i: buckets i+1 and up
    fp = np.cumsum(negatives[::-1])[::-1][1:]
    total_p, total_n = positives.sum(), negatives.sum()
    tpr = tp / total_p if total_p else np.zeros_like(tp)
    fpr = fp / total_n if total_n else np.zeros_like(fp)
    return float(np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2.0))


class SparseCategoricalAccuracy(Metric):
    key = "sparse_categorical_accuracy"


class CategoricalAccuracy(Metric):
    key = "categorical_accuracy"


class BinaryAccuracy(Metric):
    """Share of outputs on the right side of the threshold (outputs above it count as 1)."""

    key = "binary_accuracy"

    def __init__(self, name=None, threshold=0.5):
        super().__init__(name)
        self.threshold = check_float("threshold", threshold, 0.0, 1.0)

    def get_config(self):
        return {"name": self.name, "threshold": self.threshold}


class MeanSquaredError(Metric):
    key = "mean_squared_error"


class MeanAbsoluteError(Metric):
    key = "mean_absolute_error"


class RootMeanSquaredError(Metric):
    key = "root_mean_squared_error"


class TopKCategoricalAccuracy(Metric):
    """Share of samples whose one-hot target is among the k highest outputs."""

    key = "top_k_categorical_accuracy"

    def __init__(self, k=5, name=None):
        super().__init__(name)
        self.k = self.arg = check_int("k", k, minimum=1)

    def get_config(self):
        return {"name": self.name, "k": self.k}


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    """Share of samples whose integer label is among the k highest outputs."""

    key = "sparse_top_k_categorical_accuracy"


class Precision(Metric):
    """True positives over predicted positives (outputs above 0.5; every output counts, as Keras's default)."""

    key = "precision"

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None):
        super().__init__(name)
        _defaults_only(type(self).__name__, top_k=(top_k, (None,)), class_id=(class_id, (None,)))
        if isinstance(thresholds, (list, tuple)):
            raise ValueError(f"fastnn's {type(self).__name__} takes one threshold (a number). Received: "
                             f"thresholds={thresholds!r}")
        self.thresholds = None if thresholds is None else check_float("thresholds", thresholds, 0.0, 1.0)
        self.threshold = 0.5 if thresholds is None else self.thresholds

    def get_config(self):
        return {"name": self.name, "thresholds": self.thresholds}


class Recall(Precision):
    """True positives over actual positives (outputs above 0.5 count as predicted positives)."""

    key = "recall"


class AUC(Metric):
    """Area under the ROC curve, estimated as Keras does: confusion counts at num_thresholds thresholds
    spread evenly over [0, 1], summed by the trapezoid rule."""

    key = "auc"

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        super().__init__(name)
        self.num_thresholds = self.arg = check_int("num_thresholds", num_thresholds, minimum=2)
        _defaults_only("AUC", curve=(curve, ("ROC",)), summation_method=(summation_method, ("interpolation",)),
                       thresholds=(thresholds, (None,)), multi_label=(multi_label, (False,)),
                       num_labels=(num_labels, (None,)), label_weights=(label_weights, (None,)),
                       from_logits=(from_logits, (False,)))

    def get_config(self):
        return {"name": self.name, "num_thresholds": self.num_thresholds}


def _defaults_only(cls, **given):
    """A clear error for an argument fastnn's kernels do not implement (anything but the allowed values)."""
    for arg, (value, allowed) in given.items():
        if not any(value is a or (a is not None and value == a) for a in allowed):
            raise ValueError(f"fastnn's {cls} supports {arg}={allowed[0]!r} only. Received: {arg}={value!r}")


CLASSES = {cls.__name__: cls for cls in (SparseCategoricalAccuracy, CategoricalAccuracy, BinaryAccuracy,
                                         MeanSquaredError, MeanAbsoluteError, RootMeanSquaredError,
                                         TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, Precision, Recall,
                                         AUC)}
_DEFAULT_ARGS = {"top_k_categorical_accuracy": 5, "sparse_top_k_categorical_accuracy": 5, "auc": 200}


class _Named(Metric):
    """A metric given by its name, e.g. "accuracy" (logged under that name), with Keras's defaults."""

    def __init__(self, name):
        self.key = self.name = name
        self.arg = _DEFAULT_ARGS.get(name.lower(), 0)


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
    if sparse_targets and code not in _SPARSE:
        raise ValueError(f"Metric {name!r} compares outputs with targets of the same shape, but "
                         f"{loss.name} takes integer labels. Use 'accuracy' or a dense loss.")
    if code in _SPARSE and not sparse_targets:
        raise ValueError(f"Metric {name!r} needs integer labels (sparse_categorical_crossentropy). "
                         f"Received loss: {loss.name}")
    return code


def table(metrics, loss, units):
    """(the compiled metrics table (n, 3) int64: code, first stats slot, argument; the stats vector's size)."""
    rows, slot = [], codes.S_METRICS
    for metric in metrics:
        code = resolve(metric, loss, units)
        if code in (codes.ACC_BINARY, codes.PRECISION, codes.RECALL):  # (the kernels take it in 1e-9 units)
            arg = int(round(getattr(metric, "threshold", 0.5) * PER_THRESHOLD_UNIT))
        else:
            arg = metric.arg
        rows.append((code, slot, arg))
        slot += metric.width()
    return np.array(rows, dtype=np.int64).reshape(-1, 3), slot


def logs(metrics, stats, count, prefix=""):
    """{name: value} of each metric from the stats vector its table() laid out."""
    out, slot = {}, codes.S_METRICS
    for metric in metrics:
        out[prefix + metric.name] = float(metric.finish(stats[slot:slot + metric.width()], count))
        slot += metric.width()
    return out
