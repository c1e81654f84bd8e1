"""The decorators of the CPU kernels, so compile options change in one place.

`njit` marks an entry point that Python calls. `kernel` marks a function only compiled code
calls: it is compiled without the CPython and C-callable wrappers, which halves the cost of
compiling a small kernel (a cold start compiles them all). `inlined` marks a kernel that only
picks other kernels by a code and has a single call site: its body is inlined there (Numba IR),
since as a function of its own Numba would optimise and emit machine code for all its callees
once more. Each kernel's `.py` is a twin that Python can call (tests and benchmarks use it):
compiled on its first call and never cached, since Numba's cache files would not tell the two apart.
"""

import functools

import numba

from ... import config

njit = functools.partial(numba.njit, **config.NJIT_OPTIONS)


def kernel(fn, **options):
    """Compile fn for calls from compiled code only; fn.py calls it from Python."""
    dispatcher = numba.njit(no_cpython_wrapper=True, no_cfunc_wrapper=True, **config.NJIT_OPTIONS, **options)(fn)
    dispatcher.py = numba.njit(**{**config.NJIT_OPTIONS, "cache": False})(fn)
    return dispatcher


def inlined(fn):
    """A kernel whose body Numba inlines into its one caller; fn.py calls it from Python."""
    return kernel(fn, inline="always")
