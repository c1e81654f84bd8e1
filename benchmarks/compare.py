"""fastnn against NumPy (and PyTorch and JAX when importable), interleaved in one process: a markdown table.

    python -m benchmarks.compare                 # full run on MNIST, 5 repeats
    python -m benchmarks.compare --quick         # 10k samples, 3 repeats
    python -m benchmarks.compare --write BENCHMARKS.md

Each scenario builds every implementation from the same initial weights, warms each once
(compilation is never timed), then times them in turn, rotating the order every repeat, and
reports medians. Ratios are opponent / fastnn: above 1 means fastnn is faster (or smaller).
The fresh-process rows (first epoch, peak memory) come from `benchmarks.probe` subprocesses.
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata

EPOCHS = [((784, 128, 10), 32), ((784, 128, 10), 128), ((784, 128, 10), 1024),
          ((784, 512, 512, 10), 128), ((784, 1024, 10), 128)]
RUNNING_EPOCHS = [((784, 128, 10), 32), ((784, 128, 10), 128)]  # fastnn: an epoch inside a running fit
PREDICT_BATCHES = (32, 1024)
MARKER = "<!-- generated above by benchmarks/compare.py; hand-written notes below are kept -->\n"
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k training samples, 3 repeats")
    parser.add_argument("--repeats", type=int, help="timed runs per implementation (default 5, quick 3)")
    parser.add_argument("--samples", type=int, help="training samples per epoch (default 60000, quick 10000)")
    parser.add_argument("--impls", default="fastnn,numpy,torch,jax", help="comma-separated; missing ones are skipped")
    parser.add_argument("--threads", type=int, help="BLAS/Numba/torch threads (default: the libraries' own)")
    parser.add_argument("--no-probes", action="store_true", help="skip the fresh-process rows")
    parser.add_argument("--synthetic", action="store_true", help="random data of MNIST's shape (no dataset needed)")
    parser.add_argument("--gemm-size", type=int, default=2048, help="n of the n^3 GEMM yardstick")
    parser.add_argument("--write", metavar="PATH", help="also write the report (machine + tables) to PATH")
    args = parser.parse_args(argv)
    args.repeats = args.repeats or (3 if args.quick else 5)
    args.samples = args.samples or (10_000 if args.quick else 60_000)
    return args


def chosen_impls(names):
    """The requested implementations that can run here, and the skipped ones."""
    from benchmarks import opponents
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    ok = [n for n in wanted if n in ("fastnn", "numpy") or n in opponents.available()]
    return ok, [n for n in wanted if n not in ok]


SETTLE = 0.2  # seconds between timed calls: the previous library's idle threads stop spinning (OpenBLAS: ~0.1 s)


def interleaved(fns, repeats):
    """Median seconds per implementation: one warm-up each, then `repeats` rounds in rotating order.

    Each timed call starts SETTLE seconds after the previous one, so that no library runs beside the threads
    another left spinning. A call's wall time counts, unless it returns workloads.Measured seconds of its own.
    """
    from benchmarks.workloads import Measured
    for fn in fns.values():
        fn()
    names = list(fns)
    times = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            time.sleep(SETTLE)
            t0 = time.perf_counter()
            result = fns[name]()
            times[name].append(result if isinstance(result, Measured) else time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def timed_rows(impls, args, train, test):
    """(label, widths, samples or None, {impl: median s}) for every epoch and predict scenario."""
    from benchmarks import workloads
    x, y = train
    rows = []
    for widths, batch in EPOCHS:
        label = f"epoch {'-'.join(map(str, widths))}, batch {batch} (s)"
        fns = {impl: workloads.epoch_fn(impl, widths, x, y, batch) for impl in impls}
        rows.append((label, widths, len(x), interleaved(fns, args.repeats)))
        print(f"  {label}: done", file=sys.stderr, flush=True)
    for widths, batch in RUNNING_EPOCHS:
        label = f"epoch inside a running fit, {'-'.join(map(str, widths))}, batch {batch} (s)"
        fns = {impl: workloads.running_epoch_fn(impl, widths, x, y, batch) for impl in impls}
        rows.append((label, widths, len(x), interleaved(fns, args.repeats)))
        print(f"  {label}: done", file=sys.stderr, flush=True)
    for batch in PREDICT_BATCHES:
        label = f"predict {len(test[0])} samples, batch {batch} (s)"
        fns = {impl: workloads.predict_fn(impl, (784, 128, 10), test[0], batch) for impl in impls}
        rows.append((label, None, None, interleaved(fns, max(args.repeats, 5))))
    return rows


def probe_rows(impls, samples, synthetic=False):
    """Fresh-process rows: first epoch (cold and warm Numba cache for fastnn) vs steady, and peak RSS."""
    from benchmarks import probe
    results = {}
    for impl in impls:
        if impl == "fastnn":
            cold, warm = probe.cold_and_warm("fastnn", samples=samples, synthetic=synthetic)
            results["fastnn"] = warm
        else:
            results[impl] = probe.run_probe(impl, samples=samples, synthetic=synthetic)
        print(f"  probe {impl}: done", file=sys.stderr, flush=True)
    first = {impl: r["first_epoch_s"] for impl, r in results.items()}
    rows = []
    if "fastnn" in impls:
        rows.append(("fresh process, first epoch, cold Numba cache (s)", {"fastnn": cold["first_epoch_s"]}))
    rows += [("fresh process, first epoch, warm cache (s)", first),
             ("fresh process, steady second epoch (s)", {i: r["steady_epoch_s"] for i, r in results.items()}),
             ("fresh process, model build (s)", {i: r["build_s"] for i, r in results.items()}),
             ("fresh process, imports (s)", {i: r["import_s"] for i, r in results.items()}),
             ("peak RSS of the fit (MiB)", {i: r["peak_rss_mb"] for i, r in results.items()})]
    data_mb = next(iter(results.values()))["data_mb"]
    return rows, data_mb


def fmt(value):
    if value is None:
        return "–"
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}"


def markdown_table(rows, impls):
    """Rows of (label, {impl: value}) as a table with opponent / fastnn ratios."""
    opponents = [i for i in impls if i != "fastnn"]
    head = ["scenario"] + impls + [f"{o} / fastnn" for o in opponents if "fastnn" in impls]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, values in rows:
        cells = [label] + [fmt(values.get(i)) for i in impls]
        if "fastnn" in impls:
            base = values.get("fastnn")
            cells += [f"{values[o] / base:.2f}x" if base and values.get(o) else "–" for o in opponents]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def gflops_table(timed, impls, gemm):
    """Achieved GEMM GFLOP/s of every training epoch, and its share of the machine's GEMM rate."""
    from benchmarks.workloads import epoch_flops
    lines = ["| epoch | " + " | ".join(f"{i} GFLOP/s" for i in impls) + " |", "|" + "---|" * (len(impls) + 1)]
    for label, widths, n, values in timed:
        if widths is None:
            continue
        rates = [epoch_flops(widths, n) / values[i] / 1e9 for i in impls]
        lines.append(f"| {label.replace(' (s)', '')} | " +
                     " | ".join(f"{r:.1f} ({100 * r / gemm:.0f}%)" for r in rates) + " |")
    return "\n".join(lines)


