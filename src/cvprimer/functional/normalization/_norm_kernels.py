r"""Compiled normalization kernels (numba, :mod:`cvprimer.core.jit`; used while ``settings.numba`` is True).

The same maps as the NumPy path of :mod:`._normalize` (which stays the reference the tests compare
against); in the ``sets`` and ``rows`` layouts for one statistics set of m values at a time, while that
set's data sits in L1/L2:

    forward:  mu = (1/m) sum x,  var = (1/m) sum (x - mu)^2   (two passes, float64 sums),
              r = 1 / sqrt(var + eps),  y = (x - mu) (gamma r) + beta          (third pass)
    backward: per set, one pass for B_p = sum gy and D_p = sum gy (x - mu) (p: a parameter
              position inside the set), then S1 = sum_p gamma_p B_p, S2 = r sum_p gamma_p D_p and
              gx = (gamma r) gy - r S1 / m - r^2 S2 / m (x - mu)                  (second pass)
              ggamma_p += r D_p, gbeta_p += B_p

(the three-term form derived in :mod:`._normalize`, with x_hat = (x - mu) r recomputed from x, so
that backward keeps x, which the graph holds anyway, and two numbers per set instead of an
x-sized x_hat). Sums accumulate in float64 (``fastmath`` reassociation only, so they vectorize;
in the ``sets`` and ``rows`` layouts over blocks of 512 values, in ``cols`` over blocks of 16 rows, in the
input's dtype first, each block sum then added in float64); the elementwise passes run in the input's dtype.

Four layouts (chosen by :func:`._normalize._layout`), each split over the engine's worker pool
(:func:`cvprimer.core.pool.pool_map`; the kernels release the GIL) so that no two workers write the
same output:

* ``sets``: x viewed (A, S, P, Q), statistics over (A, P, Q) for each s, gamma[s % G, p]
  (instance norm: (1, N C, 1, L); group norm: (1, N G, C/G, L)); split by sets;
* ``rows``: x (M, K), statistics over each row, gamma[i % G, k] from a (G, K) table (layer norm:
  G = 1; group norm over short planes: rows (N G, C/G L), each channel's gamma repeated over its L
  positions); split by rows;
* ``cols``: x (N, C L), statistics per channel over the N rows and its L adjacent columns (batch
  norm of (N, C) inputs and of short planes): per-column sums folded per channel, swept row by row so
  the inner loop runs along contiguous memory, around the mean rounded to the input's dtype and moved to
  the mean itself afterwards (variance and D); split by columns;
* ``planes``: x (N, C, L), statistics per channel over its N planes of L values (batch norm of longer
  planes), swept image by image, front to back through memory, in two passes each way: forward, the
  statistics (each plane's mean and M2 = sum (x - mean)^2 taken in two loops over a block in L1, merged
  into the channel's in float64 by Chan et al.'s pairwise update), then y; backward, the sums B and D
  (float64), then gx. Split by images, the spans' partial statistics merged in span order. Going channel
  by channel instead (the ``sets`` layout, which batch norm used before) reads each channel's N planes,
  C L values apart, three times forward and twice backward, mostly from L3 (the planes of one channel
  do not stay in L2): measured 1.3-2x slower on ResNet-20's shapes.

Parameter gradients shared by several sets (group, instance and layer norm) are summed into one
float64 buffer per worker, added up afterwards.

A ``cols`` or ``planes`` problem of one span runs as one compiled call (the span bodies are inlined into it,
with the per-channel steps between them): the NumPy steps between the passes cost ~25 us a call, more than
the kernels themselves on MobileNet v2's 4x4 and 2x2 planes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core import jit
from cvprimer.core.pool import pool_map, spans

# reassociation lets LLVM vectorize the float64 sums; no contraction (an FMA in a - b where a == b
# in exact arithmetic leaves a rounding residue), no nnan/ninf (NaN and Inf propagate as in NumPy)
_FM = {"reassoc"}


# Sums over a statistics set run over blocks of _BLOCK values in the input's dtype (vectorized lanes,
# at most _BLOCK / lanes terms each), and the block sums are added in float64: float64-like accuracy
# for sets of any size at close to the speed of a single-precision sum.
_BLOCK = 512


@jit.kernel(fastmath=_FM)
def _sets_forward(x, gam, bet, eps, s0, s1, y, mean, var, rstd):  # pragma: no cover - compiled
    A, S, P, Q = x.shape
    G = gam.shape[0]
    m = A * P * Q
    sc = np.empty(P, x.dtype)
    sh = np.empty(P, x.dtype)
    kv = np.zeros(2, x.dtype)
    z = kv[1]  # a zero of the input's dtype
    for s in range(s0, s1):
        acc = 0.0
        for a in range(A):
            for p in range(P):
                xr = x[a, s, p]
                for q0 in range(0, Q, _BLOCK):
                    xb = xr[q0:q0 + _BLOCK]
                    bs = z
                    for j in range(xb.size):
                        bs += xb[j]
                    acc += bs
        mu = acc / m
        kv[0] = mu
        mf = kv[0]
        acc = 0.0
        for a in range(A):
            for p in range(P):
                xr = x[a, s, p]
                for q0 in range(0, Q, _BLOCK):
                    xb = xr[q0:q0 + _BLOCK]
                    bs = z
                    for j in range(xb.size):
                        d = xb[j] - mf
                        bs += d * d
                    acc += bs
        v = acc / m
        r = 1.0 / np.sqrt(v + eps)
        mean[s], var[s], rstd[s] = mu, v, r
        g = s % G
        for p in range(P):
            sc[p] = gam[g, p] * r
            sh[p] = bet[g, p]
        for a in range(A):
            for p in range(P):
                k, b = sc[p], sh[p]
                xr, yr = x[a, s, p], y[a, s, p]
                for q in range(Q):
                    yr[q] = (xr[q] - mf) * k + b


@jit.kernel(fastmath=_FM)
def _sets_backward(x, gy, gam, mean, rstd, s0, s1, want_gx, gx, dgam, dbet):  # pragma: no cover - compiled
    A, S, P, Q = x.shape
    G = gam.shape[0]
    m = A * P * Q
    B = np.empty(P)
    D = np.empty(P)
    for s in range(s0, s1):
        mu = mean[s]
        r = rstd[s]
        for p in range(P):
            bs = 0.0
            ds = 0.0
            for a in range(A):
                xr, gr = x[a, s, p], gy[a, s, p]
                for q0 in range(0, Q, _BLOCK):
                    xb, gb = xr[q0:q0 + _BLOCK], gr[q0:q0 + _BLOCK]
                    b1 = 0.0
                    d1 = 0.0
                    for j in range(xb.size):
                        gv = gb[j]
                        b1 += gv
                        d1 += gv * (xb[j] - mu)
                    bs += b1
                    ds += d1
            B[p] = bs
            D[p] = ds
        g = s % G
        s1_ = 0.0
        s2_ = 0.0
        for p in range(P):
            s1_ += gam[g, p] * B[p]
            s2_ += gam[g, p] * D[p]
            dgam[g, p] += r * D[p]
            dbet[g, p] += B[p]
        if want_gx:
            # gx = k gy + k2 (x - mu) + k0 cancels where gy is nearly constant over the set: the terms are formed
            # in float64 around the float64 mean and rounded once, as are the sums B and D above (with float32
            # block sums around the rounded mean, instance norm's gx measured 6.5e-7 off a 1.4e-5 gradient, 25x
            # PyTorch's error; these loops are memory-bound, so the float64 arithmetic costs little)
            k2 = -r * r * r * s2_ / m
            k0 = -r * s1_ / m
            for a in range(A):
                for p in range(P):
                    k = gam[g, p] * r
                    xr, gr, out = x[a, s, p], gy[a, s, p], gx[a, s, p]
                    for q in range(Q):
                        out[q] = k * gr[q] + k2 * (xr[q] - mu) + k0


@jit.kernel(fastmath=_FM)
def _rows_forward(x, gam, bet, eps, r0, r1, y, mean, var, rstd):  # pragma: no cover - compiled
    M, K = x.shape
    G = gam.shape[0]
    kv = np.zeros(3, x.dtype)
    z = kv[2]
    for i in range(r0, r1):
        xr = x[i]
        acc = 0.0
        for k0 in range(0, K, _BLOCK):
            xb = xr[k0:k0 + _BLOCK]
            bs = z
            for j in range(xb.size):
                bs += xb[j]
            acc += bs
        mu = acc / K
        kv[0] = mu
        mf = kv[0]
        acc = 0.0
        for k0 in range(0, K, _BLOCK):
            xb = xr[k0:k0 + _BLOCK]
            bs = z
            for j in range(xb.size):
                d = xb[j] - mf
                bs += d * d
            acc += bs
        v = acc / K
        r = 1.0 / np.sqrt(v + eps)
        mean[i], var[i], rstd[i] = mu, v, r
        kv[1] = r
        rf = kv[1]
        yr, cr, br = y[i], gam[i % G], bet[i % G]
        for k in range(K):
            yr[k] = (xr[k] - mf) * rf * cr[k] + br[k]


@jit.kernel(fastmath=_FM)
def _rows_backward(x, gy, gam, mean, rstd, r0, r1, want_gx, gx, dgam, dbet):  # pragma: no cover - compiled
    M, K = x.shape
    G = gam.shape[0]
    kv = np.zeros(5, x.dtype)
    z = kv[4]
    xh = np.empty(K, x.dtype)  # the row's x_hat, kept in L1 for the gx pass
    bg = np.zeros((G, K), x.dtype)  # ggamma, gbeta over a block of up to 16 G rows in the input's
    bb = np.zeros((G, K), x.dtype)  # dtype, then added into the float64 sums
    cnt = 0
    for i in range(r0, r1):
        g = i % G
        kv[0] = mean[i]
        kv[1] = rstd[i]
        mf, rf = kv[0], kv[1]
        s1_ = 0.0
        s2_ = 0.0
        xr, gr, cr, bgr, bbr = x[i], gy[i], gam[g], bg[g], bb[g]
        for k0 in range(0, K, _BLOCK):
            xb, gb, hb = xr[k0:k0 + _BLOCK], gr[k0:k0 + _BLOCK], xh[k0:k0 + _BLOCK]
            cb, gbb, bbb = cr[k0:k0 + _BLOCK], bgr[k0:k0 + _BLOCK], bbr[k0:k0 + _BLOCK]
            t1 = z
            t2 = z
            for j in range(xb.size):
                gv = gb[j]
                h = (xb[j] - mf) * rf
                hb[j] = h
                gg = gv * cb[j]
                t1 += gg
                t2 += gg * h
                gbb[j] += gv * h
                bbb[j] += gv
            s1_ += t1
            s2_ += t2
        cnt += 1
        if cnt == 16 * G or i == r1 - 1:
            for h in range(G):
                for k in range(K):
                    dgam[h, k] += bg[h, k]
                    dbet[h, k] += bb[h, k]
                    bg[h, k] = 0.0
                    bb[h, k] = 0.0
            cnt = 0
        if want_gx:
            kv[2] = s1_ / K
            kv[3] = s2_ / K
            a1, a2 = kv[2], kv[3]
            out = gx[i]
            for k in range(K):
                out[k] = rf * (gr[k] * cr[k] - a1 - xh[k] * a2)


# The column kernels index row slices with 0-based loops: an index running over range(c0, c1) might be
# negative as far as numba knows, and its wrap-around check keeps LLVM from vectorizing (8x slower).


# The column sums run over blocks of _ROWS rows into accumulators of the input's dtype (vectorized, in L1),
# each block's sums then added into the float64 ones: float64-like accuracy at the speed of single precision
# (measured on MobileNet v2's 4x4 planes: the backward sums 3x faster than float64 accumulators throughout).
_ROWS = 16


@jit.inline
def _cols_sum_span(x, c0, c1, out):  # pragma: no cover - compiled
    N, C = x.shape
    W = c1 - c0
    o = out[c0:c1]
    acc = np.zeros(W, x.dtype)
    for r0 in range(0, N, _ROWS):
        for n in range(r0, min(N, r0 + _ROWS)):
            xr = x[n, c0:c1]
            for j in range(W):
                acc[j] += xr[j]
        for j in range(W):
            o[j] += acc[j]
            acc[j] = 0


@jit.kernel(fastmath=_FM)
def _cols_sum(x, c0, c1, out):  # pragma: no cover - compiled
    _cols_sum_span(x, c0, c1, out)


@jit.inline
def _cols_sumsq_span(x, mu, c0, c1, out):  # pragma: no cover - compiled
    N, C = x.shape
    W = c1 - c0
    o, m = out[c0:c1], mu[c0:c1]
    acc = np.zeros(W, x.dtype)
    for r0 in range(0, N, _ROWS):
        for n in range(r0, min(N, r0 + _ROWS)):
            xr = x[n, c0:c1]
            for j in range(W):
                d = xr[j] - m[j]
                acc[j] += d * d
        for j in range(W):
            o[j] += acc[j]
            acc[j] = 0


@jit.kernel(fastmath=_FM)
def _cols_sumsq(x, mu, c0, c1, out):  # pragma: no cover - compiled
    _cols_sumsq_span(x, mu, c0, c1, out)


@jit.inline
def _cols_affine_span(x, mu, k1, k0, c0, c1, y):  # pragma: no cover - compiled
    N, C = x.shape
    W = c1 - c0
    m, a, b = mu[c0:c1], k1[c0:c1], k0[c0:c1]
    for n in range(N):
        xr, yr = x[n, c0:c1], y[n, c0:c1]
        for j in range(W):
            yr[j] = (xr[j] - m[j]) * a[j] + b[j]


@jit.kernel(fastmath=_FM)
def _cols_affine(x, mu, k1, k0, c0, c1, y):  # pragma: no cover - compiled
    _cols_affine_span(x, mu, k1, k0, c0, c1, y)


@jit.inline
def _cols_backward_sums_span(x, gy, mu, c0, c1, B, D):  # pragma: no cover - compiled
    N, C = x.shape
    W = c1 - c0
    m, bs, ds = mu[c0:c1], B[c0:c1], D[c0:c1]
    a1 = np.zeros(W, x.dtype)
    a2 = np.zeros(W, x.dtype)
    for r0 in range(0, N, _ROWS):
        for n in range(r0, min(N, r0 + _ROWS)):
            xr, gr = x[n, c0:c1], gy[n, c0:c1]
            for j in range(W):
                gv = gr[j]
                a1[j] += gv
                a2[j] += gv * (xr[j] - m[j])
        for j in range(W):
            bs[j] += a1[j]
            ds[j] += a2[j]
            a1[j] = 0
            a2[j] = 0


@jit.kernel(fastmath=_FM)
def _cols_backward_sums(x, gy, mu, c0, c1, B, D):  # pragma: no cover - compiled
    _cols_backward_sums_span(x, gy, mu, c0, c1, B, D)


@jit.inline
def _cols_backward_gx_span(x, gy, mu, k1, k2, k0, c0, c1, gx):  # pragma: no cover - compiled
    N, C = x.shape
    W = c1 - c0
    m, a, b, z = mu[c0:c1], k1[c0:c1], k2[c0:c1], k0[c0:c1]
    for n in range(N):
        xr, gr, out = x[n, c0:c1], gy[n, c0:c1], gx[n, c0:c1]
        for j in range(W):
            out[j] = a[j] * gr[j] + b[j] * (xr[j] - m[j]) + z[j]


@jit.kernel(fastmath=_FM)
def _cols_backward_gx(x, gy, mu, k1, k2, k0, c0, c1, gx):  # pragma: no cover - compiled
    _cols_backward_gx_span(x, gy, mu, k1, k2, k0, c0, c1, gx)


@jit.kernel(fastmath=_FM)
def _cols_forward_one(x, gam, bet, eps, length, y, mean, var, rstd):  # pragma: no cover - compiled
    # the whole forward of the cols layout in one call, for a problem of one span (cols_forward)
    N, CL = x.shape
    C = CL // length
    m = N * length
    acc = np.zeros(CL)
    _cols_sum_span(x, 0, CL, acc)
    mu = np.empty(CL, x.dtype)
    for c in range(C):
        t = 0.0
        for j in range(c * length, (c + 1) * length):
            t += acc[j]
            acc[j] = 0.0
        mean[c] = t / m
        for j in range(c * length, (c + 1) * length):
            mu[j] = mean[c]
    _cols_sumsq_span(x, mu, 0, CL, acc)
    k1 = np.empty(CL, x.dtype)
    k0 = np.empty(CL, x.dtype)
    for c in range(C):
        t = 0.0
        for j in range(c * length, (c + 1) * length):
            t += acc[j]
        d = mean[c] - mu[c * length]
        v = t / m - d * d
        if v < 0.0:
            v = 0.0
        r = 1.0 / np.sqrt(v + eps)
        var[c], rstd[c] = v, r
        for j in range(c * length, (c + 1) * length):
            k1[j] = gam[c] * r
            k0[j] = bet[c]
    _cols_affine_span(x, mu, k1, k0, 0, CL, y)


@jit.kernel(fastmath=_FM)
def _cols_backward_one(x, gy, gam, mean, rstd, length, want_gx, gx, dg, db):  # pragma: no cover - compiled
    # the whole backward of the cols layout in one call, for a problem of one span (cols_backward)
    N, CL = x.shape
    C = CL // length
    m = N * length
    mu = np.empty(CL, x.dtype)
    for c in range(C):
        for j in range(c * length, (c + 1) * length):
            mu[j] = mean[c]
    B = np.zeros(CL)
    D = np.zeros(CL)
    _cols_backward_sums_span(x, gy, mu, 0, CL, B, D)
    k1 = np.empty(CL, x.dtype)
    k2 = np.empty(CL, x.dtype)
    k0 = np.empty(CL, x.dtype)
    for c in range(C):
        b = 0.0
        d = 0.0
        for j in range(c * length, (c + 1) * length):
            b += B[j]
            d += D[j]
        shift = mu[c * length] - mean[c]
        d += shift * b
        r = rstd[c]
        db[c], dg[c] = b, r * d
        a1 = gam[c] * r
        a2 = -r * r * r * gam[c] * d / m
        a0 = -a1 * b / m + a2 * shift
        for j in range(c * length, (c + 1) * length):
            k1[j], k2[j], k0[j] = a1, a2, a0
    if want_gx:
        _cols_backward_gx_span(x, gy, mu, k1, k2, k0, 0, CL, gx)


# The ``planes`` kernels (batch norm, x (N, C, L)) sweep whole images, row n by row n, so that every pass reads
# memory front to back; each (n, c) plane is cut into blocks of _PLANE_BLOCK values that stay in L1 between the
# two loops that take their statistics.
_PLANE_BLOCK = 1024


@jit.inline
def _planes_stats_span(x, n0, n1, mean, m2):  # pragma: no cover - compiled
    N, C, L = x.shape
    K = (L + _PLANE_BLOCK - 1) // _PLANE_BLOCK  # blocks per plane
    inb = np.empty(K)  # 1 / the block's size
    inbf = np.empty(K, x.dtype)
    f = np.empty(K)  # the merge weights n_b / n and n_a n_b / n of each block: the same for every channel
    g = np.empty(K)
    z = np.zeros(1, x.dtype)[0]  # a zero of the input's dtype
    for k in range(K):
        inb[k] = 1.0 / min(_PLANE_BLOCK, L - k * _PLANE_BLOCK)
        inbf[k] = inb[k]
    for n in range(n0, n1):
        for k in range(K):
            nb = min(_PLANE_BLOCK, L - k * _PLANE_BLOCK)
            na = (n - n0) * L + k * _PLANE_BLOCK  # values of each channel merged before this block
            f[k] = nb / (na + nb)
            g[k] = na * f[k]
        for c in range(C):
            xr = x[n, c]
            for k in range(K):
                xb = xr if K == 1 else xr[k * _PLANE_BLOCK:(k + 1) * _PLANE_BLOCK]
                bs = z
                for j in range(xb.size):
                    bs += xb[j]
                sh = bs * inbf[k]  # about the block's mean: a shift that leaves little to cancel
                t1 = z
                t2 = z
                for j in range(xb.size):
                    d = xb[j] - sh
                    t1 += d
                    t2 += d * d
                dl = (sh + t1 * inb[k]) - mean[c]
                mean[c] += dl * f[k]
                m2[c] += (t2 - t1 * t1 * inb[k]) + dl * dl * g[k]


@jit.kernel(fastmath=_FM)
def _planes_stats(x, n0, n1, mean, m2):  # pragma: no cover - compiled
    _planes_stats_span(x, n0, n1, mean, m2)


@jit.inline
def _planes_affine_span(x, mu, k1, k0, n0, n1, y):  # pragma: no cover - compiled
    N, C, L = x.shape
    for n in range(n0, n1):
        for c in range(C):
            xr, yr = x[n, c], y[n, c]
            m, a, b = mu[c], k1[c], k0[c]
            for q in range(L):
                yr[q] = (xr[q] - m) * a + b


@jit.kernel(fastmath=_FM)
def _planes_affine(x, mu, k1, k0, n0, n1, y):  # pragma: no cover - compiled
    _planes_affine_span(x, mu, k1, k0, n0, n1, y)


@jit.inline
def _planes_sums_span(x, gy, mu, n0, n1, B, D):  # pragma: no cover - compiled
    N, C, L = x.shape
    for n in range(n0, n1):
        for c in range(C):
            xr, gr = x[n, c], gy[n, c]
            m = mu[c]
            bs = 0.0
            ds = 0.0
            for q in range(L):
                gv = gr[q]
                bs += gv
                ds += gv * (xr[q] - m)
            B[c] += bs
            D[c] += ds


@jit.kernel(fastmath=_FM)
def _planes_sums(x, gy, mu, n0, n1, B, D):  # pragma: no cover - compiled
    _planes_sums_span(x, gy, mu, n0, n1, B, D)


@jit.inline
def _planes_gx_span(x, gy, mu, k1, k2, k0, n0, n1, gx):  # pragma: no cover - compiled
    N, C, L = x.shape
    for n in range(n0, n1):
        for c in range(C):
            xr, gr, out = x[n, c], gy[n, c], gx[n, c]
            m, a, b, z = mu[c], k1[c], k2[c], k0[c]
            for q in range(L):
                out[q] = a * gr[q] + b * (xr[q] - m) + z


@jit.kernel(fastmath=_FM)
def _planes_gx(x, gy, mu, k1, k2, k0, n0, n1, gx):  # pragma: no cover - compiled
    _planes_gx_span(x, gy, mu, k1, k2, k0, n0, n1, gx)


@jit.kernel(fastmath=_FM)
def _planes_forward_one(x, gam, bet, eps, y, mean, var, rstd):  # pragma: no cover - compiled
    # the whole forward of the planes layout in one call, for a problem of one span (planes_forward)
    N, C, L = x.shape
    m2 = np.zeros(C)
    mean[:] = 0.0
    _planes_stats_span(x, 0, N, mean, m2)
    mu = np.empty(C, x.dtype)
    k1 = np.empty(C, x.dtype)
    for c in range(C):
        v = m2[c] / (N * L)
        if v < 0.0:
            v = 0.0
        r = 1.0 / np.sqrt(v + eps)
        var[c], rstd[c] = v, r
        mu[c] = mean[c]
        k1[c] = gam[c] * r
    _planes_affine_span(x, mu, k1, bet, 0, N, y)


@jit.kernel(fastmath=_FM)
def _planes_backward_one(x, gy, gam, mean, rstd, want_gx, gx, dg, db):  # pragma: no cover - compiled
    # the whole backward of the planes layout in one call, for a problem of one span (planes_backward)
    N, C, L = x.shape
    m = N * L
    B = np.zeros(C)
    D = np.zeros(C)
    _planes_sums_span(x, gy, mean, 0, N, B, D)
    k1 = np.empty(C)
    k2 = np.empty(C)
    k0 = np.empty(C)
    for c in range(C):
        r = rstd[c]
        db[c], dg[c] = B[c], r * D[c]
        k1[c] = gam[c] * r
        k2[c] = -r * r * r * gam[c] * D[c] / m
        k0[c] = -k1[c] * B[c] / m
    if want_gx:
        _planes_gx_span(x, gy, mean, k1, k2, k0, 0, N, gx)


def _spans(n: int, per_item: int) -> list[tuple[int, int]]:
    """range(n) in contiguous spans that depend on the size alone, not on the thread count (so the partial
    sums, added in span order, give the same bits with any number of workers; ``cvprimer.core.pool.spans``)."""
    return spans(n, per_item)


def _total(parts: np.ndarray) -> np.ndarray:
    """The per-span partial sums added up, in span order."""
    return parts[0] if len(parts) == 1 else parts.sum(axis=0)


def _table(t: np.ndarray | None, shape: tuple[int, ...], fill: float, dtype: Any) -> np.ndarray:
    if t is None:
        return np.full(shape, fill, dtype)
    return np.ascontiguousarray(t, dtype=dtype).reshape(shape)


def sets_forward(x4: np.ndarray, w: np.ndarray | None, b: np.ndarray | None, gshape: tuple[int, int],
                 eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """y, mean, var, inv_std (float64, one per set s) of the ``sets`` layout: x4 (A, S, P, Q) contiguous,
    gamma/beta (None: 1/0) reshaped to ``gshape`` = (G, P)."""
    S = x4.shape[1]
    y = np.empty_like(x4)
    mean, var, rstd = np.empty(S), np.empty(S), np.empty(S)
    gam, bet = _table(w, gshape, 1.0, x4.dtype), _table(b, gshape, 0.0, x4.dtype)
    pool_map(lambda a, c: _sets_forward(x4, gam, bet, eps, a, c, y, mean, var, rstd),
             _spans(S, x4.size // max(S, 1)), blas_single=False)
    return y, mean, var, rstd


def sets_backward(x4: np.ndarray, gy4: np.ndarray, w: np.ndarray | None, gshape: tuple[int, int],
                  mean: np.ndarray, rstd: np.ndarray, want_gx: bool):
    """gx (or None), ggamma, gbeta (float64, ``gshape``) of the ``sets`` layout."""
    S = x4.shape[1]
    gam = _table(w, gshape, 1.0, x4.dtype)
    gx = np.empty_like(x4) if want_gx else np.empty((1, 1, 1, 1), x4.dtype)
    spans = _spans(S, x4.size // max(S, 1))
    dg, db = np.zeros((len(spans),) + gshape), np.zeros((len(spans),) + gshape)
    at = {ac: i for i, ac in enumerate(spans)}
    pool_map(lambda a, c: _sets_backward(x4, gy4, gam, mean, rstd, a, c, want_gx, gx, dg[at[a, c]], db[at[a, c]]),
             spans, blas_single=False)
    return (gx if want_gx else None), _total(dg), _total(db)


def _rows_table(t: np.ndarray | None, gshape: tuple[int, int], length: int, fill: float, dtype: Any) -> np.ndarray:
    """A (G, P) parameter table with each entry repeated over ``length`` positions: (G, P length)."""
    tab = _table(t, gshape, fill, dtype)
    return tab if length == 1 else np.repeat(tab, length, axis=1)


def rows_forward(x2: np.ndarray, w: np.ndarray | None, b: np.ndarray | None, eps: float,
                 gshape: tuple[int, int] | None = None, length: int = 1):
    """y, mean, var, inv_std (float64, one per row) of the ``rows`` layout: x2 (M, K) contiguous; row i
    takes gamma/beta (``gshape`` = (G, P), P length = K; default (1, K)) from row i % G of the table."""
    M, K = x2.shape
    gshape = gshape or (1, K)
    y = np.empty_like(x2)
    mean, var, rstd = np.empty(M), np.empty(M), np.empty(M)
    gam = _rows_table(w, gshape, length, 1.0, x2.dtype)
    bet = _rows_table(b, gshape, length, 0.0, x2.dtype)
    pool_map(lambda a, c: _rows_forward(x2, gam, bet, eps, a, c, y, mean, var, rstd), _spans(M, K),
             blas_single=False)
    return y, mean, var, rstd


def rows_backward(x2: np.ndarray, gy2: np.ndarray, w: np.ndarray | None, mean: np.ndarray,
                  rstd: np.ndarray, want_gx: bool, gshape: tuple[int, int] | None = None, length: int = 1):
    """gx (or None), ggamma, gbeta (float64, ``gshape``) of the ``rows`` layout."""
    M, K = x2.shape
    gshape = gshape or (1, K)
    gam = _rows_table(w, gshape, length, 1.0, x2.dtype)
    gx = np.empty_like(x2) if want_gx else np.empty((1, 1), x2.dtype)
    spans = _spans(M, K)
    dg, db = np.zeros((len(spans),) + gam.shape), np.zeros((len(spans),) + gam.shape)
    at = {ac: i for i, ac in enumerate(spans)}
    pool_map(lambda a, c: _rows_backward(x2, gy2, gam, mean, rstd, a, c, want_gx, gx, dg[at[a, c]], db[at[a, c]]),
             spans, blas_single=False)
    dg, db = _total(dg), _total(db)
    if length > 1:  # per position -> per parameter
        dg, db = (v.reshape(gshape + (length,)).sum(axis=2) for v in (dg, db))
    return (gx if want_gx else None), dg, db


def _fold(v: np.ndarray, length: int) -> np.ndarray:
    """Per-column sums (C L,) folded into per-channel sums (C,)."""
    return v if length == 1 else v.reshape(-1, length).sum(axis=1)


def _spread(v: np.ndarray, length: int, dtype: Any) -> np.ndarray:
    """Per-channel values (C,) repeated over each channel's L columns, in ``dtype``."""
    v = v.astype(dtype)
    return v if length == 1 else np.repeat(v, length)


