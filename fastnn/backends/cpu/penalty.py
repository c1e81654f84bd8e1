"""The kernel regularisers' penalty and its gradient, over the flat parameter buffer (or a share of it)."""

import numpy as np

from ..codes import DENSE, F_L1, F_L2, P_IN, P_KIND, P_OUT, P_W
from .blas import gemm
from .jit import inlined, kernel
from .views import matrix


@kernel("I2 D2 F1 F1 b d i i -> d")
def regularize(plan, fplan, params, grads, want_grad, factor, lo, hi):
    """_regularize(), as the loop calls it (a kernel: compiled once, called by address)."""
    return _regularize(plan, fplan, params, grads, want_grad, factor, lo, hi)


@inlined
def _regularize(plan, fplan, params, grads, want_grad, factor, lo, hi):
    """factor times the penalty l1 sum|w| + l2 sum w^2 of every kernel regulariser, over the parameters lo..hi-1
    (a split plan's part takes its share); with want_grad, factor times its gradient is added to grads."""
    penalty = 0.0
    square = np.empty((1, 1), params.dtype)
    for l in range(plan.shape[0]):
        l1, l2 = fplan[l, F_L1], fplan[l, F_L2]
        start, stop = max(plan[l, P_W], lo), min(plan[l, P_W] + plan[l, P_IN] * plan[l, P_OUT], hi)
        if plan[l, P_KIND] != DENSE or (l1 == 0 and l2 == 0) or start >= stop:
            continue
        size = stop - start
        w, g = params[start:stop], grads[start:stop]
        if l2 != 0:  # sum w^2 by BLAS (a scalar loop's sum cannot vectorise without reassociating)
            row = matrix(params, start, 1, size)
            gemm(row, False, row, True, square)
            penalty += l2 * square[0, 0]
            if want_grad:
                c2 = w.dtype.type(factor * 2 * l2)
                for i in range(w.size):
                    g[i] += c2 * w[i]
        if l1 != 0:
            c1 = w.dtype.type(factor * l1)
            for i in range(w.size):
                penalty += l1 * abs(w[i])
                if want_grad:
                    g[i] += c1 * np.sign(w[i])
    return factor * penalty
