"""How the parts of a split training step meet: a barrier over a shared int64 array, from compiled code.

Under a plan with parts > 1 (planner.py), each of `parts` threads runs loop.run on its share of every
batch's samples, and they meet three times a step (see loop.py). The barrier is a counter per part, each
on its own cache line (LINE int64s apart), raised with a release store and read with acquire loads, so
everything a part wrote before arriving is visible to the parts leaving. A part arriving "bad" (a
non-finite loss or gradient) stores an odd value; the others see it and every part stops at that step.
The slot after the parts' lines is the abort flag: set by a part that leaves the loop early, or by
Python when a part's thread fails, it releases every waiting part.

A waiting part spins, then yields its core (sched_yield) while it keeps waiting: on a machine where
another process holds a core, spinning would keep the part it waits for off the CPU.
"""

import ctypes
import sys

import llvmlite.binding as ll
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array

from .jit import inlined, kernel

LINE = 8  # int64s per part's slot: 64 bytes, one cache line
SPINS = 100_000  # loads (about 0.1 ms) before a waiting part starts yielding its core
_YIELD = "fastnn_yield_core"


def _yield_address():
    """The address of the OS call that gives up the rest of this thread's time slice."""
    if sys.platform == "win32":
        return ctypes.cast(ctypes.windll.kernel32.SwitchToThread, ctypes.c_void_p).value
    return ctypes.cast(ctypes.CDLL(None).sched_yield, ctypes.c_void_p).value


ll.add_symbol(_YIELD, _yield_address())


@inlined
def size(parts):
    """Length of the sync array for `parts` parts: their counters and the abort flag (zeros to start)."""
    return (parts + 1) * LINE


def _element(context, builder, array_type, array, index):
    """A pointer to array[index] (an int64 1-D array; no bounds check)."""
    return builder.gep(make_array(array_type)(context, builder, array).data, [index])


@intrinsic
def load_acquire(typingctx, a, i):
    """a[i] read with acquire ordering: what its writer wrote before storing it is visible after."""
    if not (isinstance(a, types.Array) and a.dtype == types.int64 and a.ndim == 1 and isinstance(i, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        ptr = _element(context, builder, sig.args[0], args[0], context.cast(builder, args[1], sig.args[1], types.intp))
        return builder.load_atomic(ptr, "acquire", 8)
    return types.int64(a, i), codegen


@intrinsic
def store_release(typingctx, a, i, v):
    """a[i] = v with release ordering: every write before it is visible to a thread that loads v."""
    if not (isinstance(a, types.Array) and a.dtype == types.int64 and a.ndim == 1 and isinstance(i, types.Integer)
            and isinstance(v, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        ptr = _element(context, builder, sig.args[0], args[0], context.cast(builder, args[1], sig.args[1], types.intp))
        builder.store_atomic(context.cast(builder, args[2], sig.args[2], types.int64), ptr, "release", 8)
        return context.get_dummy_value()
    return types.none(a, i, v), codegen


@intrinsic
def yield_core(typingctx):
    """Give up the rest of this thread's time slice (sched_yield; SwitchToThread on Windows)."""
    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(32), []), _YIELD)
        builder.call(fn, ())
        return context.get_dummy_value()
    return types.none(), codegen


@inlined
def abort(sync, parts):
    """Release every part waiting at a barrier: this part leaves the loop early."""
    store_release(sync, parts * LINE, 1)


@kernel("I1 i i i b -> b")
def barrier(sync, part, parts, arrival, bad):
    """wait(), as the loop calls it (a kernel: compiled only for split plans, called by address)."""
    return wait(sync, part, parts, arrival, bad)


@inlined
def wait(sync, part, parts, arrival, bad):
    """Arrive at barrier number `arrival` (1, 2, ... within a run) and wait for every part: True when a part
    arrived bad there, or the run was aborted. After True, no part may arrive again in this run (each leaves
    the loop): a part's later arrival would overwrite the mark of the bad one."""
    store_release(sync, part * LINE, 2 * arrival + (1 if bad else 0))
    stop = bad
    for other in range(parts):
        spins = 0
        seen = load_acquire(sync, other * LINE)
        while seen < 2 * arrival:
            if load_acquire(sync, parts * LINE) != 0:
                return True
            spins += 1
            if spins > SPINS:
                yield_core()
            seen = load_acquire(sync, other * LINE)
        stop |= seen == 2 * arrival + 1  # higher: that part passed this barrier, so it was not bad here
    return stop
