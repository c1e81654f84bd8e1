"""Shared fixtures: where the MNIST files are, and a fresh seed for every test."""

import os
import pathlib

import pytest

# Fixed CPU plans: tests compare results bit for bit across calls and processes; test_planner.py times them
os.environ.setdefault("FASTNN_CPU_PLANS", "fixed")
import fastnn as fnn  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
# absolute, so tests that change directory (README snippets) still find the data
os.environ["FASTNN_DATA_DIR"] = os.path.abspath(os.environ.get("FASTNN_DATA_DIR", REPO.parent / "shared" / "datasets"))


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same random state, so failures reproduce."""
    fnn.utils.set_random_seed(1234)
    yield


@pytest.fixture(scope="session")
def mnist():
    """MNIST scaled to [0, 1] (read once per test session)."""
    (x_train, y_train), (x_test, y_test) = fnn.datasets.mnist.load_data()
    return (x_train / 255.0, y_train), (x_test / 255.0, y_test)
