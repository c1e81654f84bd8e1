"""Layout of the small float64 device array a run of training steps reports through.

Kernels accumulate the running loss/metric sums here and flag a non-finite loss, so the host
reads one array once per train_batches call instead of syncing per batch. Per-step sums
alternate between two slots by step parity: the optimizer launch of step k reads slot k % 2
and clears slot (k + 1) % 2, which no kernel of step k touches.
"""

import math

from ..codes import S_LOSS
from .device import device_fn

STOPPED, TAKEN = 0, 1  # 1.0 once a loss was non-finite; number of steps whose update was applied
STEP_LOSS = 2  # two slots: sum over the batch of the per-sample loss
STEP_PEN = 4  # two slots: the regularisers' penalty of the weights this step used
STEP_BAD = 6  # two slots: 1.0 when a gradient's square is not finite (the CPU's squares_finite)
STATS = 8  # from here on: the model's stats layout (S_LOSS, S_COUNT, S_METRICS + k)


def size(n_stats):
    """Length of a status array carrying n_stats model statistics."""
    return STATS + n_stats


@device_fn
def book_step(status, parity, rows, first_thread):
    """True when step `parity`'s loss and gradients are finite and training goes on.

    One thread books the step. The loss value is the CPU loop's: sum of per-sample losses /
    rows + penalty.
    """
    if status[STOPPED] != 0:
        return False
    value = status[STEP_LOSS + parity] / rows + status[STEP_PEN + parity]
    finite = math.isfinite(value) and status[STEP_BAD + parity] == 0
    if first_thread:
        status[STATS + S_LOSS] += value * rows
        if finite:
            status[TAKEN] += 1.0
            status[STEP_LOSS + 1 - parity] = 0.0
            status[STEP_PEN + 1 - parity] = 0.0
            status[STEP_BAD + 1 - parity] = 0.0
        else:
            status[STOPPED] = 1.0
    return finite
