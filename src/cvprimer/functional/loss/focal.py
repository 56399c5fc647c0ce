r"""Focal losses (Lin et al., "Focal Loss for Dense Object Detection", arXiv:1708.02002):
cross-entropy scaled by (1 - p_t)^gamma so easy examples count less.

Both are computed in log space: (1 - p_t)^gamma = exp(gamma log(1 - p_t)) with
log(1 - p_t) formed from logits directly, so gamma < 1 and saturated logits (|z| ~ 1e4)
give finite losses and gradients. The troublesome factor of the derivative,
gamma (1 - p)^(gamma - 1), always appears multiplied by a term that vanishes at least as
fast as (1 - p), and the code forms that product as a bounded ratio; at p = 1 the
gradient is exactly 0 (its limit) for every gamma >= 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.cost import Cost
from cvprimer.core.function import Function
from cvprimer.core.saves import Extra, Saves
from cvprimer.core.tensor import Tensor
from cvprimer.functional.loss._common import check_reduction, reduce, same_shape, tensor_arg, unreduce
from cvprimer.functional.loss.binary import _softplus
from cvprimer.functional.loss.classification import from_rows, hard_target_rows, to_rows


def _pow_from_log(logq: np.ndarray, gamma: float) -> np.ndarray:
    """q^gamma from log q, with 0^0 = 1."""
    if gamma == 0:
        return np.ones_like(logq)
    return np.exp(gamma * logq)


def _log(a: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(a)


class SigmoidFocalLossFn(Function):
    r"""Binary / multi-label focal loss on logits z with targets y in [0, 1].

    Notes
    -----
    **Forward**: p = sigmoid(z), ce = BCE-with-logits = y softplus(-z) + (1 - y) softplus(z),
    q = 1 - p_t = y (1 - p) + (1 - y) p (log q by logaddexp of log y + log(1 - p) and
    log(1 - y) + log p), loss = alpha_t q^gamma ce, alpha_t = alpha y + (1 - alpha)(1 - y)
    (1 without alpha).

    **Backward**: dce/dz = p - y and dq/dz = p (1 - p)(1 - 2y), so
    dloss/dz = alpha_t q^gamma [gamma (1 - 2y) ce p (1 - p) / q + (p - y)].
    Since q >= min(p, 1 - p), the ratio p (1 - p) / q lies in [0, 1]; it is computed as
    exp(log p + log(1 - p) - log q), never as q^(gamma - 1). The target gets no gradient.
    """

    saves_for_backward = Saves(inputs=(0, 1), extra=(Extra("input", count=5),))
    no_infer = "a training loss, outside traced models: runs on the placeholders"

    @staticmethod
    def forward(ctx, z, y, alpha=None, gamma=2.0, reduction="mean"):
        sp_neg, sp_pos = _softplus(-z), _softplus(z)  # -log p, -log(1 - p)
        logq = np.logaddexp(_log(y) - sp_pos, _log(1 - y) - sp_neg)
        ce = y * sp_neg + (1 - y) * sp_pos
        at = 1.0 if alpha is None else alpha * y + (1 - alpha) * (1 - y)
        qg = _pow_from_log(logq, gamma)
        loss = at * qg * ce
        ctx.save_for_backward(z, y, at, qg, logq, ce, sp_neg, sp_pos)
        ctx.meta = (gamma, reduction)
        return reduce(loss.astype(z.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, gy):
        z, y, at, qg, logq, ce, sp_neg, sp_pos = ctx.saved_tensors
        gamma, reduction = ctx.meta
        g = unreduce(gy, z.shape, reduction)
        p = np.exp(-sp_neg)
        ratio = np.exp(-sp_neg - sp_pos - logq) if gamma else 0.0
        return g * at * qg * (gamma * (1 - 2 * y) * ce * ratio + (p - y))

    @staticmethod
    def cost(call):
        """The analyzer's protocol: :func:`cost` of the input's shape."""
        return cost(np.shape(call.x), itemsize=call.itemsize)


class SoftmaxFocalLossFn(Function):
    r"""Multi-class focal loss on logits (rows z_i of C classes, class axis moved last).

    Notes
    -----
    **Forward**: loss_i = -sum_c a_c y_ic (1 - p_ic)^gamma log p_ic, y_i one-hot (class
    index; 0 for ignored rows) or a probability row; a_c the per-class alpha (1 without).
    log(1 - p_c) is exact in log space: with m = max_j z_j at index k and
    T = sum_{j != k} exp(z_j - m), log(1 - p_k) = log T - log(1 + T) and, for c != k,
    log(1 - p_c) = log(1 + T - exp(z_c - m)) - log(1 + T).

    **Backward**: with q_c = 1 - p_c and dp_c/dz_j = p_c ([c = j] - p_j),
    d[q_c^gamma log p_c]/dz_j = ([c = j] - p_j) h_c, h_c = q_c^gamma (1 - gamma p_c log(p_c) / q_c),
    so with w_c = a_c y_c h_c: dloss_i/dz_ij = p_ij sum_c w_c - w_j (gamma = 0: the
    cross-entropy gradient). log(p)/q tends to -1 as p -> 1; it is computed as
    -log(1 + T)(1 + T)/T for the top class (-1 when T underflows to 0) and directly for
    the others (there q >= 1/2).
    """

    saves_for_backward = Saves(extra=(Extra("input", count=4),))  # and two small (N,) arrays: class, its weight
    no_infer = "a training loss, outside traced models: runs on the placeholders"
    cost = staticmethod(SigmoidFocalLossFn.cost)  # the same formula

    @staticmethod
    def forward(ctx, z, y, alpha=None, gamma=2.0, reduction="mean", denom=1.0, loss_shape=()):
        shape = z.shape
        zr = to_rows(z)
        m_, c = zr.shape
        rows = np.arange(m_)
        k = np.argmax(zr, axis=1)
        e = np.exp(zr - zr[rows, k][:, None])
        e[rows, k] = 0
        t = e.sum(axis=1, keepdims=True)
        l1t = np.log1p(t)
        logp = zr - zr[rows, k][:, None] - l1t
        log1mp = np.log1p(np.maximum(t - e, 0)) - l1t
        tk = t[:, 0]
        log1mp[rows, k] = _log(tk) - l1t[:, 0]
        qg = _pow_from_log(log1mp, gamma)
        ay = y * (alpha if alpha is not None else 1)
        with np.errstate(invalid="ignore"):  # a -inf logit of a class with y = 0 adds nothing
            loss = -np.sum(np.where(ay != 0, ay * qg * logp, 0), axis=1)
        ctx.save_for_backward(logp, log1mp, qg, ay, tk, k)
        ctx.meta = (shape, gamma, reduction, denom)
        if reduction == "none":
            return loss.reshape(loss_shape).astype(z.dtype, copy=False)
        total = loss.sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(total / denom if reduction == "mean" else total, dtype=z.dtype)

    @staticmethod
    def backward(ctx, gy):
        logp, log1mp, qg, ay, tk, k = ctx.saved_tensors
        shape, gamma, reduction, denom = ctx.meta
        g = gy.reshape(-1, 1) if reduction == "none" else (gy / denom if reduction == "mean" else gy)
        p = np.exp(logp)
        if gamma:
            with np.errstate(divide="ignore", invalid="ignore"):
                r = logp / np.exp(log1mp)
                rk = np.where(tk > 0, -np.log1p(tk) * (1 + tk) / np.where(tk > 0, tk, 1), -1.0)
                r[np.arange(len(k)), k] = rk
                h = qg * (1 - gamma * p * r)  # NaN only where p = 0 and y = 0 (masked below)
        else:
            h = qg
        w = np.where(ay != 0, ay * h, 0)
        return from_rows(g * (p * w.sum(axis=1, keepdims=True) - w), shape)


def _alpha(op: str, alpha: Any, c: int, dtype: np.dtype) -> np.ndarray | float | None:
    if alpha is None:
        return None
    a = np.asarray(alpha.data if isinstance(alpha, Tensor) else alpha, dtype=dtype)
    if a.ndim == 0:
        return float(a)
    if a.shape != (c,):
        raise ValueError(f"{op}: alpha must be a scalar or have shape ({c},) (one per class), got {a.shape}")
    return a


def sigmoid_focal_loss(
    input: Tensor, target: Tensor, alpha: Any = None, gamma: float = 2.0, reduction: str = "mean"
) -> Tensor:
    r"""Focal loss for binary / multi-label classification on logits (RetinaNet's).

    Parameters
    ----------
    input : Tensor
        Logits, any shape; for (N, C, ...) the class axis is 1.
    target : Tensor
        Same shape and dtype, values in [0, 1] (hard or soft labels; not differentiated).
    alpha : float or (C,) array, optional
        Weight of the positive term (the negative term gets 1 - alpha): a scalar as in
        RetinaNet (0.25 there), or one value per class along axis 1. None: no weighting.
    gamma : float
        Focusing parameter >= 0; gamma = 0 without alpha is binary_cross_entropy_with_logits.
    reduction : {'mean', 'sum', 'none'}
        'mean' averages over all elements.

    Notes
    -----
    See :class:`SigmoidFocalLossFn` (log-space forward, bounded backward).
    Differences from torchvision's ``sigmoid_focal_loss``: alpha defaults to None (not 0.25),
    reduction to 'mean' (not 'none'), and per-class alpha vectors are accepted.

    Example
    -------
    >>> import cvprimer as cp
    >>> from cvprimer.functional import binary_cross_entropy_with_logits as bce
    >>> z, y = cp.tensor([3.0, -1.0]), cp.tensor([1.0, 1.0])
    >>> bool(sigmoid_focal_loss(z, y).item() < bce(z, y).item())
    True
    """
    op = "sigmoid_focal_loss"
    x = tensor_arg(op, "input", input)
    t = tensor_arg(op, "target", target)
    same_shape(op, x, t)
    check_reduction(op, reduction)
    if gamma < 0:
        raise ValueError(f"{op}: gamma must be >= 0, got {gamma}")
    if t.data.size and not (np.min(t.data) >= 0 and np.max(t.data) <= 1):
        raise ValueError(f"{op}: target values must lie in [0, 1], got [{np.min(t.data):g}, {np.max(t.data):g}]")
    c = x.shape[1] if x.ndim >= 2 else (x.shape[0] if x.ndim == 1 else 1)
    a = _alpha(op, alpha, c, x.dtype)
    if isinstance(a, np.ndarray) and x.ndim >= 2:
        a = a.reshape((1, c) + (1,) * (x.ndim - 2))
    return SigmoidFocalLossFn.apply(x, t.data.astype(x.dtype, copy=False), a, float(gamma), reduction)


def softmax_focal_loss(
    input: Tensor,
    target: Any,
    alpha: Any = None,
    gamma: float = 2.0,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    r"""Multi-class focal loss: -alpha_c (1 - p_c)^gamma log p_c summed against the target.

    Parameters
    ----------
    input : Tensor
        Logits, shape (C,), (N, C) or (N, C, d1, ..., dk).
    target : Tensor or array
        Class indices (integer dtype, shape of the input without axis 1) or probabilities of
        the input's shape summing to 1 over axis 1 (not differentiated).
    alpha : float or (C,) array, optional
        Per-class weights (a plain factor: 'mean' is not normalized by them).
    gamma : float
        Focusing parameter >= 0; gamma = 0 without alpha is :func:`cross_entropy`.
    ignore_index : int
        Class index whose rows are skipped (and leave the 'mean' denominator).
    reduction : {'mean', 'sum', 'none'}
        'mean' divides by the number of non-ignored rows (all rows for probability targets).

    Notes
    -----
    See :class:`SoftmaxFocalLossFn` for the log-space forward and the closed-form backward.

    Example
    -------
    >>> import cvprimer as cp, numpy as np
    >>> from cvprimer.functional import cross_entropy
    >>> z, t = cp.tensor([[2.0, 0.0, -1.0]]), np.array([0])
    >>> abs(softmax_focal_loss(z, t, gamma=0.0).item() - cross_entropy(z, t).item()) < 1e-6
    True
    """
    op = "softmax_focal_loss"
    x = tensor_arg(op, "input", input)
    check_reduction(op, reduction)
    if gamma < 0:
        raise ValueError(f"{op}: gamma must be >= 0, got {gamma}")
    if x.ndim == 0:
        raise ValueError(f"{op}: input must be (C,), (N, C) or (N, C, d1, ...), got a 0-d tensor")
    c = x.shape[0] if x.ndim == 1 else x.shape[1]
    a = _alpha(op, alpha, c, x.dtype)
    loss_shape = () if x.ndim == 1 else (x.shape[0],) + x.shape[2:]
    kind = (target.dtype if isinstance(target, Tensor) else np.asarray(target).dtype).kind
    if kind == "f":
        from cvprimer.functional.loss.classification import _soft_target

        t = tensor_arg(op, "target", target)
        _soft_target(op, x, t)
        y, denom = to_rows(t.data), float(np.prod(loss_shape))
    else:
        ti, loss_shape = hard_target_rows(op, x, target, ignore_index)
        valid = ti != ignore_index
        y = np.zeros((ti.size, c), x.dtype)
        y[np.arange(ti.size)[valid], ti[valid]] = 1
        denom = float(valid.sum())
    return SoftmaxFocalLossFn.apply(x, y, a, float(gamma), reduction, x.dtype.type(denom), loss_shape)


def cost(input_shape: tuple[int, ...], itemsize: int = 4) -> Cost:
    """Counts for either focal loss on ``input_shape`` (about 14 FLOPs an element: two
    softplus/log terms, the modulating power and the products)."""
    n = int(np.prod(input_shape))
    return Cost(0, 14 * n, 2 * n * itemsize)
