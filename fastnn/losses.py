"""Loss names and objects (Keras's names): what to minimise and how targets must look."""

import numpy as np

from ._checks import check_bool
from ._registry import lookup
from .data import as_numeric
from .backends import codes


class Loss:
    """A loss: its backend code, from_logits, and the check/conversion of its targets."""

    code = None
    name = None
    from_logits = False

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits}

    def __repr__(self):
        return f"{type(self).__name__}({'from_logits=True' if self.from_logits else ''})"

    def __call__(self, y_true, y_pred):
        """The mean loss of a batch of predictions, computed by the CPU kernel the fit uses."""
        from .backends.cpu import CpuBackend
        from .backends.cpu.losses import LOGITS, PROBS
        y_pred = np.asarray(y_pred, dtype=np.float64)
        y_pred = y_pred.reshape(-1, 1) if y_pred.ndim == 1 else y_pred
        if y_pred.ndim != 2 or y_pred.size == 0:
            raise ValueError(f"Expected y_pred of shape (batch, units). Received: shape={np.shape(y_pred)}")
        y = self.targets(y_true, y_pred.shape[1], np.float64, "y_true")
        if len(y) != len(y_pred):
            raise ValueError(f"y_true and y_pred must have the same length. Received: {len(y)} and {len(y_pred)}")
        mode = LOGITS if self.from_logits else PROBS
        return CpuBackend().loss_value(self.code, mode, np.ascontiguousarray(y_pred), y)

    def targets(self, y, units, dtype, argname="y"):
        """y as a C-contiguous float array (n, units), checked for this loss."""
        y = _numeric(y, argname)
        if y.ndim == 1 and units == 1:
            y = y.reshape(-1, 1)
        if y.ndim != 2 or y.shape[1] != units:
            raise ValueError(f"{self.name} expects {argname} of shape (samples, {units}) to match the "
                             f"model's {units} outputs. Received: {argname}.shape={y.shape}")
        self.check_range(y, argname)
        return _finite_as(y, dtype, argname)

    def check_range(self, y, argname):
        """Reject targets outside the loss's domain (default: any finite value)."""


class MeanSquaredError(Loss):
    """mean((y_pred - y_true)^2) over outputs, then over the batch."""

    code, name = codes.MSE, "mean_squared_error"


class MeanAbsoluteError(Loss):
    """mean(|y_pred - y_true|) over outputs, then over the batch."""

    code, name = codes.MAE, "mean_absolute_error"


class Hinge(Loss):
    """mean(max(1 - y_true * y_pred, 0)); labels {0, 1} are mapped to {-1, 1} as Keras does."""

    code, name = codes.HINGE, "hinge"

    def targets(self, y, units, dtype, argname="y"):
        y = super().targets(y, units, dtype, argname)
        if np.all((y == 0) | (y == 1)):
            y = 2 * y - 1
        if not np.all((y == -1) | (y == 1)):
            raise ValueError(f"hinge expects {argname} labels in {{-1, 1}} or {{0, 1}}. "
                             f"Received values {np.unique(y)[:5]}")
        return y


class BinaryCrossentropy(Loss):
    """-mean(y log p + (1 - y) log(1 - p)); with from_logits, computed stably from scores."""

    code, name = codes.BCE, "binary_crossentropy"

    def __init__(self, from_logits=False):
        self.from_logits = check_bool("from_logits", from_logits)

    def check_range(self, y, argname):
        _within(y, 0, 1, self.name, argname)


class CategoricalCrossentropy(Loss):
    """-sum(y log softmax) per sample with one-hot (or probability) targets."""

    code, name = codes.CCE, "categorical_crossentropy"

    def __init__(self, from_logits=False):
        self.from_logits = check_bool("from_logits", from_logits)

    def check_range(self, y, argname):
        _within(y, 0, 1, self.name, argname)


class SparseCategoricalCrossentropy(Loss):
    """-log p[label] per sample with integer class labels."""

    code, name = codes.SCCE, "sparse_categorical_crossentropy"

    def __init__(self, from_logits=False):
        self.from_logits = check_bool("from_logits", from_logits)

    def targets(self, y, units, dtype, argname="y"):
        y = _numeric(y, argname)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.reshape(-1)
        if y.ndim != 1:
            raise ValueError(f"{self.name} expects integer labels of shape (samples,). "
                             f"Received: {argname}.shape={y.shape}")
        if y.size and (np.any(y != np.round(y)) or y.min() < 0 or y.max() >= units):
            bad = y[(y != np.round(y)) | (y < 0) | (y >= units)][0].item()
            raise ValueError(f"{self.name} expects integer labels in [0, {units - 1}] for a model with "
                             f"{units} outputs. Received: label {bad!r} in {argname}")
        return np.ascontiguousarray(y.reshape(-1, 1), dtype=dtype)


def _numeric(y, argname):
    """y as a numeric NumPy array with only finite values."""
    y = as_numeric(y, argname)
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError(f"{argname} contains NaN or infinite values.")
    return y


def _finite_as(y, dtype, argname):
    """y as a C-contiguous array of dtype, rejecting values that overflow it."""
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(y, dtype=dtype)
    if not np.isfinite(out).all():
        raise ValueError(f"{argname} contains NaN or infinite values (or values too large for {np.dtype(dtype).name}).")
    return out


def _within(y, low, high, name, argname):
    if y.size and (y.min() < low or y.max() > high):
        raise ValueError(f"{name} expects {argname} values in [{low}, {high}]. "
                         f"Received values in [{y.min()}, {y.max()}]")


_CLASSES = (MeanSquaredError, MeanAbsoluteError, Hinge, BinaryCrossentropy, CategoricalCrossentropy,
            SparseCategoricalCrossentropy)
ALIASES = {cls.name: cls for cls in _CLASSES}
ALIASES.update(mse=MeanSquaredError, mae=MeanAbsoluteError)
ALIASES.update({cls.__name__.lower(): cls for cls in _CLASSES})


def get(identifier):
    """A Loss from a name or an instance."""
    return lookup("loss", identifier, ALIASES, Loss)


def from_config(config):
    """Rebuild a loss saved by get_config."""
    cls = ALIASES[config["name"]]
    return cls(from_logits=config["from_logits"]) if config.get("from_logits") else cls()
