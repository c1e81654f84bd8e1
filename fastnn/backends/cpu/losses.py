"""Loss kernels: the per-batch loss sum and, in the same pass, dL/d(output) for mean reduction.

`mode` says what the output buffer holds: PROBS (the model's activated output), LOGITS
(from_logits=True: raw scores, left as they are) or FUSED (raw scores of a softmax/sigmoid
layer whose activation was skipped: the kernel writes the probabilities back so metrics see them).
Sample weights, when given, are y's last column (see has_weights).
Definitions follow Keras 3: mean over the batch, and over outputs for mse/mae/hinge/binary.
"""

import numpy as np

from ..codes import (BCE, CATEGORICAL_HINGE, HINGE, HUBER, KLD, LOG_COSH, MAE, MAPE, MSE, MSLE, POISSON,
                     SCCE)
from .jit import abi, inlined, kernel, njit
from .views import flat, matrix

PROBS, LOGITS, FUSED = 0, 1, 2
EPSILON = 1e-7  # Keras's clip for probabilities


@inlined
def has_weights(loss, out, y):
    """True when y holds one more column than the loss's targets: each sample's weight."""
    return y.shape[1] > (1 if loss == SCCE else out.shape[1])


@inlined
def loss_forward_backward(loss, mode, out, y, grad, want_grad, arg):
    """Return sum over rows of the per-sample loss w_r l_r (w_r = 1 without weights); if want_grad, grad =
    d(sum_r w_r l_r / batch)/d(out): Keras's "sum over batch size" reduction.

    arg is the loss's parameter, when it has one (Huber's delta). With weights, each row goes through
    the loss on its own: a one-row call's gradient is batch / w_r times the row's share.
    """
    weighted = has_weights(loss, out, y)
    b, units, cols = out.shape[0], out.shape[1], y.shape[1]
    total = 0.0
    for r in range(b if weighted else 1):
        if weighted:
            w = float(y[r, cols - 1])
            o, t, g = matrix(flat(out), r * units, 1, units), matrix(flat(y), r * cols, 1, cols - 1), \
                matrix(flat(grad), r * units, 1, units)
        else:
            w, o, t, g = 1.0, out, y, grad
        total += w * _per_code(loss, mode, o, t, g, want_grad, arg)
        if weighted and want_grad:
            scale = g.dtype.type(w / b)
            for j in range(units):
                g[0, j] *= scale
    return total


@kernel("i F2 F2 -> d")
def total_weight(loss, out, y):
    """The sum of the sample weights of y's rows (their count when they have none); out: outputs of the same
    width (its rows may be a share of y's, under a split plan)."""
    if not has_weights(loss, out, y):
        return float(y.shape[0])
    total = 0.0
    for r in range(y.shape[0]):
        total += y[r, y.shape[1] - 1]
    return total


@inlined
def _per_code(loss, mode, out, y, grad, want_grad, arg):
    """The loss kernel of this code and mode on (out, y): its sum over rows, and grad for the mean."""
    if loss == MSE:
        return _mse(out, y, grad, want_grad)
    if loss == MAE:
        return _mae(out, y, grad, want_grad)
    if loss == HINGE:
        return _hinge(out, y, grad, want_grad)
    if loss == CATEGORICAL_HINGE:
        return _categorical_hinge(out, y, grad, want_grad)
    if loss == KLD:
        return _kl_divergence(out, y, grad, want_grad)
    if loss > SCCE:
        return _pointwise(loss, arg, out, y, grad, want_grad)
    if loss == BCE:
        if mode == PROBS:
            return _bce_probs(out, y, grad, want_grad)
        return _bce_logits(out, y, grad, want_grad, mode)
    # CCE and SCCE share kernels: a sparse label is a one-hot row with a single index
    sparse = loss == SCCE
    if mode == PROBS:
        return _cce_probs(out, y, grad, want_grad, sparse)
    return _cce_logits(out, y, grad, want_grad, mode, sparse)


@kernel("F2 F2 F2 b -> d")
def _mse(p, y, grad, want_grad):
    """mean_j (p - y)^2; gradient 2 (p - y) / (batch * units)."""
    scale = p.dtype.type(2.0 / p.size)
    total = 0.0
    for r in range(p.shape[0]):
        s = 0.0
        for j in range(p.shape[1]):
            d = p[r, j] - y[r, j]
            s += d * d
            if want_grad:
                grad[r, j] = scale * d
        total += s / p.shape[1]
    return total


@kernel("F2 F2 F2 b -> d")
def _mae(p, y, grad, want_grad):
    """mean_j |p - y|; gradient sign(p - y) / (batch * units)."""
    scale = p.dtype.type(1.0 / p.size)
    total = 0.0
    for r in range(p.shape[0]):
        s = 0.0
        for j in range(p.shape[1]):
            d = p[r, j] - y[r, j]
            s += abs(d)
            if want_grad:
                grad[r, j] = scale * np.sign(d)
        total += s / p.shape[1]
    return total


