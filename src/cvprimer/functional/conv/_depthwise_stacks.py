r"""Depthwise convolution on small maps: one run per tap over the whole batch (numba).

For maps of at most ``settings.conv_dw_stack_below`` output pixels the per-plane kernels of
``_depthwise_jit`` spend more on each (image, channel) plane's setup than on its few taps. Here
the input is laid out once (NumPy) so that one channel's planes of every image follow each other,
and each tap is one run over all of them.

**Layout.** The input is copied once (a compiled copy) into zero-padded polyphase
stacks, channel first::

    Q[c, a, b, n, R, V] = xpad[n, c, R s_h + a, V s_w + b],   xpad = x padded by (p_t, p_l) with zeros

so that position (h s_h + i d_h, w s_w + j d_w) of image n is ``Q[c, a_i, b_j, n, h + e_i, w + f_j]``
with ``a_i = (i d_h) mod s_h``, ``e_i = floor(i d_h / s_h)`` (columns alike). Flattened over
(n, R, V) with row length W_q, each tap (i, j) of channel c is then ONE contiguous run over every
image of the batch, at offset ``e_i W_q + f_j``; outputs sit on the same (n, R, V) grid, the rows
``R >= H_out`` and columns ``V >= W_out`` of each image being junk that is dropped. Each tap is one
long vectorized multiply-add (rows of 4-32 values, looped one by one, left the per-loop overhead
larger than the work), with no border clipping and no strided gathers. The image blocks have
one spare row so that a run never leaves its stack.

* forward: ``Y[o, 0:L] += W[c, q, i, j] * Q[c, a_i, b_j, e_i W_q + f_j :][0:L]``, then the valid
  part of Y is copied to y;
* input gradient: gy is laid on the same grid with ZERO junk (it would land on real positions),
  a zeroed stack G accumulates ``W * gy`` over the same runs, and G is copied back into gx;
* weight gradient: ``gW[c, q, i, j] = <gy_grid[o], Q[c, a_i, b_j, offset:]>`` over the run (junk is
  zero), a dot compiled with reassociation allowed (``fastmath``) so that it vectorizes.

Measured (1 thread, process CPU, forward + both gradients, per-plane -> these): 64x144x8x8 3x3/2
9.5 -> 5.7 ms, 64x192x4x4 6.6 -> 4.4, 64x480x2x2 11.1 -> 6.7; on 16x16 and larger maps these are
slower (the x-sized layout copies leave the cache), so they are used on small outputs only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core import jit


@jit.kernel
def taps_forward(Q, w, Y, c0, c1, Wq, L, dh, dw):  # pragma: no cover - compiled
    sh, sw = Q.shape[1], Q.shape[2]
    m, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    for c in range(c0, c1):
        for q in range(m):
            acc = Y[c * m + q]
            for k in range(L):
                acc[k] = 0
            for i in range(kh):
                e = i * dh // sh
                for j in range(kw):
                    f = j * dw // sw
                    src = Q[c, i * dh - e * sh, j * dw - f * sw, e * Wq + f:]
                    wt = w[c, q, i, j]
                    for k in range(L):
                        acc[k] += wt * src[k]


@jit.kernel
def taps_grad_input(G, w, gq, c0, c1, Wq, L, dh, dw):  # pragma: no cover - compiled
    sh, sw = G.shape[1], G.shape[2]
    m, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    for c in range(c0, c1):
        G[c] = 0
        for q in range(m):
            g = gq[c * m + q]
            for i in range(kh):
                e = i * dh // sh
                for j in range(kw):
                    f = j * dw // sw
                    dst = G[c, i * dh - e * sh, j * dw - f * sw, e * Wq + f:]
                    wt = w[c, q, i, j]
                    for k in range(L):
                        dst[k] += wt * g[k]


@jit.kernel(fastmath={"reassoc", "contract"})
def taps_grad_weight(Q, gq, gw, c0, c1, Wq, L, dh, dw):  # pragma: no cover - compiled
    sh, sw = Q.shape[1], Q.shape[2]
    m, kh, kw = gw.shape[1], gw.shape[2], gw.shape[3]
    for c in range(c0, c1):
        for q in range(m):
            g = gq[c * m + q]
            for i in range(kh):
                e = i * dh // sh
                for j in range(kw):
                    f = j * dw // sw
                    src = Q[c, i * dh - e * sh, j * dw - f * sw, e * Wq + f:]
                    s = 0.0
                    for k in range(L):
                        s += g[k] * src[k]
                    gw[c, q, i, j] = s


def grid(x_shape: tuple[int, ...], g: Any) -> tuple[int, int, int, int]:
    """(s_h, s_w, H_q, W_q): one image block of the polyphase stacks, with room for x, every tap's
    run, and one spare row (a run may end up to W_q - 1 values past its last output row)."""
    _, _, H, W = x_shape
    Ho, Wo = g.out
    Hp = max(H + g.pads[0], (Ho - 1) * g.s[0] + (g.k[0] - 1) * g.d[0] + 1)
    Wp = max(W + g.pads[2], (Wo - 1) * g.s[1] + (g.k[1] - 1) * g.d[1] + 1)
    return g.s[0], g.s[1], -(-Hp // g.s[0]) + 1, -(-Wp // g.s[1])


@jit.inline
def fill(P, plane, sh, sw, pt, pl):  # pragma: no cover - compiled
    """The (H, W) plane into its padded polyphase components P (the padding stays as it is: 0)."""
    H, W = plane.shape
    for r in range(H):
        xr = plane[r]
        R = r + pt
        Pr = P[R % sh, :, R // sh]
        if sw == 1:
            dst1 = Pr[0, pl:]
            for k in range(W):
                dst1[k] = xr[k]
            continue
        for b in range(sw):  # columns u with (u + p_l) mod s_w == b, from u0 on
            u0 = (b - pl) % sw
            dst = Pr[b, (u0 + pl) // sw:]
            for k in range((W - u0 + sw - 1) // sw):
                dst[k] = xr[u0 + k * sw]


@jit.inline
def drain(P, plane, sh, sw, pt, pl):  # pragma: no cover - compiled
    """The inverse of :func:`fill` on the plane's positions: plane[r, u] = P[...] (padding dropped)."""
    H, W = plane.shape
    for r in range(H):
        gr = plane[r]
        R = r + pt
        Pr = P[R % sh, :, R // sh]
        if sw == 1:
            src1 = Pr[0, pl:]
            for k in range(W):
                gr[k] = src1[k]
            continue
        for b in range(sw):
            u0 = (b - pl) % sw
            src = Pr[b, (u0 + pl) // sw:]
            for k in range((W - u0 + sw - 1) // sw):
                gr[u0 + k * sw] = src[k]


@jit.kernel
def _fill_stacks(x, Q, pt, pl):  # pragma: no cover - compiled
    """Q (C, s_h, s_w, N, H_q, W_q), zeroed: each (image, channel) plane into its padded components."""
    N, C = x.shape[0], x.shape[1]
    sh, sw = Q.shape[1], Q.shape[2]
    for c in range(C):
        for n in range(N):
            fill(Q[c, :, :, n], x[n, c], sh, sw, pt, pl)


@jit.kernel
def _drain_stacks(G, gx, pt, pl):  # pragma: no cover - compiled
    """The inverse of :func:`_fill_stacks` on x's positions."""
    N, C = gx.shape[0], gx.shape[1]
    sh, sw = G.shape[1], G.shape[2]
    for n in range(N):
        for c in range(C):
            drain(G[c, :, :, n], gx[n, c], sh, sw, pt, pl)


@jit.kernel
def _to_grid(a, q):  # pragma: no cover - compiled
    """q[o, n, h, w] = a[n, o, h, w] (q's extra rows/columns untouched)."""
    N, O, Ho, Wo = a.shape
    for o in range(O):
        for n in range(N):
            for h in range(Ho):
                src = a[n, o, h]
                dst = q[o, n, h]
                for w in range(Wo):
                    dst[w] = src[w]


@jit.kernel
def _from_grid(q, a):  # pragma: no cover - compiled
    """a[n, o, h, w] = q[o, n, h, w] for a's positions."""
    N, O, Ho, Wo = a.shape
    for n in range(N):
        for o in range(O):
            for h in range(Ho):
                src = q[o, n, h]
                dst = a[n, o, h]
                for w in range(Wo):
                    dst[w] = src[w]


def to_stacks(x: np.ndarray, g: Any, grid: tuple[int, int, int, int]) -> np.ndarray:
    """x (N, C, H, W) -> Q (C, s_h, s_w, N H_q W_q), zero-padded polyphase stacks."""
    N, C, H, W = x.shape
    sh, sw, Hq, Wq = grid
    Q = np.zeros((C, sh, sw, N, Hq, Wq), x.dtype)
    _fill_stacks(np.ascontiguousarray(x), Q, g.pads[0], g.pads[2])
    return Q.reshape(C, sh, sw, N * Hq * Wq)


def from_stacks(G: np.ndarray, x_shape: tuple[int, ...], g: Any, grid: tuple[int, int, int, int]) -> np.ndarray:
    """The inverse of :func:`to_stacks` on x's positions (padding dropped): G -> gx (N, C, H, W)."""
    N, C, H, W = x_shape
    sh, sw, Hq, Wq = grid
    gx = np.empty(x_shape, G.dtype)
    _drain_stacks(G.reshape(C, sh, sw, N, Hq, Wq), gx, g.pads[0], g.pads[2])
    return gx


def gy_grid(gy: np.ndarray, grid: tuple[int, int, int, int]) -> np.ndarray:
    """gy (N, C m, H_out, W_out) -> (C m, N H_q W_q) on the output grid, junk rows/columns zero."""
    N, O, Ho, Wo = gy.shape
    _, _, Hq, Wq = grid
    gq = np.zeros((O, N, Hq, Wq), gy.dtype)
    _to_grid(np.ascontiguousarray(gy), gq)
    return gq.reshape(O, N * Hq * Wq)


def from_grid(Y: np.ndarray, N: int, out: tuple[int, int], grid: tuple[int, int, int, int]) -> np.ndarray:
    """Y (C m, N H_q W_q) on the output grid -> y (N, C m, H_out, W_out)."""
    O = Y.shape[0]
    y = np.empty((N, O) + out, Y.dtype)
    _from_grid(Y.reshape(O, N, grid[2], grid[3]), y)
    return y


def run_length(N: int, g: Any, grid: tuple[int, int, int, int]) -> int:
    """L: the run from the first image's first row to the last image's last output row."""
    _, _, Hq, Wq = grid
    return (N - 1) * Hq * Wq + g.out[0] * Wq
