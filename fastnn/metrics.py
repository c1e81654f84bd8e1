"""Metric names: which backend metric code a compiled name stands for, chosen as Keras does."""

from .backends import codes

_ACCURACY = ("accuracy", "acc")
_FIXED = {
    "binary_accuracy": codes.ACC_BINARY,
    "categorical_accuracy": codes.ACC_CATEGORICAL,
    "sparse_categorical_accuracy": codes.ACC_SPARSE,
    "mae": codes.METRIC_MAE, "mean_absolute_error": codes.METRIC_MAE,
    "mse": codes.METRIC_MSE, "mean_squared_error": codes.METRIC_MSE,
}
KNOWN = sorted(_ACCURACY + tuple(_FIXED))


def check_names(metrics):
    """The list of metric names, validated (codes are resolved once the output width is known)."""
    if metrics is None:
        return []
    if isinstance(metrics, str) or not isinstance(metrics, (list, tuple)):
        raise TypeError(f"Expected metrics to be a list of names. Received: metrics={metrics!r}")
    for name in metrics:
        if not isinstance(name, str) or name.lower() not in KNOWN:
            raise ValueError(f"Unknown metric: {name!r}. Expected one of {KNOWN}")
    return list(metrics)


def resolve(name, loss, units):
    """Backend code of metric `name` for a model with `units` outputs trained on `loss`."""
    key = name.lower()
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
