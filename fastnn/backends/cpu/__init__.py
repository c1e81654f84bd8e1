"""The CPU backend: Numba @njit kernels driven through one small object the model talks to."""

import numpy as np

from ..codes import DENSE, P_IN, P_KIND, P_OFF, P_OUT, S_METRICS
from ... import config
from . import blas, loop, random
from .dense import nonzero_index_into
from .losses import loss_forward_backward


def nonzero_share(x):
    """Share of x's entries that are nonzero, estimated on about 1000 evenly spaced rows."""
    sample = x[:: max(1, len(x) // 1000)]
    return int((sample != 0).sum()) / sample.size if sample.size else 1.0  # 4x faster than count_nonzero here


def nonzero_index(x, capacity):
    """CSR index of x's nonzeros, (indptr int64 (n+1,), indices int32), in one pass over x.

    `capacity` guesses the count; the array grows by half when short. NumPy allocates it, not the
    kernel: NumPy asks Linux for huge pages on large arrays, which on this project's test VM
    halved the index build (page faults cost more than the compaction itself).
    """
    indptr = np.zeros(len(x) + 1, np.int64)
    indices = np.empty(max(capacity, x.shape[1]), np.int32)
    row = nonzero_index_into(x, 0, indptr, indices)
    while row < len(x):
        grown = np.empty(indices.size + indices.size // 2 + x.shape[1], np.int32)
        grown[:indptr[row]] = indices[:indptr[row]]
        indices = grown
        row = nonzero_index_into(x, row, indptr, indices)
    used = indices[:indptr[-1]]
    return indptr, used if 8 * used.size >= 7 * indices.size else used.copy()  # no large unused tail


def sparse_enough(share):
    """True when a nonzero share this small makes the CSR first-layer kernels worth it."""
    return share <= 1 - config.SPARSE_INPUT_ZEROS


def _index_batches(data):
    """True when a pass over unindexed, mostly-zero samples should index each batch as it goes."""
    return data[2].size == 0 and sparse_enough(nonzero_share(data[0]))


def _blas_threads(plan, batch_size, sparse_first):
    """BLAS threads for the GEMMs this network sends to BLAS at this batch size (see blas.py).

    A first layer reading CSR-indexed inputs (sparse_first) runs fastnn's own kernel, not BLAS.
    """
    gemms = plan[:, P_KIND] == DENSE
    if sparse_first and len(plan):
        gemms[0] = False
    return blas.threads_for(batch_size * int((plan[gemms, P_IN] * plan[gemms, P_OUT]).max(initial=0)))


class CpuBackend:
    """Holds arrays in host memory and runs the compiled loop over them."""

    name = "cpu"

    def initialize(self, out, kind, scale):
        """Fill a flat parameter region with one initializer."""
        random.initialize(out, kind, scale)

    def to_host(self, array):
        return array

    def from_host(self, array):
        return array

    def copy_into(self, target, host):
        """Overwrite an array in place (compiled networks keep referring to it)."""
        target[:] = host

    def put_data(self, x, y, train_batch=None):
        """(x, y, indptr, indices), the CSR index of x's nonzeros filled in for training on mostly-zero x.

        train_batch is the batch size when x is to be trained on (None: evaluated or predicted
        only, one pass, which indexes each batch as it goes instead: see evaluate_batches).
        Training batches of config.SPARSE_INPUT_MAX_BATCH or more go to BLAS instead.
        """
        if train_batch is not None and train_batch < config.SPARSE_INPUT_MAX_BATCH:
            share = nonzero_share(x)
            if sparse_enough(share):
                return (x, y) + nonzero_index(x, int(1.05 * share * x.size))
        return x, y, np.zeros(0, np.int64), np.zeros(0, np.int32)

    def workspace(self, plan, cap, n_features, n_targets, dtype):
        """Buffers for batches of at most cap rows: allocated once per fit/evaluate/predict."""
        width = int((plan[:, P_OUT]).max()) if len(plan) else 0
        total = int(plan[-1, P_OFF] + plan[-1, P_OUT])
        widest = max(width, n_features)
        return (np.empty((cap, n_features), dtype), np.empty((cap, n_targets), dtype),
                np.empty(cap * total, dtype), np.empty(cap * total, dtype),
                np.empty(cap * widest, dtype), np.empty(cap * widest, dtype),
                np.empty(cap + 1, np.int64), np.empty(cap * n_features, np.int32))

    def epoch_order(self, n, shuffle):
        return random.shuffled_order(n, shuffle)

    def train_batches(self, net, opt, data, order, shuffled, batch_size, first, stop, ws, stats):
        """Run training steps first..stop-1 of this epoch; return how many were taken."""
        with blas.limited(_blas_threads(net.plan, batch_size, data[2].size > 0)):
            return loop.train_batches(net.plan, net.fplan, net.params, net.grads, opt.slots, opt.code,
                                  opt.hyper, float(opt.iterations), net.loss, net.mode, net.metrics,
                                  data, order, shuffled, batch_size, first, stop, ws, stats)

    def evaluate(self, net, data, batch_size, ws, n_metrics):
        """Loss and metric sums over data (from put_data), in batches."""
        stats, index_batches = np.zeros(S_METRICS + n_metrics), _index_batches(data)
        with blas.limited(_blas_threads(net.plan, batch_size, index_batches)):
            loop.evaluate_batches(net.plan, net.fplan, net.params, net.loss, net.mode, net.metrics,
                                  data, batch_size, index_batches, ws, stats)
        return stats

    def predict(self, net, data, batch_size, ws, n_out):
        """The network's outputs for data's samples (from put_data)."""
        result, index_batches = np.empty((data[0].shape[0], n_out), data[0].dtype), _index_batches(data)
        with blas.limited(_blas_threads(net.plan, batch_size, index_batches)):
            loop.predict_batches(net.plan, net.fplan, net.params, data, batch_size, index_batches, ws, result)
        return result

    def loss_value(self, loss, mode, y_pred, y_true):
        """Mean loss of one batch (for calling a loss object directly)."""
        grad = np.empty_like(y_pred)
        return loss_forward_backward(loss, mode, y_pred, y_true, grad, False) / y_pred.shape[0]
