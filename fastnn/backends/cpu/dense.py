"""Dense layer kernels: z = x W + b and its backward pass, by BLAS or over a CSR index of x's nonzeros.

The loop applies the activation (and its derivative) between these calls, so one compiled copy
of the activation code serves every layer kind; the CUDA twins fuse it into their GEMM epilogue.
"""

import numpy as np

from .blas import gemm
from .jit import kernel, njit


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
def nonzero_index_into(x, indptr, indices):
    """Fill the CSR index of x's nonzeros (indptr (n+1,), column indices), counting on from indptr[0].

    Returns how many rows fit in `indices` (x.shape[0] when all did): the caller, which
    allocates (see cpu/__init__.py), grows the array and calls again on the rows left.
    """
    n, d = x.shape
    zero = x.dtype.type(0)
    k = indptr[0]
    for r in range(n):
        if k + d > indices.size:  # the fill below may write up to d slots before it tests
            return r
        xr = x[r]
        for p in range(d):  # branch-free compaction: write every p, advance only past nonzeros
            indices[k] = p
            k += xr[p] != zero
        indptr[r + 1] = k
    return n


@kernel("F2 I1 I1 J1 F2 F1 b F2")
def dense_forward_csr(x, rows, indptr, indices, w, b, has_bias, out):
    """out = x[rows] @ w + b over the nonzero inputs only, reading the batch in place.

    For mostly-zero inputs (MNIST pixels: 81% zeros) this is a fifth of a GEMM's work and
    copies nothing; dense inputs take the BLAS path (dense_forward) instead.
    """
    zero = out.dtype.type(0)
    n = out.shape[1]
    for s in range(rows.size):
        r = rows[s]
        xr = x[r]
        o = out[s]
        for j in range(n):
            o[j] = b[j] if has_bias else zero
        q, hi = indptr[r], indptr[r + 1]
        while q + 4 <= hi:  # four weight rows per pass over o: a quarter of the loads and stores of o
            p0, p1, p2, p3 = indices[q], indices[q + 1], indices[q + 2], indices[q + 3]
            v0, v1, v2, v3 = xr[p0], xr[p1], xr[p2], xr[p3]
            w0, w1, w2, w3 = w[p0], w[p1], w[p2], w[p3]
            for j in range(n):
                o[j] += v0 * w0[j] + v1 * w1[j] + v2 * w2[j] + v3 * w3[j]
            q += 4
        while q < hi:
            p = indices[q]
            v, wp = xr[p], w[p]
            for j in range(n):
                o[j] += v * wp[j]
            q += 1


@kernel("F2 I1 I1 J1 F2 F2 F1 b I1")
def dense_backward_csr(x, rows, indptr, indices, g, dw, db, has_bias, touched):
    """Backward of dense_forward_csr from g = dL/dz: dw = x[rows]^T g over nonzero inputs, db = sum g.

    A row of dw is zeroed when the batch first touches it (while it is hot in cache), and the
    rows no sample touches are zeroed at the end, instead of clearing all of dw up front.
    `touched` is scratch space of at least dw.shape[0] entries.
    """
    zero = dw.dtype.type(0)
    n = g.shape[1]
    for p in range(dw.shape[0]):
        touched[p] = 0
    for s in range(rows.size):
        r = rows[s]
        xr = x[r]
        gs = g[s]
        for q in range(indptr[r], indptr[r + 1]):
            p = indices[q]
            v, dwp = xr[p], dw[p]
            if touched[p] == 0:
                touched[p] = 1
                for j in range(n):
                    dwp[j] = v * gs[j]
            else:
                for j in range(n):
                    dwp[j] += v * gs[j]
    for p in range(dw.shape[0]):
        if touched[p] == 0:
            dwp = dw[p]
            for j in range(n):
                dwp[j] = zero
    if has_bias:
        for j in range(n):
            db[j] = zero
        for s in range(g.shape[0]):
            for j in range(n):
                db[j] += g[s, j]
