"""How epoch time grows with the number of samples and with the hidden width (batch 128)."""

import pytest

from benchmarks import data, workloads


@pytest.mark.parametrize("impl", workloads.IMPLS)
@pytest.mark.parametrize("samples", [10_000, 30_000, 60_000])
def test_epoch_vs_samples(benchmark, mnist_train, impl, samples):
    x, y = data.take(mnist_train, samples)
    benchmark.group = f"scaling samples {samples} (784-128-10)"
    benchmark.pedantic(workloads.epoch_fn(impl, (784, 128, 10), x, y, 128), warmup_rounds=1, rounds=2)


@pytest.mark.parametrize("impl", workloads.IMPLS)
@pytest.mark.parametrize("width", [64, 512, 2048])
def test_epoch_vs_width(benchmark, mnist_train, impl, width):
    x, y = data.take(mnist_train, 10_000)
    benchmark.group = f"scaling width {width} (784-{width}-10, 10k samples)"
    benchmark.pedantic(workloads.epoch_fn(impl, (784, width, 10), x, y, 128), warmup_rounds=1, rounds=2)
