"""Benchmarks: fastnn against the plain-NumPy baseline (and, in compare.py, PyTorch and JAX when installed).

The scenario code lives in small modules (data, workloads, kernels, gemm, probe) with size
parameters, so tests/test_benchmarks_smoke.py can run every path on tiny shapes; the
pytest-benchmark suites (test_*.py) and compare.py run them at full size.
"""
