"""Loss names and objects (Keras's names): what to minimise and how targets must look."""

import numpy as np

from ._checks import check_bool, check_positive
from ._registry import lookup
from .data import as_numeric
from .backends import codes


class Loss:
    """A loss: its backend code, from_logits, and the check/conversion of its targets."""

    code = None
    name = None
    from_logits = False
    arg = 0.0  # the loss's parameter the kernels take, when it has one (Huber's delta)

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits}

    def __repr__(self):
        return f"{type(self).__name__}({'from_logits=True' if self.from_logits else ''})"

    def __call__(self, y_true, y_pred):
        """The mean loss of a batch of predictions, computed by the CPU kernel the fit uses."""
        backend, mode, y_pred, y = self._checked(y_true, y_pred)
        return backend.loss_value(self.code, mode, y_pred, y, self.arg)

    def per_sample(self, y_true, y_pred):
        """Each sample's loss (Keras's loss functions, e.g. keras.losses.huber, return these)."""
        backend, mode, y_pred, y = self._checked(y_true, y_pred)
        return np.array([backend.loss_value(self.code, mode, y_pred[i:i + 1], y[i:i + 1], self.arg)
                         for i in range(len(y_pred))])

    def _checked(self, y_true, y_pred):
        """(CPU backend, kernel mode, y_pred (batch, units), targets), checked for this loss."""
        from .backends.cpu import CpuBackend
        from .backends.cpu.losses import LOGITS, PROBS
        y_pred = np.asarray(y_pred, dtype=np.float64)
        y_pred = y_pred.reshape(-1, 1) if y_pred.ndim == 1 else y_pred
        if y_pred.ndim != 2 or y_pred.size == 0:
            raise ValueError(f"Expected y_pred of shape (batch, units). Received: shape={np.shape(y_pred)}")
        y = self.targets(y_true, y_pred.shape[1], np.float64, "y_true")
        if len(y) != len(y_pred):
            raise ValueError(f"y_true and y_pred must have the same length. Received: {len(y)} and {len(y_pred)}")
        return CpuBackend(), LOGITS if self.from_logits else PROBS, np.ascontiguousarray(y_pred), y

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


class Huber(Loss):
    """mean(0.5 d^2 if |d| <= delta else delta (|d| - 0.5 delta)), d = y_pred - y_true (Keras 3)."""

    code, name = codes.HUBER, "huber"

    def __init__(self, delta=1.0):
        self.delta = self.arg = check_positive("delta", delta)

    def get_config(self):
        return {"name": self.name, "from_logits": False, "delta": self.delta}


class LogCosh(Loss):
    """mean(log(cosh(y_pred - y_true)))."""

    code, name = codes.LOG_COSH, "log_cosh"


class Poisson(Loss):
    """mean(y_pred - y_true log(y_pred + eps)): for counts; y_pred must stay positive (e.g. softplus)."""

    code, name = codes.POISSON, "poisson"

    def check_range(self, y, argname):
        _within(y, 0, np.inf, self.name, argname)


class MeanAbsolutePercentageError(Loss):
    """100 mean(|y_true - y_pred| / max(|y_true|, eps))."""

    code, name = codes.MAPE, "mean_absolute_percentage_error"


class MeanSquaredLogarithmicError(Loss):
    """mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))^2)."""

    code, name = codes.MSLE, "mean_squared_logarithmic_error"


class SquaredHinge(Hinge):
    """mean(max(1 - y_true y_pred, 0)^2); labels {0, 1} are mapped to {-1, 1} as Keras does."""

    code, name = codes.SQUARED_HINGE, "squared_hinge"


class CategoricalHinge(Loss):
    """max(max((1 - y_true) y_pred) - sum(y_true y_pred) + 1, 0) with one-hot y_true."""

    code, name = codes.CATEGORICAL_HINGE, "categorical_hinge"

    def check_range(self, y, argname):
        _within(y, 0, 1, self.name, argname)


class KLDivergence(Loss):
    """sum(y_true log(y_true / y_pred)), both clipped to [eps, 1]: for probability targets."""

    code, name = codes.KLD, "kl_divergence"

    def check_range(self, y, argname):
        _within(y, 0, 1, self.name, argname)


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
            SparseCategoricalCrossentropy, Huber, LogCosh, Poisson, MeanAbsolutePercentageError,
            MeanSquaredLogarithmicError, SquaredHinge, CategoricalHinge, KLDivergence)
ALIASES = {cls.name: cls for cls in _CLASSES}
ALIASES.update(mse=MeanSquaredError, mae=MeanAbsoluteError, mape=MeanAbsolutePercentageError,
               msle=MeanSquaredLogarithmicError, kld=KLDivergence, logcosh=LogCosh)
ALIASES.update({cls.__name__.lower(): cls for cls in _CLASSES})


def get(identifier):
    """A Loss from a name or an instance."""
    return lookup("loss", identifier, ALIASES, Loss)


def from_config(config):
    """Rebuild a loss saved by get_config."""
    cls = ALIASES[config["name"]]
    if "delta" in config:
        return cls(delta=config["delta"])
    return cls(from_logits=config["from_logits"]) if config.get("from_logits") else cls()


def _per_sample(cls):
    """losses.<name>(y_true, y_pred): each sample's loss, as Keras's loss functions return."""
    def per_sample(y_true, y_pred):
        return cls().per_sample(y_true, y_pred)
    per_sample.__name__ = per_sample.__qualname__ = cls.name
    per_sample.__doc__ = f"Each sample's {cls.name} (Keras 3's definition; see {cls.__name__})."
    return per_sample


huber, log_cosh, poisson = _per_sample(Huber), _per_sample(LogCosh), _per_sample(Poisson)
mean_absolute_percentage_error = _per_sample(MeanAbsolutePercentageError)
mean_squared_logarithmic_error = _per_sample(MeanSquaredLogarithmicError)
squared_hinge, categorical_hinge = _per_sample(SquaredHinge), _per_sample(CategoricalHinge)
kl_divergence = _per_sample(KLDivergence)
