"""Dense layer kernels: z = x W + b and its backward pass, by BLAS or over the CSR form of x's nonzeros.

The loop applies the activation (and its derivative) between these calls, so one compiled copy
of the activation code serves every layer kind; the CUDA twins fuse it into their GEMM epilogue.

The CSR kernels' inner loops over a sample's nonzeros, add_rows and scatter_rows, are written in
LLVM IR (below the kernels, in this file so that editing them invalidates the kernels' cache too).
Compiled from Python, `o[j] += v * w[p, j]` re-reads and re-writes o for every nonzero, since Numba
cannot tell LLVM that o and w's rows never overlap, and checks that at run time before every row. The
IR holds up to eight 64-byte vectors of o (128 float32 columns) in registers while it adds every
nonzero's weight row: per nonzero, one vector load and one fused multiply-add for each. Rows wider
than _HELD_BYTES take the Numba loops, which stream four weight rows at a time.
"""

import contextlib

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array

from .blas import gemm
from .jit import inlined, kernel, njit
from .memory import LINE
from .views import flat


@kernel("F2 F2 F1 b F2")
def dense_forward(x, w, b, has_bias, out):
    """out = x @ w + b (the caller applies the activation in place); the GEMM goes to BLAS."""
    gemm(x, False, w, False, out)
    if has_bias:
        for r in range(out.shape[0]):
            for j in range(out.shape[1]):
                out[r, j] += b[j]


@kernel("F2 F2 F2 F2 F1 b F2 b")
def dense_backward(x, w, g, dw, db, has_bias, dx, want_dx):
    """From g = dL/dz (the caller applied the activation's derivative): dw = x^T g, db = sum_rows g, dx = g w^T."""
    gemm(x, True, g, False, dw)
    if has_bias:
        db[:] = 0
        for r in range(g.shape[0]):
            for j in range(g.shape[1]):
                db[j] += g[r, j]
    if want_dx:
        gemm(g, False, w, True, dx)


@njit
def nonzero_index_into(x, indptr, indices, values):
    """Fill the CSR form of x's nonzeros (indptr (n+1,), column indices, values), counting on from indptr[0].

    The kernels read each sample's values in order from `values` rather than scattered over x's
    rows: a fifth of the memory traffic (MNIST) and no cache misses a prefetcher cannot foresee.
    Returns how many rows fit in `indices` and `values` (x.shape[0] when all did): the caller,
    which allocates (see cpu/__init__.py), grows the arrays and calls again on the rows left.
    """
    n, d = x.shape
    zero = x.dtype.type(0)
    k = indptr[0]
    for r in range(n):
        if k + d > min(indices.size, values.size):  # the fill below may write up to d slots before it tests
            return r
        xr = x[r]
        for p in range(d):  # branch-free compaction: write every p, advance only past nonzeros
            indices[k] = p
            values[k] = xr[p]
            k += xr[p] != zero
        indptr[r + 1] = k
    return n


@kernel("F1 I1 I1 J1 F2 F1 b F2")
def dense_forward_csr(values, rows, indptr, indices, w, b, has_bias, out):
    """out = x[rows] @ w + b over x's nonzeros only, given as CSR (indptr, indices, values).

    For mostly-zero inputs (MNIST pixels: 81% zeros) this is a fifth of a GEMM's work and
    gathers no batch; dense inputs take the BLAS path (dense_forward) instead.
    """
    zero = out.dtype.type(0)
    held = out.shape[1] * out.itemsize <= _HELD_BYTES
    for s in range(rows.size):
        _prefetch_sample(rows, s + _AHEAD, indptr, indices, values)
        r, o = rows[s], out[s]
        for j in range(o.size):
            o[j] = b[j] if has_bias else zero
        if held:
            add_rows(o, w, indices, values, indptr[r], indptr[r + 1])
            continue
        q, hi = indptr[r], indptr[r + 1]
        while q + 4 <= hi:  # a wide row: four weight rows per pass over o (a quarter of the loads and stores of o)
            p0, p1, p2, p3 = indices[q], indices[q + 1], indices[q + 2], indices[q + 3]
            v0, v1, v2, v3 = values[q], values[q + 1], values[q + 2], values[q + 3]
            w0, w1, w2, w3 = w[p0], w[p1], w[p2], w[p3]
            for j in range(o.size):
                o[j] += v0 * w0[j] + v1 * w1[j] + v2 * w2[j] + v3 * w3[j]
            q += 4
        while q < hi:
            v, wp = values[q], w[indices[q]]
            for j in range(o.size):
                o[j] += v * wp[j]
            q += 1


