"""Batch normalisation kernels, twins of cpu/normalization.py: one thread per feature, looping over the rows.

`norm` is the layer's slice of the parameter buffer (gamma, beta, moving mean, moving variance);
`saved` (2, units) keeps the mean used and 1 / sqrt(variance + epsilon) for backward.
"""

import math

from .device import cuda, flat, jit


@jit
def _batchnorm_forward(x, out, norm, saved, momentum, epsilon, training, rows):
    u = out.shape[1]
    for j in range(cuda.grid(1), u, cuda.gridsize(1)):
        if training:
            mean = 0.0
            for r in range(rows):
                mean += x[r, j]
            mean /= rows
            var = 0.0
            for r in range(rows):
                var += (x[r, j] - mean) * (x[r, j] - mean)
            var /= rows
            norm[2 * u + j] = norm[2 * u + j] * momentum + mean * (1.0 - momentum)
            norm[3 * u + j] = norm[3 * u + j] * momentum + var * (1.0 - momentum)
        else:
            mean, var = norm[2 * u + j], norm[3 * u + j]
        inv = 1.0 / math.sqrt(var + epsilon)
        saved[0, j], saved[1, j] = mean, inv
        for r in range(rows):
            out[r, j] = norm[j] * (x[r, j] - mean) * inv + norm[u + j]


def batchnorm_forward(x, out, norm, saved, momentum, epsilon, training, rows):
    """out[:rows] = gamma (x - mean) / sqrt(var + eps) + beta: batch statistics when training (the moving ones
    updated), the moving ones otherwise."""
    flat(_batchnorm_forward, out.shape[1], x, out, norm, saved, momentum, epsilon, training, rows)


@jit
def _batchnorm_backward(x, g, norm, saved, grads, training, rows, dx):
    u = g.shape[1]
    for j in range(cuda.grid(1), u, cuda.gridsize(1)):
        gamma, mean, inv = norm[j], saved[0, j], saved[1, j]
        dbeta, dgamma = 0.0, 0.0
        for r in range(rows):
            dbeta += g[r, j]
            dgamma += g[r, j] * (x[r, j] - mean) * inv
        grads[j], grads[u + j] = dgamma, dbeta
        for r in range(rows):
            if training:
                dx[r, j] = gamma * inv / rows * (rows * g[r, j] - dbeta - (x[r, j] - mean) * inv * dgamma)
            else:
                dx[r, j] = gamma * inv * g[r, j]


def batchnorm_backward(x, g, norm, saved, grads, training, rows, dx):
    """dx[:rows] = dL/dx from g = dL/dy (dx may be g); d gamma and d beta into grads' first 2 units."""
    flat(_batchnorm_backward, g.shape[1], x, g, norm, saved, grads, training, rows, dx)
