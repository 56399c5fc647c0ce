r"""NumPy kernels shared by conv2d and conv_transpose2d (internal; arrays in, arrays out).

Three kernels cover both ops, by duality (``conv_transpose2d`` IS the input-gradient of
``conv2d``, and the input-gradient of ``conv_transpose2d`` IS ``conv2d``):

* :func:`conv_forward`      ``y  = W * x``        (cross-correlation)
* :func:`conv_grad_input`   ``gx = W^T * gy``     (its adjoint in x)
* :func:`conv_grad_weight`  ``gW = gy * x``       (its adjoint in W, summed over the batch)

Each picks one of these paths:

* pointwise (1x1 kernel, no padding): the "columns" are the (strided) input itself, so the op
  is a plain batched matmul ``W @ x[n]`` that is already NCHW, no im2col;
* depthwise (``groups == C_in > 1``, one input channel per group, channel multiplier
  ``m = C_out / C_in``): a GEMM would have inner size k_h k_w only, so instead k_h k_w m
  tap-wise multiply-adds over cache-sized blocks of the batch (``_depthwise.py``);
* stride 1 (the common case): shifted GEMMs (``_rows.py``): every kernel tap is a constant row
  offset into one channels-last flat copy of the padded batch, so each tap is a tall GEMM on a
  *view*; no column matrix is built (with the compiled kernels and few input channels per group,
  below ``settings.conv_cols_jit_below``, the batch columns of ``_strided.py`` instead: see ``choose``);
* strided with k a multiple of s and no dilation (e.g. 4x4/2, 2x2/2, the usual transposed
  convs): ONE stride-1 conv with a k/s kernel on the space-to-depth image, whose C_in s_h s_w
  channels are the phases (``_s2d.py``);
* other strided, with the compiled kernels (``settings.numba``): one GEMM per group over the columns of
  the whole batch, gathered and scattered by compiled loops (``_strided.py``);
* other strided without them: columns for the forward and the weight gradient, the polyphase
  decomposition (``_phases.py``) into s_h s_w stride-1 convs on the phase sub-images for the
  input gradient (each piece on the stride-1 path), or the pieces throughout when the columns
  are too large to keep.

The im2col/col2im lowering of ``_lowering`` (columns laid out (N, C, k_h, k_w, H_out, W_out)
so that ``W_g @ cols_g`` is already NCHW) is the reference for strided convs, selected with
``settings.override(conv_phases=False, conv_s2d=False)``; the tests run every path against
PyTorch. :func:`choose` is the one place that picks the path of a call: it returns a
:class:`Lowering` whose four functions (forward, grad_input, grad_weight, operand) belong
together, since what ``forward`` saves is what that path's ``grad_weight`` reads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from cvprimer.core.pool import batch_spans, blas_single, pool_map
from cvprimer.core.settings import settings
from cvprimer.functional.conv import _strided
from cvprimer.functional.conv._depthwise import dw_forward, dw_grad_input, dw_grad_weight
from cvprimer.functional.conv._depthwise_jit import jit_dw_forward, jit_dw_grad_input, jit_dw_grad_weight
from cvprimer.functional.conv._geometry import Geom
from cvprimer.functional.conv._lowering import _tap, col2im, im2col, pad2d, row_lower
from cvprimer.functional.conv._phases import (
    phases_forward,
    phases_grad_input,
    phases_grad_weight,
    phases_operand,
)
from cvprimer.functional.conv._rows import rows_forward, rows_grad_input, rows_grad_weight
from cvprimer.functional.conv._s2d import s2d_applies, s2d_forward, s2d_grad_input, s2d_grad_weight, s2d_operand
from cvprimer.functional.conv._winograd import wino_applies, wino_forward, wino_grad_input, wino_grad_weight


class Lowering(NamedTuple):
    """One lowering of a conv: its three kernels and the rebuild of what ``forward`` saves.

    ``forward(x, w, g) -> (y, saved)``; ``grad_input(gy, w, x_shape, g) -> gx``;
    ``grad_weight(saved, gy, w_shape, g) -> gW``; ``operand(x, w_shape, g) -> saved``.
    ``split``: the batch is cut over the worker pool by the caller (False: the kernel
    splits its own work, as the depthwise one does over cache-sized blocks).
    """

    name: str
    forward: Callable[..., tuple[np.ndarray, Any]]
    grad_input: Callable[..., np.ndarray]
    grad_weight: Callable[..., np.ndarray]
    operand: Callable[..., Any]
    split: bool = True


def lower(x: np.ndarray, g: Geom) -> np.ndarray:
    """The columns of ``x``: (N, g, C_in/g * k_h k_w, H_out W_out) (pointwise: the strided input)."""
    N, C = x.shape[:2]
    Ho, Wo = g.out
    if g.pointwise:
        xs = x[:, :, _tap(0, 1, g.s[0], Ho), _tap(0, 1, g.s[1], Wo)]
        return xs.reshape(N, g.groups, C // g.groups, Ho * Wo)
    cols = im2col(pad2d(x, g.pads), g.k, g.s, g.d, g.out)
    return cols.reshape(N, g.groups, -1, Ho * Wo)


def _cols_forward(x: np.ndarray, w: np.ndarray, g: Geom) -> tuple[np.ndarray, np.ndarray]:
    """``y_g = W_g @ cols_g`` per image and group; saves the columns."""
    N = x.shape[0]
    O = w.shape[0]
    cols = lower(x, g)
    y = np.matmul(w.reshape(g.groups, O // g.groups, -1), cols)  # (N, g, O/g, Ho Wo)
    return y.reshape((N, O) + g.out), cols


def _cols_grad_input(gy: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], g: Geom) -> np.ndarray:
    """Columns ``W_g^T @ gy_g`` scattered back by col2im, then cropped."""
    N = x_shape[0]
    O = w.shape[0]
    Ho, Wo = g.out
    w2 = w.reshape(g.groups, O // g.groups, -1)
    gcols = np.matmul(w2.transpose(0, 2, 1), gy.reshape(N, g.groups, O // g.groups, Ho * Wo))
    return _scatter_cols(gcols, gy.dtype, x_shape, g)


def _scatter_cols(gcols: np.ndarray, dtype: np.dtype, x_shape: tuple[int, ...], g: Geom) -> np.ndarray:
    """The input gradient from the columns' gradient (N, g, C/g k_h k_w, H_out W_out): col2im, cropped."""
    N, C, H, W = x_shape
    Ho, Wo = g.out
    if g.pointwise:
        gxs = gcols.reshape(N, C, Ho, Wo)
        if (Ho, Wo) == (H, W):
            return gxs
        gx = np.zeros(x_shape, dtype)
        gx[:, :, _tap(0, 1, g.s[0], Ho), _tap(0, 1, g.s[1], Wo)] = gxs
        return gx
    pt, pb, pl, pr = g.pads
    gxp = col2im(gcols.reshape((N, C) + g.k + g.out), (H + pt + pb, W + pl + pr), g.s, g.d)
    if not any(g.pads):
        return gxp
    return np.ascontiguousarray(gxp[:, :, pt:pt + H, pl:pl + W])


