r"""Margin, similarity and divergence losses: multi-class hinge (``multi_margin_loss``),
``cosine_embedding_loss`` and ``kl_div``."""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.cost import Cost
from cvprimer.core.function import Function
from cvprimer.core.saves import BOTH, Extra, Saves
from cvprimer.core.tensor import Tensor
from cvprimer.functional.loss._common import check_reduction, reduce, same_shape, tensor_arg, unreduce
from cvprimer.functional.loss.classification import class_weight, hard_target_rows


class MultiMarginLossFn(Function):
    r"""Multi-class hinge loss (Weston-Watkins / Crammer-Singer style, PyTorch's form).

    Notes
    -----
    **Forward**: for row i with target y, h_ij = margin - x_iy + x_ij and
    loss_i = (1 / C) sum_{j != y} w_y max(0, h_ij)^p, p in {1, 2}; 'mean' divides by N.
    **Backward**: for j != y with h_ij > 0, gx_ij = w_y p h_ij^(p-1) / C (0 otherwise, also
    at the kink h = 0), and gx_iy = -sum_{j != y} gx_ij; each row scaled by its upstream gradient.
    """

    saves_for_backward = Saves(inputs=(1,), extra=(Extra("input"),))
    no_infer = "a training loss, outside traced models: runs on the placeholders"

    @staticmethod
    def forward(ctx, x, t, p=1, margin=1.0, w=None, reduction="mean"):
        xr = x.reshape(-1, x.shape[-1])
        n, c = xr.shape
        rows = np.arange(n)
        h = margin - xr[rows, t][:, None] + xr
        h[rows, t] = 0  # j = y is excluded
        hp = np.maximum(h, 0)
        wy = w[t][:, None] if w is not None else 1
        loss = (np.sum(wy * hp**p, axis=1) / c).astype(x.dtype, copy=False)
        ctx.meta = (x.shape, t, p, hp, wy, reduction)
        return reduce(loss.reshape(x.shape[:-1]), reduction)

    @staticmethod
    def backward(ctx, gy):
        shape, t, p, hp, wy, reduction = ctx.meta
        n, c = hp.shape
        g = unreduce(gy, shape[:-1], reduction).reshape(-1, 1)
        coef = wy * (p * hp ** (p - 1) if p != 1 else (hp > 0).astype(hp.dtype)) / c
        coef = np.where(hp > 0, coef, 0)
        coef[np.arange(n), t] = -coef.sum(axis=1)
        return (g * coef).reshape(shape)

    @staticmethod
    def cost(call):
        """The analyzer's protocol: :func:`cost` of the input's shape."""
        return cost(np.shape(call.x), itemsize=call.itemsize)


def multi_margin_loss(
    input: Tensor, target: Any, p: int = 1, margin: float = 1.0, weight: Any = None, reduction: str = "mean"
) -> Tensor:
    r"""Multi-class hinge loss on scores (N, C) (or (C,)) with class-index targets (N,) (or ()).

    See :class:`MultiMarginLossFn`. ``p`` is 1 or 2; ``weight`` (C,) scales each row by its
    target class's weight ('mean' still divides by N, as PyTorch).

    Example
    -------
    >>> import cvprimer as cp, numpy as np
    >>> multi_margin_loss(cp.tensor([[0.1, 0.2, 0.4]]), np.array([2])).item()  # (0.7 + 0.8) / 3
    0.5
    """
    op = "multi_margin_loss"
    x = tensor_arg(op, "input", input)
    check_reduction(op, reduction)
    if p not in (1, 2):
        raise ValueError(f"{op}: only p = 1 and p = 2 are supported, got {p}")
    if x.ndim not in (1, 2):
        raise ValueError(f"{op}: input must be (C,) or (N, C), got shape {x.shape}")
    t, _ = hard_target_rows(op, x, target, ignore_index=-(10**18))
    w = class_weight(op, weight, x.shape[-1], x.dtype)
    return MultiMarginLossFn.apply(x, t, int(p), float(margin), w, reduction)


class KLDivFn(Function):
    r"""Pointwise Kullback-Leibler divergence with ``input`` = log q (PyTorch's convention).

    Notes
    -----
    **Forward**: l = t (log t - x) with 0 log 0 = 0 (target probabilities t), or, with
    ``log_target``, l = exp(s) (s - x) for target log-probabilities s.
    **Backward**: dl/dx = -t (or -exp(s)); dl/dt = log t + 1 - x for t > 0 (0 where t = 0),
    dl/ds = exp(s)(s - x + 1).
    """

    saves_for_backward = BOTH
    no_infer = "a training loss, outside traced models: runs on the placeholders"
    cost = staticmethod(MultiMarginLossFn.cost)  # the same formula

    @staticmethod
    def forward(ctx, x, t, reduction="mean", log_target=False):
        if log_target:
            et = np.exp(t)
            loss = et * (t - x)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                lt = np.where(t > 0, np.log(np.where(t > 0, t, 1)), 0)
            et = t
            loss = t * lt - t * x
        ctx.save_for_backward(x, t, et)
        ctx.meta = (reduction, log_target)
        loss = loss.astype(x.dtype, copy=False)
        if reduction == "batchmean":
            return np.asarray(loss.sum() / (x.shape[0] if x.ndim else 1), dtype=x.dtype)
        return reduce(loss, reduction)

    @staticmethod
    def backward(ctx, gy):
        x, t, et = ctx.saved_tensors
        reduction, log_target = ctx.meta
        if reduction == "batchmean":
            g = np.broadcast_to(gy / (x.shape[0] if x.ndim else 1), x.shape)
        else:
            g = unreduce(gy, x.shape, reduction)
        gx = -g * et if ctx.needs_input_grad[0] else None
        gt = None
        if ctx.needs_input_grad[1]:
            if log_target:
                gt = g * et * (t - x + 1)
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    gt = g * np.where(t > 0, np.log(np.where(t > 0, t, 1)) + 1 - x, 0)
        return gx, gt


