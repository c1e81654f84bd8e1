"""The machine's float32 GEMM rate, the yardstick for the training GFLOP/s the suites achieve."""

import time

import numpy as np


def gemm_gflops(n=2048, repeats=3):
    """GFLOP/s of NumPy's float32 n x n x n matrix product (best of `repeats`, after one warm-up)."""
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    out = np.empty((n, n), np.float32)
    np.dot(a, b, out=out)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.dot(a, b, out=out)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n ** 3 / best / 1e9


def achieved_gflops(flops, seconds):
    """GFLOP/s of a run that did `flops` operations in `seconds`."""
    return flops / seconds / 1e9