def cols_forward(x2: np.ndarray, w: np.ndarray | None, b: np.ndarray | None, eps: float, length: int = 1):
    """y, mean, var, inv_std (float64, one per channel) of the ``cols`` layout: x2 (N, C L) contiguous,
    statistics per channel over the N rows and its L adjacent columns. The variance is summed around the mean
    rounded to x's dtype (mu'), then moved to the mean itself: var = mean (x - mu')^2 - (mu - mu')^2."""
    N, CL = x2.shape
    m = N * length
    spans = _spans(CL, N)
    if len(spans) == 1:  # one compiled call (the wrapper's NumPy steps below cost ~25 us, more than a small kernel)
        C = CL // length
        y = np.empty_like(x2)
        mean, var, rstd = np.empty(C), np.empty(C), np.empty(C)
        _cols_forward_one(x2, _table(w, (C,), 1.0, np.float64), _table(b, (C,), 0.0, x2.dtype), eps, length,
                          y, mean, var, rstd)
        return y, mean, var, rstd
    acc = np.zeros(CL)
    pool_map(lambda a, c: _cols_sum(x2, a, c, acc), spans, blas_single=False)
    mean = _fold(acc, length) / m
    mu = _spread(mean, length, x2.dtype)
    acc[:] = 0.0
    pool_map(lambda a, c: _cols_sumsq(x2, mu, a, c, acc), spans, blas_single=False)
    var = np.maximum(_fold(acc, length) / m - (mean - mean.astype(x2.dtype)) ** 2, 0.0)
    rstd = 1.0 / np.sqrt(var + eps)
    k1 = _spread(rstd if w is None else rstd * w, length, x2.dtype)
    k0 = np.zeros(CL, x2.dtype) if b is None else _spread(b, length, x2.dtype)
    y = np.empty_like(x2)
    pool_map(lambda a, c: _cols_affine(x2, mu, k1, k0, a, c, y), spans, blas_single=False)
    return y, mean, var, rstd


