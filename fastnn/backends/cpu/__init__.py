"""The CPU backend: Numba @njit kernels driven through one small object the model talks to."""

import dataclasses
import time

import numpy as np

from ..codes import BATCHNORM, DENSE, DROPOUT, F_RATE, P_KIND, S_METRICS
from ... import config
from . import blas, compiling, loop, losses, memory, planner, random, sync, threads
from .dense import nonzero_index_into
from .losses import batch_loss
from .split import SPLIT_ONLY


def nonzero_share(x):
    """Share of x's entries that are nonzero, estimated on about 1000 evenly spaced rows."""
    sample = x[:: max(1, len(x) // 1000)]
    return int((sample != 0).sum()) / sample.size if sample.size else 1.0  # 4x faster than count_nonzero here


def nonzero_index(x, capacity):
    """CSR form of x's nonzeros, (indptr int64 (n+1,), indices int32, values of x's type), in one pass over x.

    `capacity` guesses the count; the arrays grow by half when short. NumPy allocates them, not the
    kernel: NumPy asks Linux for huge pages on large arrays, which on this project's test VM
    halved the index build (page faults cost more than the compaction itself).
    """
    indptr = np.zeros(len(x) + 1, np.int64)
    size = max(capacity, x.shape[1])
    indices, values = np.empty(size, np.int32), np.empty(size, x.dtype)
    row = nonzero_index_into(x, indptr, indices, values)
    while row < len(x):
        size = indices.size + indices.size // 2 + x.shape[1]
        indices, values = _grown(indices, size, indptr[row]), _grown(values, size, indptr[row])
        row += nonzero_index_into(x[row:], indptr[row:], indices, values)
    used = indptr[-1]
    if 8 * used < 7 * indices.size:  # no large unused tail
        return indptr, indices[:used].copy(), values[:used].copy()
    return indptr, indices[:used], values[:used]


def _grown(a, size, kept):
    """A larger array of a's type holding a's first `kept` entries."""
    out = np.empty(size, a.dtype)
    out[:kept] = a[:kept]
    return out


def sparse_enough(share):
    """True when a nonzero share this small makes the CSR first-layer kernels worth it."""
    return share <= 1 - config.SPARSE_INPUT_ZEROS


def _index_batches(data):
    """True when a pass over unindexed, mostly-zero samples could index each batch as it goes."""
    return data[2].size == 0 and sparse_enough(nonzero_share(data[0]))


class CpuBackend:
    """Holds arrays in host memory and runs the compiled loop over them."""

    name = "cpu"

    def initialize(self, out, kind, scale):
        """Fill a flat parameter region with one initializer."""
        random.initialize(out, kind, scale)

    def to_host(self, array):
        return array

    def from_host(self, array):
        """array itself, or a copy starting on a cache line (see memory.py): the kernels' vectors must not straddle
        two lines."""
        return memory.aligned(array)

    def copy_into(self, target, host):
        """Overwrite an array in place (compiled networks keep referring to it)."""
        target[:] = host

    def prepare(self, dtype, verbose, loss=None, optimizer=None, metrics=(), kinds=()):
        """Compile (or load from Numba's cache) the loop for dtype before the first batch, announced when verbose.

        loss: (code, mode) of the loss to evaluate or train with; optimizer: the code of the one to train with;
        metrics: the codes of the metrics to compute; kinds: those of the network's layer steps.
        """
        compiling.prepare(dtype, verbose, compiling.needed(loss, optimizer, metrics, kinds))

    def put_data(self, x, y, train_batch=None):
        """(x, y, indptr, indices, values), the CSR form of x's nonzeros filled in for training on mostly-zero x.

        train_batch is the batch size when x is to be trained on (None: evaluated or predicted
        only, one pass, which indexes each batch as it goes instead: see _one_pass). Under fixed
        plans, training batches of config.SPARSE_INPUT_MAX_BATCH or more go to BLAS instead.
        """
        x, y = _plain(x), _plain(y)
        if train_batch is not None and (config.CPU_PLANS == "timed" or train_batch < config.SPARSE_INPUT_MAX_BATCH):
            share = nonzero_share(x)
            if sparse_enough(share):
                return (x, y) + nonzero_index(x, int(1.05 * share * x.size))
        return x, y, np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, x.dtype)

    def workspace(self, plan, cap, n_features, n_targets, dtype, training=False):
        """Buffers for batches of at most cap rows: allocated once per fit/evaluate/predict."""
        layout = loop.work_layout(plan, cap, n_features, n_targets, loop.TRAIN if training else loop.PREDICT)
        return Workspace(memory.empty(layout[-1], dtype), layout, np.empty(2 * cap + 1, np.int64),
                         np.empty(0, np.int32), cap * n_features)

    def epoch_order(self, n, shuffle):
        return random.shuffled_order(n, shuffle)

    def train_batches(self, net, opt, data, order, shuffled, batch_size, first, stop, ws, stats, per_batch=False):
        """Run training steps first..stop-1 of this epoch; return how many were taken. per_batch: the fit calls
        once a batch all along (callbacks want every batch), so plans are timed in calls of one step.

        A plan using more than one core runs in calls of about config.PLAN_CHECK_SECONDS each: when another
        process takes a core, its steps slow down at once, and the next call is on a plan timed anew."""
        hyper, taken = opt.hyper_table(stop - first), 0
        while first + taken < stop:
            key, plan = _training_plan(net, opt, data, order, shuffled, batch_size, ws, len(stats),
                                       1 if per_batch else None)
            count = stop - first - taken
            if key is not None and (plan.parts > 1 or plan.threads != 1) and np.isfinite(planner.pace(key)):
                count = min(count, max(1, int(config.PLAN_CHECK_SECONDS / planner.pace(key))))
            start = time.perf_counter()
            with blas.limited(plan.threads):
                done = _train(net, opt, opt.slots, opt.iterations + taken, hyper[min(taken, len(hyper) - 1):], data,
                              order, shuffled, plan, batch_size, first + taken, first + taken + count, ws, stats)
            if key is not None and done:
                planner.observed(key, time.perf_counter() - start, done)
            taken += done
            if done < count:
                break
        return taken

    def gradient(self, net, data, ws, n_stats):
        """Loss value (stats) and gradient (left in net.grads) over all of data as one batch, in training mode:
        what a full-batch optimizer such as L-BFGS asks for."""
        stats, n = np.zeros(n_stats), data[0].shape[0]
        plan = planner.fixed(net.plan, n, data[2].size > 0 and net.plan[0, P_KIND] == DENSE, training=False)
        with blas.limited(plan.threads):
            _run(loop.GRADIENT, net, _nothing(data[0].dtype, 2), 0, _nothing(np.float64, 2), 0.0,
                 _nothing(np.int64, 2), data, np.arange(n), True, loop.WHOLE_INDEX if plan.csr else loop.DENSE_INPUT,
                 n, 0, 1, ws, stats, _nothing(data[0].dtype, 2))
        return stats

    def evaluate(self, net, data, batch_size, ws, n_stats):
        """Loss and metric sums over data (from put_data), in batches: a stats vector of n_stats slots."""
        stats = np.zeros(n_stats)
        self._one_pass(loop.EVALUATE, net, data, batch_size, ws, stats, _nothing(data[0].dtype, 2))
        return stats

    def predict(self, net, data, batch_size, ws, n_out):
        """The network's outputs for data's samples (from put_data)."""
        result = np.empty((data[0].shape[0], n_out), data[0].dtype)
        self._one_pass(loop.PREDICT, net, data, batch_size, ws, np.zeros(S_METRICS), result)
        return result

    def _one_pass(self, task, net, data, batch_size, ws, stats, out):
        """Evaluate or predict every sample once, in order; mostly-zero batches indexed as they go (CSR plans)."""
        sparse = _index_batches(data) and net.plan[0, P_KIND] == DENSE
        n, dtype = data[0].shape[0], data[0].dtype
        steps = -(-n // batch_size)

        def run_steps(plan, first, count, stats):
            def part(p, part_stats):  # a split plan's part p takes its share of the batches, with buffers of its own
                lo, hi = first + count * p // plan.parts, first + count * (p + 1) // plan.parts
                _run(task, net, _nothing(dtype, 2), 0, _nothing(np.float64, 2), 0.0, _nothing(np.int64, 2), data,
                     np.arange(n), True, loop.BATCH_INDEX if plan.csr else loop.DENSE_INPUT, batch_size, lo, hi,
                     ws.part(p, sparse), part_stats, out)
            _run_parts(part, plan.parts, stats, lambda: None)

        def trial(plan):  # the first batches; their sums go to a scratch vector, their outputs are written again
            scratch = np.zeros_like(stats)
            with blas.limited(plan.threads):
                return planner.trial_steps(lambda first, count: run_steps(plan, first, count, scratch), steps,
                                           plan.parts)
        key = planner.key(task, net.plan, batch_size, dtype, sparse) if planner.timed(net.plan, n, batch_size) \
            else None
        if key is not None:
            options = planner.candidates(net.plan, batch_size, sparse, split=steps >= 3 * config.cores())  # (trials)
            plan = planner.chosen(key, options, trial)
        else:
            plan = planner.fixed(net.plan, batch_size, sparse, training=False)
        start = time.perf_counter()
        with blas.limited(plan.threads):
            run_steps(plan, 0, steps, stats)
        if key is not None:
            planner.observed(key, time.perf_counter() - start, steps, runs=False)

    def loss_value(self, loss, mode, y_pred, y_true, arg=0.0):
        """Mean loss of one batch (for calling a loss object directly)."""
        compiling.publish(y_pred.dtype, losses.kernels_for(loss, mode))  # batch_loss calls no other kernel
        return batch_loss(loss, mode, y_pred, y_true, float(arg)) / y_pred.shape[0]


def _training_plan(net, opt, data, order, shuffled, batch_size, ws, n_stats, per_call):
    """(key, plan): the plan a fit trains on, remembered under key or the fastest candidate on a few scratch
    steps, per_call steps at most per call (None: any) as the fit makes them (planner.py); key None for the
    fixed rules."""
    sparse = data[2].size > 0 and net.plan[0, P_KIND] == DENSE
    n = data[0].shape[0]
    if not planner.timed(net.plan, n, batch_size):
        return None, planner.fixed(net.plan, batch_size, sparse, training=True)
    steps = -(-n // batch_size)

    def trial(plan):  # training steps on copies of the weights and optimizer state: the fit's own are untouched
        scratch, slots = dataclasses.replace(net, params=memory.copy(net.params)), memory.copy(opt.slots)
        stats = np.zeros(n_stats)

        def run_steps(first, count):
            _train(scratch, opt, slots, opt.iterations + first, opt.hyper_table(count), data, order, shuffled, plan,
                   batch_size, first, first + count, ws, stats)
        with planner.generator_kept(), blas.limited(plan.threads):
            return planner.trial_steps(run_steps, steps, per_call=per_call)
    key = planner.key("fit", net.plan, batch_size, data[0].dtype, sparse)
    split = batch_size >= 2 * config.cores() and not _draws_or_pools(net) and _split_kernels_ready(data[0].dtype)
    return key, planner.chosen(key, planner.candidates(net.plan, batch_size, sparse, split), trial)


def _split_kernels_ready(dtype):
    """True when the kernels only split plans call are loaded or cached: on a cold start they are not compiled
    before the first batch (most first runs never split), and a fit does not wait for them (the background
    helper caches them for the next run)."""
    return compiling.available(dtype, SPLIT_ONLY)


def _draws_or_pools(net):
    """True when a training step draws random numbers (Dropout) or needs the whole batch's statistics
    (BatchNormalization): such a step is not split between threads."""
    kinds = net.plan[:, P_KIND]
    return bool(np.any(kinds == BATCHNORM) or np.any((kinds == DROPOUT) & (net.fplan[:, F_RATE] > 0)))


def _train(net, opt, slots, iterations, hyper, data, order, shuffled, plan, batch_size, first, stop, ws, stats):
    """Training steps first..stop-1 on plan (its BLAS threads set by the caller), the optimizer's state in slots,
    its first step the optimizer's number `iterations` with the hyper-parameters in hyper's first row (see loop.run).

    A split plan runs one part per thread (see loop.run), each with buffers and a gradient of its own, and
    the parameters to update cut into equal shares."""
    csr = loop.WHOLE_INDEX if plan.csr else loop.DENSE_INPUT
    dtype, parts = data[0].dtype, plan.parts
    if parts == 1:
        return _run(loop.TRAIN, net, slots, opt.code, hyper, float(iterations), net.ranges, data, order, not shuffled,
                    csr, batch_size, first, stop, ws, stats, _nothing(dtype, 2))
    compiling.prepare(dtype, 0, compiling.needed((net.loss, net.mode), opt.code, net.metrics[:, 0],
                                                 net.plan[:, P_KIND], split=True))  # here, not in the parts' threads
    peers, shares = ws.peers(parts, net.grads.size, dtype), _shares(net.ranges, parts)
    flags = np.zeros(sync.size.py_func(parts), np.int64)

    def part(p, part_stats):
        return _run(loop.TRAIN, dataclasses.replace(net, grads=peers[p, :net.grads.size]), slots, opt.code, hyper,
                    float(iterations), shares[p], data, order, not shuffled, csr, batch_size, first, stop, ws.part(p),
                    part_stats, _nothing(dtype, 2), p, parts, flags, peers)
    done = _run_parts(part, parts, stats, lambda: flags.__setitem__(parts * sync.LINE, 1))
    if flags[parts * sync.LINE]:
        raise RuntimeError("fastnn internal error: a part of a split training step stopped early")
    return done[0]


def _run_parts(fn, parts, stats, abort):
    """threads.run_parts over fn(p, its stats vector): part 0 adds into stats, the others into vectors of their
    own, added to stats once every part has returned. Returns the parts' results."""
    part_stats = [stats] + [np.zeros_like(stats) for _ in range(parts - 1)]
    results = threads.run_parts(lambda p: fn(p, part_stats[p]), parts, abort)
    for more in part_stats[1:]:
        stats += more
    return results


def _shares(ranges, parts):
    """ranges (rows [start, stop)) cut into `parts` shares of about equal size, each share's rows as a (k, 2) int64
    array. The cuts fall on multiples of 16 entries counted over the ranges (with one range from 0, the usual case,
    no two parts write one 64-byte line)."""
    sizes = ranges[:, 1] - ranges[:, 0]
    total = int(sizes.sum())
    cuts = [0] + [min(total, (-(-total * p // parts) + 15) // 16 * 16) for p in range(1, parts)] + [total]
    ends = np.cumsum(sizes)
    found = []
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        rows = []
        for (start, stop), end in zip(ranges, ends):
            begin = end - (stop - start)  # this range's first entry, counted over all ranges
            a, b = max(lo, begin), min(hi, end)
            if a < b:
                rows.append([start + a - begin, start + b - begin])
        found.append(np.array(rows, np.int64).reshape(-1, 2))
    return found


class Workspace:
    """The loop's buffers (see loop.py): the float work area and its layout, and room for one batch's CSR index;
    and, for a split plan, the buffers of its other parts and every part's gradient (made when first asked)."""

    def __init__(self, work, layout, iwork, bidx, batch_entries):
        self.work, self.layout, self.iwork, self.bidx, self.batch_entries = work, layout, iwork, bidx, batch_entries
        self._parts, self._peers = [self], None

    def part(self, p, indexing=False):
        """The buffers of part p (part 0's are these), with room for a batch's CSR index when indexing."""
        while len(self._parts) <= p:
            self._parts.append(Workspace(memory.empty(self.work.shape, self.work.dtype), self.layout,
                                         np.empty_like(self.iwork), np.empty(0, np.int32), self.batch_entries))
        ws = self._parts[p]
        if indexing and ws.bidx.size < ws.batch_entries:
            ws.bidx = np.empty(ws.batch_entries, np.int32)
        return ws

    def peers(self, parts, size, dtype):
        """A (parts, size) array: each part's gradient of a split training step (each row starting on a line)."""
        width = memory.padded(size, np.dtype(dtype).itemsize)
        if self._peers is None or self._peers.shape != (parts, width) or self._peers.dtype != dtype:
            self._peers = memory.zeros((parts, width), dtype)
        return self._peers


def _plain(a):
    """a, or a copy when it is read-only or unaligned (Numba would compile the loop again for such an array)."""
    return a if a.flags.writeable and a.flags.aligned else a.copy()


_NO_FLAGS = np.zeros(0, np.int64)


def _nothing(dtype, ndim):
    """An empty array standing for an argument a task does not use (keeps the one signature of loop.run)."""
    return np.empty((0,) * ndim, dtype)


def _run(task, net, slots, opt_code, hyper, step, ranges, data, order, contiguous, csr, batch_size, first, stop, ws,
         stats, out, part=0, parts=1, flags=None, peers=None):
    """Call loop.run with exactly the argument types it was compiled for (compiling.py's _run_args)."""
    x, y, indptr, indices, values = data
    # (done already by fit/evaluate/predict, with the notice, and before a split plan's parts start: the loop
    # must never call a kernel not loaded)
    compiling.prepare(x.dtype, 0, compiling.needed(None if task == loop.PREDICT else (net.loss, net.mode),
                                                   opt_code if task == loop.TRAIN else None, net.metrics[:, 0],
                                                   net.plan[:, P_KIND], split=parts > 1))
    done = loop.run(task, net.plan, net.fplan, net.params, net.grads, slots, int(opt_code), hyper, float(step), ranges,
                    int(net.loss), int(net.mode), float(net.loss_arg), int(net.reduction), net.metrics, x, y, indptr,
                    indices, values, order, int(contiguous), csr, int(batch_size), int(first), int(stop), ws.work,
                    ws.layout, ws.iwork, ws.bidx, stats, out, int(part), int(parts),
                    _NO_FLAGS if flags is None else flags, _nothing(x.dtype, 2) if peers is None else peers)
    if done < 0:
        raise RuntimeError("fastnn internal error: a CPU buffer is smaller than the network needs, or a batch lies "
                           "past the data")
    return done
