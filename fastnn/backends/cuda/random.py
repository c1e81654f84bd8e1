"""Random kernels, twins of cpu/random.py: dropout masks drawn on the device from xoroshiro128+.

One generator state per thread of the dropout launch, created once per fit and seeded from
the compiled code's generator, so fnn.utils.set_random_seed also fixes CUDA dropout.
Initialisation and the epoch order stay on the host (cpu/random.py): the same seed gives
the CPU and the GPU the same weights and the same sample order.
"""

import math

import numpy as np

from ..cpu.jit import njit
from .device import MAX_BLOCKS, THREADS, cuda, fixed, jit, random_module

_rng = random_module()


@njit
def draw_seed():
    """A seed from the compiled code's generator (the one set_random_seed seeds)."""
    return np.random.randint(0, 2**62)


def dropout_blocks(n):
    """Blocks of the dropout launch for at most n elements (one random state per thread)."""
    return max(1, min(math.ceil(n / THREADS), MAX_BLOCKS))


def make_states(n):
    """Generator states for dropout launches over at most n elements."""
    return _rng.create_xoroshiro128p_states(dropout_blocks(n) * THREADS, seed=draw_seed())


@jit
def _dropout_forward(x, mask, out, rate, states, rows):
    t = cuda.grid(1)
    cols = x.shape[1]
    keep = mask.dtype.type(1.0 / (1.0 - rate))
    zero = mask.dtype.type(0)
    for i in range(t, rows * cols, cuda.gridsize(1)):
        r, c = i // cols, i % cols
        m = keep if _rng.xoroshiro128p_uniform_float64(states, t) >= rate else zero
        mask[r, c] = m
        out[r, c] = x[r, c] * m


def dropout_forward(x, mask, out, rate, states, rows):
    """mask = keep / (1 - rate) with keep ~ Bernoulli(1 - rate) (inverted dropout); out = x * mask."""
    fixed(_dropout_forward, states.size // THREADS, x, mask, out, float(rate), states, rows)
