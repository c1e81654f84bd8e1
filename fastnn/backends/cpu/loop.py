"""The compiled network: one entry point, `run`, for training, evaluation and prediction.

A network is two small tables (see codes.py): `plan` (int, one row per layer step: kind,
widths, activation, parameter offsets, buffer offset) and `fplan` (float: l1, l2, dropout
rate). Parameters, gradients and optimizer state are flat buffers with the same layout, so
one optimizer pass updates every weight.

Fit, evaluate and predict all call `run` with arguments of the same types, so a process
compiles (or loads from Numba's cache) one function per float type and nothing more: every
kernel below is shared, and a network with other layers, activations, loss or optimizer is
the same function with other table entries.

How the first Dense layer reads x (`csr`): DENSE_INPUT takes the batch as rows (a view of x,
or gathered in the shuffled order) for BLAS; WHOLE_INDEX reads each batch's samples from the
CSR form of x's nonzeros (indptr, indices, values) made once per fit; BATCH_INDEX, for one pass
over mostly-zero x (evaluate, predict), makes each batch's CSR just before using it.

Under a split plan (planner.py) several threads run `run` at once, each on a share of every training
batch's samples, meeting at barriers (sync.py) to add their gradients and update a share of the weights each.

`work` is one float buffer cut into regions at the offsets in `layout` (see WORK_REGIONS):
the gathered batch, each layer's output and dropout mask (layer l at rows * P_OFF), and two
ping-pong gradient buffers. `iwork` holds 0..cap-1 and one batch's CSR row pointers, `bidx` that
batch's column indices (and the region of the gathered batch, which a pass does not use, its values).
"""

import numpy as np

from ..codes import (ACTIVATION, BATCHNORM, DENSE, DROPOUT, F_EPSILON, F_MOMENTUM, F_RATE, FROM_INPUT, LINEAR,
                     P_ACT, P_B, P_IN, P_KIND, P_OFF, P_OUT, P_W, REDUCE_WEIGHTS, S_COUNT, S_LOSS)
from .activations import activation_backward, activation_forward
from .dense import dense_backward, dense_backward_csr, dense_forward, dense_forward_csr, nonzero_index_into
from .jit import abi, inlined, kernel, njit
from .losses import FUSED, loss_forward_backward, total_weight
from .memory import padded
from .metrics import metrics_into
from .normalization import batchnorm_backward, batchnorm_forward
from .optimizers import optimizer_update
from .penalty import regularize
from .random import dropout_mask
from .split import combine_parts
from .sync import abort, barrier
from .sync import size as size_of_sync
from .views import flat, matrix, vector

TRAIN, EVALUATE, PREDICT, GRADIENT = 0, 1, 2, 3  # GRADIENT: TRAIN's loss and grads, no update
DENSE_INPUT, WHOLE_INDEX, BATCH_INDEX = 0, 1, 2
WORK_REGIONS = ("xb", "yb", "acts", "masks", "g0", "g1")  # `layout` holds their offsets, then the end


def work_layout(plan, cap, n_features, n_targets, task):
    """Offsets of the regions of `work` (WORK_REGIONS, then the total size) for batches of cap rows."""
    total = int(plan[-1, P_OFF] + plan[-1, P_OUT])
    widest = max(int(plan[:, P_OUT].max()), n_features)
    # masks: each step's dropout mask, or a batch normalisation's two saved rows (so at least 2 rows)
    sizes = [cap * n_features, cap * n_targets, cap * total, max(cap, 2) * total, cap * widest, cap * widest]
    # each region on a cache line: whole lines of float32 entries (so of float64 ones too)
    return np.cumsum([0] + [padded(s, 4) for s in sizes]).astype(np.int64)


@kernel("I2 i F1 i i -> F2")
def layer_output(plan, l, buf, cap, b):
    """Layer step l's output (or mask) for a batch of b rows in a region sized for cap rows."""
    return matrix(buf, cap * plan[l, P_OFF], b, plan[l, P_OUT])


@kernel("I2 i F1 -> F2")
def kernel_of(plan, l, params):
    """Layer step l's kernel (inputs, units) as a view of the flat parameter buffer."""
    return matrix(params, plan[l, P_W], plan[l, P_IN], plan[l, P_OUT])


