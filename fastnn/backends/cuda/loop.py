"""The device-resident training loop, twin of cpu/loop.py: whole runs of steps with no host sync.

Per step the host only enqueues launches; data, weights, gradients, optimizer state, the
epoch order and the running sums (status.py) stay on the device, and one small array comes
back when a run of steps ends. A step of Dense(relu) -> Dense(softmax) with a
cross-entropy loss is 7 launches: two forward GEMMs (the batch gather, bias and activation
fused in), the loss kernel (loss, gradient, metrics), two weight-gradient GEMMs (bias
gradient and regulariser fused in), one input-gradient GEMM (the relu derivative fused in)
and one optimizer launch. Softmax outside the loss, Activation and Dropout steps add one
launch each way; a first step that is not Dense adds a gather launch.
"""

from dataclasses import dataclass

import numpy as np

from ..codes import (BATCHNORM, DENSE, DROPOUT, F_EPSILON, F_L1, F_L2, F_MOMENTUM, F_RATE, FROM_INPUT, LINEAR,
                     P_ACT, P_B, P_IN, P_KIND, P_OUT, P_W, S_COUNT, S_LOSS)
from . import status as st
from .activations import activation_backward, activation_forward, elementwise_backward
from .dense import dense_forward, input_grad, penalty, weight_grads
from .device import cuda, dummy, empty, fill, flat, jit, source_row, to_device
from .losses import FUSED, loss_forward_backward
from .normalization import batchnorm_backward, batchnorm_forward
from .optimizers import optimizer_update
from .random import dropout_forward, make_states


class Workspace:
    """Device buffers for batches of at most cap rows: allocated once per fit/evaluate/predict."""

    def __init__(self, plan, cap, n_features, dtype):
        self.cap = cap
        widths = [int(w) for w in plan[:, P_OUT]]
        self.outs = [empty((cap, w), dtype) for w in widths]  # each step's output
        self.grads = [empty((cap, w), dtype) for w in widths]  # dL/dz of each step
        # a dropout step's mask, or a batch normalisation's saved mean and 1/std
        self.masks = [empty((cap, w), dtype) if kind == DROPOUT else empty((2, w), dtype) if kind == BATCHNORM
                      else None for w, kind in zip(widths, plan[:, P_KIND])]
        self.xb = empty((cap, n_features), dtype) if plan[0, P_KIND] != DENSE else None
        self.no_mask = dummy(np.dtype(dtype).name, 2)
        self.no_order = dummy("int64")
        dropout_widths = [w for w, kind in zip(widths, plan[:, P_KIND]) if kind == DROPOUT]
        self.dropout_size = cap * max(dropout_widths, default=0)
        self.states = None
        self.status = None
        self._hyper = self._metrics = (None, None)

    def begin(self, n_stats):
        """The status array, zeroed on the device (one launch, no copy)."""
        if self.status is None or self.status.size != st.size(n_stats):
            self.status = empty(st.size(n_stats), np.float64)
        fill(self.status, 0.0)
        return self.status

    def hyper(self, values):
        """The optimizer's hyper-parameter rows on the device, uploaded again only when they change."""
        key = (values.shape, values.tobytes())
        if self._hyper[0] != key:
            self._hyper = (key, to_device(np.asarray(values, np.float64)))
        return self._hyper[1]

    def metric_codes(self, table):
        """(device array, count) of the compiled metrics table (never empty: kernels need a type)."""
        key = tuple(tuple(int(v) for v in row) for row in table)
        if self._metrics[0] != key:
            self._metrics = (key, to_device(np.array(key or ((0, 0, 0),), np.int64)))
        return self._metrics[1], len(key)

    def ensure_states(self, steps):
        """Create the dropout generator states on the first training call (so once per fit).

        Only when some dropout rate is positive: drawing their seed advances the host generator,
        and Dropout(0) must leave the epoch orders (and so the results) exactly the CPU's.
        """
        if self.states is None and any(s.kind == DROPOUT and s.rate > 0 for s in steps):
            self.states = make_states(self.dropout_size)


@dataclass
class Step:
    """One compiled layer step with its parameter and gradient views (None where it has none)."""

    kind: int
    act: int
    rate: float
    l1: float = 0.0
    l2: float = 0.0
    has_bias: bool = False
    w: object = None
    w_flat: object = None
    b: object = None
    dw: object = None
    db: object = None
    momentum: float = 0.0  # (BatchNormalization: w_flat and dw hold gamma, beta, moving mean and variance)
    epsilon: float = 0.0


