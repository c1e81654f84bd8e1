"""Utilities: reproducible randomness, one-hot labels, row normalisation, PyDataset (Keras 3's names), warm_up."""

import random

import numpy as np

from ._checks import check_int
from .data import as_numeric
from .streams import PyDataset  # noqa: F401  (keras.utils.PyDataset)


def warm_up(dtypes=("float32", "float64"), verbose=0):
    """Compile (or load from Numba's cache) every CPU kernel for these float types now, so that no later
    model waits for a compile: e.g. once on each Dask worker before a sweep (fastnn.examples.sweep)."""
    from .backends.cpu import compiling
    from . import config
    for dtype in (dtypes,) if isinstance(dtypes, str) else dtypes:
        compiling.prepare(config.canonical_dtype(dtype), verbose)


def set_random_seed(seed):
    """Seed Python, NumPy and the compiled kernels' generator: CPU training becomes repeatable."""
    seed = check_int("seed", seed, minimum=0)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    from .backends.cpu import random as cpu_random
    cpu_random.seed(seed % 2**32)


def to_categorical(x, num_classes=None):
    """One-hot float rows for integer class labels x (shape (..., 1) counts as (...)), as keras.utils."""
    labels = as_numeric(x, "x")
    if labels.size and not np.array_equal(labels, np.round(labels)):
        raise ValueError("Expected x to hold integer class labels. Received non-integer values, e.g. "
                         f"{labels[labels != np.round(labels)].flat[0]!r}")
    labels = labels.astype(np.int64)
    shape = labels.shape[:-1] if labels.ndim > 1 and labels.shape[-1] == 1 else labels.shape
    labels = labels.reshape(-1)
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    num_classes = check_int("num_classes", num_classes, minimum=1 if labels.size else 0)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"Expected x to hold class labels in [0, {num_classes}). Received labels from "
                         f"{labels.min()} to {labels.max()}")
    out = np.zeros((labels.size, num_classes))
    out[np.arange(labels.size), labels] = 1.0
    return out.reshape(shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """x divided by its `order`-norm along axis (rows of norm 0 are left as they are), as keras.utils."""
    x = as_numeric(x, "x")
    axis = check_int("axis", axis)
    if not -max(x.ndim, 1) <= axis < max(x.ndim, 1):
        raise ValueError(f"Expected axis within the {x.ndim} dimensions of x. Received: axis={axis}")
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis)