def machine(load_before):
    """One markdown list describing the CPU, the load and the library versions."""
    import numba
    import numpy as np
    import scipy
    model = next((line.split(":", 1)[1].strip() for line in _run(["lscpu"]).splitlines()
                  if line.startswith("Model name")), platform.processor())
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    versions = [f"Python {platform.python_version()}", f"NumPy {np.__version__}", f"Numba {numba.__version__}",
                f"SciPy {scipy.__version__}", f"BLAS {blas.get('name')} {blas.get('version')}"]
    for name in ("torch", "jax"):
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    threads = ", ".join(f"{v}={os.environ[v]}" for v in THREAD_VARS if v in os.environ) or "libraries' defaults"
    return (f"- CPU: {model}, {os.cpu_count()} cores (`lscpu`); threads: {threads}\n"
            f"- {', '.join(versions)}\n- load average (1 min): {load_before:.2f} before the run, "
            f"{os.getloadavg()[0]:.2f} after it (the run itself adds about {os.cpu_count()})")


def _run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def report(args, impls, skipped, timed, probes, gemm):
    """The whole markdown report."""
    rows = [(label, values) for label, _, _, values in timed]
    parts = [f"Training samples per epoch: {args.samples}; medians of {args.repeats} interleaved runs. "
             f"Skipped (not importable or not asked for): {', '.join(skipped) or 'none'}.", "",
             markdown_table(rows, impls)]
    if probes:
        probe_table, data_mb = probes
        parts += ["", f"Fresh processes (`benchmarks.probe`, {args.samples} samples, batch 128, float32 data "
                  f"{data_mb:.0f} MiB; the warm-cache row is a second process on the same Numba cache):", "",
                  markdown_table(probe_table, impls)]
    parts += ["", f"Achieved training GFLOP/s (GEMM flops only) and share of the float32 GEMM rate "
              f"({gemm:.1f} GFLOP/s, NumPy float32 {args.gemm_size}^3, best of 6):", "",
              gflops_table(timed, impls, gemm)]
    return "\n".join(parts)


