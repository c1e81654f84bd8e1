"""Batch normalisation kernels (Ioffe & Szegedy 2015), twins of cuda/normalization.py.

`norm` is the layer's slice of the parameter buffer: gamma, beta, moving mean, moving variance
(units each). `saved` (2, units) keeps what backward needs from forward: the mean used and
1 / sqrt(variance + epsilon).
"""

import numpy as np

from ..codes import BATCHNORM
from .jit import kernel


@kernel("F2 F2 F1 F2 d d b")
def batchnorm_forward(x, out, norm, saved, momentum, epsilon, training):
    """out = gamma (x - mean) / sqrt(var + eps) + beta: the batch's (biased) statistics when training, the moving
    averages updating as moving = moving momentum + batch (1 - momentum); the moving statistics otherwise."""
    n, u = x.shape
    gamma, beta, mean, var = norm[:u], norm[u:2 * u], norm[2 * u:3 * u], norm[3 * u:]
    mu, inv = saved[0], saved[1]
    if training:
        for j in range(u):
            mu[j] = 0.0
            inv[j] = 0.0
        for r in range(n):  # two passes over rows (row-major): the mean, then the squared deviations
            for j in range(u):
                mu[j] += x[r, j]
        for j in range(u):
            mu[j] /= n
        for r in range(n):
            for j in range(u):
                d = x[r, j] - mu[j]
                inv[j] += d * d
        for j in range(u):
            batch_var = inv[j] / n
            mean[j] = mean[j] * momentum + mu[j] * (1.0 - momentum)
            var[j] = var[j] * momentum + batch_var * (1.0 - momentum)
            inv[j] = 1.0 / np.sqrt(batch_var + epsilon)
    else:
        for j in range(u):
            mu[j] = mean[j]
            inv[j] = 1.0 / np.sqrt(var[j] + epsilon)
    for r in range(n):
        for j in range(u):
            out[r, j] = gamma[j] * (x[r, j] - mu[j]) * inv[j] + beta[j]


@kernel("F2 F2 F1 F2 F1 b")
def batchnorm_backward(x, g, norm, saved, grads, training):
    """g <- dL/dx in place from g = dL/dy; d gamma = sum g xhat and d beta = sum g into grads' gamma and beta.

    With batch statistics: dx = gamma inv / n (n g - sum g - xhat sum g xhat); with fixed (moving) ones,
    dx = gamma inv g.
    """
    n, u = x.shape
    gamma, mu, inv = norm[:u], saved[0], saved[1]
    dgamma, dbeta = grads[:u], grads[u:2 * u]
    for j in range(u):
        dgamma[j] = 0.0
        dbeta[j] = 0.0
    for r in range(n):
        for j in range(u):
            dbeta[j] += g[r, j]
            dgamma[j] += g[r, j] * (x[r, j] - mu[j]) * inv[j]
    for r in range(n):
        for j in range(u):
            if training:
                xhat = (x[r, j] - mu[j]) * inv[j]
                g[r, j] = gamma[j] * inv[j] / n * (n * g[r, j] - dbeta[j] - xhat * dgamma[j])
            else:
                g[r, j] = gamma[j] * inv[j] * g[r, j]


def kernels_for(kind):
    """The kernels a layer step of this kind calls here: both for a BatchNormalization step, else none."""
    return CHOSEN_BY_CODE if kind == BATCHNORM else []


CHOSEN_BY_CODE = [batchnorm_forward, batchnorm_backward]  # loaded only for networks with such a step
