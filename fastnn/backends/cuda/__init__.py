"""The CUDA backend: Numba @cuda.jit kernels driven through the same small object as the CPU's.

Kernel modules mirror fastnn/backends/cpu/ one to one; each launcher carries its CPU twin's
name and argument order, followed by what only the device needs (active rows, the batch's
row order, the status array). numba.cuda comes only from fastnn/backends/cuda_api.py.
"""

import numpy as np

from .. import DeviceUnavailableError, cuda_api
from ..codes import REDUCE_BATCH, S_LOSS, S_METRICS
from ..cpu import random as cpu_random
from . import loop
from .device import dummy, empty, to_device
from .losses import loss_forward_backward
from .status import STATS, size


def _check_usable():
    """Raise a clear error unless a real GPU (or the simulator, for tests) can run kernels."""
    if cuda_api.simulated() or cuda_api.real_gpu():
        return
    raise DeviceUnavailableError("device='cuda' needs an NVIDIA GPU with a working CUDA driver, but numba.cuda "
                       "found none (numba.cuda.is_available() is False). Use device='cpu', or "
                       "device='auto' to pick the GPU only when there is one.")


def _on_device(array):
    return hasattr(array, "copy_to_host")


class CudaBackend:
    """Holds arrays in GPU memory for a whole fit and runs the kernels over them."""

    name = "cuda"

    def __init__(self):
        _check_usable()

    def initialize(self, out, kind, scale):
        """Fill a flat parameter region with one initializer (drawn on the host: same seed, same weights)."""
        if not _on_device(out):
            cpu_random.initialize(out, kind, scale)
            return
        host = np.empty(out.shape, out.dtype)
        cpu_random.initialize(host, kind, scale)
        out.copy_to_device(host)

    def to_host(self, array):
        return array.copy_to_host() if _on_device(array) else array

    def from_host(self, array):
        return to_device(array)

    def copy_into(self, target, host):
        """Overwrite a device array in place (compiled networks keep referring to it)."""
        target.copy_to_device(np.ascontiguousarray(host, dtype=target.dtype))

    def prepare(self, dtype, verbose, loss=None, optimizer=None, metrics=(), kinds=()):
        """Nothing ahead of time: each CUDA kernel compiles (or loads from Numba's cache) at its first launch."""

    def put_data(self, x, y, train_batch=None):
        """The arrays on the device, copied once per fit/evaluate/predict (train_batch: see the CPU twin)."""
        return to_device(x), to_device(y)

    def workspace(self, plan, cap, n_features, n_targets, dtype, training=False):
        """Device buffers for batches of at most cap rows: allocated once per fit/evaluate/predict."""
        return loop.Workspace(plan, cap, n_features, dtype)

    def epoch_order(self, n, shuffle):
        """The epoch's sample order, drawn on the host by the CPU kernel and uploaded once per epoch."""
        return to_device(cpu_random.shuffled_order(n, True)) if shuffle else dummy("int64")

    def train_batches(self, net, opt, data, order, gather, batch_size, first, stop, ws, stats, per_batch=False):
        """Run training steps first..stop-1 of this epoch; return how many were taken. (per_batch: see the CPU
        backend's; one launch sequence per call here either way.)"""
        _keras_reduction(net)
        return loop.train_batches(net, opt, data, order, gather, batch_size, first, stop, ws, stats)

    def evaluate(self, net, data, batch_size, ws, n_stats):
        """Loss and metric sums over data (from put_data), in batches."""
        _keras_reduction(net)
        x, y = data
        return loop.evaluate_batches(net, x, y, batch_size, ws, n_stats)

    def predict(self, net, data, batch_size, ws, n_out):
        """The network's outputs for data's samples (from put_data), as a host array."""
        x = data[0]
        result = empty((x.shape[0], n_out), x.dtype)
        loop.predict_batches(net, x, batch_size, ws, result)
        return result.copy_to_host()

    def loss_value(self, loss, mode, y_pred, y_true, arg=0.0):
        """Mean loss of one batch (for calling a loss object directly)."""
        out, y = to_device(y_pred), to_device(y_true)
        status = to_device(np.zeros(size(S_METRICS)))
        rows = y_pred.shape[0]
        loss_forward_backward(loss, mode, out, y, out, False, arg, rows, dummy("int64"), 0, False, 0,
                              dummy("int64", 2), 0, status, STATS + S_LOSS)
        return status.copy_to_host()[STATS + S_LOSS] / rows


def _keras_reduction(net):
    """Refuse scikit-learn's loss reduction (codes.REDUCE_WEIGHTS): only the CPU loop has it."""
    if net.reduction != REDUCE_BATCH:
        raise ValueError("scikit-learn's loss reduction (fastnn.sklearn's estimators) runs on the CPU backend only; "
                         "train this model with device='cpu'.")
