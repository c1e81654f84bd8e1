"""Every benchmark scenario's code path, once, on tiny shapes: the suites and compare.py cannot rot."""

import os
import pathlib
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import compare, data, gemm, kernels, opponents, probe, workloads  # noqa: E402

WIDTHS = (12, 8, 3)


@pytest.fixture(scope="module")
def tiny():
    return data.synthetic(40, WIDTHS[0], WIDTHS[-1])


@pytest.mark.parametrize("impl", workloads.IMPLS)
def test_epoch_fn_trains(tiny, impl):
    x, y = tiny
    net = workloads.network(impl, WIDTHS)
    before = [w.copy() for w in net.get_weights()]
    run = workloads.epoch_fn(impl, WIDTHS, x, y, batch_size=16)
    losses = [run() for _ in range(2)]
    if impl == "fastnn":
        losses = [h.history["loss"][0] for h in losses]
    assert np.all(np.isfinite(losses))
    after = workloads.network(impl, WIDTHS).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after))  # same seed: same start


def test_running_epoch_fn_reports_fastnn_second_epoch(tiny):
    x, y = tiny
    run = workloads.running_epoch_fn("fastnn", WIDTHS, x, y, batch_size=16)
    seconds = run()
    assert isinstance(seconds, workloads.Measured) and 0 < seconds < 60
    assert not isinstance(workloads.running_epoch_fn("numpy", WIDTHS, x, y, batch_size=16)(), workloads.Measured)


def test_epoch_fn_changes_weights(tiny):
    x, y = tiny
    net = workloads.numpy_network(WIDTHS)
    start = net.params.copy()
    loss = net.train_epoch(x, y, 16, order=np.random.default_rng(0).permutation(len(x)))
    assert np.isfinite(loss) and not np.array_equal(start, net.params)


def test_predict_fns_agree(tiny):
    x, _ = tiny
    out = {impl: workloads.predict_fn(impl, WIDTHS, x, batch_size=16)() for impl in workloads.IMPLS}
    assert out["fastnn"].shape == (len(x), WIDTHS[-1])
    np.testing.assert_allclose(out["fastnn"], out["numpy"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["numpy"].sum(axis=1), 1, rtol=1e-5)


SIZES = {"dense_forward": dict(batch=5, n_in=7, units=4), "dense_backward": dict(batch=5, n_in=7, units=4),
         "softmax_ce": dict(batch=5, classes=4), "adam_step": dict(n_params=33)}


@pytest.mark.parametrize("name", kernels.KERNELS)
def test_kernel_pairs_compute_the_same(name):
    fast, slow = (kernels.kernel_fn(name, impl, **SIZES[name])() for impl in workloads.IMPLS)
    fast, slow = (r if isinstance(r, tuple) else (r,) for r in (fast, slow))
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_epoch_flops_counts_the_gemms():
    # layers 2x3 and 3x4: forward and weight gradients for both, input gradient for the second only
    assert workloads.epoch_flops((2, 3, 4), 10) == 2 * 10 * (2 * (6 + 12) + 12)


def test_gemm_rate_is_positive():
    assert gemm.gemm_gflops(64, repeats=1) > 0
    assert gemm.achieved_gflops(4e9, 2.0) == 2.0


@pytest.mark.parametrize("impl", workloads.IMPLS)
def test_probe_measures_in_process(impl):
    r = probe.measure(impl, samples=64, batch=32, epochs=2, widths=list(WIDTHS), synthetic=True)
    assert r["samples"] == 64 and r["first_epoch_s"] > 0 and r["steady_epoch_s"] > 0
    assert r["peak_rss_mb"] >= r["rss_before_fit_mb"] > r["data_mb"] > 0


def test_probe_runs_in_a_fresh_process(tmp_path):
    r = probe.run_probe("numpy", cache_dir=tmp_path, samples=64, batch=32, epochs=1, widths=WIDTHS, synthetic=True)
    assert r["impl"] == "numpy" and r["steady_epoch_s"] is None and r["peak_rss_mb"] > 0


def test_compare_prints_a_table(capsys):
    argv = ["--synthetic", "--samples", "64", "--repeats", "1", "--no-probes", "--impls", "fastnn,numpy,nothing",
            "--gemm-size", "64"]
    assert compare.main(argv) == 0
    out = capsys.readouterr().out
    assert "| epoch 784-128-10, batch 32 (s) |" in out and "numpy / fastnn" in out
    assert "| epoch inside a running fit, 784-128-10, batch 128 (s) |" in out
    assert "Skipped (not importable or not asked for): nothing" in out


def test_markdown_tables():
    table = compare.markdown_table([("epoch (s)", {"fastnn": 1.0, "numpy": 3.0})], ["fastnn", "numpy", "torch"])
    assert "| epoch (s) | 1 | 3 | – | 3.00x | – |" in table
    rows = [("epoch 2-3-4, batch 1 (s)", (2, 3, 4), 1e9, {"fastnn": 1.0})]
    assert "| epoch 2-3-4, batch 1 | 96.0 (96%) |" in compare.gflops_table(rows, ["fastnn"], 100.0)


def test_interleaved_times_every_implementation():
    calls = []
    result = compare.interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=2)
    assert set(result) == {"a", "b"} and calls == ["a", "b", "a", "b", "b", "a"]
    measured = compare.interleaved({"a": lambda: workloads.Measured(7.0)}, repeats=3)
    assert measured == {"a": 7.0}