def main(argv=None):
    args = parse_args(argv)
    load_before = os.getloadavg()[0]
    if args.threads:
        os.environ.update({v: str(args.threads) for v in THREAD_VARS})
        if args.threads == 1:  # XLA's CPU client reads no thread-count variable; this turns its pool off
            os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                       " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    from benchmarks import data
    from benchmarks.gemm import gemm_gflops
    impls, skipped = chosen_impls(args.impls)
    if args.threads and "torch" in impls:
        import torch
        torch.set_num_threads(args.threads)
    print(f"implementations: {', '.join(impls)}; skipped: {', '.join(skipped) or 'none'}", file=sys.stderr)
    if args.synthetic:
        train, test = data.synthetic(args.samples), data.synthetic(min(args.samples, 10_000), seed=1)
    else:
        train, test = data.take(data.mnist("train"), args.samples), data.mnist("test")
    gemm = gemm_gflops(args.gemm_size)
    timed = timed_rows(impls, args, train, test)
    probes = None if args.no_probes else probe_rows(impls, args.samples, args.synthetic)
    gemm = max(gemm, gemm_gflops(args.gemm_size))
    text = report(args, impls, skipped, timed, probes, gemm)
    print(text)
    if args.write:
        write_report(args.write, text, load_before)
    return 0


def write_report(path, tables, load_before):
    """Write the generated document to path, keeping any hand-written text after MARKER."""
    kept = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
        kept = old.split(MARKER, 1)[1] if MARKER in old else ""
    with open(path, "w") as f:
        f.write(document(tables, load_before) + "\n" + MARKER + kept)


def document(tables, load_before):
    """BENCHMARKS.md: how the numbers were made, the machine, and the tables."""
    return f"""# Benchmarks

fastnn against the plain-NumPy baseline (`fastnn/baseline.py`, a vectorised implementation of the
same network with preallocated buffers, in-place updates and a fused softmax + cross-entropy
gradient), and against PyTorch (CPU, eager) and JAX (the whole epoch under `lax.scan`) where
installed. Every implementation trains the same network from the same weights on MNIST with
Adam and sparse categorical cross-entropy, shuffling every epoch and gathering each batch.
The "epoch" rows time one `fit(epochs=1)` call, so fastnn pays there for what every `fit` does
first: checking x and indexing its nonzeros. The opponents convert their arrays once, outside
the timed call; the "epoch inside a running fit" rows are the like-for-like comparison: fastnn's
second epoch of `fit(epochs=2)`, timed by a callback.

Reproduce: `python -m benchmarks.compare --write BENCHMARKS.md` (this table), or
`pytest benchmarks/ --benchmark-only` (the pytest-benchmark suites, kernels and scaling included).
The machine is shared: timings taken while other processes run are noisy, and multithreaded BLAS
on 2 busy cores slows down sharply, so compare ratios from one table, not numbers across tables.

## Machine

{machine(load_before)}

## Results

{tables}
"""


if __name__ == "__main__":
    sys.exit(main())
