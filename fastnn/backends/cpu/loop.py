"""The compiled network: forward, backward and whole runs of training steps in one call.

A network is two small tables (see codes.py): `plan` (int, one row per layer step: kind,
widths, activation, parameter offsets, buffer offset) and `fplan` (float: l1, l2, dropout
rate). Parameters, gradients and optimizer state are flat buffers with the same layout, so
one optimizer pass updates every weight. `data` is (x, y, indptr, indices): the samples as
rows, and the CSR index of x's nonzeros when x is mostly zeros (else empty arrays), which
lets the first Dense layer read each batch in place and skip the zeros (evaluation and
prediction, one pass over x, index each batch as they go instead). `ws` is the workspace
allocated once per call site: (xb, yb, acts, masks, d0, d1, indptr, indices) - the gathered
batch, each layer's output and dropout mask (layer l at rows*P_OFF), two ping-pong gradient
buffers, and room for one batch's CSR index.
"""

import numpy as np

from ..codes import (ACTIVATION, DENSE, DROPOUT, F_L1, F_L2, F_RATE, LINEAR, P_ACT, P_B, P_IN, P_KIND,
                     P_OFF, P_OUT, P_W, S_COUNT, S_LOSS, S_METRICS)
from .activations import activation_backward, activation_forward
from .dense import dense_backward, dense_backward_csr, dense_forward, dense_forward_csr, nonzero_index_into
from .jit import njit
from .losses import FUSED, loss_forward_backward
from .metrics import metrics_into
from .optimizers import optimizer_update
from .random import dropout_mask


@njit
def view(buf, start, rows, cols):
    """A (rows, cols) C-contiguous window of a flat buffer."""
    return buf[start:start + rows * cols].reshape((rows, cols))


@njit
def layer_output(plan, l, acts, cap, b):
    """Layer step l's output for a batch of b rows (cap = rows the buffers were sized for)."""
    return view(acts, cap * plan[l, P_OFF], b, plan[l, P_OUT])


@njit
def kernel_of(plan, l, params):
    """Layer step l's kernel (inputs, units) as a view of the flat parameter buffer."""
    return view(params, plan[l, P_W], plan[l, P_IN], plan[l, P_OUT])


@njit
def bias_of(plan, l, params):
    """Layer step l's bias (a zero-length view when it has none)."""
    start = max(plan[l, P_B], 0)
    return params[start:start + plan[l, P_OUT] * (plan[l, P_B] >= 0)]


@njit
def reads_in_place(plan, data):
    """True when the first layer reads batches straight from the CSR-indexed samples."""
    return data[2].size > 0 and plan[0, P_KIND] == DENSE


@njit
def batch(data, order, start, stop, shuffled, in_place, ws):
    """(x batch, y batch) of samples order[start:stop]: views when not shuffled, else gathered.

    In in-place mode the first layer reads x through `order`, so only y is gathered.
    """
    x, y = data[0], data[1]
    if not shuffled:  # order is 0..n-1
        return x[start:stop], y[start:stop]
    xb, yb = ws[0], ws[1]
    b = stop - start
    for i in range(b):
        yb[i] = y[order[start + i]]
        if not in_place:
            xb[i] = x[order[start + i]]
    return xb[:b], yb[:b]


@njit
def forward(plan, fplan, params, xs, data, rows, in_place, ws, cap, training, fused):
    """Run every layer step on the batch xs (or, in place, on data's rows); return the output view."""
    acts, masks = ws[2], ws[3]
    b = rows.size
    h = xs
    last = plan.shape[0] - 1
    for l in range(plan.shape[0]):
        out = layer_output(plan, l, acts, cap, b)
        kind = plan[l, P_KIND]
        act = LINEAR if fused and l == last else plan[l, P_ACT]
        if kind == DENSE and l == 0 and in_place:
            dense_forward_csr(data[0], rows, data[2], data[3], kernel_of(plan, l, params),
                              bias_of(plan, l, params), plan[l, P_B] >= 0, act, out)
        elif kind == DENSE:
            dense_forward(h, kernel_of(plan, l, params), bias_of(plan, l, params), plan[l, P_B] >= 0, act, out)
        elif kind == ACTIVATION:
            out[:] = h
            activation_forward(act, out)
        elif kind == DROPOUT:
            if training and fplan[l, F_RATE] > 0:
                mask = layer_output(plan, l, masks, cap, b)
                dropout_mask(mask.reshape(-1), fplan[l, F_RATE])
                for r in range(b):
                    for j in range(out.shape[1]):
                        out[r, j] = h[r, j] * mask[r, j]
            else:
                out[:] = h
        h = out
    return h


@njit
def backward(plan, fplan, params, grads, xs, data, rows, in_place, ws, cap, fused):
    """Backpropagate the loss gradient held in ws's first gradient buffer, filling grads."""
    acts, masks, g_buf, other = ws[2], ws[3], ws[4], ws[5]
    b = rows.size
    last = plan.shape[0] - 1
    for l in range(last, -1, -1):
        n_in, n_out = plan[l, P_IN], plan[l, P_OUT]
        g = view(g_buf, 0, b, n_out)
        y = layer_output(plan, l, acts, cap, b)
        kind = plan[l, P_KIND]
        act = LINEAR if fused and l == last else plan[l, P_ACT]
        has_bias = plan[l, P_B] >= 0
        if kind == DENSE and l == 0 and in_place:
            dense_backward_csr(data[0], rows, data[2], data[3], y, act, g, kernel_of(plan, l, grads),
                               bias_of(plan, l, grads), has_bias)
        elif kind == DENSE:
            h = xs if l == 0 else layer_output(plan, l - 1, acts, cap, b)
            dx = view(other, 0, b, n_in)
            dense_backward(h, kernel_of(plan, l, params), y, act, g, kernel_of(plan, l, grads),
                           bias_of(plan, l, grads), has_bias, dx, l > 0)
            g_buf, other = other, g_buf
        elif kind == ACTIVATION:
            activation_backward(act, y, g)
        elif kind == DROPOUT and fplan[l, F_RATE] > 0:
            mask = layer_output(plan, l, masks, cap, b)
            for r in range(b):
                for j in range(n_out):
                    g[r, j] *= mask[r, j]


