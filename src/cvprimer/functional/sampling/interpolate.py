r"""Resizing: ``interpolate`` (alias ``upsample``): nearest, bilinear, bicubic and area, PyTorch's coordinates."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cvprimer.core.call import Call
from cvprimer.core.cost import Cost
from cvprimer.core.function import Function
from cvprimer.core.saves import NOTHING
from cvprimer.core.tensor import Tensor
from cvprimer.functional.sampling._separable import (
    adaptive_avg_matrix,
    cubic_matrix,
    linear_matrix,
    nearest_exact_index,
    nearest_index,
    one_hot,
    resample_geometry,
    resample_matrix,
    separable,
)

#: the modes each number of spatial dims takes (PyTorch's: linear needs (N, C, L), trilinear (N, C, D, H, W))
MODES_BY_DIMS = {
    1: ("nearest", "nearest-exact", "linear", "area"),
    2: ("nearest", "nearest-exact", "bilinear", "bicubic", "area"),
    3: ("nearest", "nearest-exact", "trilinear", "area"),
}
MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")
_CORNER_MODES = ("linear", "bilinear", "bicubic", "trilinear")
_NEAREST = {"nearest": nearest_index, "nearest-exact": nearest_exact_index}


class InterpolateFn(Function):
    r"""Resample each (H, W) plane to (H_out, W_out): a separable linear operator ``A_h x A_w^T``.

    Notes
    -----
    **Forward**. ``nearest``: ``y[b, i, j] = x[b, src_h(i), src_w(j)]`` with
    ``src(o) = min(floor(o s), L_in - 1)``, ``s = 1 / scale_factor`` when a scale factor is given
    (else ``L_in / L_out``), in float32 as PyTorch (see :func:`nearest_index`); computed as a gather.
    ``nearest-exact``: the same gather with ``src(o) = min(floor((o + 1/2) s), L_in - 1)`` (pixel
    centres; :func:`nearest_exact_index`).
    ``bilinear``: ``y[b] = A_h x[b] A_w^T`` where row ``o`` of ``A`` holds ``1 - l`` at ``i0`` and
    ``l`` at ``i0 + 1`` for the source coordinate ``src(o) = i0 + l``:
    ``src = o (L_in - 1) / (L_out - 1)`` with ``align_corners`` (corner pixel centres aligned),
    else ``src = max(s (o + 1/2) - 1/2, 0)`` (half-pixel centres, clamped at 0 as PyTorch;
    :func:`linear_matrix`).
    ``bicubic``: ``y[b] = A_h x[b] A_w^T`` where row ``o`` of ``A`` holds Keys' cubic weights
    (``a = -0.75``) of the fraction ``t = src - floor(src)`` at the four samples
    ``floor(src) - 1 .. floor(src) + 2``, indices clamped to the border (replicate), and
    ``src`` as for bilinear but never clamped at 0 (:func:`cubic_matrix`); the weights of a
    row sum to 1 but two of them are negative, so the output can overshoot the input's range.
    ``area``: adaptive average pooling to the output size: row ``o`` of ``A`` holds
    ``1 / |bin_o|`` on the bin ``[floor(o L_in / L_out), ceil((o + 1) L_in / L_out))``
    (:func:`adaptive_avg_matrix`), i.e. PyTorch's ``mode="area"``; a scale factor only sets
    the output size.

    **Backward**. The op is linear in x, so ``gx[b] = A_h^T gy[b] A_w``: every output's gradient
    is scattered back to the input samples it read, times the weight it read them with, and
    contributions to the same input add up (for ``nearest`` A is the one-hot selection matrix,
    so an input copied to several outputs gets the sum of their gradients, and an input no
    output read gets 0). For ``bicubic``, ``gx[b, i, j] = sum_{o, p} A_h[o, i] A_w[p, j] gy[b, o, p]``
    over the 4x4 outputs-to-taps weights (negative ones included); for ``area`` every input of
    a bin receives ``gy / |bin|`` (the sum over the bins that contain it when bins overlap).
    Two matrix products; only the 1-D operators are saved.
    (For ``nearest`` a non-finite upstream gradient spreads NaN to its whole row/column block,
    since the products multiply it by zeros; PyTorch's scatter-add confines it.)
    """

    saves_for_backward = NOTHING  # the small 1-D operators

    @staticmethod
    def geometry(call: Call) -> Any:
        """See :func:`resample_geometry` (raw inputs: x, mode, out, scales, align_corners)."""
        x, mode, out, scales, align = call.inputs[:5]
        return resample_geometry(mode, x.shape[-2:], tuple(out), align, scales)

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, mode: str, out: tuple[int, int],
                scales: tuple[float | None, float | None], align_corners: bool) -> np.ndarray:
        N, C, H, W = x.shape
        x3 = x.reshape(N * C, H, W)
        if mode in _NEAREST:
            index = _NEAREST[mode]
            ih, iw = index(H, out[0], scales[0]), index(W, out[1], scales[1])
            y = np.take(np.take(x3, ih, axis=1), iw, axis=2)
            ctx.A = ("nearest", ih, iw)
        else:
            if mode == "bilinear":
                Ah = linear_matrix(H, out[0], align_corners, scales[0], x.dtype)
                Aw = linear_matrix(W, out[1], align_corners, scales[1], x.dtype)
            elif mode == "bicubic":
                Ah = cubic_matrix(H, out[0], align_corners, scales[0], x.dtype)
                Aw = cubic_matrix(W, out[1], align_corners, scales[1], x.dtype)
            else:  # area
                Ah, Aw = adaptive_avg_matrix(H, out[0], x.dtype), adaptive_avg_matrix(W, out[1], x.dtype)
            y = separable(x3, Ah, Aw)
            ctx.A = (mode, Ah, Aw)
        ctx.x_shape = x.shape
        return y.reshape(N, C, *out)

    @staticmethod
    def backward(ctx: Function, gy: np.ndarray) -> tuple[np.ndarray]:
        kind, Ah, Aw = ctx.A
        N, C, H, W = ctx.x_shape
        if kind == "nearest":
            Ah, Aw = one_hot(Ah, H, gy.dtype), one_hot(Aw, W, gy.dtype)
        gx = separable(gy.reshape(N * C, *gy.shape[-2:]), Ah.T, Aw.T)
        return (gx.reshape(ctx.x_shape),)

    @staticmethod
    def infer(call):
        """Output shape and dtype for the shape-only trace (the analyzer's protocol)."""
        x, _, out = call.inputs[:3]
        return x.shape[:-2] + tuple(out), x.dtype

    @staticmethod
    def cost(call):
        """The analyzer's protocol: see the module-level :func:`cost`."""
        x, mode, out = call.inputs[:3]
        return cost(x.shape, size=tuple(out), mode=mode, itemsize=call.itemsize)


class InterpolateNdFn(Function):
    r"""Resample the L of (N, C, L) or the (D, H, W) of (N, C, D, H, W): one 1-D operator per spatial axis.

    Notes
    -----
    **Forward**. The resampling is separable: ``y = x ×_1 A_1 ×_2 A_2 ... ×_k A_k`` where ``×_a A`` multiplies
    spatial axis ``a`` by the (L_out, L_in) operator ``A`` of that axis, the same 1-D operators as
    :class:`InterpolateFn`: ``linear``/``trilinear`` use :func:`linear_matrix` on every axis (2 taps per
    axis, so 2 in 1-D and 8 in 3-D, weights ``(1 - l)`` and ``l`` multiplied across axes), ``area`` the
    adaptive-average operator, ``nearest``/``nearest-exact`` a gather by the source indices (no matrix).

    **Backward**. Linear in x, so ``gx = gy ×_1 A_1^T ... ×_k A_k^T``: each output's gradient goes back to
    the samples it read, times their weights (the one-hot selection for the nearest modes).
    Only the small 1-D operators are kept.

    Differences from PyTorch: for ``nearest`` with a scale factor whose output length is exactly ``L_in``
    or ``2 L_in`` although the factor is not 1 or 2 (e.g. 1.147 on L = 2), PyTorch 2.13's 1-D/3-D forward
    uses ``floor(o / scale)`` but its backward the identity/halving shortcut, so its gradient is not the
    transpose of its own forward; ours is (same forward values, the gradient of that forward).
    """

    saves_for_backward = NOTHING  # the small 1-D operators

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, mode: str, out: tuple[int, ...],
                scales: tuple[float | None, ...], align_corners: bool) -> np.ndarray:
        sizes = x.shape[2:]
        y = x
        ops: list[Any] = []  # per axis: (index, n_in) for nearest, else the resampling matrix
        for a, (n_in, n_out, sc) in enumerate(zip(sizes, out, scales, strict=True)):
            if mode in _NEAREST:  # PyTorch's 1-D and 3-D nearest kernels take no identity/halving shortcut
                idx = (nearest_index(n_in, n_out, sc, shortcuts=False) if mode == "nearest"
                       else nearest_exact_index(n_in, n_out, sc))
                y = np.take(y, idx, axis=2 + a)
                ops.append((idx, n_in))  # the one-hot matrix is built in backward
            else:
                A = resample_matrix(mode, n_in, n_out, align_corners, sc, x.dtype)
                y = _along(y, A, 2 + a)
                ops.append(A)
        ctx.ops = ops
        return np.ascontiguousarray(y)

    @staticmethod
    def backward(ctx: Function, gy: np.ndarray) -> tuple[np.ndarray]:
        g = gy
        for a, A in enumerate(ctx.ops):
            if isinstance(A, tuple):
                idx, n_in = A
                A = one_hot(idx, n_in, gy.dtype)
            g = _along(g, A.T.astype(gy.dtype, copy=False), 2 + a)
        return (np.ascontiguousarray(g),)

    @staticmethod
    def infer(call):
        """Output shape and dtype for the shape-only trace (the analyzer's protocol)."""
        x, _, out = call.inputs[:3]
        return x.shape[:2] + tuple(out), x.dtype

    @staticmethod
    def cost(call):
        """The analyzer's protocol: see the module-level :func:`cost`."""
        x, mode, out = call.inputs[:3]
        return cost(x.shape, size=tuple(out), mode=mode, itemsize=call.itemsize)


def _along(x: np.ndarray, A: np.ndarray, axis: int) -> np.ndarray:
    """``A`` (m, n) applied to axis ``axis`` of ``x`` (length n -> m): a matrix product over that axis."""
    return np.moveaxis(np.tensordot(A, x, axes=([1], [axis])), 0, axis)


def _resolve(op: str, shape: tuple[int, ...], size: Any, scale_factor: Any,
             recompute_scale_factor: bool | None = None) -> tuple[tuple[int, ...], tuple[float | None, ...]]:
    """Output size and the scale factors handed to the kernel (PyTorch's rules) for the ``k = len(shape) - 2``
    spatial dims: ``L_out = floor(L_in * scale)``; with ``recompute_scale_factor=True`` the kernel then uses
    ``L_in / L_out`` instead of ``1 / scale`` (scales None)."""
    k = len(shape) - 2
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor, got size={size!r}, "
                         f"scale_factor={scale_factor!r}")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError(f"{op}: recompute_scale_factor is not meaningful with an explicit size "
                             f"(size={size!r}); give scale_factor instead")
        out = tuple(size) if isinstance(size, (tuple, list)) else (size,) * k
        if len(out) != k or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in out):
            raise ValueError(f"{op}: size must be a positive int or {k} of them for an input of shape {shape}, "
                             f"got {size!r}")
        return tuple(int(v) for v in out), (None,) * k
    sc = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * k
    if len(sc) != k or not all(isinstance(v, (int, float, np.integer, np.floating)) and v > 0 for v in sc):
        raise ValueError(f"{op}: scale_factor must be a positive number or {k} of them for an input of shape "
                         f"{shape}, got {scale_factor!r}")
    sc = tuple(float(v) for v in sc)
    out = tuple(math.floor(n * f) for n, f in zip(shape[2:], sc, strict=True))
    if min(out) < 1:
        raise ValueError(f"{op}: scale_factor {scale_factor!r} gives an empty output {out} "
                         f"for input of shape {shape}")
    return out, ((None,) * k if recompute_scale_factor else sc)


