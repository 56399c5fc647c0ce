r"""Depthwise convolution (``groups == C_in``, channel multiplier ``m = C_out / C_in``).

Each output channel ``c m + q`` sees only input channel ``c``, so a GEMM would have inner size
k_h k_w: too small for BLAS. Instead, per kernel tap (i, j) and multiplier index q::

    y[n, c, q]            += W[c, q, i, j] * xp[n, c, i d_h :: s_h, j d_w :: s_w]   (strided view)
    gxp[n, c, view(i, j)] += W[c, q, i, j] * gy[n, c, q]
    gW[c, q, i, j]         = sum_{n,h,w} gy[n, c, q, h, w] * xp[n, c, view(i, j)]

These are memory-bound multiply-adds, so the batch is cut into blocks of a few images whose
working set stays in the L2 cache (each tap then re-reads cached data instead of RAM), and
the blocks run on a small thread pool (NumPy releases the GIL inside its loops). With stride 1
each image is stored flat and padded (``_lowering.flat_pad``), so a tap is a contiguous
offset slice instead of a 2-D strided view, and the input-gradient is the same loop on gy with
the flipped kernel (stride-1 duality).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cvprimer.core.pool import pool_map, workers
from cvprimer.core.settings import settings
from cvprimer.functional.conv._lowering import _tap, flat_pad, pad2d


def _blocks(fn: Callable[[int, int], Any], N: int, per_image: int) -> list[Any]:
    """``fn`` over cache-sized blocks of the batch; each worker gets one contiguous run of blocks
    (one task per worker, not per block: waking an idle worker costs more than a block)."""
    # settings.conv_dw_block_bytes: padded input bytes per block (measured best between 1 and 2 MiB)
    nb = max(1, settings.conv_dw_block_bytes // max(per_image, 1))
    blocks = [(i, min(i + nb, N)) for i in range(0, N, nb)]
    k = min(workers(), len(blocks))
    runs = [blocks[round(r * len(blocks) / k):round((r + 1) * len(blocks) / k)] for r in range(k)]
    done = pool_map(lambda a, b: [fn(*blk) for blk in runs[a]], [(r, r + 1) for r in range(k)], blas_single=False)
    return [res for part in done for res in part]


def _views(g: Any) -> list[tuple[int, int, tuple[slice, slice]]]:
    return [(i, j, (_tap(i, g.d[0], g.s[0], g.out[0]), _tap(j, g.d[1], g.s[1], g.out[1])))
            for i in range(g.k[0]) for j in range(g.k[1])]


def _flat(src: np.ndarray, wt: np.ndarray, pads: tuple[int, int, int, int], k: tuple[int, int],
          d: tuple[int, int], out_hw: tuple[int, int]) -> np.ndarray:
    """Stride-1 depthwise on flat images: ``out[n, c, p] = sum_{q, i, j} wt[c, q, p, i, j]
    src_p[n, c, q, h + i d_h, w + j d_w]``; src (N, C, Q, H, W), wt (C, Q, P, k_h, k_w)."""
    N, C, Q, H, W = src.shape
    P = wt.shape[2]
    Ho, Wo = out_hw
    out = np.empty((N, C, P, Ho, Wo), src.dtype)
    Wp = W + pads[2] + pads[3]
    L = Ho * Wp
    offs = [(i, j, i * d[0] * Wp + j * d[1]) for i in range(k[0]) for j in range(k[1])]

    def block(a: int, b: int) -> None:
        buf = flat_pad(src[a:b], pads, (k[1] - 1) * d[1])[0]  # (nb, C, Q, H_p W_p + tail)
        acc = np.empty((b - a, C, L), src.dtype)
        tmp = np.empty_like(acc)
        for p in range(P):
            first = True
            for q in range(Q):
                for i, j, off in offs:
                    np.multiply(buf[:, :, q, off:off + L], wt[:, q, p, i, j, None], out=acc if first else tmp)
                    if not first:
                        acc += tmp
                    first = False
            out[a:b, :, p] = acc.reshape(b - a, C, Ho, Wp)[..., :Wo]

    _blocks(block, N, C * Q * (H + pads[0] + pads[1]) * Wp * src.itemsize)
    return out


def dw_forward(x: np.ndarray, w: np.ndarray, g: Any) -> tuple[np.ndarray, np.ndarray]:
    """Returns (y (N, C m, H_out, W_out), x kept for :func:`dw_grad_weight`)."""
    N, C, H, W = x.shape
    m = w.shape[0] // C
    if g.s == (1, 1):
        y = _flat(x[:, :, None], w.reshape(C, 1, m, g.k[0], g.k[1]), g.pads, g.k, g.d, g.out)
        return y.reshape((N, C * m) + g.out), x
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
    if g.s == (1, 1):  # duality: correlate gy with the flipped kernel, "full" padding
        eh, ew = g.d[0] * (g.k[0] - 1), g.d[1] * (g.k[1] - 1)
        Ho, Wo = g.out
        pads = (eh - pt, H - Ho + pt, ew - pl, W - Wo + pl)
        wf = wt[:, :, ::-1, ::-1].reshape(C, m, 1, g.k[0], g.k[1])
        return _flat(gy5, wf, pads, g.k, g.d, (H, W)).reshape(x_shape)
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
    if g.s == (1, 1):
        return _flat_grad_weight(x, gy5, g).reshape(w_shape)

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


def _flat_grad_weight(x: np.ndarray, gy5: np.ndarray, g: Any) -> np.ndarray:
    """Stride 1: ``gW[c, q, i, j] = sum_{n,h,w} gy[n, c, q, h, w] xp[n, c, h + i d_h, w + j d_w]`` on
    flat images (gy widened to W_p with zeros, so the junk columns add nothing)."""
    N, C, H, W = x.shape
    m = gy5.shape[2]
    Ho, Wo = g.out
    Wp = W + g.pads[2] + g.pads[3]
    L = Ho * Wp
    offs = [(i, j, i * g.d[0] * Wp + j * g.d[1]) for i in range(g.k[0]) for j in range(g.k[1])]

    def block(a: int, b: int) -> np.ndarray:
        buf = flat_pad(x[a:b], g.pads, (g.k[1] - 1) * g.d[1])[0]
        gyf = np.zeros((b - a, C, m, Ho, Wp), gy5.dtype)
        gyf[..., :Wo] = gy5[a:b]
        gyf = gyf.reshape(b - a, C, m, L)
        gw = np.empty((C, m) + g.k, gy5.dtype)
        for q in range(m):
            for i, j, off in offs:
                gw[:, q, i, j] = np.einsum("ncl,ncl->c", gyf[:, :, q], buf[:, :, off:off + L])
        return gw

    parts = _blocks(block, N, C * (H + g.pads[0] + g.pads[1]) * Wp * x.itemsize)
    return np.sum(parts, axis=0)
