"""The BLAS behind the dense layers: `gemm`, called from compiled code, and how many threads
it (SciPy's OpenBLAS) may use while fastnn's loop runs.

`gemm` calls Numba's own BLAS helper (numba_xxgemm, which finds SciPy's sgemm/dgemm) directly:
np.dot compiles three layout variants, copies for non-contiguous operands and a formatted
shape error, which cost a cold start about 0.7 s; the kernels size their operands themselves.

Small GEMMs gain little from a second thread, and a multithreaded BLAS on a busy 2-core
machine busy-waits: an MNIST epoch at batch 32 measured 5-6x slower with one core taken by
another process. So the loop gives BLAS one thread unless its GEMMs are large (config), and
restores the library's setting afterwards. Libraries it cannot find are left alone.
"""

import contextlib
import ctypes
import functools
import os

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array

from ... import config

_BYTE, _SIZE, _PTR = ir.IntType(8), cgutils.intp_t, cgutils.voidptr_t
# int numba_xxgemm(kind, transa, transb, m, n, k, *alpha, *a, lda, *b, ldb, *beta, *c, ldc): column-major xgemm
_XXGEMM = ir.FunctionType(ir.IntType(32), [_BYTE, _BYTE, _BYTE, _SIZE, _SIZE, _SIZE, _PTR, _PTR, _SIZE,
                                           _PTR, _SIZE, _PTR, _PTR, _SIZE])


@intrinsic
def gemm(typingctx, a, trans_a, b, trans_b, out):
    """out = op(a) @ op(b), op transposing when its flag is set: 2-D C arrays of one float type, sizes unchecked."""
    arrays = (a, b, out)
    if not (all(isinstance(t, types.Array) and t.ndim == 2 and t.layout == "C" for t in arrays)
            and a.dtype == b.dtype == out.dtype and a.dtype in (types.float32, types.float64)
            and isinstance(trans_a, types.Boolean) and isinstance(trans_b, types.Boolean)):
        return None
    import scipy.linalg.cython_blas  # noqa: F401  (numba_xxgemm looks its functions up there)

    def codegen(context, builder, sig, args):
        x, y, z = (make_array(sig.args[i])(context, builder, args[i]) for i in (0, 2, 4))
        tx, ty = args[1], args[3]
        rows_x, cols_x = cgutils.unpack_tuple(builder, x.shape, 2)
        cols_y = cgutils.unpack_tuple(builder, y.shape, 2)[1]
        m, n = cgutils.unpack_tuple(builder, z.shape, 2)
        k = builder.select(tx, rows_x, cols_x)
        one = ir.Constant(_SIZE, 1)

        def lead(extent):  # BLAS wants a leading dimension of at least 1
            return builder.select(builder.icmp_signed(">", extent, one), extent, one)

        def trans(flag):
            return builder.select(flag, ir.Constant(_BYTE, ord("t")), ir.Constant(_BYTE, ord("n")))

        def pointer(value):
            return builder.bitcast(value, _PTR)

        def scalar(value):
            return pointer(cgutils.alloca_once_value(builder, context.get_constant(sig.args[0].dtype, value)))

        kind = ir.Constant(_BYTE, ord("s" if sig.args[0].dtype == types.float32 else "d"))
        fn = cgutils.get_or_insert_function(builder.module, _XXGEMM, "numba_xxgemm")
        # row-major out = op(a) op(b) is column-major out^T = op(b)^T op(a)^T, and a row-major
        # matrix's memory is its transpose in column-major: so b goes first, flags unchanged
        builder.call(fn, (kind, trans(ty), trans(tx), n, m, k, scalar(1.0), pointer(y.data), lead(cols_y),
                          pointer(x.data), lead(cols_x), scalar(0.0), pointer(z.data), lead(n)))
        return context.get_dummy_value()
    return types.none(a, trans_a, b, trans_b, out), codegen


@functools.lru_cache(maxsize=None)
def _controls():
    """[(get, set)] thread-count functions of every OpenBLAS loaded in this process."""
    import scipy.linalg.cython_blas  # noqa: F401  (loads the BLAS gemm calls)
    found = []
    for path in _loaded_libraries():
        if "openblas" not in os.path.basename(path).lower():
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas", ""), ("scipy_openblas", "64_"), ("openblas", "")):
            get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
            put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
            if get is not None and put is not None:
                get.restype, put.argtypes = ctypes.c_int, [ctypes.c_int]
                found.append((get, put))
                break
    return found


def _loaded_libraries():
    """Paths of the shared libraries mapped into this process (Linux; elsewhere none)."""
    try:
        with open("/proc/self/maps") as maps:
            return sorted({line.split()[-1] for line in maps if ".so" in line})
    except OSError:
        return []


def controllable():
    """True when fastnn can set the BLAS library's thread count (an OpenBLAS it found)."""
    return bool(_controls())


def threads_for(largest_gemm):
    """1 when the loop's largest GEMM (multiply-adds per call) is small, else None (library default)."""
    return 1 if largest_gemm < config.BLAS_PARALLEL_MIN_MACS else None


@contextlib.contextmanager
def limited(threads):
    """Run the block with BLAS limited to `threads` (None: unchanged)."""
    controls = _controls() if threads is not None else []
    before = [get() for get, _ in controls]
    for _, put in controls:
        put(threads)
    try:
        yield
    finally:
        for (_, put), n in zip(controls, before):
            put(n)
