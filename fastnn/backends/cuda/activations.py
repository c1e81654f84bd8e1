"""Activation kernels, twins of cpu/activations.py: forward from z, backward from the output y
(from z itself for gelu, swish and mish: codes.FROM_INPUT on).

`activate` and `act_grad` are device functions the GEMM epilogues call, so bias + activation
and the activation's derivative cost no extra launch. Softmax needs a whole row, so it has its
own row-wise launch whenever it is not fused into the loss. `like` is any array of the
working dtype: constants are made in that dtype so float32 math stays float32.
"""

import math

from ..codes import (ELU, ELU_ALPHA, EXPONENTIAL, GELU, HARD_SIGMOID, LEAKY_RELU, LEAKY_SLOPE, LINEAR, MISH, RELU,
                     RELU6, SELU, SELU_ALPHA, SELU_SCALE, SIGMOID, SOFTMAX, SOFTPLUS, SWISH, TANH)
from .device import cuda, device_fn, flat, jit


@device_fn
def activate(act, v, like):
    """f(v) for an elementwise activation (LINEAR and SOFTMAX return v unchanged)."""
    one, zero = like.dtype.type(1), like.dtype.type(0)
    if act == RELU:
        return max(v, zero)
    if act == SIGMOID:
        return one / (one + math.exp(-v))
    if act == TANH:
        return math.tanh(v)
    if act == LEAKY_RELU:
        return v if v > zero else like.dtype.type(LEAKY_SLOPE) * v
    if act == ELU:
        return v if v > zero else like.dtype.type(ELU_ALPHA) * (math.exp(v) - one)
    if act == SOFTPLUS:
        # log(1 + e^v) = max(v, 0) + log1p(e^-|v|), stable for large |v|
        return max(v, zero) + math.log1p(math.exp(-abs(v)))
    if act == SELU:
        return like.dtype.type(SELU_SCALE) * v if v > zero else \
            like.dtype.type(SELU_SCALE * SELU_ALPHA) * (math.exp(v) - one)
    if act == RELU6:
        return min(max(v, zero), like.dtype.type(6))
    if act == HARD_SIGMOID:  # Keras 3: relu6(v + 3) / 6
        return min(max(v * like.dtype.type(1 / 6) + like.dtype.type(0.5), zero), one)
    if act == EXPONENTIAL:
        return math.exp(v)
    if act == GELU:  # v Phi(v)
        return v * like.dtype.type(0.5) * (one + math.erf(v * like.dtype.type(0.7071067811865476)))
    if act == SWISH:
        return v / (one + math.exp(-v))
    if act == MISH:  # v tanh(softplus(v))
        return v * math.tanh(max(v, zero) + math.log1p(math.exp(-abs(v))))
    return v


@device_fn
def act_grad(act, y, like):
    """f'(z) written through the output y = f(z) (1 for LINEAR and SOFTMAX), or for act >= FROM_INPUT
    through y = z itself."""
    one, zero = like.dtype.type(1), like.dtype.type(0)
    if act == RELU:
        return one if y > zero else zero
    if act == SIGMOID:
        return y * (one - y)
    if act == TANH:
        return one - y * y
    if act == LEAKY_RELU:
        return one if y > zero else like.dtype.type(LEAKY_SLOPE)
    if act == ELU:
        # for z <= 0: y = alpha (e^z - 1), so f'(z) = alpha e^z = y + alpha
        return one if y > zero else y + like.dtype.type(ELU_ALPHA)
    if act == SOFTPLUS:
        # f'(z) = sigmoid(z) = 1 - e^-y, as -expm1(-y) to keep precision for tiny y
        return -math.expm1(-y)
    if act == SELU:
        # for z <= 0: y = scale alpha (e^z - 1), so f'(z) = y + scale alpha
        return like.dtype.type(SELU_SCALE) if y > zero else y + like.dtype.type(SELU_SCALE * SELU_ALPHA)
    if act == RELU6:
        return one if zero < y < like.dtype.type(6) else zero
    if act == HARD_SIGMOID:
        return like.dtype.type(1 / 6) if zero < y < one else zero
    if act == EXPONENTIAL:
        return y
    if act == GELU:  # Phi(z) + z phi(z)
        return like.dtype.type(0.5) * (one + math.erf(y * like.dtype.type(0.7071067811865476))) \
            + y * math.exp(like.dtype.type(-0.5) * y * y) * like.dtype.type(0.3989422804014327)
    if act == SWISH:  # s + z s (1 - s), s = sigmoid(z)
        s = one / (one + math.exp(-y))
        return s * (one + y * (one - s))
    if act == MISH:  # tanh(sp) + z sech^2(sp) sigmoid(z), sp = softplus(z)
        t = math.tanh(max(y, zero) + math.log1p(math.exp(-abs(y))))
        return t + y * (one - t * t) / (one + math.exp(-y))
    return one