def cols_backward(x2: np.ndarray, gy2: np.ndarray, w: np.ndarray | None, mean: np.ndarray,
                  rstd: np.ndarray, want_gx: bool, length: int = 1):
    """gx (or None), ggamma, gbeta (float64, (C,)) of the ``cols`` layout. D = sum gy (x - mu) is summed
    around the mean rounded to x's dtype (mu') and moved: D = sum gy (x - mu') + (mu' - mu) B; gx's pass,
    also around mu', takes the same shift into its constant term."""
    N, CL = x2.shape
    m = N * length
    spans = _spans(CL, N)
    if len(spans) == 1:
        C = CL // length
        gx1 = np.empty_like(x2) if want_gx else np.empty((1, 1), x2.dtype)
        dg, db = np.empty(C), np.empty(C)
        _cols_backward_one(x2, gy2, _table(w, (C,), 1.0, np.float64), mean, rstd, length, want_gx, gx1, dg, db)
        return (gx1 if want_gx else None), dg, db
    mu = _spread(mean, length, x2.dtype)
    B, D = np.zeros(CL), np.zeros(CL)
    pool_map(lambda a, c: _cols_backward_sums(x2, gy2, mu, a, c, B, D), spans, blas_single=False)
    shift = mean.astype(x2.dtype) - mean  # mu' - mu
    B = _fold(B, length)
    D = _fold(D, length) + shift * B
    gx = None
    if want_gx:
        gam = 1.0 if w is None else w.astype(np.float64)
        k1 = gam * rstd
        k2 = -rstd ** 3 * gam * D / m
        k0 = -k1 * B / m + k2 * shift
        k1, k2, k0 = (_spread(v, length, x2.dtype) for v in (k1, k2, k0))
        gx = np.empty_like(x2)
        pool_map(lambda a, c: _cols_backward_gx(x2, gy2, mu, k1, k2, k0, a, c, gx), spans, blas_single=False)
    return gx, rstd * D, B


