"""Benchmark data: MNIST as float32 rows in [0, 1] with integer labels, or random data of any size."""

import functools

import numpy as np

import fastnn as fnn


@functools.lru_cache(maxsize=2)
def mnist(split="train"):
    """MNIST `split` ("train" or "test") as (x float32 (n, 784), y int64 (n,)); read once per process."""
    (x_train, y_train), (x_test, y_test) = fnn.datasets.mnist.load_data(verbose=0)
    x, y = (x_train, y_train) if split == "train" else (x_test, y_test)
    x = x.reshape(len(x), -1).astype(np.float32)
    x /= 255
    return x, y.astype(np.int64)


def synthetic(n, features=784, classes=10, seed=0):
    """Random pixel-like rows and labels: a stand-in for MNIST of any size."""
    rng = np.random.default_rng(seed)
    return rng.random((n, features), dtype=np.float32), rng.integers(0, classes, n)


def take(data, n):
    """The first n samples of (x, y) (all of them when n is None or larger)."""
    x, y = data
    return (x, y) if n is None or n >= len(x) else (x[:n], y[:n])
