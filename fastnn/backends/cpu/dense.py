"""Dense layer kernels: z = x W + b with the activation applied in place, and the backward pass."""

import numpy as np

from .activations import activation_backward, activation_forward
from .jit import njit


@njit
def add_bias(z, b):
    """z[r, :] += b for every row."""
    for r in range(z.shape[0]):
        for j in range(z.shape[1]):
            z[r, j] += b[j]


@njit
def dense_forward(x, w, b, has_bias, act, out):
    """out = f(x @ w + b); the GEMM goes to BLAS, bias and activation follow in place."""
    np.dot(x, w, out)
    if has_bias:
        add_bias(out, b)
    activation_forward(act, out)


@njit
def dense_backward(x, w, y, act, g, dw, db, has_bias, dx, want_dx):
    """From g = dL/dy: g <- dL/dz in place, dw = x^T g, db = sum_rows g, dx = g w^T."""
    activation_backward(act, y, g)
    np.dot(x.T, g, dw)
    if has_bias:
        db[:] = 0
        for r in range(g.shape[0]):
            for j in range(g.shape[1]):
                db[j] += g[r, j]
    if want_dx:
        np.dot(g, w.T, dx)
