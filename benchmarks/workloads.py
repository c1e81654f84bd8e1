"""Paired workloads: the same network, weights and data for fastnn and the NumPy baseline.

Every scenario is a zero-argument callable per implementation, built by the functions here
with explicit sizes, so the suites run them at MNIST size and the smoke test on tiny shapes.
"""

import time

import numpy as np

import fastnn as fnn
from fastnn import layers
from fastnn.baseline import Dense, NumpyNetwork

from benchmarks import opponents

IMPLS = ("fastnn", "numpy")


def mnist_model(widths, seed=0, dtype="float32"):
    """A compiled fastnn net widths[0] -> relu hidden layers -> softmax, Adam, sparse CE."""
    fnn.utils.set_random_seed(seed)
    stack = [layers.Input((widths[0],))]
    stack += [layers.Dense(w, activation="relu") for w in widths[1:-1]]
    stack.append(layers.Dense(widths[-1], activation="softmax"))
    model = fnn.Sequential(stack, dtype=dtype)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def numpy_network(widths, seed=0):
    """The same architecture built by the baseline alone (no fastnn kernel runs, none compiles)."""
    steps = [Dense(w, "relu") for w in widths[1:-1]] + [Dense(widths[-1], "softmax")]
    return NumpyNetwork(widths[0], steps, "sparse_categorical_crossentropy", {"name": "adam"}, seed=seed)


def network(impl, widths, seed=0, standalone=False):
    """A fresh fastnn model, or its NumPy mirror (same initial weights unless standalone)."""
    if impl == "numpy" and standalone:
        return numpy_network(widths, seed)
    model = mnist_model(widths, seed)
    return model if impl == "fastnn" else NumpyNetwork.from_model(model)


def epoch_fn(impl, widths, x, y, batch_size, seed=0, standalone=False):
    """One training epoch per call: shuffled each epoch, every batch gathered, as fit(shuffle=True) does."""
    if impl in opponents.OPTIONAL:
        weights = network("numpy", widths, seed, standalone).get_weights()
        return opponents.epoch_fn(impl, x, y, batch_size, weights, seed)
    net = network(impl, widths, seed, standalone)
    if impl == "fastnn":
        return lambda: net.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=True)
    rng = np.random.default_rng(seed)
    return lambda: net.train_epoch(x, y, batch_size, order=rng.permutation(len(x)))


class Measured(float):
    """Seconds a workload timed itself; the comparison reports these instead of the call's wall time."""


class _LastEpochTimer(fnn.callbacks.Callback):
    """Seconds taken by the latest epoch of a fit."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def running_epoch_fn(impl, widths, x, y, batch_size, seed=0):
    """As epoch_fn, but fastnn reports the second epoch of fit(epochs=2), timed by a callback.

    fit converts, checks and indexes x once per call, as each opponent prepares its arrays once,
    outside its timed call; this row leaves that per-fit work out, the epoch_fn rows keep it in.
    """
    if impl != "fastnn":
        return epoch_fn(impl, widths, x, y, batch_size, seed)
    net, timer = network(impl, widths, seed), _LastEpochTimer()

    def run():
        net.fit(x, y, batch_size=batch_size, epochs=2, verbose=0, shuffle=True, callbacks=[timer])
        return Measured(timer.seconds)
    return run


def predict_fn(impl, widths, x, batch_size, seed=0):
    """Inference over x per call."""
    if impl in opponents.OPTIONAL:
        return opponents.predict_fn(impl, x, batch_size, network("numpy", widths, seed).get_weights())
    net = network(impl, widths, seed)
    return lambda: net.predict(x, batch_size=batch_size)


def epoch_flops(widths, n):
    """Floating-point operations of the GEMMs in one training epoch over n samples.

    Forward x W and backward x^T g are 2 n in out each for every layer; g W^T too, except the first
    layer, whose input gradient is never needed. Elementwise work is left out.
    """
    pairs = [a * b for a, b in zip(widths[:-1], widths[1:])]
    return 2 * n * (2 * sum(pairs) + sum(pairs[1:]))
