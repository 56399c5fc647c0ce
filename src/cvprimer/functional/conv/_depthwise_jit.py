r"""Depthwise convolution as compiled loops (numba; used while ``settings.numba`` is True).

Same maps as ``_depthwise.py`` (its NumPy tap-wise multiply-adds stay the reference), with
``groups == C_in``, multiplier ``m = C_out / C_in``, output channel ``o = c m + q``::

    y[n, o, h, w]   = sum_{i,j} W[c, q, i, j] x[n, c, h s_h - p_t + i d_h, w s_w - p_l + j d_w]
    gx[n, c, r, u] += W[c, q, i, j] gy[n, o, h, w]      at r = h s_h - p_t + i d_h, u = w s_w - p_l + j d_w
    gW[c, q, i, j]  = sum_{n,h,w} gy[n, o, h, w] x[n, c, h s_h - p_t + i d_h, w s_w - p_l + j d_w]

**Layout.** Each (image, channel) plane is copied once into a zero-padded buffer split into its
s_h x s_w polyphase components (one component when the conv has stride 1)::

    P[a, b, R, V] = xpad[R s_h + a, V s_w + b],    xpad[r, u] = x[n, c, r - p_t, u - p_l] (0 outside x)

Position (h s_h + i d_h, w s_w + j d_w) of the padded plane is then ``P[a_i, b_j, h + e_i, w + f_j]``
with ``a_i = (i d_h) mod s_h``, ``e_i = floor(i d_h / s_h)`` (and the same for columns). Stored flat
with row length W_q, every tap (i, j) reads ONE contiguous run of H_out W_q values starting at
``e_i W_q + f_j`` of its component; outputs are kept on rows of W_q as well (columns
``w >= W_out`` are junk and dropped). So each tap is one long vectorized multiply-add over the
whole plane, with no border clipping and no strided gathers (a loop per output row measured ~2x
slower: rows of 8-32 values leave the per-loop overhead larger than the work). Slices are taken
first and indexed from 0 (numba's negative-index check on ``a[u + k]`` stops the vectorizer).

* forward: ``acc[0:L] += W[c, q, i, j] * P_flat[a_i, b_j, e_i W_q + f_j :][0:L]``, L = H_out W_q,
  then the valid columns go to y;
* input gradient: gy is laid on rows of W_q with ZERO junk columns (they would otherwise land on
  real positions), a zeroed phase buffer accumulates ``W * gy_row`` over the same runs, and is
  interleaved back into gx (its padding dropped) once per plane;
* weight gradient: one accumulator run per (q, i, j) collects ``gy * P_flat[...]`` lane by lane
  over every image of the channel (a vectorizable multiply-add; a dot would be a sequential
  reduction) and is summed at the end in float64.

The work is split by input channels (each channel owns its outputs, gx planes and gW entries, so
no two workers write the same memory) over the engine's pool; the kernels release the GIL.
Small outputs (at most ``settings.conv_dw_stack_below`` pixels, of inputs narrower than 16 columns)
take :mod:`._depthwise_nhwc` instead (channels last inside each image, every tap one run over the
channels), where a plane's few taps cost less than its setup.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core import jit
from cvprimer.core.pool import pool_map, workers
from cvprimer.core.settings import settings
from cvprimer.functional.conv import _depthwise_nhwc as nhwc


@jit.inline
def _fill(P, plane, sh, sw, pt, pl):  # pragma: no cover - compiled
    """The (H, W) plane into its padded polyphase components P (the padding stays as it is: 0).
    One row loop per case (a case test inside a shared row loop slowed the stride-1 kernels ~15%)."""
    H, W = plane.shape
    if sw == 1:
        for r in range(H):
            R = r + pt
            dst1, xr = P[R % sh, 0, R // sh, pl:], plane[r]
            for k in range(W):
                dst1[k] = xr[k]
        return
    if sw == 2:  # columns in pairs (even, odd phase): one loop that vectorises, 3x faster than two strided
        u0 = pl % 2  # the first column of phase 0
        npair = (W - u0) // 2
        for r in range(H):
            R = r + pt
            Pr, xr = P[R % sh, :, R // sh], plane[r]
            if u0:
                Pr[1, pl // 2] = xr[0]
            d0, d1, src = Pr[0, (u0 + pl) // 2:], Pr[1, (u0 + pl) // 2:], xr[u0:]
            for k in range(npair):
                d0[k] = src[2 * k]
                d1[k] = src[2 * k + 1]
            if (W - u0) % 2:
                d0[npair] = src[2 * npair]
        return
    for r in range(H):
        R = r + pt
        Pr, xr = P[R % sh, :, R // sh], plane[r]
        for b in range(sw):  # columns u with (u + p_l) mod s_w == b, from u0 on
            u0 = (b - pl) % sw
            dst = Pr[b, (u0 + pl) // sw:]
            for k in range((W - u0 + sw - 1) // sw):
                dst[k] = xr[u0 + k * sw]


@jit.inline
def _drain(P, plane, sh, sw, pt, pl):  # pragma: no cover - compiled
    """The inverse of :func:`_fill` on the plane's positions: plane[r, u] = P[...] (padding dropped)."""
    H, W = plane.shape
    if sw == 1:
        for r in range(H):
            R = r + pt
            src1, gr = P[R % sh, 0, R // sh, pl:], plane[r]
            for k in range(W):
                gr[k] = src1[k]
        return
    if sw == 2:  # as in _fill
        u0 = pl % 2
        npair = (W - u0) // 2
        for r in range(H):
            R = r + pt
            Pr, gr = P[R % sh, :, R // sh], plane[r]
            if u0:
                gr[0] = Pr[1, pl // 2]
            s0, s1, dst = Pr[0, (u0 + pl) // 2:], Pr[1, (u0 + pl) // 2:], gr[u0:]
            for k in range(npair):
                dst[2 * k] = s0[k]
                dst[2 * k + 1] = s1[k]
            if (W - u0) % 2:
                dst[2 * npair] = s0[npair]
        return
    for r in range(H):
        R = r + pt
        Pr, gr = P[R % sh, :, R // sh], plane[r]
        for b in range(sw):
            u0 = (b - pl) % sw
            src = Pr[b, (u0 + pl) // sw:]
            for k in range((W - u0 + sw - 1) // sw):
                gr[u0 + k * sw] = src[k]


@jit.kernel
def _dw_forward(x, w, y, P, acc, c0, c1, sh, sw, dh, dw, pt, pl):  # pragma: no cover - compiled
    N, _, H, W = x.shape
    m, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    Ho, Wo = y.shape[2], y.shape[3]
    Wq = P.shape[3]
    L = Ho * Wq
    Pf = P.reshape(sh, sw, P.shape[2] * Wq)
    for n in range(N):
        for c in range(c0, c1):
            _fill(P, x[n, c], sh, sw, pt, pl)
            for q in range(m):
                acc[:] = 0
                for i in range(kh):
                    e = i * dh // sh
                    for j in range(kw):
                        f = j * dw // sw
                        src = Pf[i * dh - e * sh, j * dw - f * sw, e * Wq + f:e * Wq + f + L]
                        wt = w[c, q, i, j]
                        for k in range(L):
                            acc[k] += wt * src[k]
                o = c * m + q
                for h in range(Ho):
                    yr = y[n, o, h]
                    ar = acc[h * Wq:]
                    for u in range(Wo):
                        yr[u] = ar[u]


@jit.kernel
def _dw_grad_input(gy, w, gx, P, g, c0, c1, sh, sw, dh, dw, pt, pl):  # pragma: no cover - compiled
    N, _, H, W = gx.shape
    m, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    Ho, Wo = gy.shape[2], gy.shape[3]
    Wq = P.shape[3]
    L = Ho * Wq
    Pf = P.reshape(sh, sw, P.shape[2] * Wq)
    g[:] = 0  # gy on rows of W_q: the junk columns stay zero
    for n in range(N):
        for c in range(c0, c1):
            P[:] = 0
            for q in range(m):
                o = c * m + q
                for h in range(Ho):
                    gr = gy[n, o, h]
                    grow = g[h * Wq:]
                    for u in range(Wo):
                        grow[u] = gr[u]
                for i in range(kh):
                    e = i * dh // sh
                    for j in range(kw):
                        f = j * dw // sw
                        dst = Pf[i * dh - e * sh, j * dw - f * sw, e * Wq + f:e * Wq + f + L]
                        wt = w[c, q, i, j]
                        for k in range(L):
                            dst[k] += wt * g[k]
            _drain(P, gx[n, c], sh, sw, pt, pl)


@jit.kernel
def _dw_grad_weight(x, gy, gw, P, g, acc, c0, c1, sh, sw, dh, dw, pt, pl):  # pragma: no cover - compiled
    N, _, H, W = x.shape
    m, kh, kw = gw.shape[1], gw.shape[2], gw.shape[3]
    Ho, Wo = gy.shape[2], gy.shape[3]
    Wq = P.shape[3]
    L = Ho * Wq
    Pf = P.reshape(sh, sw, P.shape[2] * Wq)
    g[:] = 0
    for c in range(c0, c1):
        acc[:] = 0
        for n in range(N):
            _fill(P, x[n, c], sh, sw, pt, pl)
            for q in range(m):
                o = c * m + q
                for h in range(Ho):
                    gr = gy[n, o, h]
                    grow = g[h * Wq:]
                    for u in range(Wo):
                        grow[u] = gr[u]
                for i in range(kh):
                    e = i * dh // sh
                    for j in range(kw):
                        f = j * dw // sw
                        src = Pf[i * dh - e * sh, j * dw - f * sw, e * Wq + f:e * Wq + f + L]
                        a = acc[q, i, j]
                        for k in range(L):
                            a[k] += g[k] * src[k]
        for q in range(m):
            for i in range(kh):
                for j in range(kw):
                    s = 0.0
                    for k in range(L):
                        s += acc[q, i, j, k]
                    gw[c, q, i, j] = s


def _phase_shape(x_shape: tuple[int, ...], g: Any) -> tuple[int, int, int, int]:
    """(s_h, s_w, H_q, W_q) of the polyphase buffer: room for x, every tap's run, and one spare
    row (a run may end up to W_q - 1 values past its last output row)."""
    _, _, H, W = x_shape
    Ho, Wo = g.out
    Hp = max(H + g.pads[0], (Ho - 1) * g.s[0] + (g.k[0] - 1) * g.d[0] + 1)
    Wp = max(W + g.pads[2], (Wo - 1) * g.s[1] + (g.k[1] - 1) * g.d[1] + 1)
    return g.s[0], g.s[1], -(-Hp // g.s[0]) + 1, -(-Wp // g.s[1])


def _run(kernel: Any, C: int, per_channel: int, make: Any, *args: Any) -> None:
    """``kernel(*args[:3], *make(), c0, c1, *args[3:])`` over channel ranges on the worker pool;
    ``make()`` gives each worker its own scratch buffers."""
    k = min(workers(), C, max(1, (C * per_channel) // max(1, settings.min_chunk_elements)))
    bounds = [round(i * C / k) for i in range(k + 1)]
    spans = [(bounds[i], bounds[i + 1]) for i in range(k)]
    pool_map(lambda a, b: kernel(*args[:3], *make(), a, b, *args[3:]), spans, blas_single=False)


def _geo(g: Any) -> tuple[int, ...]:
    return g.s[0], g.s[1], g.d[0], g.d[1], g.pads[0], g.pads[2]


# the channels-last kernels take planes narrower than this (and small outputs): their copy of a plane's
# pixels, channels last, reads one value per channel plane, cheap on 2-8 columns; at 16 columns the
# per-plane kernels win (64x96x16x16 stride 2, f+gx+gW, 1 thread: per plane 8.1 ms, channels last 9.6)
_NHWC_BELOW_WIDTH = 16


def _small(g: Any, width: int) -> bool:
    """Maps for the channels-last kernels of :mod:`._depthwise_nhwc`: outputs of at most
    ``settings.conv_dw_stack_below`` pixels from inputs narrower than ``_NHWC_BELOW_WIDTH``."""
    return g.out[0] * g.out[1] <= settings.conv_dw_stack_below and width < _NHWC_BELOW_WIDTH


def jit_dw_forward(x: np.ndarray, w: np.ndarray, g: Any) -> tuple[np.ndarray, np.ndarray]:
    """x (N, C, H, W), w (C m, 1, k_h, k_w) -> (y (N, C m, H_out, W_out), x kept for gW)."""
    if _small(g, x.shape[3]):
        return nhwc.nhwc_forward(x, w, g)
    N, C, H, W = x.shape
    x = np.ascontiguousarray(x)
    wt = np.ascontiguousarray(w.reshape(C, -1, g.k[0], g.k[1]))
    y = np.empty((N, w.shape[0]) + g.out, x.dtype)
    shape = _phase_shape(x.shape, g)
    L = g.out[0] * shape[3]
    _run(_dw_forward.compiled, C, N * H * W, lambda: (np.zeros(shape, x.dtype), np.empty(L, x.dtype)),
         x, wt, y, *_geo(g))
    return y, x


def jit_dw_grad_input(gy: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], g: Any) -> np.ndarray:
    """gy (N, C m, H_out, W_out) -> gx (N, C, H, W)."""
    if _small(g, x_shape[3]):
        return nhwc.nhwc_grad_input(gy, w, x_shape, g)
    N, C, H, W = x_shape
    wt = np.ascontiguousarray(w.reshape(C, -1, g.k[0], g.k[1]))
    gx = np.empty(x_shape, gy.dtype)
    shape = _phase_shape(x_shape, g)
    L = g.out[0] * shape[3]
    _run(_dw_grad_input.compiled, C, N * H * W, lambda: (np.empty(shape, gy.dtype), np.empty(L, gy.dtype)),
         np.ascontiguousarray(gy), wt, gx, *_geo(g))
    return gx


def jit_dw_grad_weight(x: np.ndarray, gy: np.ndarray, w_shape: tuple[int, ...], g: Any) -> np.ndarray:
    """x (N, C, H, W), gy (N, C m, H_out, W_out) -> gW (C m, 1, k_h, k_w)."""
    if _small(g, x.shape[3]):
        return nhwc.nhwc_grad_weight(x, gy, w_shape, g)
    N, C, H, W = x.shape
    m = w_shape[0] // C
    gw = np.empty((C, m) + g.k, gy.dtype)
    shape = _phase_shape(x.shape, g)
    L = g.out[0] * shape[3]
    _run(_dw_grad_weight.compiled, C, N * H * W,
         lambda: (np.zeros(shape, x.dtype), np.empty(L, gy.dtype), np.empty((m,) + g.k + (L,), gy.dtype)),
         np.ascontiguousarray(x), np.ascontiguousarray(gy), gw, *_geo(g))
    return gw.reshape(w_shape)
