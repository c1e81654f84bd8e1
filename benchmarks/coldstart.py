"""The tutorial flow in a fresh process, cold (empty NUMBA_CACHE_DIR) and then warm: where the first run's time goes.

    python -m benchmarks.coldstart               # cold then warm, one table
    python -m benchmarks.coldstart --profile     # also the compilations that took longest (cold run)

The flow is the README's: import, Sequential(Flatten, Dense(128, relu), Dense(10, softmax)),
compile(adam, sparse categorical cross-entropy, accuracy), fit one epoch of the training set at
batch 32, evaluate and predict on the 10,000 test images. Each phase is timed inside the child;
"process" is the child's whole wall time as its parent sees it (interpreter start included).
`--then-float64` adds a float64 model after the float32 one in the same process.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from benchmarks.probe import ROOT

def flow(samples, then_float64=False):
    """Run the tutorial flow here; {phase: seconds}."""
    times = {}
    t0 = time.perf_counter()
    import fastnn as fnn
    from fastnn import layers
    times["import"] = time.perf_counter() - t0

    def timed(name, fn):
        t = time.perf_counter()
        out = fn()
        times[name] = times.get(name, 0.0) + time.perf_counter() - t
        return out

    (x, y), (xt, yt) = timed("data", fnn.datasets.mnist.load_data)
    x, y, xt, yt = x[:samples] / 255.0, y[:samples], xt / 255.0, yt

    def build(dtype):
        return fnn.Sequential([layers.Flatten(input_shape=(28, 28)), layers.Dense(128, activation="relu"),
                               layers.Dense(10, activation="softmax")], dtype=dtype)

    for dtype in ["float32"] + (["float64"] if then_float64 else []):
        suffix = "" if dtype == "float32" else " float64"
        model = timed("Sequential" + suffix, lambda: build(dtype))
        timed("compile" + suffix, lambda: model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                                                        metrics=["accuracy"]))
        timed("fit" + suffix, lambda: model.fit(x, y, epochs=1, batch_size=32, verbose=0))
        times["accuracy" + suffix] = timed("evaluate" + suffix, lambda: model.evaluate(xt, yt, verbose=0))[1]
        timed("predict" + suffix, lambda: model.predict(xt))
    return times


def compile_profile(top):
    """Install Numba's compile-event recorder; return a function listing the `top` costliest compilations.

    Each entry is (seconds excluding nested compilations, seconds including them, function, signature).
    """
    from numba.core import event
    recorder = event.RecordingListener()
    event.register("numba:compile", recorder)

    def report():
        spans, stack = [], []
        for ts, ev in recorder.buffer:
            if ev.is_start:
                stack.append((ts, ev, []))
                continue
            start, begin, children = stack.pop()
            total = ts - start
            data = begin.data or {}
            name = getattr(data.get("dispatcher"), "py_func", None)
            name = f"{name.__module__}.{name.__qualname__}" if name else str(data.get("dispatcher"))
            spans.append((total - sum(children), total, name, str(data.get("args"))[:120]))
            if stack:
                stack[-1][2].append(total)
        return sorted(spans, reverse=True)[:top]
    return report


def run_child(cache_dir, samples, profile, then_float64):
    """The flow in a fresh interpreter on cache_dir; its result dict with the whole process's wall time."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    cmd = [sys.executable, "-m", "benchmarks.coldstart", "--child", "--samples", str(samples)]
    cmd += (["--profile"] if profile else []) + (["--then-float64"] if then_float64 else [])
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process"] = wall
    return result


def cold_and_warm(samples=60_000, profile=False, then_float64=False):
    """(cold result, warm result): two fresh processes sharing one new, empty Numba cache."""
    with tempfile.TemporaryDirectory(prefix="fastnn-coldstart-") as cache:
        return (run_child(cache, samples, profile, then_float64),
                run_child(cache, samples, False, then_float64))


def table(cold, warm):
    """Markdown rows: each phase cold and warm."""
    keys = [k for k in cold if k not in ("profile", "accuracy") and not k.startswith("accuracy")]
    lines = ["| phase | cold cache (s) | warm cache (s) |", "|---|---|---|"]
    lines += [f"| {k} | {cold[k]:.2f} | {warm.get(k, float('nan')):.2f} |" for k in keys]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.coldstart", description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60_000, help="training samples (default: all 60,000)")
    parser.add_argument("--profile", action="store_true", help="list the costliest compilations of the cold run")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--then-float64", action="store_true", help="a float64 model after the float32 one")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        report = compile_profile(args.top) if args.profile else None
        result = flow(args.samples, args.then_float64)
        if report:
            result["profile"] = report()
        print(json.dumps(result))
        return
    cold, warm = cold_and_warm(args.samples, args.profile, args.then_float64)
    print(table(cold, warm))
    for exclusive, total, name, sig in cold.get("profile", []):
        print(f"{exclusive:7.2f} s alone {total:7.2f} s with callees  {name}{sig}")


if __name__ == "__main__":
    main()
