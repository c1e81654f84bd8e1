"""Compiling the CPU entry points and kernels before their first call, on every core, with a notice.

A process compiles each entry point and kernel (jit.KERNELS) once per float type, or loads it
from Numba's on-disk cache. A model needs the entry points and the kernels of `needed()`: every
kernel but those of the other losses, optimizers, metrics and layer kinds. Numba compiles one function at a
time, so on a miss the work is shared out between this process and helper processes, one per
further core, each writing what it compiled to the cache: kernels, and in the first helper the
entry points too (they call the kernels through slots, so they compile without them: see jit.py).
This process then loads the kernels, puts their addresses in their slots and loads the entry
points. A helper that fails costs only time: whatever is missing is compiled here.

Then one helper compiles the kernels no model has needed yet into the cache, in the background
at the lowest priority, so that the next model (another loss, optimizer or metric) loads them
instead of compiling them.

With verbose on, a compilation is announced before it starts and timed when it ends; a cache
hit prints nothing. The cache check reads Numba's cache index (private API): if that ever
fails, the notice is printed as for a miss and no helper is started.
"""

import functools
import os
import signal
import subprocess
import sys
import time
import warnings

import numba
import numpy as np

from ... import config
from . import jit, loop, losses, normalization, optimizers
from . import metrics as metrics_kernels
from .dense import nonzero_index_into
from .split import SPLIT_ONLY


def _run_args(dtype):
    """Arguments of the types fit, evaluate and predict pass to loop.run (see cpu/__init__.py's _run)."""
    f, i8, i4, f8 = (lambda *shape: np.empty(shape, dtype)), (lambda *s: np.empty(s, np.int64)), \
        np.empty(0, np.int32), (lambda *s: np.empty(s, np.float64))
    return (0, i8(0, 0), f8(0, 0), f(0), f(0), f(0, 0), 0, f8(0, 0), 0.0, i8(0, 0), 0, 0, 0.0, 0, i8(0, 0), f(0, 0),
            f(0, 0), i8(0), i4, f(0), i8(0), 0, 0, 0, 0, 0, f(0), i8(0), i8(0), i4, f8(0), f(0, 0), 0, 0, i8(0),
            f(0, 0))


def entry_points(dtype):
    """[(dispatcher, argument types)] of every CPU entry point a fit, evaluate or predict calls."""
    calls = [(loop.run, _run_args(dtype)),
             (nonzero_index_into, (np.empty((0, 0), dtype), np.empty(0, np.int64), np.empty(0, np.int32),
                                   np.empty(0, dtype)))]
    return [(dispatcher, tuple(dispatcher.typeof_pyval(a) for a in args)) for dispatcher, args in calls]


def kernels(dtype, chosen=None):
    """[(dispatcher, argument types)] of the kernels (`chosen` ones, else all) for float type dtype."""
    float_type = numba.from_dtype(np.dtype(dtype))
    return [(k.compiled, jit.argument_types(k.kinds, float_type)) for k in (jit.KERNELS if chosen is None else chosen)]


def needed(loss=None, optimizer=None, metrics=(), kinds=(), split=False):
    """The kernels a model calls, as a tuple: all but those picked by a loss, optimizer, metric or layer step
    code, or used by split plans only, and its own loss's ((code, mode), when it evaluates or trains),
    optimizer's (its code, when it trains), metrics' (codes) and layer steps' (the plan's kinds), and the split
    plans' (when split). Remembered: every compiled call asks."""
    return _needed(None if loss is None else (int(loss[0]), int(loss[1])),
                   None if optimizer is None else int(optimizer),
                   frozenset(int(code) for code in metrics), frozenset(int(kind) for kind in kinds), bool(split))


@functools.lru_cache(maxsize=None)
def _needed(loss, optimizer, metrics, kinds, split):
    chosen = set(losses.CHOSEN_BY_CODE) | set(optimizers.CHOSEN_BY_CODE) | set(metrics_kernels.CHOSEN_BY_CODE) | \
        set(normalization.CHOSEN_BY_CODE) | set(SPLIT_ONLY)
    picked = [k for code in metrics for k in metrics_kernels.kernels_for(code)] + \
        [k for kind in kinds for k in normalization.kernels_for(kind)] + (SPLIT_ONLY if split else [])
    return tuple([k for k in jit.KERNELS if k not in chosen] + (losses.kernels_for(*loss) if loss else [])
                 + (optimizers.kernels_for(optimizer) if optimizer is not None else [])
                 + list(dict.fromkeys(picked)))