@kernel("F2 F2 F2 b -> d")
def _hinge(p, y, grad, want_grad):
    """mean_j max(1 - y p, 0) with labels already in {-1, 1}."""
    scale = p.dtype.type(1.0 / p.size)
    zero = p.dtype.type(0)
    total = 0.0
    for r in range(p.shape[0]):
        s = 0.0
        for j in range(p.shape[1]):
            m = 1.0 - y[r, j] * p[r, j]
            if m > 0:
                s += m
            if want_grad:
                grad[r, j] = -scale * y[r, j] if m > 0 else zero
        total += s / p.shape[1]
    return total


@kernel("F2 F2 F2 b -> d")
def _bce_probs(p, y, grad, want_grad):
    """-mean_j [y log p + (1 - y) log(1 - p)], p clipped to [eps, 1 - eps] as Keras does."""
    scale = 1.0 / p.size
    total = 0.0
    for r in range(p.shape[0]):
        s = 0.0
        for j in range(p.shape[1]):
            q = _clip(np.float64(p[r, j]))
            t = float(y[r, j])
            s -= t * np.log(q) + (1.0 - t) * np.log(1.0 - q)
            if want_grad:
                clipped = q != p[r, j]
                grad[r, j] = 0.0 if clipped else scale * (q - t) / (q * (1.0 - q))
        total += s / p.shape[1]
    return total


@kernel("F2 F2 F2 b i -> d")
def _bce_logits(z, y, grad, want_grad, mode):
    """Stable sigmoid cross-entropy: max(z, 0) - z y + log(1 + e^-|z|); gradient sigmoid(z) - y."""
    scale = 1.0 / z.size
    total = 0.0
    for r in range(z.shape[0]):
        s = 0.0
        for j in range(z.shape[1]):
            v = float(z[r, j])
            t = float(y[r, j])
            s += (v if v > 0.0 else 0.0) - v * t + np.log1p(np.exp(-abs(v)))
            p = 1.0 / (1.0 + np.exp(-v))
            if want_grad:
                grad[r, j] = scale * (p - t)
            if mode == FUSED:
                z[r, j] = p
        total += s / z.shape[1]
    return total


@inlined
def pointwise_term(loss, arg, p, t):
    """(f(p, t), df/dp) of a loss that is the mean over outputs of f (Keras 3's definitions)."""
    d = p - t
    if loss == HUBER:  # 0.5 d^2 within delta = arg, else delta (|d| - 0.5 delta)
        if abs(d) <= arg:
            return 0.5 * d * d, d
        return arg * (abs(d) - 0.5 * arg), arg * np.sign(d)
    if loss == LOG_COSH:  # log(cosh d) = d + softplus(-2 d) - log 2, stable for large |d|
        return d + max(-2.0 * d, 0.0) + np.log1p(np.exp(-abs(2.0 * d))) - np.log(2.0), np.tanh(d)
    if loss == POISSON:  # p - t log(p + eps)
        return p - t * np.log(p + EPSILON), 1.0 - t / (p + EPSILON)
    if loss == MAPE:  # 100 |t - p| / max(|t|, eps)
        scale = 100.0 / max(abs(t), EPSILON)
        return scale * abs(d), scale * np.sign(d)
    if loss == MSLE:  # (log(max(p, eps) + 1) - log(max(t, eps) + 1))^2
        e = np.log(max(p, EPSILON) + 1.0) - np.log(max(t, EPSILON) + 1.0)
        return e * e, 2.0 * e / (p + 1.0) if p > EPSILON else 0.0
    m = 1.0 - t * p  # SQUARED_HINGE: max(1 - t p, 0)^2 with t in {-1, 1}
    return (m * m, -2.0 * m * t) if m > 0.0 else (0.0, 0.0)


@kernel("i d F2 F2 F2 b -> d")
def _pointwise(loss, arg, p, y, grad, want_grad):
    """Sum over rows of mean_j f(p, y) for the pointwise losses; gradient df/dp / (batch * units)."""
    scale = 1.0 / p.size
    total = 0.0
    for r in range(p.shape[0]):
        s = 0.0
        for j in range(p.shape[1]):
            value, slope = pointwise_term(loss, arg, float(p[r, j]), float(y[r, j]))
            s += value
            if want_grad:
                grad[r, j] = scale * slope
        total += s / p.shape[1]
    return total


@kernel("F2 F2 F2 b -> d")
def _categorical_hinge(p, y, grad, want_grad):
    """max(neg - pos + 1, 0) with pos = sum_j y_j p_j, neg = max_j (1 - y_j) p_j (one-hot y)."""
    scale = 1.0 / p.shape[0]
    total = 0.0
    for r in range(p.shape[0]):
        pos, neg, at = 0.0, -np.inf, 0
        for j in range(p.shape[1]):
            pos += float(y[r, j]) * float(p[r, j])
            v = (1.0 - float(y[r, j])) * float(p[r, j])
            if v > neg:
                neg, at = v, j
        m = neg - pos + 1.0
        total += m if m > 0.0 else 0.0
        if want_grad:
            for j in range(p.shape[1]):
                g = -float(y[r, j]) + ((1.0 - float(y[r, j])) if j == at else 0.0)
                grad[r, j] = scale * g if m > 0.0 else 0.0
    return total


