"""What the CUDA test modules share: where their kernels run, and the skip when nowhere.

They run on a real GPU when there is one, else under Numba's CUDA simulator when
NUMBA_ENABLE_CUDASIM=1 (as .ci/run sets it), else they are skipped: there is no device.
"""

import pytest

from fastnn.backends import cuda_api

# Simulator artifacts: numba.cuda.random's host-side state setup falls back to object mode, and
# uint64 / float32 numpy scalars standing in for device registers warn when they wrap or overflow.
SIMULATOR_WARNINGS = [pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaWarning"),
                      pytest.mark.filterwarnings("ignore:overflow encountered in scalar:RuntimeWarning")]


def require_device():
    """Skip the calling module unless a real GPU or the simulator can run kernels."""
    if not (cuda_api.simulated() or cuda_api.real_gpu()):
        pytest.skip("no CUDA GPU here; set NUMBA_ENABLE_CUDASIM=1 to test the kernels on the simulator",
                    allow_module_level=True)
