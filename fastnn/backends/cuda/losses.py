"""Loss kernel, twin of cpu/losses.py: per-row loss, dL/d(output) and metrics in one launch.

Sample weights, when given, are y's last column (as on the CPU): they scale the row's loss and gradient.

`mode` is the CPU's: PROBS, LOGITS or FUSED (raw scores of a softmax/sigmoid layer whose
activation was skipped; the kernel writes the probabilities back for the metrics). One thread
owns one row, so softmax statistics and the last layer's activation derivative need no second
pass. Sums leave each block through one atomic add into the status array.
"""

import math

import numpy as np

from ..codes import (AUC, BCE, CATEGORICAL_HINGE, HINGE, HUBER, KLD, LOG_COSH, M_ARG, M_CODE, M_SLOT, MAE, MAPE,
                     MSE, MSLE, POISSON, PRECISION, RECALL, S_COUNT, SCCE)
from ..cpu.losses import EPSILON, FUSED, PROBS  # the same mode codes as the CPU
from .activations import row_act_backward
from .device import THREADS, block_add, cuda, device_fn, flat, jit, source_row
from .metrics import auc_row, counts_row, metric_row
from .status import STATS, STOPPED


@device_fn
def _mse(p, y, grad, want_grad, r, yr, rows):
    """mean_j (p - y)^2; gradient 2 (p - y) / (batch * units)."""
    scale = p.dtype.type(2.0 / (rows * p.shape[1]))
    s = 0.0
    for j in range(p.shape[1]):
        d = p[r, j] - y[yr, j]
        s += d * d
        if want_grad:
            grad[r, j] = scale * d
    return s / p.shape[1]


@device_fn
def _mae(p, y, grad, want_grad, r, yr, rows):
    """mean_j |p - y|; gradient sign(p - y) / (batch * units)."""
    scale = p.dtype.type(1.0 / (rows * p.shape[1]))
    zero = p.dtype.type(0)
    s = 0.0
    for j in range(p.shape[1]):
        d = p[r, j] - y[yr, j]
        s += abs(d)
        if want_grad:
            grad[r, j] = scale if d > zero else (-scale if d < zero else zero)
    return s / p.shape[1]


@device_fn
def _hinge(p, y, grad, want_grad, r, yr, rows):
    """mean_j max(1 - y p, 0) with labels already in {-1, 1}."""
    scale = p.dtype.type(1.0 / (rows * p.shape[1]))
    zero = p.dtype.type(0)
    s = 0.0
    for j in range(p.shape[1]):
        m = 1.0 - y[yr, j] * p[r, j]
        if m > 0:
            s += m
        if want_grad:
            grad[r, j] = -scale * y[yr, j] if m > 0 else zero
    return s / p.shape[1]


@device_fn
def _bce_probs(p, y, grad, want_grad, r, yr, rows):
    """-mean_j [y log p + (1 - y) log(1 - p)], p clipped to [eps, 1 - eps] as Keras does."""
    scale = 1.0 / (rows * p.shape[1])
    s = 0.0
    for j in range(p.shape[1]):
        q = min(max(float(p[r, j]), EPSILON), 1.0 - EPSILON)
        t = float(y[yr, j])
        s -= t * math.log(q) + (1.0 - t) * math.log(1.0 - q)
        if want_grad:
            grad[r, j] = 0.0 if q != p[r, j] else scale * (q - t) / (q * (1.0 - q))
    return s / p.shape[1]


@device_fn
def _bce_logits(z, y, grad, want_grad, r, yr, rows, mode):
    """Stable sigmoid cross-entropy: max(z, 0) - z y + log(1 + e^-|z|); gradient sigmoid(z) - y."""
    scale = 1.0 / (rows * z.shape[1])
    s = 0.0
    for j in range(z.shape[1]):
        v = float(z[r, j])
        t = float(y[yr, j])
        s += max(v, 0.0) - v * t + math.log1p(math.exp(-abs(v)))
        p = 1.0 / (1.0 + math.exp(-v))
        if want_grad:
            grad[r, j] = scale * (p - t)
        if mode == FUSED:
            z[r, j] = p
    return s / z.shape[1]


@device_fn
def _pointwise_value(loss, arg, p, t):
    """f(p, t) of a loss that is the mean over outputs of f (the CPU's pointwise_term, value part)."""
    d = p - t
    if loss == HUBER:  # delta = arg
        return 0.5 * d * d if abs(d) <= arg else arg * (abs(d) - 0.5 * arg)
    if loss == LOG_COSH:  # d + softplus(-2 d) - log 2
        return d + max(-2.0 * d, 0.0) + math.log1p(math.exp(-abs(2.0 * d))) - math.log(2.0)
    if loss == POISSON:
        return p - t * math.log(p + EPSILON)
    if loss == MAPE:
        return 100.0 * abs(d) / max(abs(t), EPSILON)
    if loss == MSLE:
        e = math.log(max(p, EPSILON) + 1.0) - math.log(max(t, EPSILON) + 1.0)
        return e * e
    m = 1.0 - t * p  # SQUARED_HINGE
    return m * m if m > 0.0 else 0.0