@kernel("F2 F2 F2 b -> d")
def _kl_divergence(p, y, grad, want_grad):
    """sum_j t log(t / q) with t, q = y, p clipped to [eps, 1]; gradient -t / q where p is not clipped."""
    scale = 1.0 / p.shape[0]
    total = 0.0
    for r in range(p.shape[0]):
        for j in range(p.shape[1]):
            t = min(max(float(y[r, j]), EPSILON), 1.0)
            q = min(max(float(p[r, j]), EPSILON), 1.0)
            total += t * np.log(t / q)
            if want_grad:
                grad[r, j] = -scale * t / q if q == p[r, j] else 0.0
    return total


@inlined
def _clip(q):
    """q clipped to [EPSILON, 1 - EPSILON], as Keras clips probabilities."""
    return EPSILON if q < EPSILON else (1.0 - EPSILON if q > 1.0 - EPSILON else q)


@inlined
def _target(y, r, j, sparse):
    """y[r, j] of the one-hot row r; a sparse row holds only the class index."""
    if sparse:
        return 1.0 if int(y[r, 0]) == j else 0.0
    return float(y[r, j])


@kernel("F2 F2 F2 b b -> d")
def _cce_probs(p, y, grad, want_grad, sparse):
    """-sum_j y_j log q_j with q = p / sum(p) clipped to [eps, 1 - eps], as Keras does."""
    scale = 1.0 / p.shape[0]
    total = 0.0
    for r in range(p.shape[0]):
        s = 0.0
        for j in range(p.shape[1]):
            s += float(p[r, j])
        used = 0.0  # sum of targets whose q was not clipped: d/dp_j of -log(1/s) terms
        for j in range(p.shape[1]):
            t = _target(y, r, j, sparse)
            q = float(p[r, j]) / s
            qc = _clip(q)
            total -= t * np.log(qc)
            if qc == q:
                used += t
        if want_grad:
            # dL/dp_j = -y_j / p_j (unclipped j) + sum_{unclipped i} y_i / s
            for j in range(p.shape[1]):
                t = _target(y, r, j, sparse)
                q = float(p[r, j]) / s
                own = -t / float(p[r, j]) if EPSILON <= q <= 1.0 - EPSILON else 0.0
                grad[r, j] = scale * (own + used / s)
    return total


@kernel("F2 F2 F2 b i b -> d")
def _cce_logits(z, y, grad, want_grad, mode, sparse):
    """Softmax cross-entropy from scores: sum_j y_j (logsumexp(z) - z_j); gradient softmax(z) sum(y) - y.

    One exp per score: e_j = exp(z_j - max z) waits in z's row (FUSED, which ends holding softmax(z) = e / sum e)
    or in grad's until their sum is known.
    """
    scale = 1.0 / z.shape[0]
    total = 0.0
    keep, kept = (z if mode == FUSED else grad), mode == FUSED or want_grad
    for r in range(z.shape[0]):
        m = float(z[r, 0])
        for j in range(1, z.shape[1]):
            m = float(z[r, j]) if z[r, j] > m else m
        se, ysum, yz = 0.0, 0.0, 0.0
        for j in range(z.shape[1]):
            t = _target(y, r, j, sparse)
            e = np.exp(float(z[r, j]) - m)
            ysum += t
            yz += t * float(z[r, j])
            se += e
            if kept:
                keep[r, j] = e
        total += (m + np.log(se)) * ysum - yz  # sum_j y_j (lse - z_j)
        if not kept:
            continue
        for j in range(z.shape[1]):
            p = float(keep[r, j]) / se
            if want_grad:
                grad[r, j] = scale * (p * ysum - _target(y, r, j, sparse))
            if mode == FUSED:
                z[r, j] = p
    return total


def kernels_for(loss, mode):
    """The kernels _per_code calls for this loss and mode: all a model with it needs loaded."""
    by_code = {MSE: _mse, MAE: _mae, HINGE: _hinge, CATEGORICAL_HINGE: _categorical_hinge, KLD: _kl_divergence}
    if loss in by_code:
        return [by_code[loss]]
    if loss > SCCE:
        return [_pointwise]
    if loss == BCE:
        return [_bce_probs if mode == PROBS else _bce_logits]
    return [_cce_probs if mode == PROBS else _cce_logits]


CHOSEN_BY_CODE = [_mse, _mae, _hinge, _categorical_hinge, _kl_divergence, _pointwise, _bce_probs, _bce_logits,
                  _cce_probs, _cce_logits]  # kernels_for() picks among these


def _entry_points(abi):
    """Python's entry point to the loss kernels, closing over abi as loop.run does (see loop.py)."""

    @njit
    def batch_loss(loss, mode, out, y, arg):
        """Sum over rows of the per-sample loss (a loss object called directly)."""
        return loss_forward_backward(loss, mode, out, y, out, False, arg) if abi != 0 else 0.0
    return batch_loss


batch_loss = _entry_points(abi())
