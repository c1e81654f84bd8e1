"""The GPU comparison: fastnn's CUDA backend against eager PyTorch on CUDA, MNIST 784-128-10, Adam.

    python -m benchmarks.gpu [--out BENCHMARKS-GPU.md] [--samples N] [--batches 32,128,1024]

For each batch size: seconds per epoch (warm: the first epoch, which compiles, is not timed), µs
per training step, and fastnn's kernel launches per step (backends/cuda/device.py counts them).
Both start from the same weights. It exits with an error, not a skip, when no CUDA GPU is here
(`--allow-simulator` lets the test suite run the code path on Numba's CUDA simulator instead).
"""

import argparse
import math
import platform
import sys
import time

import numpy as np

from benchmarks import data, opponents, workloads

MNIST_WIDTHS = (784, 128, 10)


def where(allow_simulator):
    """"gpu" or "simulator"; SystemExit with a message when neither may run the kernels."""
    from fastnn.backends import cuda_api
    if cuda_api.real_gpu():
        return "gpu"
    if allow_simulator and cuda_api.simulated():
        return "simulator"
    raise SystemExit("benchmarks.gpu: no CUDA GPU here (numba-cuda finds none): this check needs one.")


def fastnn_row(x, y, batch_size, widths):
    """(seconds for a warm epoch, launches per step) of fastnn on device="cuda"."""
    from fastnn.backends.cuda import device
    model = workloads.mnist_model(widths)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", device="cuda")
    model.fit(x, y, epochs=1, batch_size=batch_size, verbose=0)  # compiles (or loads) every kernel
    before, t0 = device.launches, time.perf_counter()
    model.fit(x, y, epochs=1, batch_size=batch_size, verbose=0)  # (fit returns once the host has the stats)
    seconds = time.perf_counter() - t0
    return seconds, (device.launches - before) / math.ceil(len(x) / batch_size)


def torch_row(x, y, batch_size, widths):
    """Seconds for a warm epoch of eager PyTorch on CUDA, or None where it has no GPU."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    weights = workloads.network("numpy", widths).get_weights()
    run = opponents.torch_epoch_fn(x, y, batch_size, weights, device="cuda")
    run()
    t0 = time.perf_counter()
    run()
    return time.perf_counter() - t0


def table(x, y, batches, widths):
    """Markdown rows: per batch size, both epochs, µs per step, the ratio and fastnn's launches per step."""
    lines = ["| batch | fastnn epoch (s) | µs/step | launches/step | PyTorch CUDA epoch (s) | µs/step | "
             "PyTorch / fastnn |", "|---|---|---|---|---|---|---|"]
    for batch_size in batches:
        steps = math.ceil(len(x) / batch_size)
        seconds, launches = fastnn_row(x, y, batch_size, widths)
        torch_seconds = torch_row(x, y, batch_size, widths)
        theirs = ("not available", "–", "–") if torch_seconds is None else \
            (f"{torch_seconds:.3f}", f"{1e6 * torch_seconds / steps:.0f}", f"{torch_seconds / seconds:.2f}x")
        lines.append(f"| {batch_size} | {seconds:.3f} | {1e6 * seconds / steps:.0f} | {launches:.1f} | "
                     f"{theirs[0]} | {theirs[1]} | {theirs[2]} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the table to this Markdown file")
    parser.add_argument("--samples", type=int, default=60_000, help="training samples (default: all 60,000)")
    parser.add_argument("--batches", default="32,128,1024", help="batch sizes, comma-separated")
    parser.add_argument("--widths", default="784,128,10", help="layer widths; other than MNIST's: random data")
    parser.add_argument("--allow-simulator", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    ran_on = where(args.allow_simulator)
    widths = tuple(int(w) for w in args.widths.split(","))
    x, y = data.take(data.mnist("train"), args.samples) if widths == MNIST_WIDTHS else \
        data.synthetic(args.samples, widths[0], widths[-1])
    result = table(x, y, [int(b) for b in args.batches.split(",")], widths)
    from fastnn.backends import cuda_api
    gpu = cuda_api.load().get_current_device().name if ran_on == "gpu" else "Numba's CUDA simulator"
    gpu = gpu.decode() if isinstance(gpu, bytes) else gpu
    text = (f"# fastnn on a GPU: `python -m benchmarks.gpu`\n\n{time.strftime('%Y-%m-%d %H:%M')}, {gpu}, "
            f"Python {platform.python_version()}, NumPy {np.__version__}; {len(x)} samples per epoch, "
            f"{'-'.join(map(str, widths))}, Adam, sparse cross-entropy, warm epochs.\n\n{result}\n")
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    sys.exit(main())
