"""Utilities: reproducible randomness."""

import random

import numpy as np

from ._checks import check_int


def set_random_seed(seed):
    """Seed Python, NumPy and the compiled kernels' generator: CPU training becomes repeatable."""
    seed = check_int("seed", seed, minimum=0)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    from .backends.cpu import random as cpu_random
    cpu_random.seed(seed % 2**32)
