r"""Depthwise convolution as compiled loops (numba; used while ``settings.numba`` is True).

Same maps as ``_depthwise.py`` (its NumPy tap-wise multiply-adds stay the reference), with
``groups == C_in``, multiplier ``m = C_out / C_in``, output channel ``o = c m + q``, and the
padding handled by clipping each tap's range instead of a padded copy::

    y[n, o, h, w]   = sum_{i,j} W[c, q, i, j] x[n, c, h s_h - p_t + i d_h, w s_w - p_l + j d_w]
    gx[n, c, r, u] += W[c, q, i, j] gy[n, o, h, w]      at r = h s_h - p_t + i d_h, u = w s_w - p_l + j d_w

(taps falling in the padding read or write nothing). One output row is accumulated over all
k_h k_w taps while it sits in L1, so each kernel reads x (or gy) and writes y (or gx) once,
where the NumPy path makes k_h k_w m passes over the batch. The work is split by input
channels (each channel owns its outputs and its gx plane, so no two workers write the same
memory) over the engine's pool; the kernels release the GIL. gW stays on the NumPy path
(``_depthwise.dw_grad_weight``): compiled loops over the short output rows (a row-wise dot,
or per-tap row accumulators) measured 1.6-2x slower than its einsum reductions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core import jit
from cvprimer.core.pool import pool_map, workers
from cvprimer.core.settings import settings


@jit.kernel
def _dw_forward(x, w, y, c0, c1, sh, sw, dh, dw, pt, pl):  # pragma: no cover - compiled
    N, _, H, W = x.shape
    m, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    Ho, Wo = y.shape[2], y.shape[3]
    for n in range(N):
        for c in range(c0, c1):
            for q in range(m):
                o = c * m + q
                for h in range(Ho):
                    yr = y[n, o, h]
                    yr[:] = 0
                    for i in range(kh):
                        r = h * sh - pt + i * dh
                        if r < 0 or r >= H:
                            continue
                        xr = x[n, c, r]
                        for j in range(kw):
                            off = j * dw - pl  # output columns lo..hi-1 read inside x
                            lo = 0 if off >= 0 else (-off + sw - 1) // sw
                            hi = min(Wo, (W - 1 - off) // sw + 1) if W - 1 - off >= 0 else 0
                            wt = w[c, q, i, j]
                            if hi <= lo:
                                continue
                            ys = yr[lo:hi]  # slices indexed from 0: the loops vectorize
                            if sw == 1:  # contiguous slices (a separate name: another numba type)
                                x1 = xr[lo + off:hi + off]
                                for u in range(hi - lo):
                                    ys[u] += wt * x1[u]
                            else:
                                xs = xr[lo * sw + off:(hi - 1) * sw + off + 1:sw]
                                for u in range(hi - lo):
                                    ys[u] += wt * xs[u]


@jit.kernel
def _dw_grad_input(gy, w, gx, c0, c1, sh, sw, dh, dw, pt, pl):  # pragma: no cover - compiled
    N, _, H, W = gx.shape
    m, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    Ho, Wo = gy.shape[2], gy.shape[3]
    for n in range(N):
        for c in range(c0, c1):
            gx[n, c] = 0
            for q in range(m):
                o = c * m + q
                for h in range(Ho):
                    gr = gy[n, o, h]
                    for i in range(kh):
                        r = h * sh - pt + i * dh
                        if r < 0 or r >= H:
                            continue
                        xr = gx[n, c, r]
                        for j in range(kw):
                            off = j * dw - pl  # output columns lo..hi-1 read inside x
                            lo = 0 if off >= 0 else (-off + sw - 1) // sw
                            hi = min(Wo, (W - 1 - off) // sw + 1) if W - 1 - off >= 0 else 0
                            wt = w[c, q, i, j]
                            if hi <= lo:
                                continue
                            gs = gr[lo:hi]
                            if sw == 1:
                                x1 = xr[lo + off:hi + off]
                                for u in range(hi - lo):
                                    x1[u] += wt * gs[u]
                            else:
                                xs = xr[lo * sw + off:(hi - 1) * sw + off + 1:sw]
                                for u in range(hi - lo):
                                    xs[u] += wt * gs[u]


def _run(kernel: Any, C: int, per_channel: int, *args: Any) -> None:
    """``kernel(*args[:3], c0, c1, *args[3:])`` over channel ranges on the worker pool."""
    k = min(workers(), C, max(1, (C * per_channel) // max(1, settings.min_chunk_elements)))
    bounds = [round(i * C / k) for i in range(k + 1)]
    spans = [(bounds[i], bounds[i + 1]) for i in range(k)]
    pool_map(lambda a, b: kernel(*args[:3], a, b, *args[3:]), spans, blas_single=False)


def _geo(g: Any) -> tuple[int, ...]:
    return g.s[0], g.s[1], g.d[0], g.d[1], g.pads[0], g.pads[2]


def jit_dw_forward(x: np.ndarray, w: np.ndarray, g: Any) -> tuple[np.ndarray, np.ndarray]:
    """x (N, C, H, W), w (C m, 1, k_h, k_w) -> (y (N, C m, H_out, W_out), x kept for gW)."""
    N, C, H, W = x.shape
    x = np.ascontiguousarray(x)
    wt = np.ascontiguousarray(w.reshape(C, -1, g.k[0], g.k[1]))
    y = np.empty((N, w.shape[0]) + g.out, x.dtype)
    _run(_dw_forward.compiled, C, N * H * W, x, wt, y, *_geo(g))
    return y, x


def jit_dw_grad_input(gy: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], g: Any) -> np.ndarray:
    """gy (N, C m, H_out, W_out) -> gx (N, C, H, W)."""
    N, C, H, W = x_shape
    wt = np.ascontiguousarray(w.reshape(C, -1, g.k[0], g.k[1]))
    gx = np.empty(x_shape, gy.dtype)
    _run(_dw_grad_input.compiled, C, N * H * W, np.ascontiguousarray(gy), wt, gx, *_geo(g))
    return gx
