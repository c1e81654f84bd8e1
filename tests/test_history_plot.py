"""History.plot draws the per-epoch curves to an image file (matplotlib, the `plot` extra)."""

import sys

import numpy as np
import pytest

import fastnn as fnn
from fastnn import layers


def trained_history():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3))
    y = (x[:, 0] > 0).astype(float)
    model = fnn.Sequential([layers.Dense(1, activation="sigmoid", input_shape=(3,))])
    model.compile(optimizer=fnn.optimizers.SGD(0.5), loss="binary_crossentropy", metrics=["accuracy"])
    return model.fit(x, y, epochs=3, validation_split=0.25, verbose=0)


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib", reason="the plot extra is not installed")
    path = trained_history().plot(tmp_path / "curves.png")
    data = (tmp_path / "curves.png").read_bytes()
    assert path == tmp_path / "curves.png" and data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_plot_without_matplotlib_says_which_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(RuntimeError, match=r"fastnn\[plot\]"):
        trained_history().plot(tmp_path / "curves.png")