def planes_forward(x3: np.ndarray, w: np.ndarray | None, b: np.ndarray | None, eps: float):
    """y, mean, var, inv_std (float64, one per channel) of the ``planes`` layout: x3 (N, C, L) contiguous,
    statistics per channel over its N planes of L values.

    Each span of images (:func:`_spans`) gives per-channel (mean, M2 = sum (x - mean)^2) of its values, each
    block of a plane taken in two passes around its own mean and merged in float64 (Chan et al.'s update:
    for parts a, b of n_a, n_b values, delta = mean_b - mean_a, mean = mean_a + delta n_b / n, M2 = M2_a + M2_b
    + delta^2 n_a n_b / n); the spans' results are merged the same way in span order."""
    N, C, L = x3.shape
    spans = _spans(N, C * L)
    if len(spans) == 1:  # one compiled call
        y = np.empty_like(x3)
        mean, var, rstd = np.empty(C), np.empty(C), np.empty(C)
        _planes_forward_one(x3, _table(w, (C,), 1.0, np.float64), _table(b, (C,), 0.0, x3.dtype), eps,
                            y, mean, var, rstd)
        return y, mean, var, rstd
    means, m2s = np.zeros((len(spans), C)), np.zeros((len(spans), C))
    at = {ac: i for i, ac in enumerate(spans)}
    pool_map(lambda a, c: _planes_stats(x3, a, c, means[at[a, c]], m2s[at[a, c]]), spans, blas_single=False)
    mean, m2, n = means[0], m2s[0], (spans[0][1] - spans[0][0]) * L
    for (a, c), mb, m2b in zip(spans[1:], means[1:], m2s[1:], strict=True):
        nb = (c - a) * L
        dl = mb - mean
        mean = mean + dl * (nb / (n + nb))
        m2 = m2 + m2b + dl * dl * (n * nb / (n + nb))
        n += nb
    var = np.maximum(m2, 0.0) / (N * L)
    rstd = 1.0 / np.sqrt(var + eps)
    mu = mean.astype(x3.dtype)
    k1 = (rstd if w is None else rstd * w).astype(x3.dtype)
    k0 = np.zeros(C, x3.dtype) if b is None else b.astype(x3.dtype)
    y = np.empty_like(x3)
    pool_map(lambda a, c: _planes_affine(x3, mu, k1, k0, a, c, y), spans, blas_single=False)
    return y, mean, var, rstd


