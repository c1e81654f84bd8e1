"""The CPU backend: Numba @njit kernels driven through one small object the model talks to."""

import numpy as np

from ..codes import DENSE, P_IN, P_KIND, P_OFF, P_OUT, S_METRICS
from ... import config
from . import blas, loop, random
from .dense import nonzero_index
from .losses import loss_forward_backward


def sparse_enough(x):
    """True when at least config.SPARSE_INPUT_ZEROS of x's entries (sampled rows) are zero."""
    sample = x[:: max(1, len(x) // 1000)]
    return sample.size > 0 and np.count_nonzero(sample) <= (1 - config.SPARSE_INPUT_ZEROS) * sample.size


def _blas_threads(plan, batch_size):
    """BLAS threads for this network's GEMMs at this batch size (see blas.py)."""
    dense = plan[plan[:, P_KIND] == DENSE]
    return blas.threads_for(batch_size * int((dense[:, P_IN] * dense[:, P_OUT]).max(initial=0)))


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

    def put_data(self, x, y):
        """(x, y, indptr, indices): mostly-zero x also gets a CSR index so the first layer skips zeros."""
        if sparse_enough(x):
            indptr, indices = nonzero_index(x)
        else:
            indptr, indices = np.zeros(0, np.int64), np.zeros(0, np.int32)
        return x, y, indptr, indices

    def workspace(self, plan, cap, n_features, n_targets, dtype):
        """Buffers for batches of at most cap rows: allocated once per fit/evaluate/predict."""
        width = int((plan[:, P_OUT]).max()) if len(plan) else 0
        total = int(plan[-1, P_OFF] + plan[-1, P_OUT])
        widest = max(width, n_features)
        return (np.empty((cap, n_features), dtype), np.empty((cap, n_targets), dtype),
                np.empty(cap * total, dtype), np.empty(cap * total, dtype),
                np.empty(cap * widest, dtype), np.empty(cap * widest, dtype))

    def epoch_order(self, n, shuffle):
        return random.shuffled_order(n, shuffle)

    def train_batches(self, net, opt, data, order, shuffled, batch_size, first, stop, ws, stats):
        """Run training steps first..stop-1 of this epoch; return how many were taken."""
        with blas.limited(_blas_threads(net.plan, batch_size)):
            return loop.train_batches(net.plan, net.fplan, net.params, net.grads, opt.slots, opt.code,
                                  opt.hyper, float(opt.iterations), net.loss, net.mode, net.metrics,
                                  data, order, shuffled, batch_size, first, stop, ws, stats)

    def evaluate(self, net, data, batch_size, ws, n_metrics):
        """Loss and metric sums over data (from put_data), in batches."""
        stats = np.zeros(S_METRICS + n_metrics)
        with blas.limited(_blas_threads(net.plan, batch_size)):
            loop.evaluate_batches(net.plan, net.fplan, net.params, net.loss, net.mode, net.metrics,
                                  data, batch_size, ws, stats)
        return stats

    def predict(self, net, data, batch_size, ws, n_out):
        """The network's outputs for data's samples (from put_data)."""
        x = data[0]
        result = np.empty((x.shape[0], n_out), x.dtype)
        with blas.limited(_blas_threads(net.plan, batch_size)):
            loop.predict_batches(net.plan, net.fplan, net.params, data, batch_size, ws, result)
        return result

    def loss_value(self, loss, mode, y_pred, y_true):
        """Mean loss of one batch (for calling a loss object directly)."""
        grad = np.empty_like(y_pred)
        return loss_forward_backward(loss, mode, y_pred, y_true, grad, False) / y_pred.shape[0]