@device_fn
def softmax_row(z, out, r):
    """out[r] = softmax(z[r]), max-shifted so exp never overflows (out may be z)."""
    m = z[r, 0]
    for j in range(1, z.shape[1]):
        m = max(m, z[r, j])
    s = out.dtype.type(0)
    for j in range(z.shape[1]):
        e = math.exp(z[r, j] - m)
        out[r, j] = e
        s += e
    inv = out.dtype.type(1) / s
    for j in range(z.shape[1]):
        out[r, j] *= inv


@device_fn
def row_act_backward(act, y, g, r):
    """g[r] <- dL/dz for row r from g[r] = dL/dy; softmax uses its Jacobian: y * (g - sum(g * y))."""
    if act == LINEAR:
        return
    if act == SOFTMAX:
        s = g.dtype.type(0)
        for j in range(y.shape[1]):
            s += g[r, j] * y[r, j]
        for j in range(y.shape[1]):
            g[r, j] = y[r, j] * (g[r, j] - s)
        return
    for j in range(y.shape[1]):
        g[r, j] *= act_grad(act, y[r, j], g)


@jit
def _activation_forward(act, z, rows, out):
    i0, stride = cuda.grid(1), cuda.gridsize(1)
    cols = z.shape[1]
    if act == SOFTMAX:
        for r in range(i0, rows, stride):
            softmax_row(z, out, r)
        return
    for i in range(i0, rows * cols, stride):
        r, c = i // cols, i % cols
        out[r, c] = activate(act, z[r, c], out)


def activation_forward(act, z, rows, out):
    """out[:rows] = f(z[:rows]); out may be z (the CPU twin works in place)."""
    flat(_activation_forward, rows if act == SOFTMAX else rows * z.shape[1], act, z, rows, out)


def softmax_rows(z, rows):
    """Row-wise softmax of z[:rows] in place."""
    activation_forward(SOFTMAX, z, rows, z)


@jit
def _activation_backward(act, y, g, rows):
    i0, stride = cuda.grid(1), cuda.gridsize(1)
    cols = y.shape[1]
    if act == SOFTMAX:
        for r in range(i0, rows, stride):
            row_act_backward(act, y, g, r)
        return
    for i in range(i0, rows * cols, stride):
        r, c = i // cols, i % cols
        g[r, c] *= act_grad(act, y[r, c], g)


def activation_backward(act, y, g, rows):
    """g[:rows] <- g * f'(z) in place, with f' expressed through the output y = f(z)."""
    if act != LINEAR:
        flat(_activation_backward, rows if act == SOFTMAX else rows * y.shape[1], act, y, g, rows)


@jit
def _elementwise_backward(g, mask, use_mask, act, y, out, rows):
    i0, stride = cuda.grid(1), cuda.gridsize(1)
    cols = g.shape[1]
    for i in range(i0, rows * cols, stride):
        r, c = i // cols, i % cols
        v = g[r, c] * mask[r, c] if use_mask else g[r, c]
        if act != LINEAR and act != SOFTMAX:
            v *= act_grad(act, y[r, c], out)
        out[r, c] = v


def elementwise_backward(g, mask, use_mask, act, y, out, rows):
    """Back through an Activation or Dropout step: out = g (* dropout mask) * f'(y) of the step below."""
    flat(_elementwise_backward, rows * g.shape[1], g, mask, use_mask, act, y, out, rows)
    if act == SOFTMAX:
        activation_backward(SOFTMAX, y, out, rows)