def _cols_grad_weight(saved: np.ndarray, gy: np.ndarray, w_shape: tuple[int, ...], g: Geom) -> np.ndarray:
    """``gW_g = sum_n gy_g[n] @ cols_g[n]^T``."""
    N, O = gy.shape[:2]
    gy2 = gy.reshape(N, g.groups, O // g.groups, -1)
    gw = np.matmul(gy2, saved.transpose(0, 1, 3, 2)).sum(0)  # (g, O/g, C/g k_h k_w)
    return gw.reshape(w_shape)


# Small outputs (H_out W_out up to settings.conv_one_gemm_below): the per-image GEMMs of the columns
# path, (O/g x K) @ (K x H_out W_out), are too narrow (a 2x2 map: 4 columns), so the batch goes
# into ONE GEMM per group with N H_out W_out columns, the columns laid out (g, K, N H_out W_out)
# (one transposed copy in, one out). Measured (1 thread, process CPU, f+b, per image -> one GEMM):
# MobileNet v2's last 1x1 conv 64x480x2x2 -> 1280 68.3 -> ~20 ms (PyTorch 18.3).


def _batch_cols(x: np.ndarray, g: Geom) -> np.ndarray:
    """The columns of the whole batch side by side: (g, C/g k_h k_w, N H_out W_out)."""
    cols = lower(x, g)  # (N, g, K, HW)
    N, G, K, HW = cols.shape
    return np.ascontiguousarray(cols.transpose(1, 2, 0, 3)).reshape(G, K, N * HW)


def _batch_gy(gy: np.ndarray, g: Geom) -> np.ndarray:
    """gy (N, O, H_out, W_out) -> (g, O/g, N H_out W_out)."""
    N, O = gy.shape[:2]
    G = g.groups
    return np.ascontiguousarray(gy.reshape(N, G, O // G, -1).transpose(1, 2, 0, 3)).reshape(G, O // G, -1)


def _gemm1_forward(x: np.ndarray, w: np.ndarray, g: Geom) -> tuple[np.ndarray, np.ndarray]:
    """``y_g = W_g @ [cols_g of every image]`` as one GEMM per group; saves the batch columns."""
    N, O = x.shape[0], w.shape[0]
    G = g.groups
    cols = _batch_cols(x, g)
    y = np.matmul(w.reshape(G, O // G, -1), cols)  # (g, O/g, N HW)
    y = y.reshape(G, O // G, N, -1).transpose(2, 0, 1, 3)
    return np.ascontiguousarray(y).reshape((N, O) + g.out), cols


def _gemm1_grad_input(gy: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], g: Geom) -> np.ndarray:
    N, O = x_shape[0], w.shape[0]
    G = g.groups
    gcols = np.matmul(w.reshape(G, O // G, -1).transpose(0, 2, 1), _batch_gy(gy, g))  # (g, K, N HW)
    gcols = gcols.reshape(G, gcols.shape[1], N, -1).transpose(2, 0, 1, 3)  # (N, g, K, HW)
    return _scatter_cols(np.ascontiguousarray(gcols), gy.dtype, x_shape, g)


def _gemm1_grad_weight(saved: np.ndarray, gy: np.ndarray, w_shape: tuple[int, ...], g: Geom) -> np.ndarray:
    """``gW_g = gy_g @ cols_g^T`` over the whole batch: one GEMM per group."""
    return np.matmul(_batch_gy(gy, g), saved.transpose(0, 2, 1)).reshape(w_shape)


def _dense_applies(g: Geom) -> bool:
    """One output pixel whose window is the top-left k_h x k_w corner of x (no padding, no
    dilation, one group): the conv is a fully-connected layer on that corner."""
    return g.out == (1, 1) and not any(g.pads) and g.d == (1, 1) and g.groups == 1 and g.k != (1, 1)


def _corner(x: np.ndarray, g: Geom) -> np.ndarray:
    """(N, C k_h k_w): the window of the one output pixel, flattened (a view when x is that size)."""
    return x[:, :, :g.k[0], :g.k[1]].reshape(x.shape[0], -1)


def _dense_forward(x: np.ndarray, w: np.ndarray, g: Geom) -> tuple[np.ndarray, np.ndarray]:
    """``y[n, o] = sum_K W[o, K] x[n, K]`` (K = (c, i, j)): ONE GEMM for the batch (the columns
    path would make N matrix-vector products); saves the flattened corner."""
    xs = _corner(x, g)
    return (xs @ w.reshape(w.shape[0], -1).T).reshape(x.shape[0], w.shape[0], 1, 1), xs


def _dense_grad_input(gy: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], g: Geom) -> np.ndarray:
    """``gx[n, K] = sum_o gy[n, o] W[o, K]`` on the corner, zeros elsewhere (one GEMM: the
    outer products of conv_transpose2d on 1x1 inputs, e.g. a DCGAN generator's first layer)."""
    N, C, H, W = x_shape
    gc = (gy.reshape(N, -1) @ w.reshape(w.shape[0], -1)).reshape((N, C) + g.k)
    if (H, W) == g.k:
        return gc
    gx = np.zeros(x_shape, gy.dtype)
    gx[:, :, :g.k[0], :g.k[1]] = gc
    return gx


def _dense_grad_weight(saved: np.ndarray, gy: np.ndarray, w_shape: tuple[int, ...], g: Geom) -> np.ndarray:
    """``gW[o, K] = sum_n gy[n, o] x[n, K]`` (one GEMM)."""
    return (gy.reshape(gy.shape[0], -1).T @ saved).reshape(w_shape)


DENSE = Lowering("dense", _dense_forward, _dense_grad_input, _dense_grad_weight, lambda x, w_shape, g: _corner(x, g),
                 split=False)
ROWS = Lowering("rows", rows_forward, rows_grad_input, rows_grad_weight,
                # unfused: rows_grad_weight takes either layout
                lambda x, w_shape, g: row_lower(x, g.pads, g.k, g.d, g.groups))
S2D = Lowering("s2d", s2d_forward, s2d_grad_input, s2d_grad_weight, lambda x, w_shape, g: s2d_operand(x, g))
PHASES = Lowering("phases", phases_forward, phases_grad_input, phases_grad_weight,
                  lambda x, w_shape, g: phases_operand(x, g))
# Strided convs whose im2col columns may be kept: the forward and the weight gradient are GEMMs
# over the columns (inner size C_in/g k_h k_w: one fat GEMM instead of the polyphase pieces'
# s_h s_w k-split thin ones), the input gradient runs on the polyphase pieces (no col2im
# scatter). Measured (process CPU, 1 thread; phases -> this, ms): 128x16x32x32 -> 32 3x3/2 fwd
# 23.9 -> 15.3, gW 14.5 -> 6.3 (gx 17.9 by the pieces, 22.9 by col2im); 128x32x16x16 -> 64 fwd
# 15.3 -> 11.3, gW 9.8 -> 7.2; 32x64x32x32 -> 128 fwd 37.7 -> 23.5, gW 28.7 -> 19.4. With few
# input channels (C_in/g below settings.conv_phases_grad_input_from) the pieces' GEMMs are
# thin and col2im wins (16x3x64x64 -> 64 7x7/2: gx 37.2 -> 10.5), so those take COLUMNS whole.
# The columns cost 2.25x x's memory for 3x3/2 (k_h k_w / (s_h s_w)); above
# settings.conv_keep_cols_bytes they would not be kept and PHASES (x-sized copies) is taken.
STRIDED = Lowering("strided", _cols_forward, phases_grad_input, _cols_grad_weight, lambda x, w_shape, g: lower(x, g))
COLUMNS = Lowering("columns", _cols_forward, _cols_grad_input, _cols_grad_weight, lambda x, w_shape, g: lower(x, g))
COLUMNS_ONE_GEMM = Lowering("columns_one_gemm", _gemm1_forward, _gemm1_grad_input, _gemm1_grad_weight,
                            lambda x, w_shape, g: _batch_cols(x, g))
# 3x3 stride-1 convs (one group, padding 0-2) with the compiled kernels: Winograd F(2x2, 3x3)
# (``_winograd.py``): compiled tile transforms around 16 batched GEMMs, 2.25x fewer multiply-adds than
# the shifted GEMMs; saves a copy of x (the weight gradient recomputes the input tiles). Measured
# (process CPU, 1 thread, ms, forward + grad input + grad weight, rows -> winograd): 128x16x32x32 -> 16
# 53.6 -> 33.7 (PyTorch 25.4), 128x32x16x16 -> 32 35.2 -> 21.5, 128x64x8x8 -> 64 31.0 -> 20.2,
# 16x32x32x32 -> 32 17.8 -> 10.7, 64x4x32x32 -> 16 11.3 -> 8.8, 32x256x4x4 -> 256 31.8 -> 24.0 (128 tiles);
# with the vectorised tile transforms of ``_winograd_tiles.py`` (median of 9 interleaved, loaded machine):
# 128x16x32x32 39.3 -> 26.0, 128x32x16x16 27.9 -> 22.4, 128x64x8x8 17.8 -> 16.1 (PyTorch 27-46, 21-27, 18-21).
# float32/float64 only (numba has no float16 arithmetic). Taken from settings.conv_winograd_min_channels (4)
# channels in and out (at most 3 inputs the columns are faster) and settings.conv_winograd_min_tiles (128)
# 2x2 output tiles in the batch: with fewer the weight transform and thin GEMMs lose (8x256x4x4 -> 256,
# 32 tiles: 9.5 -> 14.2; 8x512x4x4: 45 -> 68).
# Strided convs with the compiled kernels (settings.numba and settings.conv_strided_jit): the columns of the
# whole batch (C/g k_h k_w, N H_out W_out) gathered and scattered by compiled loops (``_strided.py``), so that
# the forward, the weight gradient and the columns' gradient are each ONE GEMM per group over the batch.
# Measured (process CPU, 1 thread, ms, forward + grad input + grad weight, median of 9 interleaved, 4 spans;
# strided -> this (PyTorch)): ResNet-20's downsampling convs 128x16x32x32 -> 32 3x3/2 42.1 -> 32.6 (25.7),
# 128x32x16x16 -> 64 27.4 -> 23.2 (18.9); 32x64x32x32 -> 128 67.6 -> 58.9 (49.1); 64x8x28x28 -> 16 5x5/2
# 13.6 -> 9.5 (6.3, from the NumPy columns). The forward is now the gap: the gather and a GEMM with only
# C_out rows (128x16x32x32: ~4 + ~6.5 ms against PyTorch's ~6 for all of it). Taken for strided convs that
# are not pointwise or s2d, whose columns may be kept (else PHASES), float32/float64 (numba has no float16
# arithmetic), with more than settings.conv_cols_below (32) inputs per output: with fewer the per-image
# GEMMs of the NumPy columns path stay in cache and win (MobileNet v2's stem 64x3x64x64 -> 16 3x3/2:
# 11.1 -> 13.1 ms; its 7x7/2 twin 16x3x64x64 -> 64, 147 inputs per output: 22.1 -> 18.5).
COLUMNS_JIT = Lowering("columns_jit", _strided.forward, _strided.grad_input, _strided.grad_weight,
                       lambda x, w_shape, g: _strided.columns(x, g))
WINOGRAD = Lowering("winograd", wino_forward, wino_grad_input, wino_grad_weight, lambda x, w_shape, g: x)
DEPTHWISE = Lowering("depthwise", dw_forward, dw_grad_input, dw_grad_weight, lambda x, w_shape, g: x, split=False)
DEPTHWISE_JIT = Lowering("depthwise_jit", jit_dw_forward, jit_dw_grad_input, jit_dw_grad_weight,
                         lambda x, w_shape, g: x, split=False)


# stride 1 with at most this many inputs per output (C_in/g k_h k_w: first layers on RGB or grey
# images) takes the im2col columns, not the shifted GEMMs: those would be GEMMs with an inner size
# of C_in/g (or k_w C_in/g fused) over every padded pixel, while the column matrix is small here.
# Measured (process CPU, 1 thread, forward + both gradients): 16x1x64x64 -> 16 3x3 20.5 -> 2.3 ms,
# 256x1x28x28 -> 6 5x5 57 -> 25 ms, 64x3x32x32 -> 16 3x3 25 -> 21 ms; at C_in 6-16 (k 3-5) the
# two are within noise of each other and the columns take k_h k_w times x's memory, so rows stay.
# The bound is settings.conv_cols_below (32).
# Above it, with few input channels per group (below settings.conv_cols_jit_below, 12) and the compiled kernels,
# stride 1 takes COLUMNS_JIT too: the shifted GEMMs' operand is then k_w row copies with an inner size of
# k_w C_in/g (30 for 6 channels 5x5), one thin GEMM per kernel row over every padded pixel, while the batch
# columns make each product ONE GEMM with inner size C_in/g k_h k_w (150). Measured (process CPU, 1 thread, ms,
# forward + grad input + grad weight, median of 7-9; rows -> columns_jit (PyTorch)): LeNet-5's conv2
# 256x6x14x14 -> 16 5x5 23.5 -> 14.1 (9.0); 64x3x32x32 -> 16 5x5 p2 24.9 -> 18.7; 16x3x64x64 -> 16 7x7 p3
# 39.4 -> 37.4; 64x8x16x16 -> 16 5x5 p2 10.2 -> 9.9 (even); at 16 channels the rows win (64x16x16x16 -> 32 5x5
# p2 30.2 -> 32.3).


def choose(g: Geom, c_in: int, w_shape: tuple[int, ...], n: int = 1, itemsize: int = 4) -> Lowering:
    """The lowering of a conv with geometry ``g`` on ``c_in`` input channels and weight ``w_shape``
    (under the current ``settings``): depthwise (compiled loops with ``settings.numba``, else the
    NumPy tap-wise multiply-adds), dense (one output pixel: one GEMM), Winograd F(2x2, 3x3) (3x3 stride 1,
    compiled transforms, ``settings.numba`` and ``settings.conv_winograd``), stride-1 rows, space-to-depth, strided
    (columns forward and gW, polyphase gx), polyphase, or the im2col columns (also the pointwise 1x1 case, where
    the columns are the input itself). ``n`` and ``itemsize`` (the batch and the element size) say how large the
    columns of a strided conv would be."""
    if g.depthwise(c_in, w_shape):
        return DEPTHWISE_JIT if settings.numba else DEPTHWISE
    if _dense_applies(g):
        return DENSE
    cols_bytes = n * c_in * g.k[0] * g.k[1] * g.out[0] * g.out[1] * itemsize
    columns = (COLUMNS_ONE_GEMM if g.out[0] * g.out[1] <= settings.conv_one_gemm_below
               and cols_bytes <= settings.conv_keep_cols_bytes else COLUMNS)
    if (g.rows and settings.numba and settings.conv_winograd and wino_applies(g) and itemsize in (4, 8)
            and min(c_in, w_shape[0]) >= settings.conv_winograd_min_channels
            and n * ((g.out[0] + 1) // 2) * ((g.out[1] + 1) // 2) >= settings.conv_winograd_min_tiles):
        return WINOGRAD
    if g.rows:
        if (c_in // g.groups) * g.k[0] * g.k[1] <= settings.conv_cols_below:
            return columns
        if (settings.numba and c_in // g.groups < settings.conv_cols_jit_below and _strided.applies(g, itemsize)
                and cols_bytes <= settings.conv_keep_cols_bytes):
            return COLUMNS_JIT
        return ROWS
    if settings.conv_s2d and s2d_applies(g):
        return S2D
    if settings.conv_phases and not g.pointwise:
        if cols_bytes > settings.conv_keep_cols_bytes:
            return PHASES
        if (settings.numba and settings.conv_strided_jit and _strided.applies(g, itemsize)
                and (c_in // g.groups) * g.k[0] * g.k[1] > settings.conv_cols_below):
            return COLUMNS_JIT
        return STRIDED if c_in // g.groups >= settings.conv_phases_grad_input_from else columns
    return columns


class Chunks(list):
    """What a batch-split forward saved: ``[(a, b, saved of images a:b), ...]``."""


def _one_span(low: Lowering) -> contextlib.AbstractContextManager[Any]:
    """Around a batch-split lowering run whole (the batch too small to split): the BLAS held to one thread when the
    engine has several (:func:`cvprimer.core.pool.blas_single`: a multi-threaded BLAS call leaves its threads
    spinning on the cores the pool's next split needs). A lowering that is never split (dense, depthwise) keeps the
    BLAS's threads."""
    return blas_single() if low.split else contextlib.nullcontext()


def _spans(n: int, per_image: int, g: Geom) -> list[tuple[int, int]]:
    return batch_spans(n, per_image * max(1, g.k[0] * g.k[1]))


def plan(x_shape: tuple[int, ...], w_shape: tuple[int, ...], g: Geom, itemsize: int) -> Lowering:
    """The lowering of a conv on an input of ``x_shape`` (decided once, in the op's forward, and carried by its
    context to the backward: the gradients never re-read the settings)."""
    return choose(g, x_shape[1], tuple(w_shape), x_shape[0], itemsize)


def conv_forward(x: np.ndarray, w: np.ndarray, g: Geom, low: Lowering) -> tuple[np.ndarray, Any]:
    """``y[n, o] = sum_{c,i,j} W[o, c, i, j] xp[n, c, h s + i d, w s + j d]``; returns (y, saved).

    ``low`` is the lowering from :func:`plan`. ``saved`` is what :func:`conv_grad_weight` needs (the lowered
    input, per batch chunk when the batch was split over the worker threads; x itself on the depthwise path).
    """
    spans = _spans(x.shape[0], x[0].size, g) if low.split else []
    if len(spans) <= 1:
        with _one_span(low):
            return low.forward(x, w, g)
    y = np.empty((x.shape[0], w.shape[0]) + g.out, x.dtype)

    def job(a: int, b: int) -> tuple[int, int, Any]:
        y[a:b], saved = low.forward(x[a:b], w, g)
        return a, b, saved

    return y, Chunks(pool_map(job, spans))


def conv_grad_input(gy: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], g: Geom, low: Lowering) -> np.ndarray:
    """``gx = W^T * gy`` (the adjoint of :func:`conv_forward` in x), batch-split like it."""
    spans = _spans(gy.shape[0], gy[0].size, g) if low.split else []
    if len(spans) <= 1:
        with _one_span(low):
            return low.grad_input(gy, w, x_shape, g)
    gx = np.empty(x_shape, gy.dtype)

    def job(a: int, b: int) -> None:
        gx[a:b] = low.grad_input(gy[a:b], w, (b - a,) + tuple(x_shape[1:]), g)

    pool_map(job, spans)
    return gx


def conv_grad_weight(saved: Any, gy: np.ndarray, w_shape: tuple[int, ...], g: Geom, low: Lowering) -> np.ndarray:
    """``gW[o, c, i, j] = sum_{n,h,w} gy[n, o, h, w] xp[n, c, h s + i d, w s + j d]``.

    ``saved`` is the second result of :func:`conv_forward` with the same lowering ``low``.
    """
    if not isinstance(saved, Chunks):
        with _one_span(low):
            return low.grad_weight(saved, gy, w_shape, g)
    by_span = {(a, b): s for a, b, s in saved}
    parts = pool_map(lambda a, b: low.grad_weight(by_span[a, b], gy[a:b], w_shape, g), list(by_span))
    return np.sum(parts, axis=0)


def weight_operand(x: np.ndarray, w_shape: tuple[int, ...], g: Geom, low: Lowering) -> Any:
    """Rebuild what :func:`conv_grad_weight` needs from ``x`` (when it was not kept), for the lowering ``low``."""
    spans = _spans(x.shape[0], x[0].size, g) if low.split else []
    if len(spans) <= 1:
        with _one_span(low):
            return low.operand(x, w_shape, g)
    return Chunks(pool_map(lambda a, b: (a, b, low.operand(x[a:b], w_shape, g)), spans))


def saved_nbytes(saved: Any) -> int:
    """Bytes held by what :func:`conv_forward` saved (arrays, or tuples/lists of them)."""
    if isinstance(saved, np.ndarray):
        return saved.nbytes
    return sum(saved_nbytes(s) for s in saved if isinstance(s, (np.ndarray, tuple, list)))
