"""Compiling the CPU entry points before their first call, on every core, with a notice while that happens.

A process compiles each entry point and kernel (jit.KERNELS) once per float type, or loads it
from Numba's on-disk cache. Numba compiles one function at a time, so on a miss the work is
shared out between this process and helper processes, one per further core, each writing what
it compiled to the cache: kernels, and in the first helper the entry points too (they call the
kernels by address, so they compile without them: see jit.py). This process then loads the
kernels, publishes their addresses and loads the entry points. A helper that fails costs only
time: whatever is missing is compiled here.

With verbose on, a compilation is announced before it starts and timed when it ends; a cache
hit prints nothing. The cache check reads Numba's cache index (private API): if that ever
fails, the notice is printed as for a miss and no helper is started.
"""

import os
import subprocess
import sys
import time
import warnings

import numba
import numpy as np

from ... import config
from . import jit, loop
from .dense import nonzero_index_into


def _run_args(dtype):
    """Arguments of the types fit, evaluate and predict pass to loop.run (see cpu/__init__.py's _run)."""
    f, i8, i4, f8 = (lambda *shape: np.empty(shape, dtype)), (lambda *s: np.empty(s, np.int64)), \
        np.empty(0, np.int32), (lambda *s: np.empty(s, np.float64))
    return (0, i8(0, 0), f8(0, 0), f(0), f(0), f(0, 0), 0, f8(0), 0.0, i8(0, 0), 0, 0, 0.0, i8(0), f(0, 0), f(0, 0),
            i8(0), i4, i8(0), 0, 0, 0, 0, 0, f(0), i8(0), i8(0), i4, f8(0), f(0, 0))


def entry_points(dtype):
    """[(dispatcher, argument types)] of every CPU entry point a fit, evaluate or predict calls."""
    calls = [(loop.run, _run_args(dtype)),
             (nonzero_index_into, (np.empty((0, 0), dtype), np.empty(0, np.int64), np.empty(0, np.int32)))]
    return [(dispatcher, tuple(dispatcher.typeof_pyval(a) for a in args)) for dispatcher, args in calls]


def kernels(dtype):
    """[(dispatcher, argument types)] of every kernel the entry points call, for float type dtype."""
    float_type = numba.from_dtype(np.dtype(dtype))
    return [(k.compiled, jit.argument_types(k.kinds, float_type)) for k in jit.KERNELS]


_ready = set()  # float types whose kernels and entry points are loaded


def _on_disk(dispatcher, sig):
    """(True when Numba's cache holds dispatcher's code for sig, the cache folder or None)."""
    try:
        cache = dispatcher._cache
        key = cache._index_key(sig, dispatcher.targetctx.codegen())
        return key in cache._cache_file._load_index(), cache._cache_path
    except Exception:  # a Numba without these internals: treat as a miss
        return False, None


def _processes():
    """How many processes may compile at once: config.COMPILE_PROCESSES, else this process's cores (at most 4)."""
    if config.COMPILE_PROCESSES:
        return max(1, int(config.COMPILE_PROCESSES))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(cores, 4)


def _name(dispatcher):
    """How a helper's command line names a kernel."""
    return f"{dispatcher.py_func.__module__}.{dispatcher.py_func.__qualname__}"


ENTRY_POINTS = "entry-points"  # a helper's job name for entry_points()


def share_out(jobs, parts, entry_points_cost=0):
    """Split [(dispatcher, sig)] into `parts` lists of similar compile cost (bytecode size stands in for it).

    The first list is this process's: it starts while the helpers are still importing, so it takes
    more. With entry_points_cost, the second list starts with the ENTRY_POINTS job of that cost.
    """
    cost = [len(d.py_func.__code__.co_code) for d, _ in jobs]
    loads = [0.0] + [0.2 * sum(cost) / parts] * (parts - 1)  # a helper's start-up, in the same units
    shares = [[] for _ in range(parts)]
    if entry_points_cost and parts > 1:
        shares[1].append(ENTRY_POINTS)
        loads[1] += entry_points_cost
    for i in sorted(range(len(jobs)), key=lambda i: -cost[i]):
        least = loads.index(min(loads))
        shares[least].append(jobs[i])
        loads[least] += cost[i]
    return shares