def interpolate(x: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None) -> Tensor:
    r"""Resize the spatial dims of an (N, C, L), (N, C, H, W) or (N, C, D, H, W) batch.

    Parameters
    ----------
    x : Tensor
        (N, C, L), (N, C, H, W) or (N, C, D, H, W), floating point.
    size : int or tuple of ints, optional
        Output spatial size (one int for every spatial dim, or one per dim).
    scale_factor : float or tuple of floats, optional
        Multiplier of each spatial dim: ``L_out = floor(L * scale)``; the kernel then uses ``1 / scale``
        as its source step (PyTorch's ``recompute_scale_factor=None``). Exactly one of ``size`` and
        ``scale_factor``.
    mode : str
        ``nearest`` and ``nearest-exact`` for any input; ``linear`` for 3-D, ``bilinear`` and ``bicubic``
        for 4-D, ``trilinear`` for 5-D inputs (as PyTorch); ``area`` (adaptive average pooling to the
        output size) for any.
    align_corners : bool, optional
        The (bi/tri)linear and bicubic modes only (default False): map the corner pixel centres onto each
        other instead of the half-pixel rule.
    recompute_scale_factor : bool, optional
        With ``scale_factor``: True computes the output size and then resamples as if that size had been
        given (source step ``L_in / L_out`` instead of ``1 / scale``), as PyTorch; False or None keeps
        ``1 / scale``. Not allowed with ``size``.

    Shape
    -----
    ``(N, C, *S) -> (N, C, *S_out)`` with ``S_out = size`` or ``floor(S * scale_factor)``.

    Notes
    -----
    Coordinates and gradients are documented in :class:`InterpolateFn` (4-D) and
    :class:`InterpolateNdFn` (3-D and 5-D, the same 1-D operators along each axis); the gradient is
    the transposed resampling. ``nearest`` is PyTorch's legacy ``"nearest"`` (floor), ``nearest-exact``
    its pixel-centre rule. Cost: :func:`cost`.

    Examples
    --------
    >>> import cvprimer as cp, cvprimer.functional as F
    >>> F.interpolate(cp.ones(1, 2, 3, 5), scale_factor=2, mode="bilinear").shape
    (1, 2, 6, 10)
    >>> F.interpolate(cp.ones(1, 2, 4), size=7, mode="linear").shape
    (1, 2, 7)
    """
    op = "interpolate"
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    if x.ndim not in (3, 4, 5) or 0 in x.shape:
        raise ValueError(f"{op}: expected a non-empty 3-D (N, C, L), 4-D (N, C, H, W) or 5-D (N, C, D, H, W) "
                         f"input, got shape {x.shape}")
    k = x.ndim - 2
    if mode not in MODES:
        raise ValueError(f"{op}: mode must be one of {MODES}, got {mode!r}")
    if mode not in MODES_BY_DIMS[k]:
        need = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}[mode]
        raise ValueError(f"{op}: mode {mode!r} needs a {need}-D input, got shape {x.shape} (a {x.ndim}-D input "
                         f"takes {MODES_BY_DIMS[k]})")
    if mode not in _CORNER_MODES and align_corners is not None:
        raise ValueError(f"{op}: align_corners can only be set with the linear, bilinear, bicubic and trilinear "
                         f"modes, got mode={mode!r}")
    out, scales = _resolve(op, x.shape, size, scale_factor, recompute_scale_factor)
    if k == 2:
        return InterpolateFn.apply(x, mode, out, scales, bool(align_corners))
    return InterpolateNdFn.apply(x, mode, out, scales, bool(align_corners))


