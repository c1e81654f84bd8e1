"""Random kernels: Numba's own generator, seeded from compiled code, drives every draw."""

import numpy as np

from ..codes import INIT_NORMAL, INIT_ONES, INIT_TRUNC_NORMAL, INIT_UNIFORM, INIT_ZEROS
from .jit import njit


@njit
def seed(n):
    """Seed the generator compiled code uses (NumPy's global seed does not reach it)."""
    np.random.seed(n)


@njit
def initialize(out, kind, scale):
    """Fill out: zeros, ones, U(-scale, scale), N(0, scale) or N(0, scale) truncated at 2 scale."""
    for i in range(out.size):
        if kind == INIT_ZEROS:
            out[i] = 0
        elif kind == INIT_ONES:
            out[i] = 1
        elif kind == INIT_UNIFORM:
            out[i] = np.random.uniform(-scale, scale)
        elif kind == INIT_NORMAL:
            out[i] = np.random.normal(0.0, scale)
        elif kind == INIT_TRUNC_NORMAL:
            v = np.random.normal(0.0, scale)
            while abs(v) > 2 * scale:
                v = np.random.normal(0.0, scale)
            out[i] = v


@njit
def shuffled_order(n, shuffle):
    """The sample order of one epoch: a fresh permutation, or 0..n-1."""
    return np.random.permutation(n) if shuffle else np.arange(n)


@njit
def dropout_mask(mask, rate):
    """mask = keep / (1 - rate) with keep ~ Bernoulli(1 - rate): inverted dropout."""
    keep = mask.dtype.type(1.0 / (1.0 - rate))
    for i in range(mask.size):
        mask[i] = keep if np.random.random() >= rate else 0
