r"""2-D max pooling (``max_pool2d``) with PyTorch's indices, ceil_mode, padding and dilation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cvprimer.core.call import Call
from cvprimer.core.cost import Cost
from cvprimer.core.function import Function
from cvprimer.core.geometry import Window
from cvprimer.core.pool import batch_spans, pool_map
from cvprimer.core.saves import Extra, Saves
from cvprimer.core.settings import settings
from cvprimer.core.tensor import Tensor
from cvprimer.functional.pooling import _max_pool_kernels as _kernels
from cvprimer.functional.pooling._window import (
    check_planes,
    extent,
    padded,
    split_phases,
    tap_views,
    window_params,
)


def _scatter_planes(idx: np.ndarray, g: np.ndarray, plane: int, unique: bool,
                    check_range: bool = False) -> np.ndarray:
    """Sum ``g`` (B, ...) into B zero planes of ``plane`` elements at the flat ``idx`` (B, ...).

    With ``unique`` (no input position is picked twice) it is a plain scatter; otherwise
    ``bincount`` accumulates repeated positions (overlapping windows) in float64.
    """
    B = idx.shape[0]
    flat = (idx.reshape(B, -1) + (np.arange(B, dtype=np.int64) * plane)[:, None]).ravel()
    g = g.ravel()
    if check_range:
        # a window lying wholly in the padding (dilation) keeps PyTorch's index, which is outside
        # the plane; its output is the constant -inf, so it has no gradient to give
        keep = ((idx >= 0) & (idx < plane)).ravel()
        flat, g = flat[keep], g[keep]
    if unique:
        out = np.zeros(B * plane, dtype=g.dtype)
        out[flat] = g
        return out.reshape(B, plane)
    return np.bincount(flat, weights=g, minlength=B * plane).astype(g.dtype).reshape(B, plane)


class MaxPool2dFn(Function):
    r"""Max over sliding windows of each (H, W) plane, with the arg-max as a flat index.

    Notes
    -----
    **Forward**: ``y[b, i, j] = max_{u, v} xp[b, i s_h + u d_h, j s_w + v d_w]`` over the
    ``k_h k_w`` taps, ``xp`` being ``x`` padded with ``-inf`` (padding never wins). The taps are
    scanned row-major and only a strictly larger value replaces the running maximum, so a tie
    goes to the FIRST maximum in the window, as in PyTorch (a NaN always wins, also as PyTorch).
    ``idx[b, i, j] = h* W + w*`` is the position of the maximum in the unpadded input plane.

    **Backward**: y is piecewise the identity of one input element, so
    ``gx[b, h, w] = sum_{(i, j): idx[b, i, j] = h W + w} gy[b, i, j]``: each window routes its
    whole gradient to its arg-max (nothing to the other taps), overlapping windows that share a
    maximum accumulate, and ``sum(gx) == sum(gy)`` (the total gradient is conserved).
    Only the winning tap number of each window is saved (int8 for up to 127 taps); backward turns
    it into flat indices and scatters (``bincount`` where windows overlap), or, with
    ``settings.numba``, scatters in one compiled pass (:mod:`._max_pool_kernels`).
    """

    saves_for_backward = Saves(extra=(Extra("output", 0, "int8"),))  # arg-max within each window

    @staticmethod
    def geometry(call: Call) -> Window:
        """A sliding window: kernel, stride, top/left padding, dilation of the resolved geometry."""
        g = call.inputs[1]
        return Window(g["k"], g["s"], g["p"], g.get("d", (1, 1)))

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, g: dict[str, Any], return_indices: bool) -> Any:
        *lead, H, W = x.shape
        B = math.prod(lead)
        Ho, Wo = g["out"]
        grad = return_indices or any(ctx.needs_input_grad)
        x3 = x.reshape(B, H, W)
        # chunks of planes side by side on the worker pool (NumPy releases the GIL in its passes)
        parts = pool_map(lambda a, b: _max_block(x3[a:b], g, grad), batch_spans(B, H * W), blas_single=False)
        best = parts[0][0] if len(parts) == 1 else np.concatenate([q[0] for q in parts])
        if not grad:  # inference: values only
            return best.reshape(*lead, Ho, Wo)
        arg = parts[0][1] if len(parts) == 1 else np.concatenate([q[1] for q in parts])
        ctx.check_range = any(q[2] for q in parts)
        ctx.save_for_backward(arg)
        ctx.g, ctx.x_shape = g, x.shape
        # each input position lies in at most one window when windows do not overlap
        ctx.unique = all(g["s"][a] >= g["d"][a] * (g["k"][a] - 1) + 1 for a in range(2))
        y = best.reshape(*lead, Ho, Wo)
        return (y, _flat_index(arg, g, W).reshape(*lead, Ho, Wo)) if return_indices else y

    @staticmethod
    def infer(call: Call) -> Any:
        """Output shape(s) and dtype(s) for the shape-only trace (the analyzer's protocol)."""
        x, g, return_indices = call.inputs
        shape = x.shape[:-2] + tuple(g["out"])
        return [(shape, x.dtype), (shape, np.dtype(np.int64))] if return_indices else (shape, x.dtype)

    @staticmethod
    def cost(call: Call) -> Cost:
        """:func:`cost` from the call's inputs (the analyzer's protocol)."""
        x, g = call.inputs[:2]
        return _cost(x.shape, g, x.dtype.itemsize)

    @staticmethod
    def backward(ctx: Function, gy: np.ndarray, gidx: np.ndarray | None = None) -> tuple[np.ndarray | None]:
        (arg,) = ctx.saved_tensors
        H, W = ctx.x_shape[-2:]
        if settings.numba:  # one compiled scatter pass (the NumPy code below is the reference)
            return (_kernels.backward(gy.reshape(arg.shape), arg, ctx.g, (H, W)).reshape(ctx.x_shape),)
        idx = _flat_index(arg, ctx.g, W)
        gx = _scatter_planes(idx, gy.reshape(idx.shape), H * W, ctx.unique, ctx.check_range)
        return (gx.reshape(ctx.x_shape),)


def _max_block(x3: np.ndarray, g: dict[str, Any], grad: bool) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """Max over the windows of the planes ``x3`` (B, H, W): (y, the winning tap numbers or None
    when ``grad`` is False, whether backward must check the range; see :func:`_argmax_taps`)."""
    taps = tap_views(split_phases(padded(x3, g["p"], extent(g), -np.inf), g), g)
    best = taps[0].copy()
    if not grad:
        for v in taps[1:]:
            np.maximum(best, v, out=best)
        return best, None, False
    arg, check_range = _argmax_taps(x3, taps, best, g)
    return best, arg, check_range


def _argmax_taps(x: np.ndarray, taps: list[np.ndarray], best: np.ndarray, g: dict[str, Any]
                 ) -> tuple[np.ndarray, bool]:
    """Max over the taps into ``best`` (holding tap 0); returns the number of the first winning tap
    of each window (B, H_out, W_out), int8 when it fits, and whether some window may lie wholly in
    the padding (its PyTorch index is then outside the plane: backward must check the range)."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (Ho, Wo) = g["k"], g["s"], g["p"], g["d"], g["out"]
    # updated arithmetically (arg += win * (t - arg)): masked writes are ~10x slower
    arg = np.zeros(best.shape, dtype=np.int8 if kh * kw <= 127 else np.int32)
    step = np.empty_like(arg)
    # a NaN anywhere makes the sum NaN (inf - inf too: then the NaN test is merely not needed)
    with_nan = bool(np.isnan(np.sum(x)))
    for t in range(1, kh * kw):
        v = taps[t]
        win = v > best  # strict: a tie keeps the earlier tap
        if with_nan:
            win |= np.isnan(v)
        np.maximum(best, v, out=best)  # propagates NaN like the test above
        np.subtract(t, arg, out=step)
        step *= win
        arg += step
    check_range = False
    if ph or pw:
        # a window whose real values are all -inf keeps PyTorch's choice: its first tap that is
        # not in the top/left padding (the origin may lie there); for a window wholly in the
        # padding that tap is padding too, its index lies outside the plane and backward drops it
        stuck = np.isneginf(best)
        if stuck.any():
            i0 = -(-np.maximum(0, ph - np.arange(Ho) * sh) // dh)
            j0 = -(-np.maximum(0, pw - np.arange(Wo) * sw) // dw)
            first = np.minimum(i0, kh - 1)[:, None] * kw + np.minimum(j0, kw - 1)[None, :]
            arg[stuck] = np.broadcast_to(first, arg.shape)[stuck]
            check_range = True
    return arg, check_range


def _flat_index(arg: np.ndarray, g: dict[str, Any], W: int) -> np.ndarray:
    """PyTorch's int64 index ``h W + w`` in the unpadded plane of each window's winning tap."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (Ho, Wo) = g["k"], g["s"], g["p"], g["d"], g["out"]
    tap_off = np.array([(t // kw) * dh * W + (t % kw) * dw for t in range(kh * kw)], dtype=np.int64)
    idx = tap_off[arg]
    idx += (np.arange(Ho) * sh - ph)[:, None] * W + (np.arange(Wo) * sw - pw)[None, :]
    return idx


def max_pool2d(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    r"""2-D max pooling over an (N, C, H, W) or (C, H, W) input.

    Parameters
    ----------
    x : Tensor
        Input, floating point.
    kernel_size, stride, padding, dilation : int or (int, int)
        Window size, step (default: ``kernel_size``), implicit ``-inf`` padding on each side
        (at most ``k // 2``) and spacing between taps.
    ceil_mode : bool
        Use ceil instead of floor in the output size; the last window must start inside the
        input or the left padding (PyTorch's rule).
    return_indices : bool
        Also return the int64 flat index ``h W + w`` of each maximum in its input plane
        (the ``indices`` that :func:`max_unpool2d` takes).

    Returns
    -------
    Tensor, or (Tensor, Tensor) with ``return_indices``.

    Shape
    -----
    ``(N, C, H, W) -> (N, C, H_out, W_out)`` with
    ``H_out = floor((H + 2 p_h - d_h (k_h - 1) - 1) / s_h) + 1`` (ceil with ``ceil_mode``), same for W.

    Notes
    -----
    The gradient goes wholly to the first maximum of each window (see :class:`MaxPool2dFn`).
    Cost: :func:`cost`.

    Examples
    --------
    >>> import cvprimer as cp, cvprimer.functional as F
    >>> F.max_pool2d(cp.arange(16.0).reshape(1, 1, 4, 4), 2).shape
    (1, 1, 2, 2)
    """
    op = "max_pool2d"
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    shape = check_planes(op, x)
    g = window_params(op, shape, kernel_size, stride, padding, dilation, ceil_mode)
    return MaxPool2dFn.apply(x, g, bool(return_indices))


def cost(x_shape: tuple[int, ...], kernel_size: Any, stride: Any = None, padding: Any = 0,
         dilation: Any = 1, ceil_mode: bool = False, itemsize: int = 4) -> Cost:
    """Forward cost of :func:`max_pool2d`: no MACs, ``k_h k_w - 1`` comparisons per output,
    bytes = input read + output written + int64 indices written."""
    g = window_params("max_pool2d", tuple(x_shape), kernel_size, stride, padding, dilation, ceil_mode)
    return _cost(tuple(x_shape), g, itemsize)


def _cost(x_shape: tuple[int, ...], g: dict[str, Any], itemsize: int) -> Cost:
    n_out = math.prod(x_shape[:-2]) * g["out"][0] * g["out"][1]
    return Cost(macs=0, flops=n_out * (g["k"][0] * g["k"][1] - 1),
                bytes=math.prod(x_shape) * itemsize + n_out * (itemsize + 8))