def planes_backward(x3: np.ndarray, gy3: np.ndarray, w: np.ndarray | None, mean: np.ndarray,
                    rstd: np.ndarray, want_gx: bool):
    """gx (or None), ggamma, gbeta (float64, (C,)) of the ``planes`` layout: one sweep for B = sum gy and
    D = sum gy (x - mu) per channel (float64, per span, added in span order), one for gx."""
    N, C, L = x3.shape
    m = N * L
    spans = _spans(N, C * L)
    if len(spans) == 1:
        gx1 = np.empty_like(x3) if want_gx else np.empty((1, 1, 1), x3.dtype)
        dg, db = np.empty(C), np.empty(C)
        _planes_backward_one(x3, gy3, _table(w, (C,), 1.0, np.float64), mean, rstd, want_gx, gx1, dg, db)
        return (gx1 if want_gx else None), dg, db
    Bs, Ds = np.zeros((len(spans), C)), np.zeros((len(spans), C))
    at = {ac: i for i, ac in enumerate(spans)}
    pool_map(lambda a, c: _planes_sums(x3, gy3, mean, a, c, Bs[at[a, c]], Ds[at[a, c]]), spans, blas_single=False)
    B, D = _total(Bs), _total(Ds)
    gx = None
    if want_gx:
        gam = 1.0 if w is None else w.astype(np.float64)
        k1 = gam * rstd
        k2 = -rstd ** 3 * gam * D / m
        k0 = -k1 * B / m
        k1, k2, k0 = (np.broadcast_to(v, (C,)).astype(np.float64) for v in (k1, k2, k0))
        gx = np.empty_like(x3)
        pool_map(lambda a, c: _planes_gx(x3, gy3, mean, k1, k2, k0, a, c, gx), spans, blas_single=False)
    return gx, rstd * D, B
