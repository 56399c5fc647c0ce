r"""The tile transforms of Winograd F(2x2, 3x3) as loops that vectorise (compiled; used by ``_winograd.py``).

Each transform is a few passes whose inner loop runs over a long contiguous stream and writes one
output array, so that LLVM turns it into SIMD code (a loop that writes the 16 tile elements of one
tile at a time stays scalar: sixteen stores the compiler cannot prove apart). What makes the streams
long and contiguous is the order of the tiles inside a block of ``nb`` images: the 16 slices of V
(and of M) are laid out (C, t) with the tile index ``q = (i nb + n) tw + j`` (tile row i, image n,
tile column j), so one channel's tiles of a whole block are one run of ``t = th nb tw`` values
and the tile row below is ``S = nb tw`` further on. The GEMMs do not care about the order of the
tiles; the transforms in and out use the same one.

Input transform ``V = B^T d B`` of the 4x4 tiles d of the zero-padded plane (tile (i, j) at padded
row 2 i, column 2 j; B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]), per channel:

1. each row of x is copied into ``P[p]``, the padded rows of parity p as (th + 1, nb, 2 tw) (the one
   pass at row granularity: which half a row goes to cannot be a flat loop), and its last two padded
   columns 2 tw, 2 tw + 1 into ``X``; the padding fuses into this copy (positions outside x are zeroed
   once per call and never written); then one flat deinterleave per parity splits ``P[p]`` into
   ``E[2 p]`` (columns 2 k) and ``E[2 p + 1]`` (columns 2 k + 1), each (th + 1, nb, tw) (one loop
   writing both halves: the compiler sees both loads of a pair; one loop per half gathers, ~10x slower);
2. the rows times B, on every padded row at once: with e = even columns, o = odd ones,
   ``R[4 p + b]`` = (e_k - e_{k+1}, o_k + e_{k+1}, e_{k+1} - o_k, o_k - o_{k+1}) for b = 0..3, as flat
   loops over (m, n, k) whose k + 1 at the end of a row is then patched from X;
3. B^T on the left: tile row i reads padded rows 2 i .. 2 i + 3 = even rows i, i + 1 and odd rows
   i, i + 1, so ``V[4 a + b]`` = (RE_b[q] - RE_b[q + S], RO_b[q] + RE_b[q + S], RE_b[q + S] - RO_b[q],
   RO_b[q] - RO_b[q + S]) for a = 0..3: 16 flat loops over the block's tiles.

Output transform ``y = A^T m A`` (A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]): four flat loops, one per output
of a tile, each reading the nine elements it needs; the rows of parity u are interleaved from two of them,
then copied out row by row (cropped to H_out, W_out).
Gradient tiles ``Mb = A q A^T`` of gy's 2x2 blocks q: gy is split into the four parities of
(row, column), then 4 sums and 16 flat combinations.

Measured (1 thread, process CPU, ms, on 128x16x32x32 / 128x32x16x16 / 128x64x8x8, the kernels of one
call over the whole batch, 16 scalar stores per tile -> these): input 4.1 -> 2.6, 2.2 -> 1.4, 1.2 -> 1.0;
output 2.6 -> 1.7, 1.3 -> 0.7, 0.7 -> 0.5; gradient tiles 3.7 -> 2.0, 1.8 -> 0.9, 0.8 -> 0.5.
"""

from __future__ import annotations

import numpy as np

from cvprimer.core import jit


@jit.inline
def _add(out, a, b):  # pragma: no cover - compiled
    for q in range(out.shape[0]):
        out[q] = a[q] + b[q]


@jit.inline
def _sub(out, a, b):  # pragma: no cover - compiled
    for q in range(out.shape[0]):
        out[q] = a[q] - b[q]


@jit.inline
def _copy(out, a):  # pragma: no cover - compiled
    for q in range(out.shape[0]):
        out[q] = a[q]


@jit.inline
def _merge(out, a, b):  # pragma: no cover - compiled
    """out[2 k] = a[k], out[2 k + 1] = b[k] (one loop: the stores interleave with shuffles)."""
    for k in range(a.shape[0]):
        out[2 * k] = a[k]
        out[2 * k + 1] = b[k]


@jit.inline
def _neg(out, a):  # pragma: no cover - compiled
    for q in range(out.shape[0]):
        out[q] = -a[q]


@jit.inline
def _neg_add(out, a, b):  # pragma: no cover - compiled
    for q in range(out.shape[0]):
        out[q] = -a[q] - b[q]


