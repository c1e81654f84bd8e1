"""Tests for fastnn.examples: each example runs with fast settings and reproduces the tutorial's numbers."""

import gzip
import hashlib
import os
import pathlib
import re
import runpy
import struct
import sys

import numpy as np
import pytest

import fastnn as fnn
from fastnn.datasets import _idx, fashion_mnist, mnist
from fastnn.examples import gender, house_classification, house_prices
from fastnn.examples import fashion_mnist as fashion_example
from fastnn.examples import mnist as mnist_example
from fastnn.examples._houses import PRICE, SQFT, TABLE, standardize

NAMES = ("house_prices", "house_classification", "gender", "mnist", "fashion_mnist")


def number_after(label, text):
    """The float printed right after `label` in text."""
    match = re.search(re.escape(label) + r"\s*([-0-9.]+)", text)
    assert match, f"{label!r} not in output:\n{text}"
    return float(match.group(1))


def shared_datasets():
    """$FASTNN_DATA_DIR as CI sets it, else the project's shared folder (DESIGN.md section 3)."""
    return os.environ.get("FASTNN_DATA_DIR") or str(pathlib.Path(__file__).resolve().parents[2] / "shared" / "datasets")


def least_squares_mse(x, y):
    """The lowest MSE any line (with intercept) reaches on x -> y."""
    a = np.c_[x, np.ones(len(x))]
    w = np.linalg.lstsq(a, y, rcond=None)[0]
    return float(np.mean((a @ w - y) ** 2))


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No downloads and no user cache: the examples see only the data a test provides."""
    monkeypatch.setattr(mnist, "MIRRORS", [])
    monkeypatch.setattr(fashion_mnist, "MIRRORS", [])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


# --- house prices ------------------------------------------------------------------------------
def test_fixed_weight_gives_the_tutorial_predictions():
    model, x, y = house_prices.fixed_weight()
    np.testing.assert_array_equal(np.round(model.predict(x).ravel()), [379, 288, 432])
    assert model.evaluate(x, y, verbose=0) == pytest.approx(2057.7, abs=0.1)


@pytest.mark.parametrize("columns, rows", [([0], 3), ([0, 1], 10)])
def test_gradient_descent_reaches_the_least_squares_fit(columns, rows):
    model, x, y = house_prices.gradient_descent(columns, rows, epochs=200, learning_rate=0.1, seed=0)
    best = least_squares_mse(TABLE[:rows, columns], TABLE[:rows, PRICE] / 1000)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(best, rel=1e-4)
    if rows == 3:
        assert best < 799  # the tutorial's bound


def test_house_prices_prints_the_tables(capsys):
    assert house_prices.main(["--epochs", "100"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"2104\s+399\.9\s+378\.7", out) and re.search(r"2400\s+369\.0\s+432\.0", out)
    assert "MSE: 2057.7" in out
    mses = [float(m) for m in re.findall(r"MSE: ([0-9.]+)", out)]
    assert len(mses) == 3 and mses[1] < 799 and mses[2] < 1500


# --- house classification ----------------------------------------------------------------------
def test_good_houses_are_the_pricier_half_per_square_foot():
    labels = house_classification.labels()
    per_sqft = TABLE[:, PRICE] / TABLE[:, SQFT]
    assert labels.sum() == 5
    assert per_sqft[labels == 1].min() > per_sqft[labels == 0].max()


def test_softmax_separates_good_from_bad_houses(capsys):
    assert house_classification.main(["--epochs", "150"]) == 0
    out = capsys.readouterr().out
    assert number_after("accuracy:", out) == 1.0
    rows = re.findall(r"(good|bad)\s+([0-9.]+)\s+(good|bad)$", out, flags=re.M)
    assert len(rows) == 10 and all(true == predicted for true, _, predicted in rows)
    assert sorted(float(p) > 0.5 for true, p, _ in rows if true == "good") == [True] * 5
    model, x, y = house_classification.train(epochs=150, learning_rate=0.1, seed=1)
    assert np.array_equal(np.argmax(model.predict(x), axis=1), y)
    np.testing.assert_allclose(x, standardize(TABLE))


# --- gender ------------------------------------------------------------------------------------
def test_gender_network_learns_emily_and_frank(capsys):
    assert gender.main(["--epochs", "1000", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert number_after("Emily:", out) > 0.9
    assert number_after("Frank:", out) < 0.1
    assert number_after("Epoch 900 loss:", out) < number_after("Epoch 0 loss:", out)


@pytest.mark.parametrize("seed", [1, 2])
def test_gender_training_is_per_sample_sgd_and_repeatable(seed):
    model, history = gender.train(epochs=1000, learning_rate=0.1, seed=seed)
    assert model.optimizer.iterations == 4000  # one update per person per epoch
    again, _ = gender.train(epochs=1000, learning_rate=0.1, seed=seed)
    p, q = gender.predict(model, gender.NEWCOMERS), gender.predict(again, gender.NEWCOMERS)
    assert p == q
    assert p["Emily"] > 0.9 and p["Frank"] < 0.1


# --- MNIST -------------------------------------------------------------------------------------
def test_mnist_example_trains_tests_and_saves(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("FASTNN_DATA_DIR", shared_datasets())
    path = tmp_path / "digits.npz"
    argv = ["--samples", "3000", "--test-samples", "1000", "--epochs", "2", "--verbose", "0", "--device", "cpu",
            "--save", str(path)]
    assert mnist_example.main(argv) == 0
    out = capsys.readouterr().out
    accuracy = number_after("test accuracy:", out)
    assert accuracy > 0.8
    (_, _), (x_test, y_test) = mnist.load_data()
    loaded = fnn.load_model(path)
    _, again = loaded.evaluate(x_test[:1000].astype(np.float32) / 255, y_test[:1000], verbose=0)
    assert round(again, 4) == accuracy


@pytest.mark.parametrize("example, title", [(mnist_example, "MNIST"), (fashion_example, "Fashion-MNIST")])
def test_missing_data_is_a_clear_message_and_exit_status_1(capsys, monkeypatch, tmp_path, example, title):
    monkeypatch.setenv("FASTNN_DATA_DIR", str(tmp_path / "empty"))
    assert example.main(["--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert f"the {title} data is not available" in err and "--data-dir" in err
    assert example.main(["--data-dir", str(tmp_path)]) == 1
    assert "lacks train-images-idx3-ubyte.gz" in capsys.readouterr().err


def idx_gz(array):
    """gzip-compressed IDX bytes of a uint8 array."""
    magic = 2051 if array.ndim == 3 else 2049
    return gzip.compress(struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.tobytes(), mtime=0)


def test_fashion_mnist_example_runs_on_files_it_finds(capsys, monkeypatch, tmp_path):
    """Fashion-MNIST is not on these machines: small look-alike files, their hashes substituted."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 300), ("test", 100)):
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        images = rng.integers(0, 40, (n, 28, 28), dtype=np.uint8)
        for image, label in zip(images, labels):
            image[2 * label:2 * label + 3] += 200  # class k: a bright band at rows 2k..2k+2
        arrays["x_" + split], arrays["y_" + split] = images, labels
    hashes = {}
    for role, array in arrays.items():
        data = idx_gz(array)
        (tmp_path / fashion_mnist.FILES[role]).write_bytes(data)
        hashes[fashion_mnist.FILES[role]] = _idx.Digest("sha256", "gz", hashlib.sha256(data).hexdigest())
    monkeypatch.setattr(fashion_mnist, "HASHES", hashes)
    argv = ["--data-dir", str(tmp_path), "--epochs", "5", "--verbose", "0", "--device", "cpu"]
    assert fashion_example.main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("Fashion-MNIST test loss:") and number_after("test accuracy:", out) > 0.9


