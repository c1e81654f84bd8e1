"""Activation kernels: forward in place on the pre-activation, backward from the output.

Every derivative but those of gelu, swish and mish (codes.FROM_INPUT on) is written in terms of
the activation's output y, so the forward pass keeps one buffer per layer and never stores the
pre-activation z. Those three take z instead: their layer runs them as a step of its own, whose
input is z.
"""

import math

import numpy as np

from ..codes import (ELU, ELU_ALPHA, EXPONENTIAL, GELU, HARD_SIGMOID, LEAKY_RELU, LEAKY_SLOPE, LINEAR, MISH, RELU,
                     RELU6, SELU, SELU_ALPHA, SELU_SCALE, SIGMOID, SOFTMAX, SOFTPLUS, SWISH, TANH)
from .jit import kernel
from .views import flat


@kernel("i F2")
def activation_forward(act, z):
    """y = f(z) in place for z of shape (batch, units)."""
    if act == SOFTMAX:
        # max-shifted row by row, so exp never overflows
        for r in range(z.shape[0]):
            row = z[r]
            m = row[0]
            for j in range(1, row.size):
                m = row[j] if row[j] > m else m
            s = row.dtype.type(0)
            for j in range(row.size):
                row[j] = np.exp(row[j] - m)
                s += row[j]
            inv = row.dtype.type(1) / s
            for j in range(row.size):
                row[j] *= inv
        return
    x = flat(z)
    one = x.dtype.type(1)
    zero = x.dtype.type(0)
    if act == RELU:
        for i in range(x.size):
            x[i] = zero if x[i] < zero else x[i]  # NaN stays NaN
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
            x[i] = (zero if x[i] < zero else x[i]) + np.log1p(np.exp(-abs(x[i])))
    elif act == SELU:
        scale, scaled_alpha = x.dtype.type(SELU_SCALE), x.dtype.type(SELU_SCALE * SELU_ALPHA)
        for i in range(x.size):
            x[i] = scale * x[i] if x[i] > zero else scaled_alpha * (np.exp(x[i]) - one)
    elif act == RELU6:
        six = x.dtype.type(6)
        for i in range(x.size):
            x[i] = zero if x[i] < zero else (six if x[i] > six else x[i])
    elif act == HARD_SIGMOID:
        # Keras 3: relu6(z + 3) / 6, i.e. z / 6 + 1/2 clipped to [0, 1]
        sixth, half = x.dtype.type(1 / 6), x.dtype.type(0.5)
        for i in range(x.size):
            v = x[i] * sixth + half
            x[i] = zero if v < zero else (one if v > one else v)
    elif act == EXPONENTIAL:
        for i in range(x.size):
            x[i] = np.exp(x[i])
    elif act == GELU:  # z Phi(z), Phi the standard normal CDF
        for i in range(x.size):
            x[i] = x[i] * x.dtype.type(0.5 * (1.0 + math.erf(x[i] * 0.7071067811865476)))
    elif act == SWISH:
        for i in range(x.size):
            x[i] = x[i] / (one + np.exp(-x[i]))
    elif act == MISH:  # z tanh(softplus(z))
        for i in range(x.size):
            x[i] = x[i] * np.tanh((zero if x[i] < zero else x[i]) + np.log1p(np.exp(-abs(x[i]))))


@kernel("i F2 F2")
def activation_backward(act, y, g):
    """g <- g * f'(z) in place, with f' expressed through the output y = f(z), or, for act >= FROM_INPUT,
    through y = z itself."""
    if act == LINEAR:
        return
    if act == SOFTMAX:
        # Jacobian-vector product of softmax: dz = y * (g - sum(g * y))
        for r in range(y.shape[0]):
            s = y.dtype.type(0)
            for j in range(y.shape[1]):
                s += g[r, j] * y[r, j]
            for j in range(y.shape[1]):
                g[r, j] = y[r, j] * (g[r, j] - s)
        return
    yf = flat(y)
    gf = flat(g)
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
    elif act == SELU:
        # for z <= 0: y = scale alpha (e^z - 1), so f'(z) = scale alpha e^z = y + scale alpha
        scale, scaled_alpha = yf.dtype.type(SELU_SCALE), yf.dtype.type(SELU_SCALE * SELU_ALPHA)
        for i in range(yf.size):
            gf[i] *= scale if yf[i] > zero else yf[i] + scaled_alpha
    elif act == RELU6:
        six = yf.dtype.type(6)
        for i in range(yf.size):
            gf[i] = gf[i] if zero < yf[i] < six else zero
    elif act == HARD_SIGMOID:
        sixth = yf.dtype.type(1 / 6)
        for i in range(yf.size):
            gf[i] = gf[i] * sixth if zero < yf[i] < one else zero
    elif act == EXPONENTIAL:
        for i in range(yf.size):
            gf[i] *= yf[i]
    elif act == GELU:  # Phi(z) + z phi(z)
        for i in range(yf.size):
            z = float(yf[i])
            gf[i] *= yf.dtype.type(0.5 * (1.0 + math.erf(z * 0.7071067811865476))
                                   + z * math.exp(-0.5 * z * z) * 0.3989422804014327)
    elif act == SWISH:  # s + z s (1 - s), s = sigmoid(z)
        for i in range(yf.size):
            s = one / (one + np.exp(-yf[i]))
            gf[i] *= s * (one + yf[i] * (one - s))
    elif act == MISH:  # tanh(sp) + z sech^2(sp) sigmoid(z), sp = softplus(z)
        for i in range(yf.size):
            z = yf[i]
            t = np.tanh((zero if z < zero else z) + np.log1p(np.exp(-abs(z))))
            gf[i] *= t + z * (one - t * t) / (one + np.exp(-z))