def kl_div(input: Tensor, target: Tensor, reduction: str = "mean", log_target: bool = False) -> Tensor:
    r"""KL divergence KL(target || q) pointwise, with ``input`` the log-probabilities log q.

    Parameters
    ----------
    input : Tensor
        log q (e.g. from log_softmax), any shape.
    target : Tensor
        Same shape: probabilities (or log-probabilities with ``log_target=True``);
        differentiable.
    reduction : {'mean', 'batchmean', 'sum', 'none'}
        'mean' averages over every element (PyTorch's default, which is not the KL
        divergence); 'batchmean' divides the sum by the batch size N and is the true KL.

    Example
    -------
    >>> import cvprimer as cp, numpy as np
    >>> p = cp.tensor([[0.5, 0.5]])
    >>> kl_div(cp.log(p), p, reduction="batchmean").item()
    0.0
    """
    op = "kl_div"
    x = tensor_arg(op, "input", input)
    t = tensor_arg(op, "target", target)
    same_shape(op, x, t)
    if x.dtype != t.dtype:
        raise TypeError(f"{op}: input dtype {x.dtype} and target dtype {t.dtype} differ")
    check_reduction(op, reduction, ("none", "mean", "sum", "batchmean"))
    return KLDivFn.apply(x, t, reduction, bool(log_target))


class CosineEmbeddingLossFn(Function):
    r"""Cosine embedding loss on row pairs (x1_i, x2_i) with labels y_i in {1, -1}.

    Notes
    -----
    **Forward**: m1 = |x1|^2 + eps, m2 = |x2|^2 + eps (eps = 1e-12, PyTorch's), c = x1 . x2 /
    sqrt(m1 m2); l = 1 - c for y = 1, max(0, c - margin) for y = -1.
    **Backward**: dl/dc = -1 (y = 1), 1 where y = -1 and c > margin, else 0;
    dc/dx1 = x2 / sqrt(m1 m2) - c x1 / m1 and dc/dx2 = x1 / sqrt(m1 m2) - c x2 / m2.
    Shapes: x1, x2 (N, D) or (D,); y (N,) or (); l (N,) or ().
    """

    saves_for_backward = Saves(inputs=(0, 1), extra=(Extra("input", 2, "float", count=5),))
    no_infer = "a training loss, outside traced models: runs on the placeholders"
    uncounted = "a training loss, outside traced models"

    @staticmethod
    def forward(ctx, x1, x2, y, margin=0.0, reduction="mean"):
        m1 = np.sum(x1 * x1, axis=-1) + 1e-12
        m2 = np.sum(x2 * x2, axis=-1) + 1e-12
        den = np.sqrt(m1 * m2)
        c = np.sum(x1 * x2, axis=-1) / den
        loss = np.where(y == 1, 1 - c, np.where(y == -1, np.maximum(c - margin, 0), 0)).astype(x1.dtype)
        dl_dc = np.where(y == 1, -1.0, np.where((y == -1) & (c > margin), 1.0, 0.0)).astype(x1.dtype)
        ctx.save_for_backward(x1, x2, m1, m2, den, c, dl_dc)
        ctx.reduction = reduction
        return reduce(loss, reduction)

    @staticmethod
    def backward(ctx, gy):
        x1, x2, m1, m2, den, c, dl_dc = ctx.saved_tensors
        g = (unreduce(gy, c.shape, ctx.reduction) * dl_dc)[..., None]
        c, den, m1, m2 = c[..., None], den[..., None], m1[..., None], m2[..., None]
        g1 = g * (x2 / den - c * x1 / m1) if ctx.needs_input_grad[0] else None
        g2 = g * (x1 / den - c * x2 / m2) if ctx.needs_input_grad[1] else None
        return g1, g2


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Any, margin: float = 0.0,
                          reduction: str = "mean") -> Tensor:
    r"""Pull pairs labelled 1 together (1 - cos) and push pairs labelled -1 below ``margin``
    in cosine similarity (max(0, cos - margin)); see :class:`CosineEmbeddingLossFn`.

    input1, input2 : Tensor (N, D) or (D,), both differentiable; target : (N,) or () of 1/-1.

    Example
    -------
    >>> import cvprimer as cp, numpy as np
    >>> cosine_embedding_loss(cp.tensor([[1.0, 0.0]]), cp.tensor([[0.0, 2.0]]), np.array([1])).item()
    1.0
    """
    op = "cosine_embedding_loss"
    x1, x2 = tensor_arg(op, "input1", input1), tensor_arg(op, "input2", input2)
    same_shape(op, x1, x2, ("input1", "input2"))
    check_reduction(op, reduction)
    y = np.asarray(target.data if isinstance(target, Tensor) else target)
    if x1.ndim not in (1, 2) or y.shape != x1.shape[:-1]:
        raise ValueError(f"{op}: expected inputs (N, D) or (D,) and target (N,) or (); got inputs {x1.shape} "
                         f"and target {y.shape}")
    if not np.all((y == 1) | (y == -1)):
        raise ValueError(f"{op}: target values must be 1 or -1, got {np.unique(y)[:5].tolist()}")
    return CosineEmbeddingLossFn.apply(x1, x2, y, float(margin), reduction)


def cost(input_shape: tuple[int, ...], itemsize: int = 4) -> Cost:
    """Counts for either loss on ``input_shape`` (about 4 FLOPs an element)."""
    n = int(np.prod(input_shape))
    return Cost(0, 4 * n, 2 * n * itemsize)