upsample = interpolate
"""Alias of :func:`interpolate` (PyTorch's deprecated ``upsample`` name)."""


def cost(x_shape: tuple[int, ...], size: Any = None, scale_factor: Any = None, mode: str = "nearest",
         itemsize: int = 4) -> Cost:
    """Forward cost of :func:`interpolate` counted per output sample as PyTorch computes it:
    linear 2 MACs, bilinear 4 (the 4 neighbours times their weights), trilinear 8, bicubic 16 (the 4x4
    neighbours), the nearest modes 0 (a copy); area as adaptive average pooling: no MACs, one add per input element of
    each bin plus one division per output (FLOPs). Bytes = input read + output written."""
    if mode not in MODES:
        raise ValueError(f"interpolate cost: mode must be one of {MODES}, got {mode!r}")
    out, _ = _resolve("interpolate", tuple(x_shape), size, scale_factor)
    planes = x_shape[0] * x_shape[1]
    n_out = planes * math.prod(out)
    macs = {"nearest": 0, "nearest-exact": 0, "linear": 2, "bilinear": 4, "bicubic": 16, "trilinear": 8,
            "area": 0}[mode] * n_out
    flops = 0
    if mode == "area":
        f64 = np.dtype(np.float64)
        taps = [int((adaptive_avg_matrix(n, o, f64) > 0).sum()) for n, o in zip(x_shape[2:], out, strict=True)]
        flops = planes * (math.prod(taps) + math.prod(out))
    return Cost(macs=macs, flops=flops, bytes=(math.prod(x_shape) + n_out) * itemsize)
