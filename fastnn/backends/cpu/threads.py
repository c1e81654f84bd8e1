"""fastnn's own threads: the parts of a split plan (planner.py) run on them, each calling the compiled loop.

The loop releases the GIL (nogil), so the parts run at once. The workers live for the process (made on
first use, made again in a forked child, where the parent's threads do not exist).

A woken worker may be put on the core of the thread that woke it (Linux does so when it expects the waker
to sleep), where it would wait for that thread, spinning at a barrier, for milliseconds: so on Linux each
part starts barred from the core the calling thread is on.
"""

import ctypes
import os
import threading
from concurrent.futures import ThreadPoolExecutor

_pool = {}  # pid -> (the executor made in that process, its number of workers)
_barred = threading.local()  # .cpu: the core this worker thread is barred from now
_getcpu = getattr(ctypes.CDLL(None), "sched_getcpu", None) if hasattr(os, "sched_setaffinity") else None


def _current_cpu():
    """The core this thread runs on now (None where that cannot be asked or set)."""
    return _getcpu() if _getcpu is not None else None


def _bar(cpu, allowed):
    """Keep this thread off core `cpu` (allowed: the cores the process may use)."""
    if cpu is None or getattr(_barred, "cpu", None) == cpu or len(allowed) < 2:
        return
    try:
        os.sched_setaffinity(0, allowed - {cpu})
        _barred.cpu = cpu
    except OSError:
        pass


def _workers(count):
    """An executor with at least `count` worker threads, for this process."""
    pool, size = _pool.get(os.getpid(), (None, 0))
    if size < count:
        if pool is not None:
            pool.shutdown(wait=False)
        pool, size = _pool[os.getpid()] = ThreadPoolExecutor(max_workers=count, thread_name_prefix="fastnn-part"), count
    return pool


def run_parts(fn, parts, abort):
    """[fn(0), ..., fn(parts - 1)], run at once: part 0 on this thread, the others on fastnn's workers.

    When a part raises, abort() is called (it must release parts waiting for that one), and the first
    exception is raised once every part has returned.
    """
    home, allowed = _current_cpu(), os.sched_getaffinity(0) if _getcpu is not None else set()

    def guarded(p):
        try:
            if p > 0:
                _bar(home, allowed)
            return fn(p)
        except BaseException:
            abort()
            raise
    futures = [_workers(parts - 1).submit(guarded, p) for p in range(1, parts)]
    results, failure = [], None
    for p, future in [(0, None)] + list(enumerate(futures, 1)):
        try:
            results.append(guarded(p) if future is None else future.result())
        except BaseException as exc:  # noqa: PERF203 (each part's failure is kept: the first is raised)
            failure = failure or exc
    if failure is not None:
        raise failure
    return results