@kernel("I2 i F1 -> F1")
def norm_of(plan, l, params):
    """A BatchNormalization step's gamma, beta, moving mean and moving variance (its units each), one view."""
    return params[plan[l, P_W]:plan[l, P_W] + 4 * plan[l, P_OUT]]


@kernel("I2 i F1 -> F1")
def bias_of(plan, l, params):
    """Layer step l's bias (a zero-length view when it has none)."""
    start = plan[l, P_B] if plan[l, P_B] >= 0 else 0
    return params[start:start + (plan[l, P_OUT] if plan[l, P_B] >= 0 else 0)]


@kernel("F2 I1 i i F2")
def gather(src, order, start, b, dst):
    """dst[:b] = src[order[start:start + b]], row by row."""
    for i in range(b):
        row, out = src[order[start + i]], dst[i]
        for j in range(out.size):
            out[j] = row[j]


@kernel("F1 F1")
def copy(src, dst):
    """dst = src (1-D; a loop, since slice assignment compiles a formatted shape-error message)."""
    for i in range(dst.size):
        dst[i] = src[i]


@kernel("F1 d")
def scale(a, factor):
    """a *= factor (1-D)."""
    f = a.dtype.type(factor)
    for i in range(a.size):
        a[i] *= f


@kernel("F1 F1 F1")
def multiply(a, b, out):
    """out = a * b elementwise (1-D)."""
    for i in range(out.size):
        out[i] = a[i] * b[i]


@inlined
def forward(plan, fplan, params, xs, rows, indptr, indices, values, csr, acts, masks, cap, b, training, fused):
    """Run every layer step on the batch; return the last step's output view.

    xs is the batch as rows; or (csr != DENSE_INPUT) the first layer reads the samples at `rows` of the CSR
    (indptr, indices, values).
    """
    h = xs
    last = plan.shape[0] - 1
    for l in range(plan.shape[0]):
        out = layer_output(plan, l, acts, cap, b)
        kind = plan[l, P_KIND]
        act = LINEAR if fused and l == last else plan[l, P_ACT]
        if kind == DENSE and l == 0 and csr != DENSE_INPUT:
            dense_forward_csr(values, rows, indptr, indices, kernel_of(plan, l, params),
                              bias_of(plan, l, params), plan[l, P_B] >= 0, out)
            activation_forward(act, out)
        elif kind == DENSE:
            dense_forward(h, kernel_of(plan, l, params), bias_of(plan, l, params), plan[l, P_B] >= 0, out)
            activation_forward(act, out)
        elif kind == ACTIVATION:
            copy(flat(h), flat(out))
            activation_forward(act, out)
        elif kind == BATCHNORM:
            batchnorm_forward(h, out, norm_of(plan, l, params), layer_output(plan, l, masks, max(cap, 2), 2),
                              fplan[l, F_MOMENTUM], fplan[l, F_EPSILON], training and fplan[l, F_MOMENTUM] >= 0)
        elif training and kind == DROPOUT and fplan[l, F_RATE] > 0:
            mask = flat(layer_output(plan, l, masks, max(cap, 2), b))
            dropout_mask(mask, fplan[l, F_RATE])
            multiply(flat(h), mask, flat(out))
        else:
            copy(flat(h), flat(out))
        h = out
    return h


