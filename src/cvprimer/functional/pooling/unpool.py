r"""Max unpooling: the partial inverse of ``max_pool2d`` (scatter values back to their indices)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cvprimer.core.call import Call
from cvprimer.core.cost import Cost, numel
from cvprimer.core.function import Function
from cvprimer.core.geometry import Transposed
from cvprimer.core.saves import Saves
from cvprimer.core.tensor import Tensor
from cvprimer.functional._conv_utils import _pair
from cvprimer.functional.pooling._window import check_planes


class MaxUnpool2dFn(Function):
    r"""Place each input value at its flat index in a zero (H_out, W_out) plane.

    Notes
    -----
    **Forward**: ``y[b].flat[idx[b, i, j]] = x[b, i, j]``, zeros elsewhere. If two inputs
    share an index (overlapping pooling windows with one maximum) the later one is kept; with
    indices from ``max_pool2d`` they carry the same value.

    **Backward**: the transpose is a gather, ``gx[b, i, j] = gy[b].flat[idx[b, i, j]]``
    (each input reads back the gradient at the position it was written to, as PyTorch does).
    With repeated indices this is PyTorch's convention, not the derivative: every duplicate
    gets the gradient although only the last write is kept. Only the indices are saved.
    """

    saves_for_backward = Saves(inputs=(1,))  # the indices

    @staticmethod
    def infer(call):
        """The input's leading axes and the unpooled (H_out, W_out)."""
        x, _, out = call.inputs[:3]
        return x.shape[:-2] + tuple(out), x.dtype
    @staticmethod
    def geometry(call: Call) -> Transposed | None:
        """The transpose of the pooling window (``window`` = (k, s, p)): output o can only receive an input
        whose window holds it, i.e. the inputs i with o = i s - p + t, t < k. Undeclared without ``window``."""
        w = call.kwargs.get("window")
        return None if w is None else Transposed(*w)

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, idx: np.ndarray, out: tuple[int, int],
                window: tuple[tuple[int, int], ...] | None = None) -> np.ndarray:
        *lead, h, w = x.shape
        B = math.prod(lead)
        flat = idx.reshape(B, h * w)
        y = np.zeros((B, out[0] * out[1]), dtype=x.dtype)
        np.put_along_axis(y, flat, x.reshape(B, h * w), axis=1)
        ctx.save_for_backward(flat)
        ctx.x_shape = x.shape
        return y.reshape(*lead, *out)

    @staticmethod
    def backward(ctx: Function, gy: np.ndarray) -> tuple[np.ndarray]:
        (flat,) = ctx.saved_tensors
        gx = np.take_along_axis(gy.reshape(flat.shape[0], -1), flat, axis=1)
        return (gx.reshape(ctx.x_shape),)

    @staticmethod
    def cost(call):
        """The analyzer's protocol: no arithmetic; values read (at their itemsize), indices read (at
        theirs: int64), output written (as the module-level :func:`cost`)."""
        x, idx = call.inputs[:2]
        return Cost(0, 0, numel(x) * (x.dtype.itemsize + idx.dtype.itemsize) + numel(call.out) * call.itemsize)


def max_unpool2d(x: Tensor, indices: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 output_size: Any = None) -> Tensor:
    r"""Invert :func:`max_pool2d` where it can be inverted: each value returns to the position its
    index names, all other positions are 0.

    Parameters
    ----------
    x : Tensor
        Pooled values, (N, C, H, W) or (C, H, W).
    indices : Tensor or ndarray of int
        Flat positions ``h W_out + w`` in each output plane, the same shape as ``x`` (what
        ``max_pool2d(..., return_indices=True)`` returns).
    kernel_size, stride, padding : int or (int, int)
        The pooling's options (stride defaults to ``kernel_size``); they only set the default size.
    output_size : pair, or the full shape, optional
        ``(H_out, W_out)``; must lie strictly within ``stride`` of the default size (PyTorch's rule),
        e.g. to undo a pooling that dropped a last row.

    Shape
    -----
    ``(N, C, H, W) -> (N, C, H_out, W_out)`` with ``H_out = (H - 1) s_h - 2 p_h + k_h`` by default.

    Notes
    -----
    Backward gathers the output gradient at the indices (:class:`MaxUnpool2dFn`). Cost: :func:`cost`.

    Examples
    --------
    >>> import cvprimer as cp, cvprimer.functional as F
    >>> y, i = F.max_pool2d(cp.arange(16.0).reshape(1, 1, 4, 4), 2, return_indices=True)
    >>> F.max_unpool2d(y, i, 2).numpy()[0, 0, 1].tolist()
    [0.0, 5.0, 0.0, 7.0]
    """
    op = "max_unpool2d"
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    shape = check_planes(op, x)
    idx = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be integers (int64), got dtype {idx.dtype}")
    if idx.shape != shape:
        raise ValueError(f"{op}: indices of shape {idx.shape} do not match the input shape {shape}")
    out = _unpool_size(op, shape, kernel_size, stride, padding, output_size)
    if idx.size and (idx.min() < 0 or idx.max() >= out[0] * out[1]):
        raise ValueError(f"{op}: indices must lie in [0, {out[0] * out[1]}) for the output size {out}, "
                         f"got values in [{idx.min()}, {idx.max()}]")
    k = _pair(kernel_size, "kernel_size", op)
    window = (k, k if stride is None else _pair(stride, "stride", op), _pair(padding, "padding", op))
    return MaxUnpool2dFn.apply(x, idx.astype(np.int64, copy=False), out, window=window)


def _unpool_size(op: str, shape: tuple[int, ...], kernel_size: Any, stride: Any, padding: Any,
                 output_size: Any) -> tuple[int, int]:
    k = _pair(kernel_size, "kernel_size", op)
    s = k if stride is None else _pair(stride, "stride", op)
    p = _pair(padding, "padding", op)
    if min(k) < 1 or min(s) < 1 or min(p) < 0:
        raise ValueError(f"{op}: kernel_size and stride must be >= 1 and padding >= 0, got "
                         f"kernel_size={k}, stride={s}, padding={p}")
    default = tuple((shape[-2 + a] - 1) * s[a] + k[a] - 2 * p[a] for a in range(2))
    if output_size is None:
        out = default
    else:
        out = tuple(int(v) for v in output_size)
        if len(out) in (3, 4):  # the full (N, C, H, W) or (C, H, W) shape
            out = out[-2:]
        if len(out) != 2:
            raise ValueError(f"{op}: output_size must be (H_out, W_out) or the full output shape, "
                             f"got {tuple(output_size)} for input of shape {shape}")
        for a in range(2):
            if not default[a] - s[a] < out[a] < default[a] + s[a]:
                raise ValueError(f"{op}: output_size {out} must be strictly within stride {s} of the "
                                 f"default size {default} for input of shape {shape}")
    if min(out) < 1:
        raise ValueError(f"{op}: input of shape {shape} gives an empty output {out}")
    return out[0], out[1]


def cost(x_shape: tuple[int, ...], kernel_size: Any, stride: Any = None, padding: Any = 0,
         output_size: Any = None, itemsize: int = 4) -> Cost:
    """Forward cost of :func:`max_unpool2d`: no arithmetic; bytes = values and int64 indices read,
    zero-filled output written."""
    out = _unpool_size("max_unpool2d", tuple(x_shape), kernel_size, stride, padding, output_size)
    n_in, planes = math.prod(x_shape), math.prod(x_shape[:-2])
    return Cost(macs=0, flops=0, bytes=n_in * (itemsize + 8) + planes * out[0] * out[1] * itemsize)
