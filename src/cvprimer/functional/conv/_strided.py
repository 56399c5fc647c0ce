r"""Strided convolution as ONE GEMM per group over the batch's columns, the columns gathered and scattered
by compiled loops (internal; arrays in, arrays out; used while ``settings.numba`` is True). Stride-1 convs
with few input channels per group take it too (``settings.conv_cols_jit_below``; the phases are then the
padded plane itself).

The columns of the whole batch are laid out (C k_h k_w, N H_out W_out), row ``(c k_h + i) k_w + j``::

    cols[(c, i, j), (n, h, w)] = xp[n, c, h s_h + i d_h, w s_w + j d_w]      (xp: x zero-padded)

so that, with the groups as the leading axis of a free reshape (G, K, N P) (K = C/g k_h k_w, P = H_out W_out),
every product of the conv is a single GEMM per group over the whole batch::

    y_g   = W_g (O/g x K) @ cols_g (K x N P)              then (O, N, P) -> (N, O, P)
    gW_g^T = cols_g @ gy_g (N P x O/g, channels last)      (the sum over n, h, w in the GEMM's inner loop)
    gcols  = gy_g @ W_g (N P x K),   gx[n, c, h s + i d - p, ...] += gcols[(n, h, w), (c, i, j)]   (col2im)

Compared with the NumPy lowering of ``_kernels`` (per-image GEMMs over ``im2col``'s (N, C k_h k_w, P)
columns, the weight gradient as N small GEMMs summed, the input gradient through the polyphase pieces or
``col2im``'s k_h k_w strided slice-adds), the gather and the scatter are single passes in compiled code (the
padding handled by index ranges, no padded copy of x; each image plane stays in cache for its k_h k_w taps),
and the weight gradient is one GEMM with the whole batch as its inner dimension. Measurements are in
``_kernels.py`` at ``COLUMNS_JIT``.

The gather splits each image plane into its s_h s_w phases once (a small scratch that stays in cache), so
that every tap is then a contiguous copy of W_out values per output row; the scatter adds the taps into
the phases and writes the plane back once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core import jit
from cvprimer.functional.conv._lowering import nchw_to_nhwc


def _phase_frame(g: Any) -> tuple[int, int, list[tuple[int, int, int, int]]]:
    """(H_q, W_q, per tap (a, b, o_h, o_w)): tap (i, j) reads phase (a, b) = ((i d_h) mod s_h, (j d_w) mod s_w)
    of the padded plane from row o_h = (i d_h) // s_h and column o_w = (j d_w) // s_w on; a phase is H_q x W_q."""
    taps = [((i * g.d[0]) % g.s[0], (j * g.d[1]) % g.s[1], (i * g.d[0]) // g.s[0], (j * g.d[1]) // g.s[1])
            for i in range(g.k[0]) for j in range(g.k[1])]
    return (g.out[0] + (g.d[0] * (g.k[0] - 1)) // g.s[0], g.out[1] + (g.d[1] * (g.k[1] - 1)) // g.s[1], taps)


@jit.kernel
def _gather(x, taps, sh, sw, pt, pl, Q, cols):  # pragma: no cover - compiled
    """cols[t, n, h, w] = xp[n, c, h sh + i dh, w sw + j dw] for tap t = (c kh + i) kw + j (xp: x zero-padded by
    pt, pl); cols (C kh kw, N, H_out, W_out), taps (kh kw, 4) as :func:`_phase_frame`, Q (sh, sw, H_q, W_q) a
    zeroed scratch. Plane by plane: the plane is split into its sh sw phases once (Q[a, b, r, q] = xp[r sh + a,
    q sw + b]; the padding is never written, so it stays zero), then every tap is a contiguous copy of W_out
    values per output row from the phase it reads.

    Indices computed from data are cast to unsigned: a signed index gets a negative-index check that keeps
    the copy loops scalar (measured 7.1 -> 2.1 ms on the taps of 128x16x32x32, 3x3/2)."""
    N, C, H, W = x.shape
    Ho, Wo = cols.shape[2], cols.shape[3]
    Hq, Wq = Q.shape[2], Q.shape[3]
    T = taps.shape[0]
    for n in range(N):
        for c in range(C):
            for r in range(H):
                rq = (r + pt) // sh
                if rq >= Hq:
                    break
                a, ur = np.uint64((r + pt) % sh), np.uint64(rq)
                for b in range(sw):
                    u0 = (b - pl) % sw
                    q0 = (u0 + pl) // sw
                    m = min((W - u0 + sw - 1) // sw, Wq - q0)
                    ub, uq, uu = np.uint64(b), np.uint64(q0), np.uint64(u0)
                    for k in range(m):
                        Q[a, ub, ur, uq + np.uint64(k)] = x[n, c, r, uu + np.uint64(k * sw)]
            for t in range(T):
                a, b = np.uint64(taps[t, 0]), np.uint64(taps[t, 1])
                oh, ow = np.uint64(taps[t, 2]), np.uint64(taps[t, 3])
                row = c * T + t
                for h in range(Ho):
                    hq = np.uint64(h) + oh
                    for w in range(Wo):
                        cols[row, n, h, w] = Q[a, b, hq, np.uint64(w) + ow]


@jit.kernel
def _scatter(gcols, taps, sh, sw, pt, pl, Q, gx):  # pragma: no cover - compiled
    """The adjoint of :func:`_gather`: gx[n, c, h sh + i dh - pt, w sw + j dw - pl] += gcols[n, h, w, t] over the
    taps t = (c kh + i) kw + j (terms landing in the padding dropped); gcols (N, H_out, W_out, C kh kw) (the
    columns' gradient as the GEMM gy_nhwc @ W leaves it), gx (N, C, H, W) overwritten. Plane by plane: the taps
    are added in order into the phases Q, which are then written back to the plane once."""
    N, C, H, W = gx.shape
    Ho, Wo = gcols.shape[1], gcols.shape[2]
    Hq, Wq = Q.shape[2], Q.shape[3]
    T = taps.shape[0]
    for n in range(N):
        for c in range(C):
            Q[:] = 0
            for t in range(T):
                a, b = np.uint64(taps[t, 0]), np.uint64(taps[t, 1])
                oh, ow = np.uint64(taps[t, 2]), np.uint64(taps[t, 3])
                row = c * T + t
                for h in range(Ho):
                    hq = np.uint64(h) + oh
                    for w in range(Wo):
                        Q[a, b, hq, np.uint64(w) + ow] += gcols[n, h, w, row]
            for r in range(H):
                rq = (r + pt) // sh
                a, ur = np.uint64((r + pt) % sh), np.uint64(rq)
                for b in range(sw):
                    u0 = (b - pl) % sw
                    q0 = (u0 + pl) // sw
                    cnt = (W - u0 + sw - 1) // sw
                    m = min(cnt, Wq - q0) if rq < Hq else 0
                    ub, uq, uu = np.uint64(b), np.uint64(q0), np.uint64(u0)
                    for k in range(m):
                        gx[n, c, r, uu + np.uint64(k * sw)] = Q[a, ub, ur, uq + np.uint64(k)]
                    for k in range(max(m, 0), cnt):
                        gx[n, c, r, uu + np.uint64(k * sw)] = 0


def applies(g: Any, itemsize: int) -> bool:
    """Not pointwise (1x1 without padding: the columns are the input itself), float32/float64 (numba has no
    float16 arithmetic)."""
    return not g.pointwise and itemsize in (4, 8)


def _frame(g: Any, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """The taps table (k_h k_w, 4) and a zeroed phase scratch (s_h, s_w, H_q, W_q) for the kernels."""
    Hq, Wq, taps = _phase_frame(g)
    return np.array(taps, np.int64).reshape(-1, 4), np.zeros((g.s[0], g.s[1], Hq, Wq), dtype)


def columns(x: np.ndarray, g: Any) -> np.ndarray:
    """The batch's columns (G, C/g k_h k_w, N H_out W_out) of x (N, C, H, W)."""
    N, C = x.shape[:2]
    Ho, Wo = g.out
    cols = np.empty((C * g.k[0] * g.k[1], N, Ho, Wo), x.dtype)
    taps, Q = _frame(g, x.dtype)
    _gather(np.ascontiguousarray(x), taps, g.s[0], g.s[1], g.pads[0], g.pads[2], Q, cols)
    return cols.reshape(g.groups, -1, N * Ho * Wo)


def _gy(gy: np.ndarray, g: Any) -> np.ndarray:
    """gy (N, O, H_out, W_out) channels last, per group: the (G, N H_out W_out, O/g) view of one (N H_out W_out, O)
    copy."""
    N, O = gy.shape[:2]
    G = g.groups
    gyn = np.empty((N,) + gy.shape[2:] + (O,), gy.dtype)
    nchw_to_nhwc(gyn, gy)
    return gyn.reshape(-1, G, O // G).transpose(1, 0, 2)


def forward(x: np.ndarray, w: np.ndarray, g: Any) -> tuple[np.ndarray, np.ndarray]:
    """y (N, O, H_out, W_out) = W_g @ cols_g for every group; saves the columns for :func:`grad_weight`."""
    N, O = x.shape[0], w.shape[0]
    G = g.groups
    cols = columns(x, g)
    y = np.matmul(w.reshape(G, O // G, -1), cols)  # (G, O/g, N P)
    y = np.ascontiguousarray(y.reshape(G, O // G, N, -1).transpose(2, 0, 1, 3))
    return y.reshape((N, O) + tuple(g.out)), cols


def grad_weight(cols: np.ndarray, gy: np.ndarray, w_shape: tuple[int, ...], g: Any) -> np.ndarray:
    """gW_g^T = cols_g @ gy_g (N P x O/g, channels last): one GEMM per group, the batch and the output pixels its
    inner dimension (measured faster than gy_g @ cols_g^T, whose output has only O/g rows: 128x16x32x32 -> 32
    3x3/2 7.8 -> 5.5 ms, the MobileNet v2 stem 64x3x64x64 -> 16 2.4 -> 2.0)."""
    gwt = np.matmul(cols, _gy(gy, g))  # (G, K, O/g)
    return np.ascontiguousarray(gwt.transpose(0, 2, 1)).reshape(w_shape)


def grad_input(gy: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], g: Any) -> np.ndarray:
    """gx = col2im(gy_g (N P x O/g, channels last) @ W_g): the columns' gradient, channels last, in one GEMM per
    group (measured faster than W_g^T @ gy_g: 7.0 -> 4.9 ms on 128x16x32x32 -> 32 3x3/2), scattered by
    :func:`_scatter`."""
    N, C = x_shape[:2]
    O = w.shape[0]
    G = g.groups
    Ho, Wo = g.out
    gct = np.matmul(_gy(gy, g), w.reshape(G, O // G, -1))  # (G, N P, K)
    if G > 1:
        gct = np.ascontiguousarray(gct.transpose(1, 0, 2))  # (N P, G, K): the channels in order
    gx = np.empty(x_shape, gct.dtype)
    taps, Q = _frame(g, gct.dtype)
    _scatter(gct.reshape(N, Ho, Wo, -1), taps, g.s[0], g.s[1], g.pads[0], g.pads[2], Q, gx)
    return gx
