r"""Adaptive average pooling: a fixed output size whatever the input size."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cvprimer.core.call import Call
from cvprimer.core.cost import Cost
from cvprimer.core.function import Function
from cvprimer.core.geometry import Global, Window
from cvprimer.core.saves import NOTHING
from cvprimer.core.tensor import Tensor
from cvprimer.functional.pooling._window import check_planes
from cvprimer.functional.sampling._separable import adaptive_avg_matrix, bins_geometry, separable

# planes with H W H_out W_out at most this pool with one matrix product over the whole batch
_ONE_GEMM_MAX = 4096


class AdaptiveAvgPool2dFn(Function):
    r"""Average over PyTorch's adaptive bins, as two small averaging matrices.

    Notes
    -----
    Bin ``i`` along H covers ``[floor(i H / H_out), ceil((i + 1) H / H_out))``; bins overlap when
    ``H_out`` does not divide ``H``. With ``P_h`` (H_out, H) holding ``1 / len(bin i)`` on bin i
    (and ``P_w`` likewise):

    **Forward**: ``y[b] = P_h x[b] P_w^T`` (the mean over the box ``bin_h(i) x bin_w(j)``).

    **Backward**: linear, so ``gx[b] = P_h^T gy[b] P_w``: each output's gradient is spread
    equally over its box; positions in two overlapping bins receive both shares.
    Only the two small matrices are kept.
    """

    saves_for_backward = NOTHING  # two small bin matrices

    @staticmethod
    def geometry(call: Call) -> Window | Global:
        """See :func:`bins_geometry`."""
        return bins_geometry(call.inputs[0].shape[-2:], tuple(call.inputs[1]))

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, out: tuple[int, int]) -> np.ndarray:
        *lead, H, W = x.shape
        Ph, Pw = adaptive_avg_matrix(H, out[0], x.dtype), adaptive_avg_matrix(W, out[1], x.dtype)
        ctx.x_shape = x.shape
        P = math.prod(lead)
        if out[0] * out[1] == 1 or H * W * out[0] * out[1] <= _ONE_GEMM_MAX:
            # small planes (a network's global pool): ONE product over every plane with the
            # (H W, H_out W_out) matrix kron(P_h, P_w)^T; a product per plane costs far more than its work
            # (64x1280x2x2 -> 1x1, 1 thread: 2.8 -> 0.16 ms)
            M = np.kron(Ph, Pw).T  # M[h W + w, i W_out + j] = P_h[i, h] P_w[j, w]
            ctx.P = M
            return (x.reshape(P, H * W) @ M).reshape(*lead, *out)
        ctx.P = (Ph, Pw)
        return separable(x.reshape(P, H, W), Ph, Pw).reshape(*lead, *out)

    @staticmethod
    def backward(ctx: Function, gy: np.ndarray) -> tuple[np.ndarray]:
        if isinstance(ctx.P, np.ndarray):  # the one-product path: gx = gy M^T
            M = ctx.P
            if M.shape[1] == 1:  # a global pool: each product is one multiply (an outer product)
                return ((gy.reshape(-1, 1) * M[:, 0]).reshape(ctx.x_shape),)
            return ((gy.reshape(-1, M.shape[1]) @ M.T).reshape(ctx.x_shape),)
        Ph, Pw = ctx.P
        gy3 = gy.reshape(-1, *gy.shape[-2:])
        return (separable(gy3, Ph.T, Pw.T).reshape(ctx.x_shape),)

    @staticmethod
    def infer(call):
        """Output shape and dtype for the shape-only trace (the analyzer's protocol)."""
        x, out = call.inputs
        return x.shape[:-2] + tuple(out), x.dtype

    @staticmethod
    def cost(call):
        """The analyzer's protocol: see the module-level :func:`cost`."""
        return cost(call.x.shape, call.inputs[1], itemsize=call.itemsize)


def adaptive_avg_pool2d(x: Tensor, output_size: Any) -> Tensor:
    r"""2-D adaptive average pooling to ``output_size`` over an (N, C, H, W) or (C, H, W) input.

    Parameters
    ----------
    x : Tensor
        Input, floating point.
    output_size : int or (int | None, int | None)
        ``(H_out, W_out)``; an int means a square output, None keeps that input size.

    Shape
    -----
    ``(N, C, H, W) -> (N, C, H_out, W_out)``.

    Notes
    -----
    Output ``(i, j)`` is the mean of rows ``[floor(i H / H_out), ceil((i + 1) H / H_out))`` and the
    columns likewise (PyTorch's bins). Backward spreads each gradient equally over its bin
    (:class:`AdaptiveAvgPool2dFn`). Cost: :func:`cost`.

    Examples
    --------
    >>> import cvprimer as cp, cvprimer.functional as F
    >>> F.adaptive_avg_pool2d(cp.ones(1, 3, 7, 5), (3, None)).shape
    (1, 3, 3, 5)
    """
    op = "adaptive_avg_pool2d"
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    shape = check_planes(op, x)
    return AdaptiveAvgPool2dFn.apply(x, _output_size(op, output_size, shape))


def _output_size(op: str, output_size: Any, shape: tuple[int, ...]) -> tuple[int, int]:
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 2:
            raise ValueError(f"{op}: output_size must be an int or a pair, got {tuple(output_size)}")
        out = tuple(shape[-2 + a] if v is None else v for a, v in enumerate(output_size))
    else:
        out = (output_size, output_size)
    if not all(isinstance(v, (int, np.integer)) and v >= 1 for v in out):
        raise ValueError(f"{op}: output_size must hold positive ints (or None), got {output_size!r} "
                         f"for input of shape {shape}")
    return int(out[0]), int(out[1])


def cost(x_shape: tuple[int, ...], output_size: Any, itemsize: int = 4) -> Cost:
    """Forward cost of :func:`adaptive_avg_pool2d` counted as the bin sums PyTorch does (one add
    per input element of each bin, one division per output; no MACs; bytes = input + output).
    (This implementation's dense matrix products do more arithmetic on tiny planes.)"""
    Ho, Wo = _output_size("adaptive_avg_pool2d", output_size, tuple(x_shape))
    H, W = x_shape[-2:]
    planes = math.prod(x_shape[:-2])
    nh = np.diff(np.stack([(np.arange(Ho) * H) // Ho, -((-(np.arange(Ho) + 1) * H) // Ho)]), axis=0).sum()
    nw = np.diff(np.stack([(np.arange(Wo) * W) // Wo, -((-(np.arange(Wo) + 1) * W) // Wo)]), axis=0).sum()
    return Cost(macs=0, flops=int(planes * (nh * nw + Ho * Wo)),
                bytes=(math.prod(x_shape) + planes * Ho * Wo) * itemsize)
