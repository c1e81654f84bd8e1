"""Compiling the CPU entry points before their first call, with a notice while that happens.

A process compiles each entry point once per float type, or loads it from Numba's on-disk
cache. A real compilation takes seconds, so with verbose on it is announced before it starts
and timed when it ends; a cache hit prints nothing. The cache check reads Numba's cache index
(private API): if that ever fails, the notice is printed as for a miss.
"""

import time

import numpy as np

from . import loop, random
from .dense import nonzero_index_into


def _run_args(dtype):
    """Arguments of the types fit, evaluate and predict pass to loop.run (see cpu/__init__.py's _run)."""
    f, i8, i4, f8 = (lambda *shape: np.empty(shape, dtype)), (lambda *s: np.empty(s, np.int64)), \
        np.empty(0, np.int32), (lambda *s: np.empty(s, np.float64))
    return (0, i8(0, 0), f8(0, 0), f(0), f(0), f(0, 0), 0, f8(0), 0.0, 0, 0, i8(0), f(0, 0), f(0, 0), i8(0), i4,
            i8(0), 0, 0, 0, 0, 0, f(0), i8(0), i8(0), i4, f8(0), f(0, 0))


def entry_points(dtype):
    """[(dispatcher, example arguments)] of every CPU entry point a fit, evaluate or predict calls."""
    return [(loop.run, _run_args(dtype)), (random.shuffled_order, (0, False)),
            (nonzero_index_into, (np.empty((0, 0), dtype), np.empty(0, np.int64), np.empty(0, np.int32)))]


def signature(dispatcher, args):
    """The argument types Numba compiles dispatcher for when called with args."""
    return tuple(dispatcher.typeof_pyval(a) for a in args)


def _on_disk(dispatcher, sig):
    """(True when Numba's cache holds dispatcher's code for sig, the cache folder or None)."""
    try:
        cache = dispatcher._cache
        key = cache._index_key(sig, dispatcher.targetctx.codegen())
        return key in cache._cache_file._load_index(), cache._cache_path
    except Exception:  # a Numba without these internals: treat as a miss
        return False, None


def prepare(dtype, verbose):
    """Compile (or load) the entry points for dtype now; announce a compilation when verbose."""
    missing = []
    for dispatcher, args in entry_points(np.dtype(dtype)):
        sig = signature(dispatcher, args)
        if sig not in dispatcher.overloads:
            missing.append((dispatcher, sig) + _on_disk(dispatcher, sig))
    announce = verbose and any(not hit for _, _, hit, _ in missing)
    if announce:
        where = next((path for _, _, hit, path in missing if path), None)
        print(f"Compiling fastnn's CPU kernels for {np.dtype(dtype).name} (first run only"
              + (f"; cached in {where}" if where else "") + ")...", flush=True)
    start = time.perf_counter()
    for dispatcher, sig, _, _ in missing:
        dispatcher.compile(sig)
    if announce:
        print(f"... compiled in {time.perf_counter() - start:.1f} s", flush=True)