@jit.inline
def _split(d0, d1, src, n):  # pragma: no cover - compiled
    """d0[k] = src[2 k], d1[k] = src[2 k + 1] for k < n: one loop, so the compiler sees both halves of each
    pair of loads and deinterleaves them with shuffles (one loop per half measured 10x slower: gathers)."""
    for k in range(n):
        d0[k] = src[2 * k]
        d1[k] = src[2 * k + 1]


@jit.kernel
def input_tiles(x, pt, pl, th, tw, B, t, keep, copy):  # pragma: no cover - compiled
    """B[4 a + b, c t + (i nb + n) tw + j] = (B^T d B)[a, b] for the 4x4 tile d of x[n, c] at (2 i - pt, 2 j - pl)
    (zeros outside x; nb = x.shape[0], t = th nb tw): the (16, C, t) tiles V in the 2-D block buffer ``B``.
    With ``copy``, keep[n, c] = x[n, c] too (each plane copied while it is in cache)."""
    nb, C, H, W = x.shape
    S = nb * tw
    rows = (th + 1) * nb
    P = np.zeros((2, rows, 2 * tw), B.dtype)  # padded columns 0 .. 2 tw - 1 of the rows of parity p
    E = np.empty((4, rows * tw + 1), B.dtype)
    X = np.zeros((4, rows), B.dtype)
    R = np.empty((8, rows * tw), B.dtype)
    # x columns 0 .. L - 1 land in padded columns pl .. pl + L - 1 (unsigned column indices: no wraparound test,
    # so the copy vectorises without a view per row: measured 20-35% faster)
    L, upl = np.uint64(min(W, 2 * tw - pl)), np.uint64(pl)
    ce, co = 2 * tw - pl, 2 * tw + 1 - pl  # x columns of the last two padded columns
    r0, r1 = max(0, pt), min(2 * th + 2, H + pt)  # padded rows that hold a row of x
    for c in range(C):
        for n in range(nb):
            plane = x[n, c]
            for r in range(r0, r1):
                dst, src = P[r % 2, (r // 2) * nb + n], plane[r - pt]
                for u in range(L):
                    dst[u + upl] = src[u]
            for r in range(r0, r1):
                row = (r // 2) * nb + n
                if ce < W:
                    X[2 * (r % 2), row] = plane[r - pt, ce]
                if co < W:
                    X[2 * (r % 2) + 1, row] = plane[r - pt, co]
            if copy:
                _copy(keep[n, c].reshape(H * W), plane.reshape(H * W))
        for p in range(2):
            _split(E[2 * p], E[2 * p + 1], P[p].reshape(rows * 2 * tw), rows * tw)
            e, o = E[2 * p, :rows * tw], E[2 * p + 1, :rows * tw]
            e1, o1 = E[2 * p, 1:], E[2 * p + 1, 1:]
            _sub(R[4 * p], e, e1)
            _add(R[4 * p + 1], o, e1)
            _sub(R[4 * p + 2], e1, o)
            _sub(R[4 * p + 3], o, o1)
            for row in range(rows):  # k = tw - 1: its k + 1 is the padded column 2 tw (and 2 tw + 1)
                q = row * tw + tw - 1
                ev, od, xe, xo = E[2 * p, q], E[2 * p + 1, q], X[2 * p, row], X[2 * p + 1, row]
                R[4 * p, q], R[4 * p + 1, q], R[4 * p + 2, q], R[4 * p + 3, q] = ev - xe, od + xe, xe - od, od - xo
        base = c * t
        for b in range(4):
            ee, en, oo, on = R[b, :t], R[b, S:S + t], R[4 + b, :t], R[4 + b, S:S + t]
            _sub(B[b, base:base + t], ee, en)
            _add(B[4 + b, base:base + t], oo, en)
            _sub(B[8 + b, base:base + t], en, oo)
            _sub(B[12 + b, base:base + t], oo, on)


@jit.kernel
def output_tiles(B, th, tw, y, t):  # pragma: no cover - compiled
    """y[n, o, 2 i + u, 2 j + v] = (A^T m A)[u, v] with m[a, b] = B[4 a + b, o t + (i nb + n) tw + j] (the
    (16, O, t) tiles M of a block of nb = y.shape[0] images, t = th nb tw), cropped to y."""
    nb, O, Ho, Wo = y.shape
    Y = np.empty((4, t), B.dtype)
    P = np.empty((2, 2 * t), B.dtype)  # the output rows of parity u, 2 tw columns each
    for o in range(O):
        base = o * t
        m0, m1, m2, m3 = B[0, base:base + t], B[1, base:base + t], B[2, base:base + t], B[3, base:base + t]
        m4, m5, m6, m7 = B[4, base:base + t], B[5, base:base + t], B[6, base:base + t], B[7, base:base + t]
        m8, m9, m10, m11 = B[8, base:base + t], B[9, base:base + t], B[10, base:base + t], B[11, base:base + t]
        m12, m13, m14, m15 = B[12, base:base + t], B[13, base:base + t], B[14, base:base + t], B[15, base:base + t]
        # each of the four outputs of a tile in one loop over the nine elements it reads (A^T's rows combine
        # the a index, then the b index; measured 45% less time than 8 + 4 passes through (4, t) sums)
        y0, y1, y2, y3 = Y[0], Y[1], Y[2], Y[3]
        for q in range(t):
            y0[q] = (m0[q] + m4[q] + m8[q]) + (m1[q] + m5[q] + m9[q]) + (m2[q] + m6[q] + m10[q])
        for q in range(t):
            y1[q] = (m1[q] + m5[q] + m9[q]) - (m2[q] + m6[q] + m10[q]) - (m3[q] + m7[q] + m11[q])
        for q in range(t):
            y2[q] = (m4[q] - m8[q] - m12[q]) + (m5[q] - m9[q] - m13[q]) + (m6[q] - m10[q] - m14[q])
        for q in range(t):
            y3[q] = (m5[q] - m9[q] - m13[q]) - (m6[q] - m10[q] - m14[q]) - (m7[q] - m11[q] - m15[q])
        for u in range(2):
            _merge(P[u], Y[2 * u], Y[2 * u + 1])
        for n in range(nb):
            for h in range(Ho):
                at = ((h // 2) * nb + n) * 2 * tw
                _copy(y[n, o, h], P[h % 2, at:at + Wo])


@jit.kernel
def grad_tiles(gy, th, tw, B, t):  # pragma: no cover - compiled
    """B[4 a + b, o t + (i nb + n) tw + j] = (A q A^T)[a, b], q the 2x2 block of gy[n, o] at (2 i, 2 j) (zeros
    past gy; nb = gy.shape[0], t = th nb tw)."""
    nb, O, Ho, Wo = gy.shape
    G = np.zeros((2, 2 * t), B.dtype)  # the rows of gy of parity u, 2 tw columns each (zeros past gy)
    Q = np.empty((4, t), B.dtype)  # Q[2 u + v][(i nb + n) tw + j] = gy[n, o, 2 i + u, 2 j + v]
    T = np.empty((4, t), B.dtype)
    for o in range(O):
        for n in range(nb):
            for h in range(Ho):
                at = ((h // 2) * nb + n) * 2 * tw
                _copy(G[h % 2, at:at + Wo], gy[n, o, h])
        for u in range(2):
            _split(Q[2 * u], Q[2 * u + 1], G[u], t)
        # rows of q times A^T: (q0, q1) -> (q0, q0 + q1, q0 - q1, -q1); row u's four are c[u][b]
        _add(T[0], Q[0], Q[1])
        _sub(T[1], Q[0], Q[1])
        _add(T[2], Q[2], Q[3])
        _sub(T[3], Q[2], Q[3])
        base = o * t
        # A on the left: (c0, c0 + c1, c0 - c1, -c1) with c0 = row 0's, c1 = row 1's
        _copy(B[0, base:base + t], Q[0])
        _copy(B[1, base:base + t], T[0])
        _copy(B[2, base:base + t], T[1])
        _neg(B[3, base:base + t], Q[1])
        _add(B[4, base:base + t], Q[0], Q[2])
        _add(B[5, base:base + t], T[0], T[2])
        _add(B[6, base:base + t], T[1], T[3])
        _neg_add(B[7, base:base + t], Q[1], Q[3])
        _sub(B[8, base:base + t], Q[0], Q[2])
        _sub(B[9, base:base + t], T[0], T[2])
        _sub(B[10, base:base + t], T[1], T[3])
        _sub(B[11, base:base + t], Q[3], Q[1])
        _neg(B[12, base:base + t], Q[2])
        _neg(B[13, base:base + t], T[2])
        _neg(B[14, base:base + t], T[3])
        _copy(B[15, base:base + t], Q[3])