_ready = set()  # float types whose entry points are loaded
_loaded = set()  # (float type, needed() tuple) whose kernels are loaded too: prepare() has nothing to do
_background = {}  # float type -> the helper compiling the kernels not needed yet
_cached = set()  # (dispatcher, sig) found in Numba's cache on disk


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
    return min(config.cores(), 4)


def _name(dispatcher):
    """How a helper's command line names a kernel."""
    return f"{dispatcher.py_func.__module__}.{dispatcher.py_func.__qualname__}"


ENTRY_POINTS = "entry-points"  # a helper's job name for entry_points()
BACKGROUND = "background"  # a helper's job name for: at the lowest priority
FORK = sys.platform.startswith("linux")  # helpers are forks of this process (see _start_helper)
STARTUP = 0.0 if FORK else 0.2  # a helper's start-up, as a share of its equal part of the work


def share_out(jobs, parts, entry_points_cost=0):
    """Split [(dispatcher, sig)] into `parts` lists of similar compile cost (bytecode size stands in for it).

    The first list is this process's: where helpers are new interpreters (not forks), it starts while
    they are still importing, so it takes more. With entry_points_cost, the second list starts with
    the ENTRY_POINTS job of that cost.
    """
    cost = [len(d.py_func.__code__.co_code) for d, _ in jobs]
    loads = [0.0] + [STARTUP * sum(cost) / parts] * (parts - 1)  # a helper's start-up, in the same units
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
    """A process compiling jobs for dtype into the cache: a fork of this one on Linux (it starts compiling at
    once, numba already imported), else a new interpreter (see helper_main)."""
    if FORK:
        return _ForkedHelper(dtype, jobs)
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([package_root] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    if numba.config.CACHE_DIR:  # (set in code, not only in the environment: the helpers must write there too)
        env["NUMBA_CACHE_DIR"] = numba.config.CACHE_DIR
    code = "from fastnn.backends.cpu import compiling; compiling.helper_main()"
    names = [job if isinstance(job, str) else _name(job[0]) for job in jobs]
    return subprocess.Popen([sys.executable, "-c", code, np.dtype(dtype).name] + names,
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class _ForkedHelper:
    """A forked child compiling jobs into the cache, waited for as a subprocess.Popen with stderr=PIPE is.

    The child only compiles and writes cache files, then leaves with os._exit (no atexit handlers,
    no second flush of inherited buffers); its stderr goes to the parent for _finish's warning.
    """

    def __init__(self, dtype, jobs):
        read, write = os.pipe()
        with warnings.catch_warnings():  # Python 3.12+ warns when forking with threads (BLAS's idle pool here)
            warnings.simplefilter("ignore", DeprecationWarning)
            self.pid = os.fork()
        if self.pid == 0:  # stdin and stdout closed: whoever reads this process's output gets its EOF when it exits
            os.close(read)
            quiet = os.open(os.devnull, os.O_RDWR)
            os.dup2(quiet, 0)
            os.dup2(quiet, 1)
            os.dup2(write, 2)
            # new stream objects: the inherited ones (Jupyter's, say) may hold a lock another thread had at the fork
            sys.stdout, sys.stderr = open(1, "w", buffering=1, closefd=False), open(2, "w", buffering=1, closefd=False)
            status = 0
            try:
                compile_jobs(dtype, jobs)
            except BaseException as exc:
                os.write(2, f"\n{type(exc).__name__}: {exc}\n".encode(errors="replace"))
                status = 1
            os._exit(status)
        os.close(write)
        self.stderr, self.returncode = os.fdopen(read, "rb"), None

    def communicate(self, timeout=None):
        """Wait for the child (timeout is not enforced: a fork cannot hang on a start-up); (None, its stderr)."""
        err = self.stderr.read()
        self.stderr.close()
        self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        return None, err

    def kill(self):
        if self.returncode is None:
            os.kill(self.pid, signal.SIGKILL)


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


def compile_jobs(dtype, jobs):
    """Compile jobs ((dispatcher, sig) or ENTRY_POINTS) for dtype into the cache, in a helper process."""
    for job in jobs:
        if job == BACKGROUND and hasattr(os, "nice"):
            os.nice(19)  # yields the core to whatever runs: the model's training, above all
        elif job not in (ENTRY_POINTS, BACKGROUND):
            job[0].compile(job[1])
    if ENTRY_POINTS in jobs:
        for dispatcher, sig in entry_points(dtype):
            dispatcher.compile(sig)


def helper_main():
    """Entry point of a helper interpreter: argv is the float type, then the names of the jobs to compile."""
    dtype, names = np.dtype(sys.argv[1]), set(sys.argv[2:])
    jobs = [(d, sig) for d, sig in kernels(dtype) if _name(d) in names]
    compile_jobs(dtype, [job for job in (BACKGROUND, ENTRY_POINTS) if job in names] + jobs)


def _compile_in_parallel(dtype, jobs, entry_points_missing):
    """Compile [(dispatcher, sig)] jobs for dtype (and the entry points when missing), shared out between this
    process and helpers."""
    processes = min(_processes(), max(1, len(jobs) + entry_points_missing))
    # weighed so a helper that compiles the entry points (1.6 s on this project's 2-core VM, against 3.7 s
    # for all kernels) finishes with this process (measured)
    entry_cost = 0.55 * sum(len(d.py_func.__code__.co_code) for d, _ in kernels(dtype)) if entry_points_missing else 0
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


def publish(dtype, chosen=None):
    """Load (or compile) the kernels (`chosen` ones, else all) for dtype and put their addresses in their slots."""
    for call in jit.KERNELS if chosen is None else chosen:
        jit.publish(call, numba.from_dtype(np.dtype(dtype)))


def prepare(dtype, verbose, chosen=None):
    """Compile (or load) the entry points and kernels (`chosen` ones, else all: see needed()) for dtype now;
    announce a compilation when verbose. Then compile the rest in the background."""
    dtype = np.dtype(dtype)
    if (dtype, chosen) in _loaded:
        return
    float_type = numba.from_dtype(dtype)
    todo = [k for k in (jit.KERNELS if chosen is None else chosen) if not jit.published(k, float_type)]
    if dtype in _ready and not todo:
        _loaded.add((dtype, chosen))
        return
    entries_known = dtype in _ready
    entries = [] if entries_known else [(d, sig) for d, sig in entry_points(dtype) if sig not in d.overloads]
    cold = _cold(entries + kernels(dtype, todo))
    if verbose and cold:
        where = next((path for _, _, path in cold if path), None)
        print(f"Compiling fastnn's CPU kernels for {dtype.name} (first run only"
              + (f"; cached in {where}" if where else "") + ")...", flush=True)
    start = time.perf_counter()
    if cold and dtype in _background:  # it may be compiling these: let it finish, then see what is left
        _finish(_background.pop(dtype))
        cold = _cold(entries + kernels(dtype, todo))
    if cold and all(path for _, _, path in cold):  # cached to disk: helpers can hand their work over
        _compile_in_parallel(dtype, [(d, sig) for d, sig, _ in cold if (d, sig) not in entries],
                             sum((d, sig) in entries for d, sig, _ in cold))
    publish(dtype, todo)  # before the entry points load: they call these kernels
    for call in jit.KERNELS:  # and their code refers to every kernel's slot (not typed here when loaded from the cache)
        jit.slot(call, float_type)
    for dispatcher, sig in entries:
        dispatcher.compile(sig)
    _ready.add(dtype)
    if verbose and cold:
        print(f"... compiled in {time.perf_counter() - start:.1f} s", flush=True)
    if not entries_known and chosen is not None:
        _compile_the_rest_in_background(dtype)


def available(dtype, chosen):
    """True when the `chosen` kernels for dtype are loaded or in Numba's cache on disk: no compiling to wait for."""
    return not _cold(kernels(dtype, [k for k in chosen if not jit.published(k, numba.from_dtype(np.dtype(dtype)))]))


def _cold(jobs):
    """[(dispatcher, sig, cache folder)] of the jobs neither loaded nor in the on-disk cache."""
    out = []
    for d, sig in jobs:
        if sig not in d.overloads and (d, sig) not in _cached:
            hit, path = _on_disk(d, sig)
            if hit:
                _cached.add((d, sig))  # (a fit asks before each epoch: reading the index takes about 1 ms)
            else:
                out.append((d, sig, path))
    return out


def _compile_the_rest_in_background(dtype):
    """Start a helper compiling, at the lowest priority, the kernels for dtype that are not in the cache yet."""
    rest = _cold(kernels(dtype))
    if rest and _processes() > 1 and dtype not in _background and all(path for _, _, path in rest):
        _background[dtype] = _start_helper(dtype, [BACKGROUND] + [(d, sig) for d, sig, _ in rest])
