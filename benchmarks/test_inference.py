"""predict() over the 10,000 MNIST test images with the 784-128-10 network."""

import pytest

from benchmarks import workloads


@pytest.mark.parametrize("impl", workloads.IMPLS)
@pytest.mark.parametrize("batch", [32, 1024])
def test_predict_10k(benchmark, mnist_test, impl, batch):
    benchmark.group = f"predict 10k batch {batch}"
    benchmark.pedantic(workloads.predict_fn(impl, (784, 128, 10), mnist_test[0], batch),
                       warmup_rounds=1, rounds=10)
