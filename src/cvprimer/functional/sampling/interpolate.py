r"""Resizing: ``interpolate`` (alias ``upsample``): nearest, bilinear, bicubic and area, PyTorch's coordinates."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cvprimer.core.cost import itemsize
from cvprimer.core.function import Function
from cvprimer.core.saves import NOTHING
from cvprimer.core.tensor import Tensor
from cvprimer.functional.sampling._separable import (
    adaptive_avg_matrix,
    cubic_matrix,
    linear_matrix,
    nearest_index,
    one_hot,
    resample_geometry,
    separable,
)

MODES = ("nearest", "bilinear", "bicubic", "area")
_CORNER_MODES = ("bilinear", "bicubic")


class InterpolateFn(Function):
    r"""Resample each (H, W) plane to (H_out, W_out): a separable linear operator ``A_h x A_w^T``.

    Notes
    -----
    **Forward**. ``nearest``: ``y[b, i, j] = x[b, src_h(i), src_w(j)]`` with
    ``src(o) = min(floor(o s), L_in - 1)``, ``s = 1 / scale_factor`` when a scale factor is given
    (else ``L_in / L_out``), in float32 as PyTorch (see :func:`nearest_index`); computed as a gather.
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
    def geometry(raw_inputs: Any, kwargs: Any, out_shapes: Any) -> Any:
        """See :func:`resample_geometry` (raw inputs: x, mode, out, scales, align_corners)."""
        x, mode, out, scales, align = raw_inputs[:5]
        return resample_geometry(mode, x.shape[-2:], tuple(out), align, scales)

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, mode: str, out: tuple[int, int],
                scales: tuple[float | None, float | None], align_corners: bool) -> np.ndarray:
        N, C, H, W = x.shape
        x3 = x.reshape(N * C, H, W)
        if mode == "nearest":
            ih, iw = nearest_index(H, out[0], scales[0]), nearest_index(W, out[1], scales[1])
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
    def infer(x, mode, out, *rest):
        """Output shape and dtype for the shape-only trace (the analyzer's protocol)."""
        return x.shape[:-2] + tuple(out), x.dtype

    @staticmethod
    def cost(inputs, outputs, **kw):
        """The analyzer's protocol: see the module-level :func:`cost`."""
        x, mode, out = inputs[:3]
        return cost(x.shape, size=tuple(out), mode=mode, itemsize=itemsize(outputs))


def _resolve(op: str, shape: tuple[int, ...], size: Any, scale_factor: Any
             ) -> tuple[tuple[int, int], tuple[float | None, float | None]]:
    """Output size and the scale factors handed to the kernel (PyTorch's rules)."""
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor, got size={size!r}, "
                         f"scale_factor={scale_factor!r}")
    if size is not None:
        out = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
        if len(out) != 2 or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in out):
            raise ValueError(f"{op}: size must be a positive int or a pair of them, got {size!r}")
        return (int(out[0]), int(out[1])), (None, None)
    sc = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor, scale_factor)
    if len(sc) != 2 or not all(isinstance(v, (int, float, np.integer, np.floating)) and v > 0 for v in sc):
        raise ValueError(f"{op}: scale_factor must be a positive number or a pair of them, "
                         f"got {scale_factor!r}")
    sc = (float(sc[0]), float(sc[1]))
    out = (math.floor(shape[2] * sc[0]), math.floor(shape[3] * sc[1]))
    if min(out) < 1:
        raise ValueError(f"{op}: scale_factor {scale_factor!r} gives an empty output {out} "
                         f"for input of shape {shape}")
    return out, sc


def interpolate(x: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None) -> Tensor:
    r"""Resize an (N, C, H, W) batch by ``nearest``, ``bilinear``, ``bicubic`` or ``area`` interpolation.

    Parameters
    ----------
    x : Tensor
        (N, C, H, W), floating point.
    size : int or (int, int), optional
        Output ``(H_out, W_out)``.
    scale_factor : float or (float, float), optional
        Multiplier of H and W: ``H_out = floor(H * scale)``; the kernel then uses ``1 / scale``
        as its source step (PyTorch's ``recompute_scale_factor=None``). Exactly one of
        ``size`` and ``scale_factor``.
    mode : {"nearest", "bilinear", "bicubic", "area"}
        ``area`` is adaptive average pooling to the output size (meant for shrinking).
    align_corners : bool, optional
        Bilinear and bicubic only (default False): map the corner pixel centres onto each other instead of
        the half-pixel rule.

    Shape
    -----
    ``(N, C, H, W) -> (N, C, H_out, W_out)``.

    Notes
    -----
    Coordinates and gradients are documented in :class:`InterpolateFn`; the gradient is the
    transposed resampling. ``nearest`` is PyTorch's legacy ``"nearest"`` (floor), not
    ``"nearest-exact"``. Cost: :func:`cost`.

    Examples
    --------
    >>> import cvprimer as cp, cvprimer.functional as F
    >>> F.interpolate(cp.ones(1, 2, 3, 5), scale_factor=2, mode="bilinear").shape
    (1, 2, 6, 10)
    """
    op = "interpolate"
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    if x.ndim != 4 or 0 in x.shape:
        raise ValueError(f"{op}: expected a non-empty 4-D (N, C, H, W) input, got shape {x.shape}")
    if mode not in MODES:
        raise ValueError(f"{op}: mode must be one of {MODES}, got {mode!r}")
    if mode not in _CORNER_MODES and align_corners is not None:
        raise ValueError(f"{op}: align_corners can only be set with mode='bilinear' or 'bicubic', "
                         f"got mode={mode!r}")
    out, scales = _resolve(op, x.shape, size, scale_factor)
    return InterpolateFn.apply(x, mode, out, scales, bool(align_corners))


upsample = interpolate
"""Alias of :func:`interpolate` (PyTorch's deprecated ``upsample`` name)."""


def cost(x_shape: tuple[int, ...], size: Any = None, scale_factor: Any = None, mode: str = "nearest",
         itemsize: int = 4) -> dict[str, int]:
    """Forward cost of :func:`interpolate` counted per output sample as PyTorch computes it:
    bilinear 4 MACs (the 4 neighbours times their weights), bicubic 16 (the 4x4 neighbours),
    nearest 0 (a copy); area as adaptive average pooling: no MACs, one add per input element of
    each bin plus one division per output (FLOPs). Bytes = input read + output written."""
    if mode not in MODES:
        raise ValueError(f"interpolate cost: mode must be one of {MODES}, got {mode!r}")
    out, _ = _resolve("interpolate", tuple(x_shape), size, scale_factor)
    planes = x_shape[0] * x_shape[1]
    n_out = planes * out[0] * out[1]
    macs = {"nearest": 0, "bilinear": 4, "bicubic": 16, "area": 0}[mode] * n_out
    flops = 0
    if mode == "area":
        H, W = x_shape[2], x_shape[3]
        nh = int((adaptive_avg_matrix(H, out[0], np.float64) > 0).sum())
        nw = int((adaptive_avg_matrix(W, out[1], np.float64) > 0).sum())
        flops = planes * (nh * nw + out[0] * out[1])
    return dict(macs=macs, flops=flops, bytes=(math.prod(x_shape) + n_out) * itemsize)
