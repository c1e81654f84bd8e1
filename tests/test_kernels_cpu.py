"""CPU kernels checked directly against NumPy on small shapes."""

import numpy as np
import pytest

from fastnn.backends.cpu import nonzero_index
from fastnn.data import all_finite


@pytest.mark.parametrize("capacity", [0, 5, 10_000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nonzero_index_is_the_csr_of_the_nonzeros(capacity, dtype):
    """Same rows, columns and values as np.nonzero, whether the capacity guess is short, tiny or generous."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 13)).astype(dtype)
    x[rng.random(x.shape) < 0.7] = 0
    x[5] = 0  # an all-zero row
    x[6] = 1  # an all-nonzero row
    indptr, indices, values = nonzero_index(x, capacity)
    rows, cols = np.nonzero(x)
    np.testing.assert_array_equal(indptr, np.concatenate([[0], np.cumsum(np.count_nonzero(x, axis=1))]))
    np.testing.assert_array_equal(indices, cols)
    np.testing.assert_array_equal(values, x[rows, cols])
    assert indices.dtype == np.int32 and values.dtype == dtype


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_all_finite_finds_one_bad_entry(bad):
    x = np.ones((50, 7), np.float32)
    assert all_finite(x)
    x[31, 4] = bad
    assert not all_finite(x)


def test_all_finite_accepts_finite_values_whose_sum_overflows():
    x = np.full((4, 3), np.finfo(np.float32).max, np.float32)
    assert all_finite(x)


def test_put_data_indexes_mostly_zero_inputs_for_training_below_the_batch_limit(monkeypatch):
    from fastnn import config
    from fastnn.backends.cpu import CpuBackend, _index_batches
    rng = np.random.default_rng(4)
    sparse = rng.normal(size=(30, 9)) * (rng.random((30, 9)) < 0.2)
    dense = rng.normal(size=(30, 9))
    y = np.zeros((30, 1))
    backend = CpuBackend()
    monkeypatch.setattr(config, "CPU_PLANS", "fixed")
    assert backend.put_data(sparse, y, train_batch=32)[2].size == 31
    assert backend.put_data(sparse, y, train_batch=config.SPARSE_INPUT_MAX_BATCH)[2].size == 0
    monkeypatch.setattr(config, "CPU_PLANS", "timed")  # a planner's candidates: CSR at any batch size
    assert backend.put_data(sparse, y, train_batch=config.SPARSE_INPUT_MAX_BATCH)[2].size == 31
    assert backend.put_data(dense, y, train_batch=32)[2].size == 0
    # one pass (evaluate, predict): no index up front; mostly-zero samples are indexed batch by batch
    assert backend.put_data(sparse, y)[2].size == 0
    assert _index_batches(backend.put_data(sparse, y)) and not _index_batches(backend.put_data(dense, y))


def test_predict_and_evaluate_index_each_batch_with_blas_results(monkeypatch):
    import fastnn as fnn
    from fastnn import config, layers
    rng = np.random.default_rng(6)
    x, y = rng.random((23, 20)) * (rng.random((23, 20)) < 0.2), rng.integers(0, 3, 23)
    model = fnn.Sequential([layers.Dense(6, activation="relu", input_shape=(20,)),
                            layers.Dense(3, activation="softmax")], dtype="float64")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    runs = []
    for zeros in (config.SPARSE_INPUT_ZEROS, 1.01):  # per-batch CSR, then BLAS on every batch
        monkeypatch.setattr(config, "SPARSE_INPUT_ZEROS", zeros)
        runs.append((model.predict(x, batch_size=5), model.evaluate(x, y, batch_size=5, verbose=0)))
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-12)
    np.testing.assert_allclose(runs[0][1], runs[1][1], rtol=1e-12)


def test_csr_and_blas_first_layers_train_the_same():
    """Training batch sizes on both sides of SPARSE_INPUT_MAX_BATCH take the two first-layer paths."""
    import fastnn as fnn
    from fastnn import config, layers
    rng = np.random.default_rng(5)
    n = config.SPARSE_INPUT_MAX_BATCH
    x, y = rng.random((n, 20)) * (rng.random((n, 20)) < 0.2), rng.integers(0, 3, n)
    weights = []
    for batch_size in (n - 1, n):  # one step over the same n - 1 samples: CSR, then BLAS
        fnn.utils.set_random_seed(0)
        model = fnn.Sequential([layers.Dense(6, activation="relu", input_shape=(20,)),
                                layers.Dense(3, activation="softmax")], dtype="float64")
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.fit(x[:n - 1], y[:n - 1], batch_size=batch_size, shuffle=False, verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("width", [1, 7, 16, 17, 64, 100, 130, 255, 600])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_csr_kernels_match_numpy_at_every_width(width, dtype):
    """dense_forward_csr and dense_backward_csr against x[rows] @ w + b and x[rows]^T g: widths that take each of
    the register blocks, single vectors and single floats of their row loops (and rows with no nonzero)."""
    from fastnn.backends.cpu.dense import dense_backward_csr, dense_forward_csr
    rng = np.random.default_rng(width)
    x = (rng.normal(size=(12, 9)) * (rng.random((12, 9)) < 0.4)).astype(dtype)
    x[3] = 0
    w, b, g = (rng.normal(size=shape).astype(dtype) for shape in ((9, width), (width,), (5, width)))
    indptr, indices, values = nonzero_index(x, 0)
    rows = np.array([3, 0, 7, 11, 3], np.int64)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    out = np.full((5, width), np.nan, dtype)
    dense_forward_csr.py(values, rows, indptr, indices, w, b, True, out)
    np.testing.assert_allclose(out, x[rows] @ w + b, **tol)
    dw, db = np.full_like(w, np.nan), np.full_like(b, np.nan)
    dense_backward_csr.py(values, rows, indptr, indices, g, dw, db, True)
    np.testing.assert_allclose(dw, x[rows].T @ g, **tol)
    np.testing.assert_allclose(db, g.sum(axis=0), **tol)