def steps_of(plan, fplan, params, grads):
    """The plan as Steps over device views of the flat parameter and gradient buffers."""
    steps = []
    for l in range(plan.shape[0]):
        kind, act, rate = int(plan[l, P_KIND]), int(plan[l, P_ACT]), float(fplan[l, F_RATE])
        if kind == BATCHNORM:
            w0, n_out = int(plan[l, P_W]), int(plan[l, P_OUT])
            steps.append(Step(kind, act, rate, w_flat=params[w0:w0 + 4 * n_out], dw=grads[w0:w0 + 4 * n_out],
                              momentum=float(fplan[l, F_MOMENTUM]), epsilon=float(fplan[l, F_EPSILON])))
            continue
        if kind != DENSE:
            steps.append(Step(kind, act, rate))
            continue
        n_in, n_out, w0, b0 = (int(v) for v in plan[l, [P_IN, P_OUT, P_W, P_B]])
        b_range = slice(b0, b0 + n_out) if b0 >= 0 else slice(0, 1)  # no bias: a slice never read
        steps.append(Step(kind, act, rate, float(fplan[l, F_L1]), float(fplan[l, F_L2]), b0 >= 0,
                          params[w0:w0 + n_in * n_out].reshape(n_in, n_out), params[w0:w0 + n_in * n_out],
                          params[b_range], grads[w0:w0 + n_in * n_out].reshape(n_in, n_out), grads[b_range]))
    return steps


@jit
def _gather_rows(x, order, start, gather, xb, rows):
    i0, stride = cuda.grid(1), cuda.gridsize(1)
    cols = x.shape[1]
    for i in range(i0, rows * cols, stride):
        r, c = i // cols, i % cols
        xb[r, c] = x[source_row(order, start, gather, r), c]


@jit
def _copy_rows(src, dst, start, rows):
    i0, stride = cuda.grid(1), cuda.gridsize(1)
    cols = src.shape[1]
    for i in range(i0, rows * cols, stride):
        r, c = i // cols, i % cols
        dst[start + r, c] = src[r, c]


def forward(steps, x, source, rows, ws, training, fused):
    """Run every step on the batch (x's rows chosen by source = (order, start, gather)).

    Returns the array holding each step's output; inference dropout is the identity, so it
    returns its input array instead of copying it.
    """
    order, start, gather = source
    if steps[0].kind != DENSE:  # only a Dense step reads rows through the order itself
        flat(_gather_rows, rows * x.shape[1], x, order, start, gather, ws.xb, rows)
        x, order, start, gather = ws.xb, ws.no_order, 0, False
    last = len(steps) - 1
    ys, h = [], x
    for l, s in enumerate(steps):
        act = LINEAR if fused and l == last else s.act
        out = ws.outs[l]
        if s.kind == DENSE:
            dense_forward(h, s.w, s.b, s.has_bias, act, out, rows, order, start, gather)
            order, start, gather = ws.no_order, 0, False
        elif s.kind == BATCHNORM:
            batchnorm_forward(h, out, s.w_flat, ws.masks[l], s.momentum, s.epsilon, training and s.momentum >= 0,
                              rows)
        elif s.kind == DROPOUT:
            if training and s.rate > 0:
                dropout_forward(h, ws.masks[l], out, s.rate, ws.states, rows)
            else:
                out = h
        else:
            activation_forward(act, h, rows, out)
        ys.append(out)
        h = out
    return ys


def backward(steps, x, source, ys, rows, ws, status, parity):
    """From ws.grads[last] = dL/dz of the last step, fill every Dense step's kernel and bias gradients.

    Whatever hands a gradient down also applies the activation derivative of the step below.
    """
    for l in range(len(steps) - 1, -1, -1):
        s, g = steps[l], ws.grads[l]
        below = steps[l - 1].act if l > 0 else LINEAR
        if s.kind == DENSE:
            h, (order, start, gather) = (x, source) if l == 0 else (ys[l - 1], (ws.no_order, 0, False))
            weight_grads(h, g, s.dw, s.db, s.has_bias, rows, order, start, gather, s.w, s.l1, s.l2,
                         status, parity)
            if l > 0:
                input_grad(g, s.w, ws.grads[l - 1], rows, below, derivative_input(l - 1, steps, ys, ws))
        elif s.kind == BATCHNORM:
            dx = ws.grads[l - 1] if l > 0 else g
            batchnorm_backward(ys[l - 1] if l > 0 else ws.xb, g, s.w_flat, ws.masks[l], s.dw, s.momentum >= 0,
                               rows, dx)
            if l > 0:
                activation_backward(below, derivative_input(l - 1, steps, ys, ws), dx, rows)
        elif l > 0:
            use_mask = s.kind == DROPOUT and s.rate > 0
            elementwise_backward(g, ws.masks[l] if use_mask else ws.no_mask, use_mask, below,
                                 derivative_input(l - 1, steps, ys, ws), ws.grads[l - 1], rows)