@inlined
def backward(plan, fplan, params, grads, xs, rows, indptr, indices, values, csr, acts, masks, g_buf, other, cap, b,
             fused):
    """Backpropagate the loss gradient held in g_buf through every layer step, filling grads."""
    last = plan.shape[0] - 1
    for l in range(last, -1, -1):
        n_in, n_out = plan[l, P_IN], plan[l, P_OUT]
        g = matrix(g_buf, 0, b, n_out)
        y = layer_output(plan, l, acts, cap, b)
        kind = plan[l, P_KIND]
        act = LINEAR if fused and l == last else plan[l, P_ACT]
        has_bias = plan[l, P_B] >= 0
        if kind == DENSE or kind == ACTIVATION:  # g becomes dL/dz (gelu & co. differentiate from their input)
            z = y if act < FROM_INPUT else (xs if l == 0 else layer_output(plan, l - 1, acts, cap, b))
            activation_backward(act, z, g)
        if kind == DENSE and l == 0 and csr != DENSE_INPUT:
            dense_backward_csr(values, rows, indptr, indices, g, kernel_of(plan, l, grads), bias_of(plan, l, grads),
                               has_bias)
        elif kind == DENSE:
            h = xs if l == 0 else layer_output(plan, l - 1, acts, cap, b)
            dense_backward(h, kernel_of(plan, l, params), g, kernel_of(plan, l, grads), bias_of(plan, l, grads),
                           has_bias, matrix(other, 0, b, n_in), l > 0)
            g_buf, other = other, g_buf
        elif kind == BATCHNORM:
            x_in = xs if l == 0 else layer_output(plan, l - 1, acts, cap, b)
            batchnorm_backward(x_in, g, norm_of(plan, l, params), layer_output(plan, l, masks, max(cap, 2), 2),
                               norm_of(plan, l, grads), fplan[l, F_MOMENTUM] >= 0)
        elif kind == DROPOUT and fplan[l, F_RATE] > 0:
            multiply(flat(g), flat(layer_output(plan, l, masks, max(cap, 2), b)), flat(g))


@kernel("F1 -> b")
def squares_finite(grads):
    """True when every gradient's square is finite (else Adam's v would become inf).

    A branch-free AND over comparisons, so it vectorises (NaN compares false).
    """
    big = grads.dtype.type(np.inf)
    ok = True
    for i in range(grads.size):
        ok &= grads[i] * grads[i] < big
    return ok


