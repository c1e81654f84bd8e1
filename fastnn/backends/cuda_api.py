"""The one module that imports Numba's CUDA target; switching to its successor is a change here.

Imported lazily: CPU-only users never pay for it, and a missing `numba-cuda` package
(the `cuda` extra) becomes a clear error only when CUDA is asked for.
"""

import ctypes
import os
import sys


def load():
    """numba.cuda, or a clear error saying how to get it."""
    import numba.core.config
    numba.core.config.reload_config()  # numba read NUMBA_ENABLE_CUDASIM at import; honour a later setting
    try:
        from numba import cuda
    except ImportError as exc:  # numba-cuda not installed
        raise RuntimeError("device='cuda' needs the numba-cuda package: pip install 'fastnn[cuda]'") from exc
    return cuda


def simulated():
    """True when Numba's CUDA simulator stands in for a GPU (NUMBA_ENABLE_CUDASIM=1)."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def real_gpu():
    """True when a real CUDA GPU can run kernels; the simulator does not count for device='auto'."""
    if simulated() or not _driver_loads():
        return False
    try:
        return bool(load().is_available())
    except Exception:  # no driver, no package: no GPU
        return False


def _driver_loads():
    """Whether NVIDIA's driver library loads here: without it there is no GPU, and no need to import
    numba-cuda (0.2 s) to find out. NUMBA_CUDA_DRIVER names a driver elsewhere: numba-cuda decides."""
    if os.environ.get("NUMBA_CUDA_DRIVER"):
        return True
    names = {"win32": ["nvcuda.dll"], "darwin": []}.get(sys.platform, ["libcuda.so.1", "libcuda.so"])
    for name in names:
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False
