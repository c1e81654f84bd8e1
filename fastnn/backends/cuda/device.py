"""The CUDA handle, launch geometry and launch counter, and tiny device helpers every kernel shares.

Every tunable sits here. Under the simulator (one Python thread per GPU thread) blocks are
made small so tests stay fast; the kernels are the same code either way.
"""

import functools
import importlib
import math
import warnings

import numpy as np

from .. import cuda_api

cuda = cuda_api.load()

SIMULATED = cuda_api.simulated()
if SIMULATED:
    TILE, THREADS, MAX_BLOCKS = 4, 8, 2
else:
    TILE, THREADS, MAX_BLOCKS = 16, 256, 1024
TILE_SHAPE = (TILE, TILE + 1)  # +1 column of padding: reading a tile column hits 16 banks, not 2
TILE_THREADS = TILE * TILE

jit = functools.partial(cuda.jit, cache=True)
device_fn = functools.partial(cuda.jit, device=True, cache=True)

launches = 0  # kernel launches so far in this process (tests count launches per training step)
_configured = {}  # (kernel, blocks, threads) -> the launcher numba configured for them


def random_module():
    """numba.cuda.random (xoroshiro128+), found through the one CUDA handle."""
    return importlib.import_module(cuda.__name__ + ".random")


def _launch(kernel, blocks, threads, args):
    global launches
    launches += 1
    if SIMULATED:  # the simulator's kernel[...] reconfigures the kernel object itself: nothing to keep
        kernel[blocks, threads](*args)
        return
    run = _configured.get((kernel, blocks, threads))
    if run is None:
        with warnings.catch_warnings():
            # numba warns below 128 blocks; a batch of 32 rows is a small grid by nature
            warnings.filterwarnings("ignore", message="Grid size")
            run = _configured[kernel, blocks, threads] = kernel[blocks, threads]
    run(*args)


def flat(kernel, n, *args):
    """Launch a 1-D grid-stride kernel over n items."""
    _launch(kernel, max(1, min(math.ceil(n / THREADS), MAX_BLOCKS)), THREADS, args)


def fixed(kernel, blocks, *args):
    """Launch a 1-D kernel on exactly `blocks` blocks (one random state per thread)."""
    _launch(kernel, blocks, THREADS, args)


def tiles(kernel, rows, cols, *args):
    """Launch a kernel that loops over the TILE x TILE tiles of a rows x cols output."""
    n = math.ceil(rows / TILE) * math.ceil(cols / TILE)
    _launch(kernel, max(1, min(n, MAX_BLOCKS)), (TILE, TILE), args)


def to_device(array):
    """A device copy of a host array (made C-contiguous first)."""
    return cuda.to_device(np.ascontiguousarray(array))


def empty(shape, dtype):
    return cuda.device_array(shape, dtype)


@functools.lru_cache(maxsize=None)
def dummy(dtype, ndim=1):
    """A one-element device array for an argument a launch never reads (its type must still fit)."""
    return cuda.to_device(np.zeros((1,) * ndim, dtype))


@device_fn
def source_row(order, start, gather, r):
    """Row of the data that batch row r reads: order[start + r] when gathering, else start + r."""
    return order[start + r] if gather else start + r


@device_fn
def block_add(red, tid, value, target, slot):
    """target[slot] += sum of `value` over the block: tree reduction in shared `red`, one atomic."""
    red[tid] = value
    cuda.syncthreads()
    half = red.size // 2
    while half > 0:
        if tid < half:
            red[tid] += red[tid + half]
        cuda.syncthreads()
        half //= 2
    if tid == 0:
        cuda.atomic.add(target, slot, red[0])
    cuda.syncthreads()  # red is reused by the next reduction


@jit
def _fill(a, value):
    i0, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(i0, a.size, stride):
        a[i] = value


def fill(a, value):
    """a[:] = value on the device (no host copy)."""
    flat(_fill, a.size, a, float(value))
