"""Single kernels at MNIST training shapes (batch 128, 784 -> 128, 10 classes)."""

import pytest

from benchmarks import kernels, workloads


@pytest.mark.parametrize("impl", workloads.IMPLS)
@pytest.mark.parametrize("name", kernels.KERNELS)
def test_kernel(benchmark, impl, name):
    benchmark.group = f"kernel {name}"
    run = kernels.kernel_fn(name, impl)
    benchmark.pedantic(run, warmup_rounds=1, rounds=200, iterations=5)
