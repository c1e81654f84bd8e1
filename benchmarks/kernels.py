"""Single-kernel workloads: fastnn's compiled CPU kernels against their NumPy baseline equivalents.

Each builder takes the shapes, allocates inputs and outputs once (from the same seeds for both
implementations), and returns a zero-argument callable that runs the kernel once and returns
its outputs. fastnn's kernels are internal, so their calls sit only here.
"""

import numpy as np

from fastnn import baseline
from fastnn.backends import codes
from fastnn.backends.cpu import activations as cpu_activations
from fastnn.backends.cpu import dense as cpu_dense
from fastnn.backends.cpu import losses as cpu_losses
from fastnn.backends.cpu import optimizers as cpu_optimizers

KERNELS = ("dense_forward", "dense_backward", "softmax_ce", "adam_step")


def _arrays(batch, n_in, units, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((batch, n_in), dtype=np.float32)
    w = rng.uniform(-0.1, 0.1, (n_in, units)).astype(np.float32)
    return x, w, np.zeros(units, np.float32), np.empty((batch, units), np.float32)


def dense_forward(impl, batch=128, n_in=784, units=128):
    """relu(x W + b) into a preallocated output."""
    x, w, b, out = _arrays(batch, n_in, units)

    def run():
        if impl == "fastnn":
            cpu_dense.dense_forward.py(x, w, b, True, out)
            cpu_activations.activation_forward.py(codes.RELU, out)
        else:
            baseline.dense_forward(x, w, b, "relu", out)
        return out
    return run


def dense_backward(impl, batch=128, n_in=784, units=128):
    """relu derivative, dW = x^T g, db, and dx = g W^T (a hidden layer's full backward step)."""
    x, w, b, y = _arrays(batch, n_in, units)
    baseline.dense_forward(x, w, b, "relu", y)
    g = np.random.default_rng(1).normal(size=y.shape).astype(np.float32)
    dw, db, dx, tmp = np.empty_like(w), np.empty_like(b), np.empty_like(x), np.empty_like(y)

    def run():
        if impl == "fastnn":
            cpu_activations.activation_backward.py(codes.RELU, y, g)
            cpu_dense.dense_backward.py(x, w, g, dw, db, True, dx, True)
        else:
            baseline.dense_backward(x, w, y, "relu", g, dw, db, dx, tmp)
        return dw, db, dx
    return run


def softmax_ce(impl, batch=128, classes=10):
    """Fused softmax + sparse cross-entropy: (mean batch loss, its gradient (p - onehot) / batch)."""
    rng = np.random.default_rng(2)
    z = rng.normal(size=(batch, classes)).astype(np.float32)
    labels = rng.integers(0, classes, batch)
    grad = np.empty_like(z)
    if impl == "fastnn":
        y = labels.astype(np.float32).reshape(-1, 1)
        z_in = z.copy()  # the fused kernel writes the probabilities back over its input

        def run():
            z[:] = z_in
            return cpu_losses.loss_forward_backward.py(codes.SCCE, cpu_losses.FUSED, z, y, grad, True, 0.0) / batch, grad
        return run
    return lambda: (baseline.sparse_softmax_cross_entropy(z, labels, grad), grad)


def adam_step(impl, n_params=101_770):
    """One Adam update of every parameter (101,770 = the 784-128-10 MNIST net)."""
    rng = np.random.default_rng(3)
    w = rng.normal(size=n_params).astype(np.float32)
    g = rng.normal(scale=1e-3, size=n_params).astype(np.float32)
    if impl == "fastnn":
        slots = np.zeros((2, n_params), np.float32)
        hyper = np.array([1e-3, 0.9, 0.999, 1e-7])
        step = [0.0]

        def run():
            cpu_optimizers.adam_update.py(w, g, slots, hyper, step[0], 0, w.size)
            step[0] += 1
            return w
        return run
    opt = baseline.Adam(n_params, np.float32)

    def run_numpy():
        opt.update(w, g)
        return w
    return run_numpy


def kernel_fn(name, impl, **sizes):
    """The callable for kernel `name` (one of KERNELS) and implementation `impl`."""
    return {"dense_forward": dense_forward, "dense_backward": dense_backward,
            "softmax_ce": softmax_ce, "adam_step": adam_step}[name](impl, **sizes)
