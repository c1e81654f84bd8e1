"""The two decorators of the CPU kernels, so compile options change in one place.

`njit` marks an entry point that Python calls. `kernel` marks a function only compiled code
calls: it is compiled without the CPython and C-callable wrappers, which halves the cost of
compiling a small kernel (a cold start compiles them all). Each kernel's `.py` is a twin that
Python can call (tests and benchmarks use it): compiled on its first call and never cached,
since Numba's cache files would not tell the two apart.
"""

import functools

import numba

from ... import config

njit = functools.partial(numba.njit, **config.NJIT_OPTIONS)


def kernel(fn):
    """Compile fn for calls from compiled code only; fn.py calls it from Python."""
    dispatcher = numba.njit(no_cpython_wrapper=True, no_cfunc_wrapper=True, **config.NJIT_OPTIONS)(fn)
    dispatcher.py = numba.njit(**{**config.NJIT_OPTIONS, "cache": False})(fn)
    return dispatcher
