r"""Global average and max pooling: each (H, W) plane to one value, ``(N, C, H, W) -> (N, C, 1, 1)``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cvprimer.core.call import Call
from cvprimer.core.cost import Cost
from cvprimer.core.function import Function
from cvprimer.core.geometry import Global
from cvprimer.core.saves import NOTHING
from cvprimer.core.tensor import Tensor
from cvprimer.functional.pooling._window import check_planes


def _plane_infer(call: Call) -> tuple[tuple[int, ...], np.dtype]:
    """The analyzer's ``infer``: each (H, W) plane reduced to (1, 1)."""
    return call.x.shape[:-2] + (1, 1), call.x.dtype


class GlobalAvgPool2dFn(Function):
    r"""Mean of each plane.

    Notes
    -----
    **Forward**: ``y[b] = (1 / (H W)) sum_{h, w} x[b, h, w]``.
    **Backward**: ``gx[b, h, w] = gy[b] / (H W)`` (broadcast): every position gets an equal
    share and ``sum(gx) == sum(gy)``.
    """

    saves_for_backward = NOTHING
    infer = staticmethod(_plane_infer)

    @staticmethod
    def geometry(call: Call) -> Global:
        """Every output reads the whole plane."""
        return Global(note="global pooling")

    @staticmethod
    def forward(ctx: Function, x: np.ndarray) -> np.ndarray:
        ctx.x_shape = x.shape
        return x.mean(axis=(-2, -1), keepdims=True)

    @staticmethod
    def backward(ctx: Function, gy: np.ndarray) -> tuple[np.ndarray]:
        H, W = ctx.x_shape[-2:]
        return (np.broadcast_to(gy / (H * W), ctx.x_shape).copy(),)

    @staticmethod
    def cost(call):
        """The analyzer's protocol: :func:`cost` of the input's shape."""
        return cost(np.shape(call.x), itemsize=call.itemsize)


class GlobalMaxPool2dFn(Function):
    r"""Maximum of each plane.

    Notes
    -----
    **Forward**: ``y[b] = max_{h, w} x[b, h, w]``; the arg-max is the first maximum in row-major
    order (NaN propagates and its first position wins).
    **Backward**: ``gx[b] = gy[b]`` at the arg-max and 0 elsewhere (the whole gradient goes to
    the first maximum; ``sum(gx) == sum(gy)``). Only the flat arg-max is saved.
    """

    saves_for_backward = NOTHING  # one arg-max per plane: negligible
    infer = staticmethod(_plane_infer)
    cost = staticmethod(GlobalAvgPool2dFn.cost)  # the same formula

    @staticmethod
    def geometry(call: Call) -> Global:
        """Every output reads the whole plane."""
        return Global(note="global pooling")

    @staticmethod
    def forward(ctx: Function, x: np.ndarray) -> np.ndarray:
        *lead, H, W = x.shape
        flat = x.reshape(math.prod(lead), H * W)
        arg = flat.argmax(axis=1)  # first maximum; NumPy's argmax also returns the first NaN
        ctx.save_for_backward(arg)
        ctx.x_shape = x.shape
        return np.take_along_axis(flat, arg[:, None], axis=1).reshape(*lead, 1, 1)

    @staticmethod
    def backward(ctx: Function, gy: np.ndarray) -> tuple[np.ndarray]:
        (arg,) = ctx.saved_tensors
        gx = np.zeros((arg.shape[0], math.prod(ctx.x_shape[-2:])), dtype=gy.dtype)
        gx[np.arange(arg.shape[0]), arg] = gy.ravel()
        return (gx.reshape(ctx.x_shape),)


def _check(op: str, x: Any) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    check_planes(op, x)


def global_avg_pool2d(x: Tensor) -> Tensor:
    r"""Average of each (H, W) plane: ``(N, C, H, W) -> (N, C, 1, 1)`` (also (C, H, W) -> (C, 1, 1)).

    Same as ``adaptive_avg_pool2d(x, 1)``; the gradient is ``gy / (H W)`` everywhere
    (:class:`GlobalAvgPool2dFn`). Cost: :func:`cost`.

    Examples
    --------
    >>> import cvprimer as cp, cvprimer.functional as F
    >>> F.global_avg_pool2d(cp.ones(2, 3, 4, 5)).shape
    (2, 3, 1, 1)
    """
    _check("global_avg_pool2d", x)
    return GlobalAvgPool2dFn.apply(x)


def global_max_pool2d(x: Tensor) -> Tensor:
    r"""Maximum of each (H, W) plane: ``(N, C, H, W) -> (N, C, 1, 1)`` (also (C, H, W) -> (C, 1, 1)).

    Same as ``adaptive_max_pool2d(x, 1)``; the gradient goes to the first maximum
    (:class:`GlobalMaxPool2dFn`). Cost: :func:`cost`.

    Examples
    --------
    >>> import cvprimer as cp, cvprimer.functional as F
    >>> F.global_max_pool2d(cp.arange(8.0).reshape(1, 2, 2, 2)).numpy().ravel().tolist()
    [3.0, 7.0]
    """
    _check("global_max_pool2d", x)
    return GlobalMaxPool2dFn.apply(x)


def cost(x_shape: tuple[int, ...], itemsize: int = 4) -> Cost:
    """Forward cost of either global pool: ``H W - 1`` adds (or comparisons) per plane (+1 division
    for the average), no MACs; bytes = input read + output written."""
    planes, hw = math.prod(x_shape[:-2]), math.prod(x_shape[-2:])
    return Cost(macs=0, flops=planes * hw, bytes=(planes * hw + planes) * itemsize)