@kernel("F1 I1 I1 J1 F2 F2 F1 b")
def dense_backward_csr(values, rows, indptr, indices, g, dw, db, has_bias):
    """Backward of dense_forward_csr from g = dL/dz: dw = x[rows]^T g over nonzero inputs, db = sum g."""
    zero = dw.dtype.type(0)
    whole = flat(dw)
    for i in range(whole.size):
        whole[i] = zero
    held = g.shape[1] * g.itemsize <= _HELD_BYTES
    for s in range(rows.size):
        _prefetch_sample(rows, s + _AHEAD, indptr, indices, values)
        r, gs = rows[s], g[s]
        if held:
            scatter_rows(dw, gs, indices, values, indptr[r], indptr[r + 1])
            continue
        for q in range(indptr[r], indptr[r + 1]):  # a wide row: streamed
            v, dwp = values[q], dw[indices[q]]
            for j in range(gs.size):
                dwp[j] += v * gs[j]
    if has_bias:
        for j in range(db.size):
            db[j] = zero
        for s in range(g.shape[0]):
            for j in range(db.size):
                db[j] += g[s, j]


@inlined
def _prefetch_sample(rows, s, indptr, indices, values):
    """Ask for sample rows[s]'s indices and values (when there is one) before they are read.

    A shuffled batch's samples lie anywhere in the whole data's CSR arrays (tens of MB): without this,
    each sample's first reads wait on main memory, a fifth of an MNIST training step.
    """
    if s < rows.size:
        r = rows[s]
        prefetch(indices, indptr[r], indptr[r + 1])
        prefetch(values, indptr[r], indptr[r + 1])


_AHEAD = 4  # samples: how far ahead _prefetch_sample asks (2 to 8 ran alike on MNIST)
_BLOCK = 8  # 64-byte vectors of the running sum held in registers at once (as many chains of multiply-adds)
# The widest rows (bytes) the CSR kernels hold in registers, in passes of _BLOCK vectors over a sample's nonzeros:
# 1024 float32 columns (8 passes) ran 1.3x slower than the Numba loops' streaming; up to 512, as fast or faster
_HELD_BYTES = 4 * _BLOCK * 64
_CONTRACT = ("contract",)  # lets LLVM fuse a multiply and an add into one FMA where the CPU has it


def _rows_ok(row, matrix, indices, values):
    """True when the arguments are what add_rows and scatter_rows take (1-D and 2-D C arrays of one float type,
    int32 indices, values of that float type)."""
    arrays = (row, matrix, indices, values)
    return (all(isinstance(a, types.Array) and a.layout == "C" for a in arrays) and row.ndim == values.ndim == 1
            and matrix.ndim == 2 and indices.ndim == 1 and indices.dtype == types.int32
            and row.dtype == matrix.dtype == values.dtype and row.dtype in (types.float32, types.float64))


def _column_blocks(builder, n, size, emit):
    """Call emit(start, count, vtype, width) for blocks of columns covering 0..n-1 (each block is a pass over the
    nonzeros): blocks of _BLOCK vectors of 64 bytes, then at most one of 4, 2 and 1 such vectors, and of half,
    a quarter, ... of one, down to one float. vtype: the type of the block's `count` pieces, `width` floats
    each; size: the float's bytes. (128 float32 columns, say, are one block; 100 are blocks of 64, 32 and 4.)"""
    float_type = ir.FloatType() if size == 4 else ir.DoubleType()
    lanes = 64 // size
    widths = [lanes >> k for k in range(lanes.bit_length())]  # lanes, lanes / 2, ..., 1
    stages = [(_BLOCK, lanes)] + [(c, lanes) for c in (8, 4, 2, 1) if c < _BLOCK] + [(1, w) for w in widths[1:]]
    start = ir.Constant(n.type, 0)
    for count, width in stages:
        vtype = ir.VectorType(float_type, width) if width > 1 else float_type
        step = ir.Constant(n.type, count * width)
        blocks = builder.udiv(builder.sub(n, start), step)
        with cgutils.for_range(builder, blocks) as loop:
            emit(builder.add(start, builder.mul(loop.index, step)), count, vtype, width)
        start = builder.add(start, builder.mul(blocks, step))


def _pieces(builder, base, start, count, vtype, width):
    """Pointers to the `count` pieces of type vtype at base[start:], width floats apart."""
    return [builder.bitcast(builder.gep(base, [builder.add(start, ir.Constant(start.type, i * width))]),
                            vtype.as_pointer()) for i in range(count)]


@contextlib.contextmanager
def _each_nonzero(builder, idx, val, lo, hi, vtype, stride):
    """A loop over positions lo..hi-1: the block's code is its body, given (the offset of the nonzero's row:
    index * stride, its value splatted to vtype)."""
    with cgutils.for_range_slice(builder, lo, hi, ir.Constant(lo.type, 1)) as (q, _):
        p = builder.sext(builder.load(builder.gep(idx, [q])), stride.type)
        v = builder.load(builder.gep(val, [q]))
        if isinstance(vtype, ir.VectorType):
            v = builder.shuffle_vector(builder.insert_element(ir.Constant(vtype, ir.Undefined), v,
                                                              ir.Constant(ir.IntType(32), 0)),
                                       ir.Constant(vtype, ir.Undefined),
                                       ir.Constant(ir.VectorType(ir.IntType(32), vtype.count), [0] * vtype.count))
        yield builder.mul(p, stride), v