@device_fn
def _pointwise_slope(loss, arg, p, t):
    """df/dp of the same f (the CPU's pointwise_term, slope part)."""
    d = p - t
    sign = 1.0 if d > 0.0 else (-1.0 if d < 0.0 else 0.0)
    if loss == HUBER:
        return d if abs(d) <= arg else arg * sign
    if loss == LOG_COSH:
        return math.tanh(d)
    if loss == POISSON:
        return 1.0 - t / (p + EPSILON)
    if loss == MAPE:
        return 100.0 * sign / max(abs(t), EPSILON)
    if loss == MSLE:
        e = math.log(max(p, EPSILON) + 1.0) - math.log(max(t, EPSILON) + 1.0)
        return 2.0 * e / (p + 1.0) if p > EPSILON else 0.0
    m = 1.0 - t * p
    return -2.0 * m * t if m > 0.0 else 0.0


@device_fn
def _pointwise(loss, arg, p, y, grad, want_grad, r, yr, rows):
    """Row r's mean_j f(p, y) for the pointwise losses; gradient df/dp / (batch * units)."""
    scale = 1.0 / (rows * p.shape[1])
    s = 0.0
    for j in range(p.shape[1]):
        v, t = float(p[r, j]), float(y[yr, j])
        s += _pointwise_value(loss, arg, v, t)
        if want_grad:
            grad[r, j] = scale * _pointwise_slope(loss, arg, v, t)
    return s / p.shape[1]


@device_fn
def _categorical_hinge(p, y, grad, want_grad, r, yr, rows):
    """max(neg - pos + 1, 0) with pos = sum_j y_j p_j, neg = max_j (1 - y_j) p_j (one-hot y)."""
    pos, neg, at = 0.0, -math.inf, 0
    for j in range(p.shape[1]):
        pos += float(y[yr, j]) * float(p[r, j])
        v = (1.0 - float(y[yr, j])) * float(p[r, j])
        if v > neg:
            neg, at = v, j
    m = neg - pos + 1.0
    if want_grad:
        for j in range(p.shape[1]):
            g = -float(y[yr, j]) + ((1.0 - float(y[yr, j])) if j == at else 0.0)
            grad[r, j] = g / rows if m > 0.0 else 0.0
    return m if m > 0.0 else 0.0


@device_fn
def _kl_divergence(p, y, grad, want_grad, r, yr, rows):
    """sum_j t log(t / q) with t, q = y, p clipped to [eps, 1]; gradient -t / q where p is not clipped."""
    total = 0.0
    for j in range(p.shape[1]):
        t = min(max(float(y[yr, j]), EPSILON), 1.0)
        q = min(max(float(p[r, j]), EPSILON), 1.0)
        total += t * math.log(t / q)
        if want_grad:
            grad[r, j] = -t / q / rows if q == p[r, j] else 0.0
    return total


@device_fn
def _target(y, yr, j, sparse):
    """y[yr, j] of a one-hot row; a sparse row holds only the class index."""
    if sparse:
        return 1.0 if int(y[yr, 0]) == j else 0.0
    return float(y[yr, j])


@device_fn
def _cce_probs(p, y, grad, want_grad, r, yr, rows, sparse):
    """-sum_j y_j log q_j with q = p / sum(p) clipped to [eps, 1 - eps], as Keras does."""
    scale = 1.0 / rows
    s = 0.0
    for j in range(p.shape[1]):
        s += float(p[r, j])
    used = 0.0  # sum of targets whose q was not clipped: d/dp_j of -log(1/s) terms
    total = 0.0
    for j in range(p.shape[1]):
        t = _target(y, yr, j, sparse)
        q = float(p[r, j]) / s
        qc = min(max(q, EPSILON), 1.0 - EPSILON)
        total -= t * math.log(qc)
        if qc == q:
            used += t
    if want_grad:
        # dL/dp_j = -y_j / p_j (unclipped j) + sum_{unclipped i} y_i / s
        for j in range(p.shape[1]):
            t = _target(y, yr, j, sparse)
            q = float(p[r, j]) / s
            own = -t / float(p[r, j]) if EPSILON <= q <= 1.0 - EPSILON else 0.0
            grad[r, j] = scale * (own + used / s)
    return total


