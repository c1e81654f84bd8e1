"""Optimizer updates, Keras 3's rules exactly, each one pass over a range of the flat parameter buffer.

`slots` is (n_slots, n_params): optimizer state laid out like the parameters. Each update runs
over parameters start..stop-1 (as views: a loop from 0 vectorises, one from `start` would not,
since the index might be negative); optimizer_update calls it for each trainable range. `hyper` is the
optimizer's float vector (see optimizers.py for its layout). State smaller than
config.FLUSH_BELOW is flushed to zero so subnormals never slow the loop.
"""

import numpy as np

from ... import config
from ..codes import ADAGRAD, ADAM, RMSPROP, SGD
from .jit import inlined, kernel

TINY = config.FLUSH_BELOW


@inlined
def _flush(v, tiny):
    """v, or 0 when it is about to become subnormal (tiny must have v's type, or nothing vectorises)."""
    return v if abs(v) >= tiny else tiny - tiny


@kernel("F1 F1 F2 D1 d i i")
def sgd_update(w, g, slots, hyper, step, start, stop):
    """m = momentum m - lr g; w += m (or, Nesterov, w += momentum m - lr g); plain w -= lr g."""
    lr, momentum, nesterov = w.dtype.type(hyper[0]), w.dtype.type(hyper[1]), hyper[2] != 0
    w, g = w[start:stop], g[start:stop]
    if momentum == 0:
        for i in range(w.size):
            w[i] -= lr * g[i]
        return
    m = slots[0][start:stop]
    tiny = w.dtype.type(TINY)
    for i in range(w.size):
        mi = _flush(momentum * m[i] - lr * g[i], tiny)
        m[i] = mi
        w[i] += momentum * mi - lr * g[i] if nesterov else mi


@kernel("F1 F1 F2 D1 d i i")
def adam_update(w, g, slots, hyper, step, start, stop):
    """m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); w -= lr_t m / (sqrt(v) + eps)."""
    lr, b1, b2, eps = hyper[0], hyper[1], hyper[2], hyper[3]
    t = step + 1.0
    # Keras 3: alpha = lr * sqrt(1 - b2^t) / (1 - b1^t), with epsilon outside the sqrt
    alpha = w.dtype.type(lr * np.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t))
    c1, c2, e = w.dtype.type(1.0 - b1), w.dtype.type(1.0 - b2), w.dtype.type(eps)
    w, g, m, v = w[start:stop], g[start:stop], slots[0][start:stop], slots[1][start:stop]
    tiny = w.dtype.type(TINY)
    for i in range(w.size):
        gi = g[i]
        mi = _flush(m[i] + (gi - m[i]) * c1, tiny)
        vi = _flush(v[i] + (gi * gi - v[i]) * c2, tiny)
        m[i] = mi
        v[i] = vi
        w[i] -= alpha * mi / (np.sqrt(vi) + e)


@kernel("F1 F1 F2 D1 d i i")
def rmsprop_update(w, g, slots, hyper, step, start, stop):
    """v = rho v + (1 - rho) g^2; inc = lr g / sqrt(v + eps); w -= inc (or via momentum)."""
    lr, rho = w.dtype.type(hyper[0]), w.dtype.type(hyper[1])
    momentum, eps = w.dtype.type(hyper[2]), w.dtype.type(hyper[3])
    one, tiny = w.dtype.type(1), w.dtype.type(TINY)
    w, g, v, m = w[start:stop], g[start:stop], slots[0][start:stop], slots[1][start:stop]
    for i in range(w.size):
        vi = _flush(rho * v[i] + (one - rho) * g[i] * g[i], tiny)
        v[i] = vi
        inc = lr * g[i] / np.sqrt(vi + eps)
        if momentum > 0:
            inc = _flush(momentum * m[i] + inc, tiny)
            m[i] = inc
        w[i] -= inc


@kernel("F1 F1 F2 D1 d i i")
def adagrad_update(w, g, slots, hyper, step, start, stop):
    """acc += g^2; w -= lr g / sqrt(acc + eps)."""
    lr, eps = w.dtype.type(hyper[0]), w.dtype.type(hyper[1])
    w, g, acc = w[start:stop], g[start:stop], slots[0][start:stop]
    for i in range(w.size):
        acc[i] += g[i] * g[i]
        w[i] -= lr * g[i] / np.sqrt(acc[i] + eps)


@inlined
def optimizer_update(opt, w, g, slots, hyper, step, ranges):
    """Apply one update of optimizer `opt` to the trainable parameters: each [start, stop) row of ranges."""
    for r in range(ranges.shape[0]):
        start, stop = ranges[r, 0], ranges[r, 1]
        if opt == SGD:
            sgd_update(w, g, slots, hyper, step, start, stop)
        elif opt == ADAM:
            adam_update(w, g, slots, hyper, step, start, stop)
        elif opt == RMSPROP:
            rmsprop_update(w, g, slots, hyper, step, start, stop)
        elif opt == ADAGRAD:
            adagrad_update(w, g, slots, hyper, step, start, stop)


def kernels_for(opt):
    """The kernel optimizer_update calls for optimizer code opt: all a model training with it needs loaded."""
    return [{SGD: sgd_update, ADAM: adam_update, RMSPROP: rmsprop_update, ADAGRAD: adagrad_update}[opt]]


CHOSEN_BY_CODE = [sgd_update, adam_update, rmsprop_update, adagrad_update]  # kernels_for() picks among these
