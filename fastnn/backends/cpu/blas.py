"""How many threads the BLAS behind np.dot (SciPy's OpenBLAS) may use while fastnn's loop runs.

Small GEMMs gain little from a second thread, and a multithreaded BLAS on a busy 2-core
machine busy-waits: an MNIST epoch at batch 32 measured 5-6x slower with one core taken by
another process. So the loop gives BLAS one thread unless its GEMMs are large (config), and
restores the library's setting afterwards. Libraries it cannot find are left alone.
"""

import contextlib
import ctypes
import functools
import os

from ... import config


@functools.lru_cache(maxsize=None)
def _controls():
    """[(get, set)] thread-count functions of every OpenBLAS loaded in this process."""
    import scipy.linalg.cython_blas  # noqa: F401  (loads the BLAS numba's np.dot calls)
    found = []
    for path in _loaded_libraries():
        if "openblas" not in os.path.basename(path).lower():
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas", ""), ("scipy_openblas", "64_"), ("openblas", "")):
            get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
            put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
            if get is not None and put is not None:
                get.restype, put.argtypes = ctypes.c_int, [ctypes.c_int]
                found.append((get, put))
                break
    return found


def _loaded_libraries():
    """Paths of the shared libraries mapped into this process (Linux; elsewhere none)."""
    try:
        with open("/proc/self/maps") as maps:
            return sorted({line.split()[-1] for line in maps if ".so" in line})
    except OSError:
        return []


def threads_for(largest_gemm):
    """1 when the loop's largest GEMM (multiply-adds per call) is small, else None (library default)."""
    return 1 if largest_gemm < config.BLAS_PARALLEL_MIN_MACS else None


@contextlib.contextmanager
def limited(threads):
    """Run the block with BLAS limited to `threads` (None: unchanged)."""
    controls = _controls() if threads is not None else []
    before = [get() for get, _ in controls]
    for _, put in controls:
        put(threads)
    try:
        yield
    finally:
        for (_, put), n in zip(controls, before):
            put(n)