@pytest.mark.skipif(os.environ.get("FASTNN_SMOKE_OPPONENTS") != "1",
                    reason="importing torch/jax takes seconds: set FASTNN_SMOKE_OPPONENTS=1 to run")
@pytest.mark.parametrize("impl", opponents.OPTIONAL)
def test_optional_opponents(tiny, impl):
    """compare.py's PyTorch and JAX opponents train and predict (only where installed)."""
    pytest.importorskip(impl)
    x, y = tiny
    weights = workloads.numpy_network(WIDTHS).get_weights()
    opponents.epoch_fn(impl, x, y, 16, weights)()
    out = np.asarray(opponents.predict_fn(impl, x, 16, weights)()[0] if impl == "jax" else
                     opponents.predict_fn(impl, x, 16, weights)())
    assert out.shape[-1] == WIDTHS[-1]


def test_report_keeps_hand_written_notes(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("old tables\n" + compare.MARKER + "\n## Notes\nkept\n")
    compare.write_report(str(path), "| new | table |", load_before=0.5)
    text = path.read_text()
    assert "| new | table |" in text and "## Machine" in text and text.endswith("## Notes\nkept\n")
    assert "old tables" not in text and "0.50 before the run" in text


def test_the_gpu_check_fails_loudly_without_a_gpu(tmp_path):
    """benchmarks/gpu.sh on a machine without a CUDA GPU: exit status 1, a message, no table written."""
    import shutil
    import subprocess
    copy = tmp_path / "repo"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.nbi", "*.nbc"))
    # no driver where numba-cuda is told to look: no GPU, even on a machine with one
    env = dict(os.environ, PYTHON=sys.executable, NUMBA_ENABLE_CUDASIM="1",  # (the script unsets the simulator)
               NUMBA_CUDA_DRIVER=str(tmp_path / "no-libcuda.so"))
    done = subprocess.run(["bash", str(copy / "benchmarks" / "gpu.sh")], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1 and "no CUDA GPU here" in done.stderr, done.stderr[-2000:]
    assert not (copy / "BENCHMARKS-GPU.md").exists()


def test_the_gpu_comparison_runs_its_table_on_the_simulator():
    """benchmarks.gpu's code path (fastnn's rows; PyTorch CUDA is "not available" here) on tiny shapes."""
    from fastnn.backends import cuda_api
    if not cuda_api.simulated():
        pytest.skip("runs on NUMBA_ENABLE_CUDASIM=1 (as .ci/run sets it); on a GPU, benchmarks/gpu.sh runs it")
    from benchmarks import gpu
    text = gpu.table(*data.synthetic(8, 6, 3), [8], (6, 5, 3))
    row = text.splitlines()[-1].split("|")
    assert row[1].strip() == "8" and float(row[2]) > 0 and float(row[4]) >= 7  # the seven launches of a step


def test_sklearn_compare_table():
    pytest.importorskip("sklearn")
    from benchmarks import sklearn_compare
    table = sklearn_compare.rows(300, repeats=1)
    assert len(table) == 3 and all(sk > 0 and ours > 0 and ratio > 0 for _, sk, ours, ratio, _ in table)
    assert sklearn_compare.markdown(table).count("\n| ") == 4
