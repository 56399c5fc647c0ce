r"""Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions (compiled transforms + batched GEMMs).

Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2016). A 2x2 block of outputs
of a 3x3 correlation is computed from the 4x4 input tile ``d`` that covers it as

    Y = A^T [ (G g G^T) (.) (B^T d B) ] A          ((.) the element-wise product of 4x4 arrays)

with ``g`` the 3x3 kernel and (rows of the transposes shown)::

    B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    G   = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]
    A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]

Summed over input channels, each of the 16 positions xi of the 4x4 arrays is a matrix product:
with ``U[xi] = (G g G^T)[xi]`` as a (C_out, C_in) matrix and ``V[xi]`` the transformed tiles as
(C_in, tiles), ``M[xi] = U[xi] @ V[xi]`` and ``Y = A^T M A`` per tile. The GEMMs do 16 C_in C_out
multiply-adds per 2x2 outputs where the direct conv does 4 x 9 = 36 (2.25x fewer); the transforms
(additions only) cost a few passes over the data: ``_winograd_tiles.py`` writes them as flat loops over
a block's tiles that the compiler vectorises, with the tiles of a block ordered (tile row, image,
tile column) inside each channel's run of V and M.

The three maps of a conv, all on the same transforms:

* forward ``y = conv(x, W)``: V from x's tiles (tile (t_h, t_w) starts at row 2 t_h - p_top, column
  2 t_w - p_left; reads outside x are zeros), ``M = U @ V``, ``y = A^T M A`` (outputs past H_out, W_out
  of the last tiles of odd sizes are dropped);
* input gradient: stride-1 duality, as ``_rows.rows_grad_input``: the forward on gy with the kernel
  flipped in space and its channel axes swapped, padding ``2 - p`` (tiles on the gradient's grid);
* weight gradient: the adjoint of the forward in ``U``: with ``Mb = A gy_tile A^T`` (4x4 from each
  2x2 block of gy, zeros past H_out, W_out), ``Ub[xi] = Mb[xi] @ V[xi]^T`` (C_out x C_in, summed over every
  tile of the batch) and ``gW = G^T Ub G`` per (o, c).

The batch is processed a few images at a time (about ``settings.conv_winograd_block_bytes`` of V
and M per block), so the transformed tiles stay in cache between the transform, the 16 GEMMs
and the inverse transform; nothing tile-sized is kept for the backward (it saves a copy of x,
made while the transform reads it, and recomputes V). The 16 slices of V and M are not 2^k
bytes apart (see :func:`_buffer`). float32 rounding: the transforms only add, subtract and
halve, so the error stays at the direct conv's level (measured max |error| / max |value|
against float64: 2-4e-7 on ResNet-20's shapes, within 2x the shifted GEMMs' and below
PyTorch's float32 conv; ``tests/functional/test_conv_winograd.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core import jit
from cvprimer.core.settings import settings
from cvprimer.functional.conv._winograd_tiles import grad_tiles, input_tiles, output_tiles


def wino_applies(g: Any) -> bool:
    """3x3 kernel, stride 1, no dilation, one group, non-negative padding of at most 2."""
    return (g.k == (3, 3) and g.s == (1, 1) and g.d == (1, 1) and g.groups == 1
            and all(0 <= p <= 2 for p in g.pads))


def _buffer(rows: int, t: int, dtype: Any) -> np.ndarray:
    """Room for (16, rows, t) tiles whose 16 slices start 80 elements past a multiple of 1024 apart: 16
    streams exactly 2^k bytes apart would share one set of the L1 cache (measured: the input transform
    34 -> 10 ms on 128x16x32x32)."""
    return np.empty((16, -(-rows * t // 1024) * 1024 + 80), dtype)


def _tiles(buf: np.ndarray, rows: int, t: int) -> np.ndarray:
    """The (16, rows, t) view of a :func:`_buffer` (t at most the one it was made for)."""
    return buf[:, :rows * t].reshape(16, rows, t)


@jit.kernel
def _weight_tiles(g, U):  # pragma: no cover - compiled
    """U[4 a + b, k] = (G w_k G^T)[a, b] for the kernels k of g (9, K) (float64, the taps of kernel k in column k,
    row 3 i + j), rounded once into U (16, K). Flat loops over the kernels, one output row each, so they
    vectorise (a loop per (o, c) computing its 16 values measured 6x slower on 64x64 weights)."""
    K = g.shape[1]
    t = np.empty((12, K))  # t[3 a + j] = (G g)[a, j]: rows g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2
    for j in range(3):
        g0, g1, g2 = g[j], g[3 + j], g[6 + j]
        t0, t1, t2, t3 = t[j], t[3 + j], t[6 + j], t[9 + j]
        for k in range(K):
            t0[k] = g0[k]
        for k in range(K):
            t1[k] = 0.5 * (g0[k] + g1[k] + g2[k])
        for k in range(K):
            t2[k] = 0.5 * (g0[k] - g1[k] + g2[k])
        for k in range(K):
            t3[k] = g2[k]
    for a in range(4):
        # (t G^T)[a]: r0, (r0 + r1 + r2) / 2, (r0 - r1 + r2) / 2, r2
        r0, r1, r2 = t[3 * a], t[3 * a + 1], t[3 * a + 2]
        u0, u1, u2, u3 = U[4 * a], U[4 * a + 1], U[4 * a + 2], U[4 * a + 3]
        for k in range(K):
            u0[k] = r0[k]
        for k in range(K):
            u1[k] = 0.5 * (r0[k] + r1[k] + r2[k])
        for k in range(K):
            u2[k] = 0.5 * (r0[k] - r1[k] + r2[k])
        for k in range(K):
            u3[k] = r2[k]


@jit.kernel
def _weight_grad(Ub, gw):  # pragma: no cover - compiled
    """gw[3 i + j, k] = (G^T m G)[i, j], m[a, b] = Ub[4 a + b, k] for the K kernels of Ub (16, K), gw (9, K)
    (float64 sums, rounded once). Flat loops over the kernels, one output row each (vectorised, as
    :func:`_weight_tiles`)."""
    K = Ub.shape[1]
    t = np.empty((12, K))  # t[4 i + b] = (G^T m)[i, b]: rows m0 + (m1 + m2) / 2, (m1 - m2) / 2, (m1 + m2) / 2 + m3
    for b in range(4):
        m0, m1, m2, m3 = Ub[b], Ub[4 + b], Ub[8 + b], Ub[12 + b]
        t0, t1, t2 = t[b], t[4 + b], t[8 + b]
        for k in range(K):
            t0[k] = np.float64(m0[k]) + 0.5 * (np.float64(m1[k]) + np.float64(m2[k]))
        for k in range(K):
            t1[k] = 0.5 * (np.float64(m1[k]) - np.float64(m2[k]))
        for k in range(K):
            t2[k] = 0.5 * (np.float64(m1[k]) + np.float64(m2[k])) + np.float64(m3[k])
    for i in range(3):
        # (t G)[i]: t0 + (t1 + t2) / 2, (t1 - t2) / 2, (t1 + t2) / 2 + t3
        s0, s1, s2, s3 = t[4 * i], t[4 * i + 1], t[4 * i + 2], t[4 * i + 3]
        g0, g1, g2 = gw[3 * i], gw[3 * i + 1], gw[3 * i + 2]
        for k in range(K):
            g0[k] = s0[k] + 0.5 * (s1[k] + s2[k])
        for k in range(K):
            g1[k] = 0.5 * (s1[k] - s2[k])
        for k in range(K):
            g2[k] = 0.5 * (s1[k] + s2[k]) + s3[k]


def weight_tiles(w: np.ndarray) -> np.ndarray:
    """U (16, C_out, C_in): ``U[4 a + b, o, c] = (G w[o, c] G^T)[a, b]``."""
    O, C = w.shape[:2]
    U = np.empty((16, O, C), w.dtype)
    _weight_tiles(np.ascontiguousarray(w.reshape(O * C, 9).T, dtype=np.float64), U.reshape(16, O * C))
    return U


def _images_per_block(n: int, c: int, o: int, tiles: int, itemsize: int) -> int:
    """Images per block: V and M of a block within ``settings.conv_winograd_block_bytes``."""
    per_image = 16 * (c + o) * tiles * itemsize
    return max(1, min(n, settings.conv_winograd_block_bytes // max(per_image, 1)))


def _forward_tiles(x: np.ndarray, U: np.ndarray, pt: int, pl: int, out: tuple[int, int],
                   keep: np.ndarray | None = None) -> np.ndarray:
    """y (N, O, H_out, W_out) of the correlation with transformed kernel U, tiles of x from (-pt, -pl);
    ``keep`` (x's shape), when given, receives a copy of x on the way."""
    N, C = x.shape[:2]
    O = U.shape[1]
    Ho, Wo = out
    th, tw = (Ho + 1) // 2, (Wo + 1) // 2
    x = np.ascontiguousarray(x)
    dt = np.result_type(x, U)
    y = np.empty((N, O, Ho, Wo), dt)
    nb = _images_per_block(N, C, O, th * tw, dt.itemsize)
    T = nb * th * tw
    vbuf, mbuf = _buffer(C, T, dt), _buffer(O, T, dt)
    copy = keep is not None
    tiles_in, tiles_out = input_tiles.compiled, output_tiles.compiled  # one lookup, not one per block
    full = _tiles(vbuf, C, T), _tiles(mbuf, O, T)  # the views of a whole block, made once
    for a in range(0, N, nb):
        b = min(N, a + nb)
        t = (b - a) * th * tw
        V, M = full if t == T else (_tiles(vbuf, C, t), _tiles(mbuf, O, t))
        tiles_in(x[a:b], pt, pl, th, tw, vbuf, t, keep[a:b] if keep is not None else x[a:b], copy)
        np.matmul(U, V, out=M)
        tiles_out(mbuf, th, tw, y[a:b], t)
    return y


def wino_forward(x: np.ndarray, w: np.ndarray, g: Any) -> tuple[np.ndarray, np.ndarray]:
    """Stride-1 3x3 conv by F(2x2, 3x3): returns (y, a copy of x for :func:`wino_grad_weight`), the copy made
    while the transform reads x (the op's backward must not see later in-place changes of x)."""
    keep = np.empty(x.shape, x.dtype)
    return _forward_tiles(x, weight_tiles(w), g.pads[0], g.pads[2], g.out, keep), keep


def wino_grad_input(gy: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], g: Any) -> np.ndarray:
    """gx = the forward on gy with the kernel flipped and C_in/C_out swapped, padding 2 - p (duality)."""
    H, W = x_shape[2:]
    wf = np.ascontiguousarray(w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])
    return _forward_tiles(gy, weight_tiles(wf), 2 - g.pads[0], 2 - g.pads[2], (H, W))


