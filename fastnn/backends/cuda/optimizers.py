"""Optimizer updates, twins of cpu/optimizers.py: one launch over the trainable ranges of the flat
parameter buffer (`ranges`: one [start, stop) row per range, as on the CPU).

`slots` is (n_slots, n_params) and `hyper` the optimizer's float vector, as on the CPU. State
smaller than config.FLUSH_BELOW is flushed to zero as the CPU does. The launch first books
the step in the status array and skips the update when the step's loss was non-finite.
"""

import math

from ... import config
from ..codes import ADAGRAD, ADAM, RMSPROP, SGD
from .device import cuda, device_fn, flat, jit
from .status import book_step

TINY = config.FLUSH_BELOW


@device_fn
def _flush(v, tiny):
    """v, or 0 when it is about to become subnormal (tiny: FLUSH_BELOW in v's dtype)."""
    return v if abs(v) >= tiny else v - v


@device_fn
def _sgd(w, g, slots, hyper, start, stop, i0, stride):
    """m = momentum m - lr g; w += m (or, Nesterov, w += momentum m - lr g); plain w -= lr g."""
    lr, momentum, nesterov = w.dtype.type(hyper[0]), w.dtype.type(hyper[1]), hyper[2] != 0
    tiny = w.dtype.type(TINY)
    if momentum == 0:
        for i in range(start + i0, stop, stride):
            w[i] -= lr * g[i]
        return
    for i in range(start + i0, stop, stride):
        mi = _flush(momentum * slots[0, i] - lr * g[i], tiny)
        slots[0, i] = mi
        w[i] += momentum * mi - lr * g[i] if nesterov else mi


@device_fn
def _adam(w, g, slots, hyper, step, start, stop, i0, stride):
    """m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); w -= lr_t m / (sqrt(v) + eps)."""
    lr, b1, b2, eps = hyper[0], hyper[1], hyper[2], hyper[3]
    t = step + 1.0
    # Keras 3: alpha = lr * sqrt(1 - b2^t) / (1 - b1^t), with epsilon outside the sqrt
    alpha = w.dtype.type(lr * math.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t))
    c1, c2, e = w.dtype.type(1.0 - b1), w.dtype.type(1.0 - b2), w.dtype.type(eps)
    tiny = w.dtype.type(TINY)
    for i in range(start + i0, stop, stride):
        gi = g[i]
        mi = _flush(slots[0, i] + (gi - slots[0, i]) * c1, tiny)
        vi = _flush(slots[1, i] + (gi * gi - slots[1, i]) * c2, tiny)
        slots[0, i] = mi
        slots[1, i] = vi
        w[i] -= alpha * mi / (math.sqrt(vi) + e)


@device_fn
def _rmsprop(w, g, slots, hyper, start, stop, i0, stride):
    """v = rho v + (1 - rho) g^2; inc = lr g / sqrt(v + eps); w -= inc (or via momentum)."""
    lr, rho = w.dtype.type(hyper[0]), w.dtype.type(hyper[1])
    momentum, eps = w.dtype.type(hyper[2]), w.dtype.type(hyper[3])
    one, tiny = w.dtype.type(1), w.dtype.type(TINY)
    use_momentum = momentum > w.dtype.type(0)
    for i in range(start + i0, stop, stride):
        vi = _flush(rho * slots[0, i] + (one - rho) * g[i] * g[i], tiny)
        slots[0, i] = vi
        inc = lr * g[i] / math.sqrt(vi + eps)
        if use_momentum:
            inc = _flush(momentum * slots[1, i] + inc, tiny)
            slots[1, i] = inc
        w[i] -= inc


@device_fn
def _adagrad(w, g, slots, hyper, start, stop, i0, stride):
    """acc += g^2; w -= lr g / sqrt(acc + eps)."""
    lr, eps = w.dtype.type(hyper[0]), w.dtype.type(hyper[1])
    for i in range(start + i0, stop, stride):
        slots[0, i] += g[i] * g[i]
        w[i] -= lr * g[i] / math.sqrt(slots[0, i] + eps)


@jit
def _optimizer_update(opt, w, g, slots, hyper, step, ranges, status, parity, rows):
    i0, stride = cuda.grid(1), cuda.gridsize(1)
    if not book_step(status, parity, rows, i0 == 0):
        return
    for r in range(ranges.shape[0]):
        start, stop = ranges[r, 0], ranges[r, 1]
        if opt == SGD:
            _sgd(w, g, slots, hyper, start, stop, i0, stride)
        elif opt == ADAM:
            _adam(w, g, slots, hyper, step, start, stop, i0, stride)
        elif opt == RMSPROP:
            _rmsprop(w, g, slots, hyper, start, stop, i0, stride)
        elif opt == ADAGRAD:
            _adagrad(w, g, slots, hyper, start, stop, i0, stride)


def optimizer_update(opt, w, g, slots, hyper, step, ranges, status, parity, rows):
    """Apply one update of optimizer `opt` to the trainable parameters (each [start, stop) row of the
    device array ranges), unless step `parity`'s loss (status, batch of `rows`) was non-finite or
    training already stopped."""
    flat(_optimizer_update, w.size, opt, w, g, slots, hyper, float(step), ranges, status, parity, rows)
