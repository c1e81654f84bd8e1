"""fastnn against NumPy while other processes keep all cores but one busy: a markdown table.

    python -m benchmarks.busy [--samples 20000] [--repeats 3]

Each implementation first trains an epoch on the quiet machine (fastnn chooses its plans there:
backends/cpu/planner.py); then one spinning process per core but one starts, and the epochs are
timed again, interleaved (compare.interleaved). A plan that used every core would now fight the
spinners (multithreaded BLAS measured 4-6x slower so): the table shows whether fastnn noticed.
"""

import argparse
import contextlib
import subprocess
import sys

from benchmarks.compare import fmt, interleaved

SCENARIOS = [((784, 128, 10), 32), ((784, 128, 10), 128), ((784, 512, 512, 10), 128)]


@contextlib.contextmanager
def busy_cores(count):
    """count processes spinning on the CPU for the duration of the block."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for p in spinners:
            p.kill()
            p.wait()


def rows(samples, repeats):
    """[(scenario, {impl: quiet s}, {impl: busy s})] for every scenario."""
    from benchmarks import data, workloads
    x, y = data.take(data.mnist("train"), samples)
    from fastnn import config
    cores = config.cores()
    out = []
    for widths, batch in SCENARIOS:
        fns = {impl: workloads.epoch_fn(impl, widths, x, y, batch) for impl in workloads.IMPLS}
        quiet = interleaved(fns, repeats)
        with busy_cores(max(1, cores - 1)):
            busy = interleaved(fns, repeats)
        out.append((f"epoch {'-'.join(map(str, widths))}, batch {batch}", quiet, busy))
        print(f"  {out[-1][0]}: done", file=sys.stderr, flush=True)
    return out


def markdown(table):
    lines = ["| scenario (s per epoch) | fastnn quiet | fastnn busy | numpy quiet | numpy busy | numpy / fastnn busy |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {name} | {fmt(q['fastnn'])} | {fmt(b['fastnn'])} | {fmt(q['numpy'])} | {fmt(b['numpy'])} | "
              f"{b['numpy'] / b['fastnn']:.2f}x |" for name, q, b in table]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20_000, help="MNIST training samples (default 20000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds (default 3)")
    args = parser.parse_args(argv)
    print(markdown(rows(args.samples, args.repeats)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
