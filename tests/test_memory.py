"""Host buffers start on a cache line (backends/cpu/memory.py): the kernels' vector loads and stores of a weight
row must not straddle two lines, whatever NumPy's allocator returns."""

import numpy as np
import pytest

import fastnn as fnn
from fastnn import config, layers
from fastnn.backends import cpu
from fastnn.backends.cpu import memory, planner


def _on_a_line(a):
    return a.ctypes.data % memory.LINE == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
@pytest.mark.parametrize("shape", [(0,), (1,), (7,), (3, 5), (1000, 33)])
def test_allocations_start_on_a_line_with_the_asked_shape(shape, dtype):
    for a in (memory.empty(shape, dtype), memory.zeros(shape, dtype)):
        assert a.shape == shape and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
        assert _on_a_line(a) or a.size == 0
    assert not memory.zeros(shape, dtype).any()


def test_aligned_copies_only_what_is_off_a_line():
    raw = np.arange(40, dtype=np.float32)
    off = raw[1:33] if _on_a_line(raw) else raw[:32]  # (one of the two is off a line: 4 bytes apart)
    if _on_a_line(off):
        off = raw[1:33]
    copied = memory.aligned(off)
    assert copied is not off and _on_a_line(copied) and np.array_equal(copied, off)
    assert memory.aligned(copied) is copied
    transposed = memory.copy(raw.reshape(5, 8)).T  # on a line, but not C-contiguous
    assert memory.aligned(transposed).flags.c_contiguous and np.array_equal(memory.aligned(transposed), transposed)


def test_padded_rounds_up_to_whole_lines():
    assert [memory.padded(n, 4) for n in (0, 1, 16, 17)] == [0, 16, 16, 32]
    assert [memory.padded(n, 8) for n in (1, 8, 9)] == [8, 8, 16]


@pytest.mark.parametrize("parts", [1, 2])
def test_a_fit_runs_on_buffers_that_start_on_lines(monkeypatch, parts):
    """Parameters, gradients (each split part's too), optimizer state and the work area, as the loop gets them."""
    monkeypatch.setattr(config, "CPU_PLANS", "timed")
    monkeypatch.setattr(config, "PLAN_MIN_MACS", 0)
    monkeypatch.setattr(planner, "candidates", lambda *args: [planner.Plan(True, 1, parts)] * 2)
    planner.forget()
    seen, real = [], cpu._run

    def run(task, net, slots, *args, **kwargs):
        seen.append([net.params, net.grads, slots, args[11].work])  # (args[11]: the workspace)
        return real(task, net, slots, *args, **kwargs)
    monkeypatch.setattr(cpu, "_run", run)
    rng = np.random.default_rng(0)
    x = (rng.random((192, 24)) * (rng.random((192, 24)) < 0.3)).astype(np.float32)  # (12 steps: planned)
    model = fnn.Sequential([layers.Input((24,)), layers.Dense(16, activation="relu"), layers.Dense(3)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, rng.integers(0, 3, 192), batch_size=16, epochs=1, verbose=0)
    planner.forget()
    assert seen and all(_on_a_line(a) for arrays in seen for a in arrays)
    assert len({a.ctypes.data for arrays in seen for a in arrays[1:2]}) == parts  # (each part its own gradient)