@device_fn
def _cce_logits(z, y, grad, want_grad, r, yr, rows, mode, sparse):
    """Softmax cross-entropy from scores: sum_j y_j (logsumexp(z) - z_j); gradient softmax(z) sum(y) - y."""
    scale = 1.0 / rows
    m = float(z[r, 0])
    for j in range(1, z.shape[1]):
        m = max(m, float(z[r, j]))
    se = 0.0
    for j in range(z.shape[1]):
        se += math.exp(float(z[r, j]) - m)
    lse = m + math.log(se)
    ysum = 0.0
    total = 0.0
    for j in range(z.shape[1]):
        t = _target(y, yr, j, sparse)
        total += t * (lse - float(z[r, j]))
        ysum += t
    for j in range(z.shape[1]):
        p = math.exp(float(z[r, j]) - lse)
        if want_grad:
            grad[r, j] = scale * (p * ysum - _target(y, yr, j, sparse))
        if mode == FUSED:
            z[r, j] = p
    return total


@device_fn
def row_loss(loss, mode, out, y, grad, want_grad, arg, r, yr, rows):
    """Row r's loss; if want_grad, grad[r] = d(mean loss)/d(out[r])."""
    if loss == MSE:
        return _mse(out, y, grad, want_grad, r, yr, rows)
    if loss == MAE:
        return _mae(out, y, grad, want_grad, r, yr, rows)
    if loss == HINGE:
        return _hinge(out, y, grad, want_grad, r, yr, rows)
    if loss == CATEGORICAL_HINGE:
        return _categorical_hinge(out, y, grad, want_grad, r, yr, rows)
    if loss == KLD:
        return _kl_divergence(out, y, grad, want_grad, r, yr, rows)
    if loss > SCCE:
        return _pointwise(loss, arg, out, y, grad, want_grad, r, yr, rows)
    if loss == BCE:
        if mode == PROBS:
            return _bce_probs(out, y, grad, want_grad, r, yr, rows)
        return _bce_logits(out, y, grad, want_grad, r, yr, rows, mode)
    # CCE and SCCE share kernels: a sparse label is a one-hot row with a single index
    if mode == PROBS:
        return _cce_probs(out, y, grad, want_grad, r, yr, rows, loss == SCCE)
    return _cce_logits(out, y, grad, want_grad, r, yr, rows, mode, loss == SCCE)


@jit
def _loss_forward_backward(loss, mode, out, y, grad, want_grad, arg, rows, order, start, gather, act,
                           metrics, n_metrics, status, loss_slot):
    red = cuda.shared.array(THREADS, np.float64)
    if status[STOPPED] != 0:  # an earlier step's loss was non-finite: this step does not count
        return
    tid = cuda.threadIdx.x
    for base in range(cuda.blockIdx.x * THREADS, rows, cuda.gridDim.x * THREADS):
        r = base + tid
        yr = source_row(order, start, gather, r) if r < rows else 0
        value = 0.0
        if r < rows:
            value = row_loss(loss, mode, out, y, grad, want_grad, arg, r, yr, rows)
            if y.shape[1] > (1 if loss == SCCE else out.shape[1]):  # y's last column: the sample's weight
                w = y[yr, y.shape[1] - 1]
                value *= w
                if want_grad:
                    for j in range(out.shape[1]):
                        grad[r, j] *= w
            if want_grad:
                row_act_backward(act, out, grad, r)
        block_add(red, tid, value, status, loss_slot)
        for k in range(n_metrics):
            code, at, k_arg = metrics[k, M_CODE], STATS + metrics[k, M_SLOT], metrics[k, M_ARG]  # (arg: the loss's)
            if code == AUC:
                if r < rows:
                    auc_row(k_arg, out, y, r, yr, status, at)
            elif code == PRECISION or code == RECALL:
                tp, other = counts_row(code, k_arg, out, y, r, yr) if r < rows else (0.0, 0.0)
                block_add(red, tid, tp, status, at)
                block_add(red, tid, other, status, at + 1)
            else:
                block_add(red, tid, metric_row(code, k_arg, out, y, r, yr) if r < rows else 0.0, status, at)
    if cuda.grid(1) == 0:
        status[STATS + S_COUNT] += rows


def loss_forward_backward(loss, mode, out, y, grad, want_grad, arg, rows, order, start, gather, act,
                          metrics, n_metrics, status, loss_slot):
    """status[loss_slot] += sum of the rows' losses; grad = dL/dz of the last step (its activation
    `act` applied); the model's metric sums and sample count accumulate into the status array."""
    flat(_loss_forward_backward, rows, loss, mode, out, y, grad, want_grad, float(arg), rows, order, start, gather,
         act, metrics, n_metrics, status, loss_slot)
