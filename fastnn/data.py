"""Conversion of user arrays at the API boundary: checked once, then handed to the kernels."""

import numpy as np


def as_numeric(x, argname):
    """x as a NumPy array of numbers, or TypeError naming the argument."""
    if x is None:
        raise TypeError(f"Expected {argname} to be an array of numbers. Received: {argname}=None")
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"Expected {argname} to be an array of numbers. Received: {type(x).__name__} ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"Expected {argname} to hold numbers. Received: {argname} with dtype={arr.dtype}")
    return arr


def as_samples(x, sample_shape, dtype, argname="x"):
    """x of shape (n, *sample_shape) as a C-contiguous (n, features) float array with finite values."""
    arr = as_numeric(x, argname)
    if arr.ndim != len(sample_shape) + 1 or tuple(arr.shape[1:]) != tuple(sample_shape):
        raise ValueError(f"Expected {argname} of shape {(None,) + tuple(sample_shape)} to match the model's "
                         f"input. Received: {argname}.shape={arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"Expected {argname} to hold at least one sample. Received: {argname}.shape={arr.shape}")
    flat = np.ascontiguousarray(arr.reshape(arr.shape[0], -1), dtype=dtype)
    if arr.dtype.kind == "f" and not all_finite(flat):
        raise ValueError(f"{argname} contains NaN or infinite values (or values too large for {dtype}).")
    return flat


def all_finite(x):
    """True when no entry of x is NaN or infinite.

    A sum is NaN or infinite whenever one entry is, and summing is faster than np.isfinite (no
    boolean copy); only a non-finite sum, which finite values can also give by overflowing,
    needs the entry-by-entry check.
    """
    return bool(np.isfinite(x.sum())) or bool(np.isfinite(x).all())


def split_tail(x, y, fraction):
    """(train, held-out) where held-out is the last `fraction` of the samples, as Keras does."""
    at = int(len(x) * (1.0 - fraction))
    if at == 0 or at == len(x):
        raise ValueError(f"validation_split={fraction} leaves no {'training' if at == 0 else 'validation'} "
                         f"samples out of {len(x)}.")
    return (x[:at], y[:at]), (x[at:], y[at:])
