r"""Depthwise convolution, channels-last inside each image (numba; vectorised over channels).

Same maps as ``_depthwise.py`` (groups == C_in, multiplier ``m = C_out / C_in``, output channel
``o = c m + q``)::

    y[n, o, h, w]   = sum_{i,j} W[c, q, i, j] x[n, c, h s_h - p_t + i d_h, w s_w - p_l + j d_w]
    gx[n, c, r, u] += W[c, q, i, j] gy[n, o, h, w]      at r = h s_h - p_t + i d_h, u = w s_w - p_l + j d_w
    gW[c, q, i, j]  = sum_{n,h,w} gy[n, o, h, w] x[n, c, h s_h - p_t + i d_h, w s_w - p_l + j d_w]

The NCHW kernels of ``_depthwise_jit`` run one tap over one channel's plane at a time: on the small
maps of a network's late stages (8x8, 4x4) a plane is a few dozen values and the per-plane setup costs
more than its taps. Here the channels are the innermost axis, as in PyTorch's (oneDNN's) depthwise
kernels, so a tap is one multiply-add over a run of channels, whatever the map size.

**Layout.** A worker owns the channels ``[c0, c1)`` (K of them) and goes image by image. The image's
channels are copied (a transposition, in cache) into a zero-padded buffer with the padded columns split
into their ``s_w`` phases, channels last::

    S[R, b, V, k] = xpad[n, c0 + k, R, V s_w + b]        (R < H_p, b < s_w, V < W_q, k < K)

Output row h of tap (i, j) then reads, over every output column w and channel k at once, ONE contiguous
run of W_out K values: ``S[h s_h + i d_h, b_j, f_j + w, k]`` with ``b_j = (j d_w) mod s_w`` and
``f_j = floor(j d_w / s_w)``. The weights are laid out once per call on the same (w, k) run (each
channel's weight repeated W_out times), so every tap of every row is one vectorised multiply-add of
length W_out K (no border tests: the padding is real zeros)::

    A[h, w K + k] += Wt[q, i, j, w K + k] * S[h s_h + i d_h, b_j, (f_j + w) K + k]

and A (H_out, W_out K) is copied back to y[n] (channels first).

* input gradient: the same runs with the roles swapped: gy[n] is laid out channels last as B
  (H_out, W_out K); a zeroed buffer G shaped like S accumulates ``Wt * B[h]`` on each tap's run (the
  adjoint of the gather), and G's interior (the padding dropped) is copied back to gx[n];
* weight gradient: an accumulator run per (q, i, j) collects ``B[h] * S[run]`` lane by lane over the
  rows of a few images (float32 sums of ``IMAGES_PER_SUM`` H_out terms), then the lanes are added into a
  float64 total per (q, i, j, channel); at the end ``gW = total`` cast to the input's dtype.

Results do not depend on the thread count: each channel's values are computed by one worker, in the
same order, whatever the split.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core import jit
from cvprimer.core.pool import pool_map, workers
from cvprimer.core.settings import settings

# the weight gradient's float32 lanes are added into the float64 totals every this many images (each add
# costs 1/4 of an image's taps on 4x4 maps; 8 images of H_out rows each are still short float32 sums)
IMAGES_PER_SUM = 8


@jit.inline
def _fill(S, img, c0, c1, pt, pl):  # pragma: no cover - compiled
    """S[R, b, V, k] = img[c0 + k, R - p_t, V s_w + b - p_l] on img's positions (the rest untouched).
    Channels innermost: long runs of contiguous writes (a loop along a plane's short rows, writing with a
    stride, measured 2.5x slower on 4x4 planes). On planes of 16 columns or more a pixel's channels lie
    1-4 KiB apart, in few cache sets, and this copy loses to the per-plane kernels' own (see
    ``_depthwise_jit._small``)."""
    sw = S.shape[1]
    H, W = img.shape[1], img.shape[2]
    K = c1 - c0
    for r in range(H):
        Sr = S[r + pt]
        for u in range(W):
            col = u + pl
            d = Sr[col % sw, col // sw]
            for k in range(K):
                d[k] = img[c0 + k, r, u]


@jit.inline
def _drain(G, img, c0, c1, pt, pl):  # pragma: no cover - compiled
    """img[c0 + k, r, u] = G[r + p_t, b, V, k] at u + p_l = V s_w + b: the inverse of :func:`_fill`."""
    sw = G.shape[1]
    H, W = img.shape[1], img.shape[2]
    K = c1 - c0
    for r in range(H):
        Gr = G[r + pt]
        for u in range(W):
            col = u + pl
            src = Gr[col % sw, col // sw]
            for k in range(K):
                img[c0 + k, r, u] = src[k]


@jit.inline
def _rows_in(B, img, c0, c1, m, q):  # pragma: no cover - compiled
    """B[h, w K + k] = img[(c0 + k) m + q, h, w]: one output channel group laid out channels last."""
    K = c1 - c0
    Ho, Wo = img.shape[1], img.shape[2]
    for h in range(Ho):
        Bh = B[h]
        for u in range(Wo):
            d = Bh[u * K:(u + 1) * K]
            for k in range(K):
                d[k] = img[(c0 + k) * m + q, h, u]


@jit.inline
def _rows_out(A, img, c0, c1, m, q):  # pragma: no cover - compiled
    """img[(c0 + k) m + q, h, w] = A[h, w K + k]: the inverse of :func:`_rows_in`."""
    K = c1 - c0
    Ho, Wo = img.shape[1], img.shape[2]
    for h in range(Ho):
        Ah = A[h]
        for u in range(Wo):
            s = Ah[u * K:(u + 1) * K]
            for k in range(K):
                img[(c0 + k) * m + q, h, u] = s[k]


@jit.inline
def _tile(w, Wt, c0, c1, Wo):  # pragma: no cover - compiled
    """Wt[q, i, j, w K + k] = w[c0 + k, q, i, j]: each channel's weight repeated along the run."""
    K = c1 - c0
    m, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    for q in range(m):
        for i in range(kh):
            for j in range(kw):
                t = Wt[q, i, j]
                for u in range(Wo):
                    for k in range(K):
                        t[u * K + k] = w[c0 + k, q, i, j]


