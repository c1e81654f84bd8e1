"""The CPU backend: Numba @njit kernels driven through one small object the model talks to."""

import numpy as np

from ..codes import P_OFF, P_OUT, S_METRICS
from . import loop, random
from .losses import loss_forward_backward


class CpuBackend:
    """Holds arrays in host memory and runs the compiled loop over them."""

    name = "cpu"

    def seed(self, n):
        random.seed(n)

    def initialize(self, out, kind, scale):
        """Fill a flat parameter region with one initializer."""
        random.initialize(out, kind, scale)

    def to_host(self, array):
        return array

    def from_host(self, array):
        return array

    def put_data(self, x, y):
        """The training arrays where the kernels read them (already host arrays here)."""
        return x, y

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

    def train_batches(self, net, opt, data, order, gather, batch_size, first, stop, ws, stats):
        """Run training steps first..stop-1 of this epoch; return how many were taken."""
        x, y = data
        return loop.train_batches(net.plan, net.fplan, net.params, net.grads, opt.slots, opt.code,
                                  opt.hyper, float(opt.iterations), net.loss, net.mode, net.metrics,
                                  x, y, order, gather, batch_size, first, stop, ws, stats)

    def evaluate(self, net, x, y, batch_size, ws, n_metrics):
        stats = np.zeros(S_METRICS + n_metrics)
        loop.evaluate_batches(net.plan, net.fplan, net.params, net.loss, net.mode, net.metrics,
                              x, y, batch_size, ws, stats)
        return stats

    def predict(self, net, x, batch_size, ws, n_out):
        result = np.empty((x.shape[0], n_out), x.dtype)
        loop.predict_batches(net.plan, net.fplan, net.params, x, batch_size, ws, result)
        return result

    def loss_value(self, loss, mode, y_pred, y_true):
        """Mean loss of one batch (for calling a loss object directly)."""
        grad = np.empty_like(y_pred)
        return loss_forward_backward(loss, mode, y_pred, y_true, grad, False) / y_pred.shape[0]