@njit
def regularize(plan, fplan, params, grads):
    """Add every kernel regulariser's gradient to grads; return the penalty l1 sum|w| + l2 sum w^2."""
    penalty = 0.0
    for l in range(plan.shape[0]):
        l1, l2 = fplan[l, F_L1], fplan[l, F_L2]
        if plan[l, P_KIND] != DENSE or (l1 == 0 and l2 == 0):
            continue
        start = plan[l, P_W]
        w = params[start:start + plan[l, P_IN] * plan[l, P_OUT]]
        g = grads[start:start + w.size]
        c1, c2 = w.dtype.type(l1), w.dtype.type(2 * l2)
        for i in range(w.size):
            penalty += l1 * abs(w[i]) + l2 * w[i] * w[i]
            g[i] += c1 * np.sign(w[i]) + c2 * w[i]
    return penalty


@njit
def penalty_of(plan, fplan, params):
    """The regularisers' penalty alone (evaluation adds it to the loss as fit does)."""
    penalty = 0.0
    for l in range(plan.shape[0]):
        l1, l2 = fplan[l, F_L1], fplan[l, F_L2]
        if plan[l, P_KIND] == DENSE and (l1 != 0 or l2 != 0):
            start = plan[l, P_W]
            for i in range(start, start + plan[l, P_IN] * plan[l, P_OUT]):
                penalty += l1 * abs(params[i]) + l2 * params[i] * params[i]
    return penalty


@njit
def squares_finite(grads):
    """True when every gradient's square is finite (else Adam's v would become inf).

    A branch-free AND over comparisons, so it vectorises (NaN compares false).
    """
    big = np.finfo(grads.dtype).max
    ok = True
    for i in range(grads.size):
        ok &= grads[i] * grads[i] <= big
    return ok


@njit
def train_batches(plan, fplan, params, grads, slots, opt, hyper, step, loss, mode, metrics,
                  data, order, shuffled, batch_size, first, stop, ws, stats):
    """Train on batches first..stop-1 of the epoch's order; accumulate loss/metric sums in stats.

    Returns the number of steps taken: fewer than asked when a loss became non-finite.
    """
    n = data[0].shape[0]
    fused = mode == FUSED
    in_place = reads_in_place(plan, data)
    for k in range(first, stop):
        start = k * batch_size
        end = min(start + batch_size, n)
        rows = order[start:end]
        xs, ys = batch(data, order, start, end, shuffled, in_place, ws)
        b = end - start
        out = forward(plan, fplan, params, xs, data, rows, in_place, ws, batch_size, True, fused)
        value = loss_forward_backward(loss, mode, out, ys, view(ws[4], 0, b, out.shape[1]), True) / b
        backward(plan, fplan, params, grads, xs, data, rows, in_place, ws, batch_size, fused)
        value += regularize(plan, fplan, params, grads)
        stats[S_LOSS] += value * b
        stats[S_COUNT] += b
        metrics_into(metrics, out, ys, stats, S_METRICS)
        if not (np.isfinite(value) and squares_finite(grads)):
            return k - first
        optimizer_update(opt, params, grads, slots, hyper, step + (k - first))
    return stop - first


@njit
def batch_part(data, start, end, index_batch, ws):
    """Samples start..end-1 of data as a data tuple of their own, with their CSR index built now if asked."""
    x, y = data[0][start:end], data[1][start:end]
    if not index_batch:
        return x, y, data[2][:0], data[3][:0]
    indptr = ws[6][:end - start + 1]
    indptr[0] = 0
    nonzero_index_into(x, 0, indptr, ws[7])  # room for every entry: it always fits
    return x, y, indptr, ws[7]


@njit
def evaluate_batches(plan, fplan, params, loss, mode, metrics, data, batch_size, index_batches, ws, stats):
    """Loss and metric sums over the samples in batches, in inference mode (no dropout)."""
    n = data[0].shape[0]
    rows = np.arange(batch_size)
    penalty = penalty_of(plan, fplan, params)
    in_place = index_batches and plan[0, P_KIND] == DENSE
    for start in range(0, n, batch_size):
        end = min(start + batch_size, n)
        b = end - start
        part = batch_part(data, start, end, in_place, ws)
        out = forward(plan, fplan, params, part[0], part, rows[:b], in_place, ws, batch_size, False, mode == FUSED)
        value = loss_forward_backward(loss, mode, out, part[1], view(ws[4], 0, b, out.shape[1]), False) / b + penalty
        stats[S_LOSS] += value * b
        stats[S_COUNT] += b
        metrics_into(metrics, out, part[1], stats, S_METRICS)


@njit
def predict_batches(plan, fplan, params, data, batch_size, index_batches, ws, result):
    """result[i] = the network's output for sample i, computed in batches."""
    n = data[0].shape[0]
    rows = np.arange(batch_size)
    in_place = index_batches and plan[0, P_KIND] == DENSE
    for start in range(0, n, batch_size):
        end = min(start + batch_size, n)
        part = batch_part(data, start, end, in_place, ws)
        result[start:end] = forward(plan, fplan, params, part[0], part, rows[:end - start], in_place, ws, batch_size,
                                    False, False)