@jit.kernel(fastmath={"contract"})
def _forward(x, w, y, c0, c1, Hp, Wq, sh, sw, dh, dw, pt, pl):  # pragma: no cover - compiled
    N = x.shape[0]
    m, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    Ho, Wo = y.shape[2], y.shape[3]
    K = c1 - c0
    L = Wo * K
    S = np.zeros((Hp, sw, Wq * K), x.dtype)
    S4 = S.reshape(Hp, sw, Wq, K)
    A = np.empty((Ho, L), x.dtype)
    Wt = np.empty((m, kh, kw, L), x.dtype)
    _tile(w, Wt, c0, c1, Wo)
    for n in range(N):
        _fill(S4, x[n], c0, c1, pt, pl)
        for q in range(m):
            for h in range(Ho):
                a = A[h]
                for t in range(L):
                    a[t] = 0
                for i in range(kh):
                    Sr = S[h * sh + i * dh]
                    for j in range(kw):
                        f = (j * dw) // sw
                        src = Sr[j * dw - f * sw, f * K:f * K + L]
                        wt = Wt[q, i, j]
                        for t in range(L):
                            a[t] += wt[t] * src[t]
            _rows_out(A, y[n], c0, c1, m, q)


@jit.kernel(fastmath={"contract"})
def _grad_input(gy, w, gx, c0, c1, Hp, Wq, sh, sw, dh, dw, pt, pl):  # pragma: no cover - compiled
    N, _, H, W = gx.shape
    m, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    Ho, Wo = gy.shape[2], gy.shape[3]
    K = c1 - c0
    L = Wo * K
    G = np.empty((Hp, sw, Wq * K), gy.dtype)
    G4 = G.reshape(Hp, sw, Wq, K)
    B = np.empty((Ho, L), gy.dtype)
    Wt = np.empty((m, kh, kw, L), gy.dtype)
    _tile(w, Wt, c0, c1, Wo)
    for n in range(N):
        G[:] = 0
        for q in range(m):
            _rows_in(B, gy[n], c0, c1, m, q)
            for h in range(Ho):
                b = B[h]
                for i in range(kh):
                    Gr = G[h * sh + i * dh]
                    for j in range(kw):
                        f = (j * dw) // sw
                        dst = Gr[j * dw - f * sw, f * K:f * K + L]
                        wt = Wt[q, i, j]
                        for t in range(L):
                            dst[t] += wt[t] * b[t]
        _drain(G4, gx[n], c0, c1, pt, pl)


