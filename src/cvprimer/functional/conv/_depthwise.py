r"""Depthwise convolution (``groups == C_in``, channel multiplier ``m = C_out / C_in``).

Each output channel ``c m + q`` sees only input channel ``c``, so a GEMM would have inner size
k_h k_w: too small for BLAS. Instead, per kernel tap (i, j) and multiplier index q::

    y[n, c, q]            += W[c, q, i, j] * xp[n, c, i d_h :: s_h, j d_w :: s_w]   (strided view)
    gxp[n, c, view(i, j)] += W[c, q, i, j] * gy[n, c, q]
    gW[c, q, i, j]         = sum_{n,h,w} gy[n, c, q, h, w] * xp[n, c, view(i, j)]

These are memory-bound multiply-adds, so the batch is cut into blocks of a few images whose
working set stays in the L2 cache (each tap then re-reads cached data instead of RAM), and
the blocks run on a small thread pool (NumPy releases the GIL inside its loops).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from cvprimer.functional._conv_utils import _tap, pad2d

BLOCK_BYTES = 1 << 18  # padded input bytes per block: ~4 such arrays live per block
# worker threads for the blocks (None: the CPUs this process may use, at most 4); a benchmark
# that pins BLAS and PyTorch to n threads sets this to n too
NUM_THREADS: int | None = None
_POOL: ThreadPoolExecutor | None = None


def _workers() -> int:
    if NUM_THREADS is not None:
        return max(1, NUM_THREADS)
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 4))


def _blocks(fn: Callable[[int, int], Any], N: int, per_image: int) -> list[Any]:
    global _POOL
    nb = max(1, BLOCK_BYTES // max(per_image, 1))
    spans = [(i, min(i + nb, N)) for i in range(0, N, nb)]
    if len(spans) == 1 or _workers() == 1:
        return [fn(a, b) for a, b in spans]
    if _POOL is None or _POOL._max_workers != _workers():
        _POOL = ThreadPoolExecutor(_workers(), thread_name_prefix="cvprimer-dw")
    return list(_POOL.map(lambda ab: fn(*ab), spans))


def _views(g: Any) -> list[tuple[int, int, tuple[slice, slice]]]:
    return [(i, j, (_tap(i, g.d[0], g.s[0], g.out[0]), _tap(j, g.d[1], g.s[1], g.out[1])))
            for i in range(g.k[0]) for j in range(g.k[1])]


def dw_forward(x: np.ndarray, w: np.ndarray, g: Any) -> tuple[np.ndarray, np.ndarray]:
    """Returns (y (N, C m, H_out, W_out), x kept for :func:`dw_grad_weight`)."""
    N, C, H, W = x.shape
    m = w.shape[0] // C
    wt = w.reshape(C, m, g.k[0], g.k[1])
    y = np.empty((N, C, m) + g.out, x.dtype)
    taps = _views(g)

    def block(a: int, b: int) -> None:
        xp = pad2d(x[a:b], g.pads)
        tmp = np.empty((b - a, C) + g.out, x.dtype)
        for q in range(m):
            yq = y[a:b, :, q]
            for t, (i, j, (r, c)) in enumerate(taps):
                wij = wt[:, q, i, j, None, None]
                np.multiply(xp[:, :, r, c], wij, out=yq if t == 0 else tmp)
                if t:
                    yq += tmp

    _blocks(block, N, C * (H + g.pads[0] + g.pads[1]) * (W + g.pads[2] + g.pads[3]) * x.itemsize)
    return y.reshape((N, C * m) + g.out), x


def dw_grad_input(gy: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], g: Any) -> np.ndarray:
    N, C, H, W = x_shape
    m = w.shape[0] // C
    wt = w.reshape(C, m, g.k[0], g.k[1])
    gy5 = gy.reshape((N, C, m) + g.out)
    pt, pb, pl, pr = g.pads
    gx = np.empty(x_shape, gy.dtype)
    taps = _views(g)

    def block(a: int, b: int) -> None:
        gxp = np.zeros((b - a, C, H + pt + pb, W + pl + pr), gy.dtype)
        tmp = np.empty((b - a, C) + g.out, gy.dtype)
        for q in range(m):
            gyq = gy5[a:b, :, q]
            for i, j, (r, c) in taps:
                np.multiply(gyq, wt[:, q, i, j, None, None], out=tmp)
                gxp[:, :, r, c] += tmp
        gx[a:b] = gxp[:, :, pt:pt + H, pl:pl + W]

    _blocks(block, N, C * (H + pt + pb) * (W + pl + pr) * gy.itemsize)
    return gx


def dw_grad_weight(x: np.ndarray, gy: np.ndarray, w_shape: tuple[int, ...], g: Any) -> np.ndarray:
    N, C, H, W = x.shape
    m = w_shape[0] // C
    gy5 = gy.reshape((N, C, m) + g.out)
    taps = _views(g)

    def block(a: int, b: int) -> np.ndarray:
        xp = pad2d(x[a:b], g.pads)
        gw = np.empty((C, m) + g.k, np.float64 if gy.dtype == np.float64 else gy.dtype)
        for q in range(m):
            gyq = gy5[a:b, :, q]
            for i, j, (r, c) in taps:
                gw[:, q, i, j] = np.einsum("nchw,nchw->c", gyq, xp[:, :, r, c])
        return gw

    parts = _blocks(block, N, C * (H + g.pads[0] + g.pads[1]) * (W + g.pads[2] + g.pads[3]) * x.itemsize)
    return np.sum(parts, axis=0).astype(gy.dtype, copy=False).reshape(w_shape)