def _entry_points(abi):
    """The loop's entry point. It closes over `abi` (jit.abi(): a fingerprint of every kernel's code)
    because Numba keys its cache on closure values: a cached loop is never used with changed kernels.
    """

    @njit
    def run(task, plan, fplan, params, grads, slots, opt, hyper, step, ranges, loss, mode, loss_arg, reduction, metrics,
            x, y, indptr, indices, values, order, contiguous, csr, batch_size, first, stop, work, layout, iwork, bidx,
            stats, out, part, parts, sync, peers):
        """Batches first..stop-1 of x in `order`: train on them, or sum their loss and metrics, or predict them.

        TRAIN and EVALUATE add loss and metric sums to stats; PREDICT writes outputs to out (n, units);
        GRADIENT is TRAIN without the update (grads hold the gradient of the last batch).
        reduction (codes.REDUCE_*) says what a batch's loss value is.
        Training updates the parameters in the [start, stop) rows of `ranges` (the trainable layers'), step k
        with row k - first of `hyper` (the optimizer's hyper-parameters; the last row when there are fewer).
        contiguous: order is 0..n-1, so batches are views of x. Returns the batches done: fewer than
        asked when a training loss or gradient became non-finite, -1 when a buffer is too small or a batch is
        past the data.

        Split training (parts > 1; TRAIN only): this is part `part` of `parts` threads, each running this call on
        its share of every batch's samples, its gradient in grads = peers[part]. They meet at barriers on `sync`
        (sync.py): then each sums the parts' gradients into peers[0], adds the regularisers' and updates the
        parameters over its own `ranges` (a share of the trainable ones; see split.py).
        """
        split = parts > 1
        if (abi == 0 or work.size < layout[-1] or iwork.size < 2 * batch_size + 1
                or (task == PREDICT and out.shape[0] < x.shape[0])
                or (csr == BATCH_INDEX and bidx.size < batch_size * x.shape[1])
                or (stop > first and (stop - 1) * batch_size >= x.shape[0])  # (a batch past the data)
                or (split and (task != TRAIN or sync.size < size_of_sync(parts) or peers.shape[0] < parts
                               or csr == BATCH_INDEX))):
            if split and sync.size >= size_of_sync(parts):
                abort(sync, parts)
            return -1  # views below check no bounds (abi is never 0)
        n, cap = x.shape[0], batch_size
        fused = task != PREDICT and mode == FUSED
        acts, masks = work[layout[2]:layout[3]], work[layout[3]:layout[4]]
        iota, bptr = iwork[:cap], iwork[cap:2 * cap + 1]
        for i in range(cap):
            iota[i] = i
        train = task == TRAIN or task == GRADIENT
        penalty = 0.0 if train else regularize(plan, fplan, params, grads, train, 1.0, 0, params.size)
        arrival, done = 0, stop - first
        for k in range(first, stop):
            start = k * batch_size
            b = batch_size if start + batch_size <= n else n - start
            lo, hi = -(-b * part // parts), -(-b * (part + 1) // parts)  # this part's rows of the batch
            mine = start + lo  # (part 0's share is never empty)
            rows, cols = order[mine:start + hi], y.shape[1]
            if contiguous:  # (views, not slices: slicing code is slow to compile)
                xs, batch_ys = x[mine:start + hi], matrix(flat(y), start * cols, b, cols)
            else:
                xs, batch_ys = matrix(work, layout[0], hi - lo, x.shape[1]), matrix(work, layout[1], b, cols)
                gather(y, order, start, b, batch_ys)  # the whole batch's: the loss's weight total is over it
            ys = matrix(flat(batch_ys), lo * cols, hi - lo, cols)
            if not contiguous:
                if csr == DENSE_INPUT:
                    gather(x, order, mine, hi - lo, xs)
            ip, ix, iv = indptr, indices, values
            if csr == BATCH_INDEX:  # (xb, unused in a pass, holds its values)
                rows, ip, ix, iv = iota[:b], bptr[:b + 1], bidx, work[layout[0]:layout[1]]
                ip[0] = 0
                nonzero_index_into(xs, ip, ix, iv)  # bidx and xb have room for every entry: it always fits
            bp = hi - lo
            h = forward(plan, fplan, params, xs, rows, ip, ix, iv, csr, acts, masks, cap, bp, train, fused)
            if task == PREDICT:
                copy(flat(h), flat(out[start:start + b]))
                continue
            g0, g1 = work[layout[4]:layout[5]], work[layout[5]:layout[6]]
            g = matrix(g0, 0, bp, h.shape[1])
            value = loss_forward_backward(loss, mode, h, ys, g, train, loss_arg)
            # value and grads are per this: the batch's size, or (REDUCE_WEIGHTS) its weight total
            per = total_weight(loss, h, batch_ys) if reduction == REDUCE_WEIGHTS else float(b)
            if train and per != bp:
                scale(flat(g), bp / per)
            factor = 1.0 / per if reduction == REDUCE_WEIGHTS else 1.0  # the penalty's share
            value = value / per + penalty * factor
            if train:  # the regulariser's gradient adds to what backward wrote
                backward(plan, fplan, params, grads, xs, rows, ip, ix, iv, csr, acts, masks, g0, g1, cap, bp, fused)
                if not split:  # (split: each part adds its share below, to the summed gradient)
                    value += regularize(plan, fplan, params, grads, train, factor, 0, params.size)
            stats[S_LOSS] += value * b  # (a part's value is its share of the batch's)
            stats[S_COUNT] += bp
            metrics_into(metrics, h, ys, stats)
            if task != TRAIN:
                continue
            bad = not (np.isfinite(value) and (split or squares_finite(grads)))  # (split: combine_parts checks sums)
            total = grads
            if split:  # (in a kernel of its own: this loop compiles on every cold start, split or not)
                bad = combine_parts(sync, part, parts, arrival + 1, bad, peers, ranges, plan, fplan, params, factor,
                                    stats, b)
                arrival += 2
                total = vector(flat(peers), 0, grads.size)  # (peers[0], where combine_parts summed them)
            if bad:
                done = k - first
                break  # (one return below: each return compiles its own clean-up of every array)
            optimizer_update(opt, params, total, slots, hyper[min(k - first, hyper.shape[0] - 1)], step + (k - first),
                             ranges)
            if split:  # every part's parameters updated before any part's next forward pass
                arrival += 1
                if barrier(sync, part, parts, arrival, False):
                    done = -1
                    break
        return done
    return run


run = _entry_points(abi())