@jit.kernel(fastmath={"contract"})
def _grad_weight(x, gy, gw, c0, c1, Hp, Wq, sh, sw, dh, dw, pt, pl):  # pragma: no cover - compiled
    N = x.shape[0]
    m, kh, kw = gw.shape[1], gw.shape[2], gw.shape[3]
    Ho, Wo = gy.shape[2], gy.shape[3]
    K = c1 - c0
    L = Wo * K
    S = np.zeros((Hp, sw, Wq * K), x.dtype)
    S4 = S.reshape(Hp, sw, Wq, K)
    B = np.empty((Ho, L), gy.dtype)
    acc = np.zeros((m, kh, kw, L), gy.dtype)
    total = np.zeros((m, kh, kw, K), np.float64)
    for n in range(N):
        _fill(S4, x[n], c0, c1, pt, pl)
        for q in range(m):
            _rows_in(B, gy[n], c0, c1, m, q)
            for h in range(Ho):
                b = B[h]
                for i in range(kh):
                    Sr = S[h * sh + i * dh]
                    for j in range(kw):
                        f = (j * dw) // sw
                        src = Sr[j * dw - f * sw, f * K:f * K + L]
                        a = acc[q, i, j]
                        for t in range(L):
                            a[t] += b[t] * src[t]
        if (n + 1) % IMAGES_PER_SUM == 0 or n == N - 1:
            for q in range(m):
                for i in range(kh):
                    for j in range(kw):
                        a = acc[q, i, j]
                        tot = total[q, i, j]
                        for u in range(Wo):
                            for k in range(K):
                                tot[k] += a[u * K + k]
            acc[:] = 0
    for q in range(m):
        for i in range(kh):
            for j in range(kw):
                for k in range(K):
                    gw[c0 + k, q, i, j] = total[q, i, j, k]


def _extent(x_shape: tuple[int, ...], g: Any) -> tuple[int, int]:
    """(H_p, W_q): the padded rows every tap reads and the phase width (columns per column phase)."""
    _, _, H, W = x_shape
    Ho, Wo = g.out
    Hp = max(H + g.pads[0], (Ho - 1) * g.s[0] + (g.k[0] - 1) * g.d[0] + 1)
    Wp = max(W + g.pads[2], (Wo - 1) * g.s[1] + (g.k[1] - 1) * g.d[1] + 1)
    return Hp, -(-Wp // g.s[1])


def _run(kernel: Any, a: np.ndarray, b: np.ndarray, out: np.ndarray, C: int, per_channel: int,
         x_shape: tuple[int, ...], g: Any) -> None:
    """``kernel(a, b, out, c0, c1, ...)`` over channel ranges on the worker pool (each channel's
    outputs are written by one worker only)."""
    k = min(workers(), C, max(1, (C * per_channel) // max(1, settings.min_chunk_elements)))
    bounds = [round(i * C / k) for i in range(k + 1)]
    geo = _extent(x_shape, g) + (g.s[0], g.s[1], g.d[0], g.d[1], g.pads[0], g.pads[2])
    pool_map(lambda c0, c1: kernel.compiled(a, b, out, c0, c1, *geo),
             [(bounds[i], bounds[i + 1]) for i in range(k)], blas_single=False)


def nhwc_forward(x: np.ndarray, w: np.ndarray, g: Any) -> tuple[np.ndarray, np.ndarray]:
    """x (N, C, H, W), w (C m, 1, k_h, k_w) -> (y (N, C m, H_out, W_out), x kept for the weight gradient)."""
    N, C, H, W = x.shape
    x = np.ascontiguousarray(x)
    wt = np.ascontiguousarray(w.reshape(C, -1, g.k[0], g.k[1]))
    y = np.empty((N, w.shape[0]) + g.out, x.dtype)
    _run(_forward, x, wt, y, C, N * H * W, x.shape, g)
    return y, x


def nhwc_grad_input(gy: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], g: Any) -> np.ndarray:
    """gy (N, C m, H_out, W_out) -> gx (N, C, H, W)."""
    N, C, H, W = x_shape
    wt = np.ascontiguousarray(w.reshape(C, -1, g.k[0], g.k[1]))
    gx = np.empty(x_shape, gy.dtype)
    _run(_grad_input, np.ascontiguousarray(gy), wt, gx, C, N * H * W, x_shape, g)
    return gx


def nhwc_grad_weight(x: np.ndarray, gy: np.ndarray, w_shape: tuple[int, ...], g: Any) -> np.ndarray:
    """x (N, C, H, W), gy (N, C m, H_out, W_out) -> gW (C m, 1, k_h, k_w)."""
    N, C, H, W = x.shape
    gw = np.empty((C, w_shape[0] // C) + g.k, gy.dtype)
    _run(_grad_weight, np.ascontiguousarray(x), np.ascontiguousarray(gy), gw, C, N * H * W, x.shape, g)
    return gw.reshape(w_shape)
