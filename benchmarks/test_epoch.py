"""One MNIST training epoch (Adam, sparse CE, shuffled): fastnn and NumPy in the same group per shape."""

import pytest

from benchmarks import workloads
from benchmarks.gemm import achieved_gflops

IMPLS = workloads.IMPLS
SHALLOW = (784, 128, 10)


def run_epoch(benchmark, note, impl, widths, data, batch, rounds):
    """Benchmark one epoch after a warm-up epoch (compilation is never timed); note the GFLOP/s."""
    x, y = data
    benchmark.group = f"epoch {'-'.join(map(str, widths))} batch {batch}"
    benchmark.pedantic(workloads.epoch_fn(impl, widths, x, y, batch), warmup_rounds=1, rounds=rounds)
    rate = achieved_gflops(workloads.epoch_flops(widths, len(x)), benchmark.stats.stats.median)
    note("gflops", rate, f"{benchmark.group}: {impl} {benchmark.stats.stats.median:.3f} s, {rate:.1f} GFLOP/s")


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("batch", [32, 128, 1024])
def test_mnist_epoch(benchmark, note, mnist_train, impl, batch):
    run_epoch(benchmark, note, impl, SHALLOW, mnist_train, batch, rounds=2 if batch < 128 else 3)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("widths", [(784, 512, 512, 10), (784, 1024, 10)], ids=["784-512-512-10", "784-1024-10"])
def test_wider_epoch(benchmark, note, mnist_train, impl, widths):
    run_epoch(benchmark, note, impl, widths, mnist_train, 128, rounds=2)
