r"""Binary cross-entropy on probabilities and on logits (the stable fused form)."""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.cost import Cost
from cvprimer.core.function import Function
from cvprimer.core.saves import Extra, Saves
from cvprimer.core.tensor import Tensor
from cvprimer.functional.loss._common import (
    check_reduction,
    optional_weight,
    reduce,
    same_shape,
    tensor_arg,
    unreduce,
)
from cvprimer.functional.loss._common import cost as _cost

_LOG_FLOOR = -100.0  # PyTorch clamps log(p) and log(1 - p) at -100 so p = 0 and 1 are finite
# PyTorch's floor on p (1 - p) in the input gradient: the float literal 1e-12 rounded to float32
_EPS = float(np.float32(1e-12))


def _softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + exp(z)) without overflow: max(z, 0) + log1p(exp(-|z|))."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


class BinaryCrossEntropyFn(Function):
    r"""Binary cross-entropy of probabilities p against targets y in [0, 1].

    Notes
    -----
    **Forward**: l = -w [y max(log p, -100) + (1 - y) max(log(1 - p), -100)], then the
    reduction. The clamp at -100 (PyTorch's) makes p = 0 and p = 1 give finite losses.

    **Backward**: dl/dp = w (p - y) / (p (1 - p)), with the denominator floored at 1e-12
    as PyTorch does (finite at p = 0 and 1); dl/dy = w [max(log(1 - p), -100) - max(log p, -100)].
    The weight ``w`` (broadcast to p's shape) receives no gradient.

    Differences from PyTorch: the target gradient uses the clamped logs, so it is the exact
    derivative of the clamped forward and stays finite (+-100) at p = 0 and 1, where
    PyTorch's is +-inf.
    """

    saves_for_backward = Saves(inputs=(0, 1), extra=(Extra("input", count=2),))
    no_infer = "a training loss, outside traced models: runs on the placeholders"

    @staticmethod
    def forward(ctx, p, y, w=None, reduction="mean"):
        with np.errstate(divide="ignore"):
            lp = np.maximum(np.log(p), _LOG_FLOOR)
            l1p = np.maximum(np.log1p(-p), _LOG_FLOOR)
        loss = -(y * lp + (1 - y) * l1p)
        if w is not None:
            loss = loss * w
        ctx.save_for_backward(p, y, w, lp, l1p)
        ctx.reduction = reduction
        return reduce(loss.astype(p.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, gy):
        p, y, w, lp, l1p = ctx.saved_tensors
        g = unreduce(gy, p.shape, ctx.reduction)
        if w is not None:
            g = g * w
        gp = g * (p - y) / np.maximum(p * (1 - p), _EPS) if ctx.needs_input_grad[0] else None
        gt = g * (l1p - lp) if ctx.needs_input_grad[1] else None
        return gp, gt

    @staticmethod
    def cost(call):
        """The analyzer's protocol: :func:`cost` of the input's shape."""
        return cost(np.shape(call.x), itemsize=call.itemsize)


class BCEWithLogitsFn(Function):
    r"""Binary cross-entropy on logits z (sigmoid fused in, so no log(0) ever appears).

    Notes
    -----
    **Forward**: with p = sigmoid(z) and the positive weight lw = 1 + (pos_weight - 1) y,
    l = w [-lw y log p - (1 - y) log(1 - p)] = w [(1 - y) z + lw softplus(-z)], using
    log p = -softplus(-z), log(1 - p) = -z - softplus(-z), and
    softplus(-z) = max(-z, 0) + log(1 + exp(-|z|)) (never overflows; logits of +-1e4 are fine).

    **Backward**: dl/dz = w [(1 - y) - lw sigmoid(-z)] (= w (sigmoid(z) - y) without
    pos_weight); dl/dy = w [-z + (pos_weight - 1) softplus(-z)]. ``weight`` and
    ``pos_weight`` receive no gradient.
    """

    saves_for_backward = Saves(inputs=(0, 1), extra=(Extra("input"),))
    no_infer = "a training loss, outside traced models: runs on the placeholders"

    cost = staticmethod(BinaryCrossEntropyFn.cost)  # the same formula

    @staticmethod
    def forward(ctx, z, y, w=None, pw=None, reduction="mean"):
        sp = _softplus(-z)
        lw = 1 + (pw - 1) * y if pw is not None else 1
        loss = (1 - y) * z + lw * sp
        if w is not None:
            loss = loss * w
        ctx.save_for_backward(z, y, w, pw, sp)
        ctx.reduction = reduction
        return reduce(loss.astype(z.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, gy):
        z, y, w, pw, sp = ctx.saved_tensors
        g = unreduce(gy, z.shape, ctx.reduction)
        if w is not None:
            g = g * w
        gz = gt = None
        if ctx.needs_input_grad[0]:
            lw = 1 + (pw - 1) * y if pw is not None else 1
            sig_neg = np.exp(-_softplus(z))  # sigmoid(-z) = exp(-softplus(z)), no overflow
            gz = g * ((1 - y) - lw * sig_neg)
        if ctx.needs_input_grad[1]:
            gt = g * (-z + ((pw - 1) * sp if pw is not None else 0))
        return gz, gt


def _targets(op: str, input: Any, target: Any) -> tuple[Tensor, Tensor]:
    x = tensor_arg(op, "input", input)
    t = tensor_arg(op, "target", target)
    same_shape(op, x, t)
    if x.dtype != t.dtype:
        raise TypeError(f"{op}: input dtype {x.dtype} and target dtype {t.dtype} differ")
    return x, t


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Any = None, reduction: str = "mean") -> Tensor:
    r"""Binary cross-entropy between probabilities ``input`` and targets in [0, 1].

    Parameters
    ----------
    input : Tensor
        Probabilities in [0, 1], any shape (values outside raise ValueError, as PyTorch).
    target : Tensor
        Same shape and dtype; differentiable (soft labels).
    weight : Tensor or array, optional
        Rescaling weight broadcastable to the input's shape (not differentiated).
    reduction : {'mean', 'sum', 'none'}

    Notes
    -----
    See :class:`BinaryCrossEntropyFn`: logs clamped at -100 and the gradient's
    denominator floored at 1e-12, exactly like PyTorch, so p = 0 and 1 are defined.
    Prefer :func:`binary_cross_entropy_with_logits` for training (stable and exact).
    """
    op = "binary_cross_entropy"
    x, t = _targets(op, input, target)
    check_reduction(op, reduction)
    if x.data.size and (np.nanmin(x.data) < 0 or np.nanmax(x.data) > 1):
        raise ValueError(
            f"{op}: all elements of input should be between 0 and 1 (probabilities), got values in "
            f"[{np.nanmin(x.data):g}, {np.nanmax(x.data):g}] for input shape {x.shape}; for logits use "
            "binary_cross_entropy_with_logits"
        )
    w = optional_weight(op, "weight", weight, x.shape)
    return BinaryCrossEntropyFn.apply(x, t, None if w is None else w.astype(x.dtype), reduction)


def binary_cross_entropy_with_logits(
    input: Tensor, target: Tensor, weight: Any = None, reduction: str = "mean", pos_weight: Any = None
) -> Tensor:
    r"""Sigmoid + binary cross-entropy in one stable step (see :class:`BCEWithLogitsFn`).

    Parameters
    ----------
    input : Tensor
        Logits z, any shape.
    target : Tensor
        Same shape and dtype, values in [0, 1]; differentiable.
    weight : Tensor or array, optional
        Per-element weight broadcastable to the input's shape.
    reduction : {'mean', 'sum', 'none'}
    pos_weight : Tensor or array, optional
        Weight of the positive term, broadcastable to the input's shape (for (N, C) inputs a
        (C,) vector: one weight per class, e.g. n_negative / n_positive).

    Example
    -------
    >>> import cvprimer as cp
    >>> round(binary_cross_entropy_with_logits(cp.tensor([0.0]), cp.tensor([1.0])).item(), 4)
    0.6931
    """
    op = "binary_cross_entropy_with_logits"
    x, t = _targets(op, input, target)
    check_reduction(op, reduction)
    w = optional_weight(op, "weight", weight, x.shape)
    pw = optional_weight(op, "pos_weight", pos_weight, x.shape)
    cast = (lambda a: None if a is None else a.astype(x.dtype))  # noqa: E731
    return BCEWithLogitsFn.apply(x, t, cast(w), cast(pw), reduction)


def cost(shape: tuple[int, ...], itemsize: int = 4) -> Cost:
    """Counts for either BCE on inputs of ``shape`` (about 8 FLOPs an element: exp, log, ...)."""
    return _cost(shape, 8, itemsize)