def derivative_input(l, steps, ys, ws):
    """What act_grad reads for step l: its output, or its input z for act >= FROM_INPUT (a step of its own,
    never a Dense one: the batch gathered into ws.xb when it is the first)."""
    if steps[l].act < FROM_INPUT:
        return ys[l]
    return ys[l - 1] if l > 0 else ws.xb


def train_batches(net, opt, data, order, gather, batch_size, first, stop, ws, stats):
    """Train on batches first..stop-1 of the epoch's order; add the loss/metric sums to stats.

    Returns the number of steps taken: fewer than asked when a loss or gradient became
    non-finite (the device skips every update from that step on; the host learns it once, at
    the end, from the status array).
    """
    x, y = data
    steps = steps_of(net.plan, net.fplan, net.params, net.grads)
    status = ws.begin(len(stats))
    metrics, n_metrics = ws.metric_codes(net.metrics)
    table = ws.hyper(opt.hyper_table(stop - first))  # a row per step (one when the rate is constant)
    hyper = [table[i] for i in range(table.shape[0])]  # (device views made once, not per step)
    ws.ensure_states(steps)
    fused = net.mode == FUSED
    last_act = LINEAR if fused or steps[-1].act >= FROM_INPUT else steps[-1].act  # (those: applied below)
    for k in range(first, stop):
        start = k * batch_size
        rows = min(batch_size, x.shape[0] - start)
        parity = (k - first) % 2
        source = (order, start, gather)
        ys = forward(steps, x, source, rows, ws, True, fused)
        loss_forward_backward(net.loss, net.mode, ys[-1], y, ws.grads[-1], True, net.loss_arg, rows, order, start,
                              gather, last_act, metrics, n_metrics, status, st.STEP_LOSS + parity)
        if steps[-1].act >= FROM_INPUT:
            activation_backward(steps[-1].act, derivative_input(len(steps) - 1, steps, ys, ws), ws.grads[-1], rows)
        backward(steps, x, source, ys, rows, ws, status, parity)
        optimizer_update(opt.code, net.params, net.grads, opt.slots, hyper[min(k - first, len(hyper) - 1)],
                         opt.iterations + k - first, net.ranges, status, parity, rows)
    host = status.copy_to_host()
    stats += host[st.STATS:]
    return int(host[st.TAKEN])


def evaluate_batches(net, x, y, batch_size, ws, n_stats):
    """Loss and metric sums over x in batches, in inference mode; the regularisers' penalty is
    added per sample as fit adds it."""
    steps = steps_of(net.plan, net.fplan, net.params, net.grads)
    status = ws.begin(n_stats)
    metrics, n_metrics = ws.metric_codes(net.metrics)
    for s in steps:
        if s.kind == DENSE and (s.l1 != 0 or s.l2 != 0):
            penalty(s.w_flat, s.l1, s.l2, status, st.STEP_PEN)
    for start in range(0, x.shape[0], batch_size):
        rows = min(batch_size, x.shape[0] - start)
        ys = forward(steps, x, (ws.no_order, start, False), rows, ws, False, net.mode == FUSED)
        loss_forward_backward(net.loss, net.mode, ys[-1], y, ws.grads[-1], False, net.loss_arg, rows, ws.no_order,
                              start, False, LINEAR, metrics, n_metrics, status, st.STATS + S_LOSS)
    host = status.copy_to_host()
    stats = host[st.STATS:].copy()
    stats[S_LOSS] += host[st.STEP_PEN] * stats[S_COUNT]
    return stats


def predict_batches(net, x, batch_size, ws, result):
    """result[i] = the network's output for x[i], computed in batches on the device."""
    steps = steps_of(net.plan, net.fplan, net.params, net.grads)
    for start in range(0, x.shape[0], batch_size):
        rows = min(batch_size, x.shape[0] - start)
        out = forward(steps, x, (ws.no_order, start, False), rows, ws, False, False)[-1]
        flat(_copy_rows, rows * out.shape[1], out, result, start, rows)
