"""Fixtures for the benchmark suites, and the notes (GFLOP/s, compile times, memory) printed after the run."""

import pytest

from benchmarks import data

NOTES = []


def pytest_configure(config):
    """`--benchmark-only` must win over the project's default `--benchmark-disable` (setup.cfg addopts)."""
    if config.getoption("benchmark_only", False):
        config.option.benchmark_enable = True


def pytest_terminal_summary(terminalreporter):
    if NOTES:
        terminalreporter.section("fastnn vs NumPy: derived numbers")
        for line in NOTES:
            terminalreporter.write_line(line)


@pytest.fixture
def note(benchmark):
    """Record a derived number: printed after the run and kept in the benchmark's extra_info."""
    def record(key, value, text):
        benchmark.extra_info[key] = value
        NOTES.append(text)
    return record


@pytest.fixture(scope="session")
def mnist_train():
    return data.mnist("train")


@pytest.fixture(scope="session")
def mnist_test():
    return data.mnist("test")
