"""Backend selection: "cpu" (Numba @njit) or "cuda" (Numba @cuda.jit), by name."""

DEVICES = ("auto", "cpu", "cuda")


class DeviceUnavailableError(RuntimeError):
    """device="cuda" was asked for on a machine where CUDA cannot run."""


def check_device(device):
    """The device name, validated."""
    if not isinstance(device, str) or device.lower() not in DEVICES:
        raise ValueError(f"Expected device to be one of {DEVICES}. Received: device={device!r}")
    return device.lower()


def get(device):
    """The backend object for a device name; "auto" picks CUDA only when a real GPU is present."""
    device = check_device(device)
    if device == "auto":
        from .cuda_api import real_gpu
        device = "cuda" if real_gpu() else "cpu"
    if device == "cuda":
        from .cuda import CudaBackend
        return CudaBackend()
    from .cpu import CpuBackend
    return CpuBackend()
