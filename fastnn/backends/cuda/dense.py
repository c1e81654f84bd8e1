"""Dense layer kernels, twins of cpu/dense.py: tiled shared-memory GEMMs with fused epilogues.

Three products cover a dense layer: forward x @ W (+ b, activation), weight gradient x^T @ g
(+ bias gradient and kernel regulariser in the same pass) and input gradient g @ W^T (times
the derivative of the activation below). Each block walks TILE x TILE output tiles with a
grid-stride loop; every tile load reads TILE consecutive elements of a row (coalesced).
The first layer reads its input rows through `order` (source_row), so batches are never gathered.
"""

import math

import numpy as np

from ..codes import LINEAR, SOFTMAX
from . import status as st
from .activations import act_grad, activate, activation_backward, softmax_rows
from .device import (THREADS, TILE, TILE_SHAPE, TILE_THREADS, block_add, cuda, dummy, flat, jit, source_row, tiles,
                     to_device)


@jit
def _dense_forward(x, w, b, has_bias, act, out, rows, order, start, gather):
    xs = cuda.shared.array(TILE_SHAPE, x.dtype)
    ws = cuda.shared.array(TILE_SHAPE, w.dtype)
    ty, tx = cuda.threadIdx.y, cuda.threadIdx.x
    n_in, n_out = w.shape[0], w.shape[1]
    zero = out.dtype.type(0)
    col_tiles = (n_out + TILE - 1) // TILE
    n_tiles = (rows + TILE - 1) // TILE * col_tiles
    for t in range(cuda.blockIdx.x, n_tiles, cuda.gridDim.x):
        r = t // col_tiles * TILE + ty
        c = t % col_tiles * TILE + tx
        src = source_row(order, start, gather, r) if r < rows else 0
        acc = zero
        for k0 in range(0, n_in, TILE):
            xs[ty, tx] = x[src, k0 + tx] if r < rows and k0 + tx < n_in else zero
            ws[ty, tx] = w[k0 + ty, c] if k0 + ty < n_in and c < n_out else zero
            cuda.syncthreads()
            for q in range(TILE):
                acc += xs[ty, q] * ws[q, tx]
            cuda.syncthreads()
        if r < rows and c < n_out:
            if has_bias:
                acc += b[c]
            out[r, c] = activate(act, acc, out)


def dense_forward(x, w, b, has_bias, act, out, rows, order, start, gather):
    """out[:rows] = f(x[rows of the batch] @ w + b): one GEMM launch (+ a row-wise one for softmax)."""
    tiles(_dense_forward, rows, w.shape[1], x, w, b, has_bias, act, out, rows, order, start, gather)
    if act == SOFTMAX:
        softmax_rows(out, rows)


@jit
def _weight_grads(x, g, dw, db, has_bias, rows, order, start, gather, w, l1, l2, status, parity):
    xs = cuda.shared.array(TILE_SHAPE, x.dtype)
    gs = cuda.shared.array(TILE_SHAPE, g.dtype)
    red = cuda.shared.array(TILE_THREADS, np.float64)
    ty, tx = cuda.threadIdx.y, cuda.threadIdx.x
    n_in, n_out = dw.shape[0], dw.shape[1]
    zero = dw.dtype.type(0)
    regularized = l1 != 0.0 or l2 != 0.0
    c1, c2 = dw.dtype.type(l1), dw.dtype.type(2.0 * l2)
    penalty = 0.0
    col_tiles = (n_out + TILE - 1) // TILE
    n_tiles = (n_in + TILE - 1) // TILE * col_tiles
    for t in range(cuda.blockIdx.x, n_tiles, cuda.gridDim.x):
        i0 = t // col_tiles * TILE
        j = t % col_tiles * TILE + tx
        i = i0 + ty
        acc = zero
        bsum = zero
        for r0 in range(0, rows, TILE):
            r = r0 + ty
            ok = r < rows and i0 + tx < n_in
            xs[ty, tx] = x[source_row(order, start, gather, r), i0 + tx] if ok else zero
            gs[ty, tx] = g[r, j] if r < rows and j < n_out else zero
            cuda.syncthreads()
            for q in range(TILE):
                acc += xs[q, ty] * gs[q, tx]
            if i0 == 0 and ty == 0:  # the first row of tiles also sums the bias gradient
                for q in range(TILE):
                    bsum += gs[q, tx]
            cuda.syncthreads()
        if i < n_in and j < n_out:
            if regularized:
                # d/dw of l1 |w| + l2 w^2, added as the CPU's regularize() does
                wv = w[i, j]
                sign = dw.dtype.type(1) if wv > zero else (dw.dtype.type(-1) if wv < zero else zero)
                acc += c1 * sign + c2 * wv
                penalty += l1 * abs(float(wv)) + l2 * float(wv) * float(wv)
            dw[i, j] = acc
            finite = math.isfinite(acc * acc)
            if has_bias and i0 == 0 and ty == 0:
                db[j] = bsum
                finite = finite and math.isfinite(bsum * bsum)
            if not finite:  # every thread that sees one writes the same 1.0: no atomic needed
                status[st.STEP_BAD + parity] = 1.0
    if regularized:
        block_add(red, ty * TILE + tx, penalty, status, st.STEP_PEN + parity)


