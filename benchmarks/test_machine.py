"""Fresh-process costs (first epoch with a cold and a warm Numba cache, peak memory) and the GEMM yardstick."""

import tempfile

import pytest

from benchmarks import probe
from benchmarks.gemm import gemm_gflops

SAMPLES = 10_000


@pytest.mark.parametrize("case", ["fastnn-cold-cache", "fastnn-warm-cache", "numpy"])
def test_first_epoch_fresh_process(benchmark, note, case):
    """Wall time of a whole fresh process: imports, model, first (compiling) epoch and one steady epoch."""
    benchmark.group = f"fresh process: import + build + 2 epochs of {SAMPLES} MNIST samples"
    impl = case.split("-")[0]
    results = []
    with tempfile.TemporaryDirectory(prefix="fastnn-numba-cache-") as cache:
        if case == "fastnn-warm-cache":
            probe.run_probe(impl, cache, samples=SAMPLES)
        benchmark.pedantic(lambda: results.append(probe.run_probe(impl, cache, samples=SAMPLES)), rounds=1)
    r = results[0]
    note("first_epoch_s", r["first_epoch_s"], f"{case}: first epoch {r['first_epoch_s']:.2f} s, steady epoch "
         f"{r['steady_epoch_s']:.2f} s, model build {r['build_s']:.2f} s, imports {r['import_s']:.2f} s")
    benchmark.extra_info.update(r)


@pytest.mark.parametrize("impl", ["fastnn", "numpy"])
def test_peak_memory_of_mnist_fit(benchmark, note, impl):
    """Peak RSS of a process that fits one epoch on all 60,000 images, against the float32 data size."""
    benchmark.group = "fresh process: one full MNIST epoch (peak RSS in extra_info)"
    results = []
    benchmark.pedantic(lambda: results.append(probe.run_probe(impl, samples=60_000, epochs=1)), rounds=1)
    r = results[0]
    note("peak_rss_mb", r["peak_rss_mb"], f"{impl}: peak RSS {r['peak_rss_mb']:.0f} MiB for {r['data_mb']:.0f} MiB "
         f"of float32 data (RSS before fit {r['rss_before_fit_mb']:.0f} MiB)")
    benchmark.extra_info.update(r)


def test_gemm_2048(benchmark, note):
    """The machine's float32 GEMM rate: the ceiling for training GFLOP/s."""
    benchmark.group = "float32 GEMM 2048^3 (NumPy)"
    rates = []
    benchmark.pedantic(lambda: rates.append(gemm_gflops(2048, repeats=3)), rounds=3)
    note("gemm_gflops", max(rates), f"float32 GEMM 2048^3: {max(rates):.1f} GFLOP/s (best of {3 * len(rates)})")
