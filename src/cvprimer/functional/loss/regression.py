r"""Regression losses on the difference d = input - target: MSE, L1, smooth L1, Huber.

Each is a hand-written Function of (input, target) with PyTorch's ``reduction``
('none' | 'mean' | 'sum'); both arguments receive gradients (gx = g, gt = -g).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.cost import Cost
from cvprimer.core.function import Function
from cvprimer.core.saves import Extra, Saves
from cvprimer.core.tensor import Tensor
from cvprimer.functional.loss._common import check_reduction, reduce, same_shape, tensor_arg, unreduce
from cvprimer.functional.loss._common import cost as _cost


class _DiffLossFn(Function):
    """Base: loss = reduce(l(d)), d = x - t. Subclasses define ``_loss`` and ``_grad``
    (dl/dd); backward is g = unreduce(gy) * dl/dd, gx = g, gt = -g. Saves only d."""

    saves_for_backward = Saves(extra=(Extra("input"),))  # the difference
    no_infer = "a training loss, outside traced models: runs on the placeholders"

    @staticmethod
    def _loss(d: np.ndarray, param: float) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def _grad(d: np.ndarray, param: float) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def forward(ctx, x, t, reduction="mean", param=0.0):
        d = x - t
        ctx.save_for_backward(d)
        ctx.meta = (reduction, param)
        return reduce(type(ctx)._loss(d, param).astype(x.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, gy):
        (d,) = ctx.saved_tensors
        reduction, param = ctx.meta
        g = unreduce(gy, d.shape, reduction) * type(ctx)._grad(d, param)
        return (g if ctx.needs_input_grad[0] else None), (-g if ctx.needs_input_grad[1] else None)

    @staticmethod
    def cost(call):
        """The analyzer's protocol: :func:`cost` of the input's shape."""
        return cost(np.shape(call.x), itemsize=call.itemsize)


class MSELossFn(_DiffLossFn):
    r"""Squared error. **Forward**: l = d^2. **Backward**: dl/dd = 2 d."""

    @staticmethod
    def _loss(d, param):
        return d * d

    @staticmethod
    def _grad(d, param):
        return 2 * d


class L1LossFn(_DiffLossFn):
    r"""Absolute error. **Forward**: l = |d|. **Backward**: dl/dd = sign(d), 0 at d = 0
    (the subgradient PyTorch uses)."""

    @staticmethod
    def _loss(d, param):
        return np.abs(d)

    @staticmethod
    def _grad(d, param):
        return np.sign(d)


class SmoothL1LossFn(_DiffLossFn):
    r"""Smooth L1 (Fast R-CNN) with threshold beta.

    **Forward**: l = 0.5 d^2 / beta if |d| < beta, else |d| - 0.5 beta (beta = 0: plain L1).
    **Backward**: dl/dd = d / beta inside, sign(d) outside. Value and slope are continuous
    at |d| = beta."""

    @staticmethod
    def _loss(d, beta):
        a = np.abs(d)
        if beta == 0:
            return a
        return np.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta)

    @staticmethod
    def _grad(d, beta):
        if beta == 0:
            return np.sign(d)
        return np.where(np.abs(d) < beta, d / beta, np.sign(d))


class HuberLossFn(_DiffLossFn):
    r"""Huber loss with threshold delta (= delta * smooth_l1 with beta = delta).

    **Forward**: l = 0.5 d^2 if |d| < delta, else delta (|d| - 0.5 delta).
    **Backward**: dl/dd = clip(d, -delta, delta)."""

    @staticmethod
    def _loss(d, delta):
        a = np.abs(d)
        return np.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))

    @staticmethod
    def _grad(d, delta):
        return np.clip(d, -delta, delta)


def _run(op: str, fn: type[_DiffLossFn], input: Any, target: Any, reduction: str, param: float = 0.0) -> Tensor:
    x = tensor_arg(op, "input", input)
    t = tensor_arg(op, "target", target)
    same_shape(op, x, t)
    if x.dtype != t.dtype:
        raise TypeError(f"{op}: input dtype {x.dtype} and target dtype {t.dtype} differ")
    check_reduction(op, reduction)
    return fn.apply(x, t, reduction, float(param))


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    r"""Mean squared error: reduce((input - target)^2).

    Parameters
    ----------
    input, target : Tensor
        Same shape and floating dtype (both differentiable).
    reduction : {'mean', 'sum', 'none'}
        'none' returns the elementwise losses (input's shape); 'mean' divides the sum by the
        number of elements.

    Differences from PyTorch: shapes must match exactly (PyTorch broadcasts with a warning).

    Example
    -------
    >>> import cvprimer as cp
    >>> mse_loss(cp.tensor([1.0, 3.0]), cp.tensor([0.0, 0.0])).item()
    5.0
    """
    return _run("mse_loss", MSELossFn, input, target, reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    r"""Mean absolute error: reduce(|input - target|); gradient sign(d), 0 at d = 0.
    Same arguments and shape rules as :func:`mse_loss`.

    Example
    -------
    >>> import cvprimer as cp
    >>> l1_loss(cp.tensor([1.0, -3.0]), cp.tensor([0.0, 0.0]), reduction="sum").item()
    4.0
    """
    return _run("l1_loss", L1LossFn, input, target, reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    r"""Smooth L1 loss (quadratic for |d| < beta, linear beyond; see :class:`SmoothL1LossFn`).
    ``beta`` must be >= 0; beta = 0 is the L1 loss.

    Example
    -------
    >>> import cvprimer as cp
    >>> smooth_l1_loss(cp.tensor([0.5, 3.0]), cp.tensor([0.0, 0.0]), reduction="none").tolist()
    [0.125, 2.5]
    """
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    return _run("smooth_l1_loss", SmoothL1LossFn, input, target, reduction, beta)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    r"""Huber loss (quadratic for |d| < delta, then linear with slope delta; see
    :class:`HuberLossFn`). ``delta`` must be > 0.

    Example
    -------
    >>> import cvprimer as cp
    >>> huber_loss(cp.tensor([0.5, 3.0]), cp.tensor([0.0, 0.0]), reduction="none", delta=2.0).tolist()
    [0.125, 4.0]
    """
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    return _run("huber_loss", HuberLossFn, input, target, reduction, delta)


def cost(shape: tuple[int, ...], itemsize: int = 4) -> Cost:
    """Counts for any loss of this file on inputs of ``shape`` (about 4 FLOPs an element)."""
    return _cost(shape, 4, itemsize)
