"""Randomness: Numba's generator (seeded from compiled code) drives dropout masks; initial
weights and each epoch's sample order are drawn on the host by NumPy, so neither compiles anything.

`fnn.utils.set_random_seed` seeds both generators.
"""

import numpy as np

from ..codes import INIT_NORMAL, INIT_ONES, INIT_TRUNC_NORMAL, INIT_UNIFORM, INIT_ZEROS
from .jit import kernel, njit


@njit
def seed(n):
    """Seed the generator compiled code uses (NumPy's global seed does not reach it)."""
    np.random.seed(n)


def initialize(out, kind, scale):
    """Fill the host array out: zeros, ones, U(-scale, scale), N(0, scale) or N(0, scale) truncated at 2 scale."""
    if kind in (INIT_ZEROS, INIT_ONES):
        out[:] = 0 if kind == INIT_ZEROS else 1
    elif kind == INIT_UNIFORM:
        out[:] = np.random.uniform(-scale, scale, out.size)
    else:
        values = np.random.normal(0.0, scale, out.size)
        redraw = np.abs(values) > 2 * scale if kind == INIT_TRUNC_NORMAL else np.zeros(0, bool)
        while redraw.any():
            values[redraw] = np.random.normal(0.0, scale, int(redraw.sum()))
            redraw = np.abs(values) > 2 * scale
        out[:] = values


def shuffled_order(n, shuffle):
    """The sample order of one epoch (int64): a fresh permutation, or 0..n-1."""
    return np.random.permutation(n).astype(np.int64, copy=False) if shuffle else np.arange(n, dtype=np.int64)


@kernel("F1 d")
def dropout_mask(mask, rate):
    """mask = keep / (1 - rate) with keep ~ Bernoulli(1 - rate): inverted dropout."""
    keep = mask.dtype.type(1.0 / (1.0 - rate))
    zero = mask.dtype.type(0)
    for i in range(mask.size):
        mask[i] = keep if np.random.random() >= rate else zero
