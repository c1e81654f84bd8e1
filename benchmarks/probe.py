"""Fresh-process measurements: the first epoch (compilation included) against a steady one, and peak memory.

`python -m benchmarks.probe --impl fastnn` trains a few epochs in this process and prints one
JSON line. `run_probe` launches it with its own NUMBA_CACHE_DIR: a new empty folder gives a
cold compile cache, a second run with the same folder a warm one.
"""

import argparse
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _status_mb(field):
    """A memory field of /proc/self/status (kB there) in MiB, or None off Linux."""
    try:
        with open("/proc/self/status") as f:
            line = next(line for line in f if line.startswith(field + ":"))
    except (OSError, StopIteration):
        return None
    return int(line.split()[1]) / 1024


def current_rss_mb():
    """Resident memory of this process now, in MiB."""
    return _status_mb("VmRSS")


def peak_rss_mb():
    """Peak resident memory of this process, in MiB.

    VmHWM belongs to this program's address space; getrusage's ru_maxrss would also count the
    parent's, since Linux carries it across fork and exec.
    """
    peak = _status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(impl, samples, batch, epochs, widths, synthetic):
    """Time imports, model construction and each epoch; report memory around the fit."""
    t0 = time.perf_counter()
    from benchmarks import data, workloads
    import_s = time.perf_counter() - t0
    x, y = data.synthetic(samples, widths[0], widths[-1]) if synthetic else data.take(data.mnist(), samples)
    t0 = time.perf_counter()
    run = workloads.epoch_fn(impl, widths, x, y, batch, standalone=True)
    build_s = time.perf_counter() - t0
    rss_before = current_rss_mb()
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    steady = sorted(times[1:])[len(times[1:]) // 2] if epochs > 1 else None
    return {"impl": impl, "samples": len(x), "batch": batch, "import_s": import_s, "build_s": build_s,
            "first_epoch_s": times[0], "steady_epoch_s": steady, "data_mb": (x.nbytes + y.nbytes) / 2**20,
            "rss_before_fit_mb": rss_before, "peak_rss_mb": peak_rss_mb()}


def run_probe(impl, cache_dir=None, samples=10_000, batch=128, epochs=2, widths=(784, 128, 10),
              synthetic=False, timeout=600):
    """Run `measure` in a fresh interpreter (NUMBA_CACHE_DIR=cache_dir when given); its result dict."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    cmd = [sys.executable, "-m", "benchmarks.probe", "--impl", impl, "--samples", str(samples),
           "--batch", str(batch), "--epochs", str(epochs), "--widths", ",".join(map(str, widths))]
    if synthetic:
        cmd.append("--synthetic")
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"probe {' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def cold_and_warm(impl="fastnn", **kwargs):
    """Two fresh processes sharing a new, empty Numba cache: (cold-cache result, warm-cache result)."""
    with tempfile.TemporaryDirectory(prefix="fastnn-numba-cache-") as cache:
        return run_probe(impl, cache, **kwargs), run_probe(impl, cache, **kwargs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", choices=("fastnn", "numpy", "torch", "jax"), default="fastnn")
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--widths", default="784,128,10")
    parser.add_argument("--synthetic", action="store_true", help="random data instead of MNIST")
    args = parser.parse_args(argv)
    widths = [int(w) for w in args.widths.split(",")]
    print(json.dumps(measure(args.impl, args.samples, args.batch, args.epochs, widths, args.synthetic)))


if __name__ == "__main__":
    main()