# --- running as python -m ----------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_every_example_runs_as_a_module(name, capsys, monkeypatch):
    monkeypatch.delitem(sys.modules, f"fastnn.examples.{name}")  # run it afresh, as python -m does
    monkeypatch.setattr(sys, "argv", [name, "--help"])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module(f"fastnn.examples.{name}", run_name="__main__")
    assert exit_.value.code == 0
    assert "--epochs" in capsys.readouterr().out


def test_module_exit_status_is_nonzero_without_data(capsys, monkeypatch, tmp_path):
    monkeypatch.delitem(sys.modules, "fastnn.examples.fashion_mnist")
    monkeypatch.setattr(sys, "argv", ["fashion_mnist", "--data-dir", str(tmp_path)])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module("fastnn.examples.fashion_mnist", run_name="__main__")
    assert exit_.value.code == 1
    assert "Fashion-MNIST data is not available" in capsys.readouterr().err


def test_mnist_on_cuda_without_a_gpu_is_one_line_on_stderr_and_status_2(tmp_path, monkeypatch, capsys):
    """No traceback: the example says why in one line (here CUDA is made unavailable, simulator or not)."""
    from fastnn.backends import cuda_api
    monkeypatch.setattr(cuda_api, "simulated", lambda: False)
    monkeypatch.setattr(cuda_api, "real_gpu", lambda: False)
    status = mnist_example.main(["--device", "cuda", "--samples", "10", "--verbose", "0"])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("error: device='cuda' needs an NVIDIA GPU") and err.count("\n") == 1