def _row_op(row_at, make_block, a, b, indices, values, lo, hi):
    """The typing and code of an intrinsic (a, b, indices, values, lo, hi) over a sample's nonzeros at positions
    lo..hi-1 of (indices, values), where a or b (row_at) is a 1-D row and the other a 2-D matrix of its width: its
    code is make_block(builder, row, matrix, each, size)'s for _column_blocks (`each` opens _each_nonzero's loop).
    None when the arguments do not fit."""
    row, matrix = (a, b) if row_at == 0 else (b, a)
    if not (_rows_ok(row, matrix, indices, values) and isinstance(lo, types.Integer) and isinstance(hi, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        vec, mat, idx, val = (make_array(sig.args[i])(context, builder, args[i]) for i in (row_at, 1 - row_at, 2, 3))
        q0, q1 = (context.cast(builder, args[i], sig.args[i], types.intp) for i in (4, 5))
        n, stride = cgutils.unpack_tuple(builder, vec.shape, 1)[0], cgutils.unpack_tuple(builder, mat.shape, 2)[1]
        size = context.get_abi_sizeof(context.get_data_type(sig.args[row_at].dtype))

        def each(vtype):
            return _each_nonzero(builder, idx.data, val.data, q0, q1, vtype, stride)
        _column_blocks(builder, n, size, make_block(builder, vec.data, mat.data, each, size))
        return context.get_dummy_value()
    return types.none(a, b, indices, values, lo, hi), codegen


@intrinsic
def add_rows(typingctx, out, w, indices, values, lo, hi):
    """out += values[q] * w[indices[q]] summed over q = lo..hi-1 (out: one 1-D row of w's width; no bounds checked)."""
    return _row_op(0, _add_block, out, w, indices, values, lo, hi)


@intrinsic
def scatter_rows(typingctx, dw, g, indices, values, lo, hi):
    """dw[indices[q]] += values[q] * g for q = lo..hi-1 (g: one 1-D row of dw's width; no bounds checked)."""
    return _row_op(1, _scatter_block, dw, g, indices, values, lo, hi)


@intrinsic
def prefetch(typingctx, a, lo, hi):
    """Prefetch the cache lines of a[lo:hi] for reading (a: a 1-D C array; a hint, so no bounds checked)."""
    if not (isinstance(a, types.Array) and a.ndim == 1 and a.layout == "C" and isinstance(lo, types.Integer)
            and isinstance(hi, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        data = make_array(sig.args[0])(context, builder, args[0]).data
        q0, q1 = (context.cast(builder, args[i], sig.args[i], types.intp) for i in (1, 2))
        i8p, i32, i64 = ir.IntType(8).as_pointer(), ir.IntType(32), ir.IntType(64)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                            "llvm.prefetch.p0i8")
        first = builder.ptrtoint(builder.gep(data, [q0]), i64)
        span = builder.sub(builder.ptrtoint(builder.gep(data, [q1]), i64), first)
        line_bytes = ir.Constant(i64, LINE)
        lines = builder.udiv(builder.add(span, ir.Constant(i64, 2 * LINE - 1)), line_bytes)  # (first unaligned)
        with cgutils.for_range(builder, lines) as loop:
            line = builder.inttoptr(builder.add(first, builder.mul(loop.index, line_bytes)), i8p)
            # (read; locality 1: to L2, not L1, where a sample's indices and values would push out weight rows:
            # the MNIST forward ran 10% faster than with 3, "keep in every level")
            builder.call(fn, [line, ir.Constant(i32, 0), ir.Constant(i32, 1), ir.Constant(i32, 1)])
        return context.get_dummy_value()
    return types.none(a, lo, hi), codegen


def _add_block(builder, out, w, each, size):
    """add_rows' code for a block: its columns of out held in registers over the nonzeros, then stored."""
    def block(start, count, vtype, width):
        targets = _pieces(builder, out, start, count, vtype, width)
        sums = [cgutils.alloca_once(builder, vtype) for _ in targets]  # (registers, once LLVM promotes them)
        for total, ptr in zip(sums, targets):
            builder.store(builder.load(ptr, align=size), total)
        with each(vtype) as (offset, v):
            for total, ptr in zip(sums, _pieces(builder, w, builder.add(offset, start), count, vtype, width)):
                product = builder.fmul(v, builder.load(ptr, align=size), flags=_CONTRACT)
                builder.store(builder.fadd(builder.load(total), product, flags=_CONTRACT), total)
        for total, ptr in zip(sums, targets):
            builder.store(builder.load(total), ptr, align=size)
    return block


def _scatter_block(builder, g, dw, each, size):
    """scatter_rows' code for a block: its columns of g held in registers, added into each nonzero's row of dw."""
    def block(start, count, vtype, width):
        held = [builder.load(ptr, align=size) for ptr in _pieces(builder, g, start, count, vtype, width)]
        with each(vtype) as (offset, v):
            for piece, ptr in zip(held, _pieces(builder, dw, builder.add(offset, start), count, vtype, width)):
                product = builder.fmul(v, piece, flags=_CONTRACT)
                builder.store(builder.fadd(builder.load(ptr, align=size), product, flags=_CONTRACT), ptr, align=size)
    return block