def wino_grad_weight(x: np.ndarray, gy: np.ndarray, w_shape: tuple[int, ...], g: Any) -> np.ndarray:
    """gW = G^T (sum over tiles of Mb V^T) G: V from x's tiles, Mb from gy's 2x2 blocks."""
    N, C = x.shape[:2]
    O = gy.shape[1]
    Ho, Wo = g.out
    th, tw = (Ho + 1) // 2, (Wo + 1) // 2
    x, gy = np.ascontiguousarray(x), np.ascontiguousarray(gy)
    dt = np.result_type(x, gy)
    nb = _images_per_block(N, C, O, th * tw, dt.itemsize)
    T = nb * th * tw
    vbuf, mbuf = _buffer(C, T, dt), _buffer(O, T, dt)
    Ub = np.zeros((16, O, C), dt)
    part = np.empty((16, O, C), dt)
    tiles_in, tiles_grad = input_tiles.compiled, grad_tiles.compiled
    full = _tiles(vbuf, C, T).transpose(0, 2, 1), _tiles(mbuf, O, T)
    for a in range(0, N, nb):
        b = min(N, a + nb)
        t = (b - a) * th * tw
        Vt, Mb = full if t == T else (_tiles(vbuf, C, t).transpose(0, 2, 1), _tiles(mbuf, O, t))
        tiles_in(x[a:b], g.pads[0], g.pads[2], th, tw, vbuf, t, x[a:b], False)
        tiles_grad(gy[a:b], th, tw, mbuf, t)
        np.matmul(Mb, Vt, out=part)
        Ub += part
    gw = np.empty((9, O * C), dt)
    _weight_grad(Ub.reshape(16, O * C), gw)
    return np.ascontiguousarray(gw.T).reshape(w_shape)