def weight_grads(x, g, dw, db, has_bias, rows, order, start, gather, w, l1, l2, status, parity):
    """dw = x^T g (+ l1 sign(w) + 2 l2 w), db = column sums of g; the step's slots in status get
    the penalty and a flag when a gradient's square is not finite."""
    tiles(_weight_grads, dw.shape[0], dw.shape[1], x, g, dw, db, has_bias, rows, order, start, gather,
          w, float(l1), float(l2), status, parity)


@jit
def _input_grad(g, w, dx, rows, act, y):
    gs = cuda.shared.array(TILE_SHAPE, g.dtype)
    ws = cuda.shared.array(TILE_SHAPE, w.dtype)
    ty, tx = cuda.threadIdx.y, cuda.threadIdx.x
    n_in, n_out = w.shape[0], w.shape[1]
    zero = dx.dtype.type(0)
    col_tiles = (n_in + TILE - 1) // TILE
    n_tiles = (rows + TILE - 1) // TILE * col_tiles
    for t in range(cuda.blockIdx.x, n_tiles, cuda.gridDim.x):
        r = t // col_tiles * TILE + ty
        i0 = t % col_tiles * TILE
        i = i0 + tx
        acc = zero
        for j0 in range(0, n_out, TILE):
            gs[ty, tx] = g[r, j0 + tx] if r < rows and j0 + tx < n_out else zero
            ws[ty, tx] = w[i0 + ty, j0 + tx] if i0 + ty < n_in and j0 + tx < n_out else zero
            cuda.syncthreads()
            for q in range(TILE):
                acc += gs[ty, q] * ws[tx, q]  # W^T read across the padded tile
            cuda.syncthreads()
        if r < rows and i < n_in:
            if act != LINEAR:
                acc *= act_grad(act, y[r, i], dx)
            dx[r, i] = acc


def input_grad(g, w, dx, rows, act, y):
    """dx = (g @ w^T) * f'(y): the gradient handed to the step below, its activation already applied."""
    tiles(_input_grad, rows, w.shape[0], g, w, dx, rows, act, y)
    if act == SOFTMAX:
        activation_backward(SOFTMAX, y, dx, rows)


def dense_backward(x, w, y, act, g, dw, db, has_bias, dx, want_dx):
    """The CPU twin's whole backward (g <- dL/dz, dw, db, dx) from the kernels the loop fuses."""
    rows = g.shape[0]
    activation_backward(act, y, g, rows)
    weight_grads(x, g, dw, db, has_bias, rows, dummy("int64"), 0, False, w, 0.0, 0.0,
                 to_device(np.zeros(st.size(0))), 0)
    if want_dx:
        input_grad(g, w, dx, rows, LINEAR, dx)


@jit
def _penalty(w, l1, l2, status, slot):
    red = cuda.shared.array(THREADS, np.float64)
    i0, stride = cuda.grid(1), cuda.gridsize(1)
    s = 0.0
    for i in range(i0, w.size, stride):
        v = float(w[i])
        s += l1 * abs(v) + l2 * v * v
    block_add(red, cuda.threadIdx.x, s, status, slot)


def penalty(w, l1, l2, status, slot):
    """status[slot] += l1 sum|w| + l2 sum w^2 over a flat kernel (evaluation adds it as fit does)."""
    flat(_penalty, w.size, w, float(l1), float(l2), status, slot)