def _start_helper(dtype, jobs):
    """A process compiling jobs for dtype into the cache (see helper_main)."""
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([package_root] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    if numba.config.CACHE_DIR:  # (set in code, not only in the environment: the helpers must write there too)
        env["NUMBA_CACHE_DIR"] = numba.config.CACHE_DIR
    code = "from fastnn.backends.cpu import compiling; compiling.helper_main()"
    names = [job if job == ENTRY_POINTS else _name(job[0]) for job in jobs]
    return subprocess.Popen([sys.executable, "-c", code, np.dtype(dtype).name] + names,
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _finish(helper):
    """Wait for a helper; warn (and let this process compile its share) when it failed."""
    try:
        _, err = helper.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        helper.kill()
        _, err = helper.communicate()
    if helper.returncode != 0:
        last = (err or b"").decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        warnings.warn(f"fastnn: a kernel-compiling helper process failed ({last[0]}); this process compiles "
                      "its share instead", RuntimeWarning, stacklevel=3)


def helper_main():
    """Entry point of a helper process: argv is the float type, then the names of the jobs to compile.

    It only fills the cache: the entry points are compiled against placeholder kernel addresses
    (jit.PLACEHOLDERS), since the kernels they call may be compiled by another process.
    """
    dtype, names = np.dtype(sys.argv[1]), set(sys.argv[2:])
    for dispatcher, sig in kernels(dtype):
        if _name(dispatcher) in names:
            dispatcher.compile(sig)
    if ENTRY_POINTS in names:
        jit.PLACEHOLDERS = True
        for dispatcher, sig in entry_points(dtype):
            dispatcher.compile(sig)


def _compile_in_parallel(dtype, entry_points_missing):
    """Compile the kernels (and entry points) not yet cached for dtype, shared out between this process and helpers."""
    jobs = [(d, sig) for d, sig in kernels(dtype) if sig not in d.overloads and not _on_disk(d, sig)[0]]
    processes = min(_processes(), max(1, len(jobs) + entry_points_missing))
    # weighed so a helper that compiles the entry points (1.6 s on this project's 2-core VM, against 3.7 s
    # for all kernels) finishes with this process (measured)
    entry_cost = 0.55 * sum(len(d.py_func.__code__.co_code) for d, _ in jobs) if entry_points_missing else 0
    shares = share_out(jobs, processes, entry_cost if processes > 1 else 0)
    helpers = [_start_helper(dtype, share) for share in shares[1:] if share]
    try:
        for dispatcher, sig in shares[0]:
            dispatcher.compile(sig)
    except BaseException:  # e.g. Ctrl-C: stop the helpers too instead of waiting for them
        for helper in helpers:
            helper.kill()
            helper.communicate()
        raise
    for helper in helpers:
        _finish(helper)


def publish(dtype, module=None):
    """Load (or compile) every kernel for dtype (or only module's) and make its address known to the code
    that calls it."""
    for call in jit.KERNELS:
        if module is None or call.compiled.py_func.__module__ == module.__name__:
            jit.publish(call, numba.from_dtype(np.dtype(dtype)))


def prepare(dtype, verbose):
    """Compile (or load) the kernels and entry points for dtype now; announce a compilation when verbose."""
    dtype = np.dtype(dtype)
    if dtype in _ready:
        return
    missing = [(d, sig) + _on_disk(d, sig) for d, sig in entry_points(dtype) if sig not in d.overloads]
    cold = [path for _, _, hit, path in missing if not hit]
    if verbose and cold:
        where = next((path for path in cold if path), None)
        print(f"Compiling fastnn's CPU kernels for {np.dtype(dtype).name} (first run only"
              + (f"; cached in {where}" if where else "") + ")...", flush=True)
    start = time.perf_counter()
    if cold and all(cold):  # cached to disk: helpers can hand their work over
        _compile_in_parallel(dtype, len(cold))
    publish(dtype)  # before the entry points load: their code calls the kernels by these names
    for dispatcher, sig, _, _ in missing:
        dispatcher.compile(sig)
    _ready.add(dtype)
    if verbose and cold:
        print(f"... compiled in {time.perf_counter() - start:.1f} s", flush=True)
