"""Activation kernels: forward in place on the pre-activation, backward from the output.

Every derivative is written in terms of the activation's output y, so the forward pass
keeps one buffer per layer and never stores the pre-activation z.
"""

import numpy as np

from ..codes import ELU, ELU_ALPHA, LEAKY_RELU, LEAKY_SLOPE, LINEAR, RELU, SIGMOID, SOFTMAX, SOFTPLUS, TANH
from .jit import njit


@njit
def softmax_rows(z):
    """Row-wise softmax of z in place, max-shifted so exp never overflows."""
    for r in range(z.shape[0]):
        row = z[r]
        m = row.max()
        s = row.dtype.type(0)
        for j in range(row.size):
            e = np.exp(row[j] - m)
            row[j] = e
            s += e
        inv = row.dtype.type(1) / s
        for j in range(row.size):
            row[j] *= inv


@njit
def activation_forward(act, z):
    """y = f(z) in place for z of shape (batch, units)."""
    if act == LINEAR:
        return
    if act == SOFTMAX:
        softmax_rows(z)
        return
    x = z.reshape(-1)
    one = x.dtype.type(1)
    zero = x.dtype.type(0)
    if act == RELU:
        for i in range(x.size):
            x[i] = max(x[i], zero)
    elif act == SIGMOID:
        for i in range(x.size):
            x[i] = one / (one + np.exp(-x[i]))
    elif act == TANH:
        for i in range(x.size):
            x[i] = np.tanh(x[i])
    elif act == LEAKY_RELU:
        slope = x.dtype.type(LEAKY_SLOPE)
        for i in range(x.size):
            x[i] = x[i] if x[i] > zero else slope * x[i]
    elif act == ELU:
        alpha = x.dtype.type(ELU_ALPHA)
        for i in range(x.size):
            x[i] = x[i] if x[i] > zero else alpha * (np.exp(x[i]) - one)
    elif act == SOFTPLUS:
        # log(1 + e^z) = max(z, 0) + log1p(e^-|z|), stable for large |z|
        for i in range(x.size):
            x[i] = max(x[i], zero) + np.log1p(np.exp(-abs(x[i])))


@njit
def activation_backward(act, y, g):
    """g <- g * f'(z) in place, with f' expressed through the output y = f(z)."""
    if act == LINEAR:
        return
    if act == SOFTMAX:
        # Jacobian-vector product of softmax: dz = y * (g - sum(g * y))
        for r in range(y.shape[0]):
            s = (g[r] * y[r]).sum()
            for j in range(y.shape[1]):
                g[r, j] = y[r, j] * (g[r, j] - s)
        return
    yf = y.reshape(-1)
    gf = g.reshape(-1)
    one = yf.dtype.type(1)
    zero = yf.dtype.type(0)
    if act == RELU:
        for i in range(yf.size):
            gf[i] = gf[i] if yf[i] > zero else zero
    elif act == SIGMOID:
        for i in range(yf.size):
            gf[i] *= yf[i] * (one - yf[i])
    elif act == TANH:
        for i in range(yf.size):
            gf[i] *= one - yf[i] * yf[i]
    elif act == LEAKY_RELU:
        slope = yf.dtype.type(LEAKY_SLOPE)
        for i in range(yf.size):
            gf[i] = gf[i] if yf[i] > zero else slope * gf[i]
    elif act == ELU:
        # for z <= 0: y = alpha (e^z - 1), so f'(z) = alpha e^z = y + alpha
        alpha = yf.dtype.type(ELU_ALPHA)
        for i in range(yf.size):
            gf[i] = gf[i] if yf[i] > zero else gf[i] * (yf[i] + alpha)
    elif act == SOFTPLUS:
        # f'(z) = sigmoid(z) = 1 - e^-y, as -expm1(-y) to keep precision for tiny y
        for i in range(yf.size):
            gf[i] *= -np.expm1(-yf[i])
