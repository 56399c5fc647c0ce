r"""Multi-class classification losses: ``cross_entropy`` (log-softmax fused in, closed-form
backward) and ``nll_loss``. Inputs are (C,), (N, C) or (N, C, d1, ..., dk) with the
class axis at position 1, as in PyTorch; targets are class indices (N, d1, ..., dk)
or, for cross_entropy, class probabilities of the input's shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.cost import Cost
from cvprimer.core.function import Function
from cvprimer.core.saves import Extra, Saves
from cvprimer.core.tensor import Tensor
from cvprimer.functional.loss._common import check_reduction, tensor_arg


def to_rows(a: np.ndarray) -> np.ndarray:
    """(N, C, d...) -> (M, C) with the class axis last (M = N d1 ... dk); (C,) -> (1, C)."""
    if a.ndim == 1:
        return a.reshape(1, -1)
    return np.moveaxis(a, 1, -1).reshape(-1, a.shape[1])


def from_rows(r: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`to_rows` for an array of the input's ``shape``."""
    if len(shape) == 1:
        return r.reshape(shape)
    moved = (shape[0],) + shape[2:] + (shape[1],)
    return np.moveaxis(r.reshape(moved), -1, 1)


def log_softmax_rows(z: np.ndarray) -> np.ndarray:
    m = np.max(z, axis=1, keepdims=True)
    s = z - m
    return s - np.log(np.sum(np.exp(s), axis=1, keepdims=True))


def hard_target_rows(op: str, x: Tensor, target: Any, ignore_index: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """Validate class-index targets for input ``x``; return them flat (M,) and the
    per-element loss shape (N, d1, ..., dk) (or () for an unbatched (C,) input)."""
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: class-index target must have an integer dtype, got {t.dtype} with shape {t.shape} "
            f"(input shape {x.shape}); use .long(), or pass class probabilities of the input's shape"
        )
    if x.ndim == 0:
        raise ValueError(f"{op}: input must be (C,), (N, C) or (N, C, d1, ...), got a 0-d tensor")
    want = () if x.ndim == 1 else (x.shape[0],) + x.shape[2:]
    if t.shape != want:
        raise ValueError(f"{op}: input shape {x.shape} expects target shape {want}, got {t.shape}")
    c = x.shape[0] if x.ndim == 1 else x.shape[1]
    in_range = t.size == 0 or (int(t.min()) >= 0 and int(t.max()) < c)  # two passes, the common case
    bad = None if in_range else (t != ignore_index) & ((t < 0) | (t >= c))
    if bad is not None and bad.any():
        raise ValueError(
            f"{op}: target value {int(t[bad].reshape(-1)[0])} is out of range for C = {c} classes "
            f"(expected 0 <= target < {c}, or ignore_index = {ignore_index})"
        )
    return t.reshape(-1).astype(np.int64), want


def class_weight(op: str, weight: Any, c: int, dtype: np.dtype) -> np.ndarray | None:
    if weight is None:
        return None
    w = weight.data if isinstance(weight, Tensor) else np.asarray(weight)
    if w.shape != (c,):
        raise ValueError(f"{op}: weight must have shape ({c},) (one per class), got {w.shape}")
    return w.astype(dtype)


def _weighted_targets(t, valid, w, eps, c, dtype):
    """The per-row target weights tau (M, C) such that loss_i = -sum_c tau_ic log p_ic."""
    m = t.shape[0]
    wy = (w[np.where(valid, t, 0)] if w is not None else np.ones(m, dtype)) * valid
    tau = np.zeros((m, c), dtype)
    tau[np.arange(m), np.where(valid, t, 0)] = (1 - eps) * wy
    if eps:
        tau += (eps / c) * (w if w is not None else 1) * valid[:, None]
    return tau, wy


class CrossEntropyFn(Function):
    r"""Cross-entropy with log-softmax fused in: one Function, closed-form backward.

    Notes
    -----
    Rows: z_i (C,) logits, p_i = softmax(z_i), log p_i computed stably by shifting by the max.
    Every variant is loss_i = -sum_c tau_ic log p_ic with a target weight row tau_i:

    * class index y_i, class weights w, smoothing eps (PyTorch's mixing):
      tau_ic = (1 - eps) w_{y_i} [c = y_i] + (eps / C) w_c, and tau_i = 0 for ignored rows;
    * probability targets q_i: tau_ic = w_c ((1 - eps) q_ic + eps / C).

    'mean' divides the sum over rows by sum_i w_{y_i} over non-ignored rows (their count
    without weights) for class targets, by the number of rows M for probability targets.

    **Backward** (question 41): d log p_ic / d z_ij = [c = j] - p_ij, so
    d loss_i / d z_ij = -sum_c tau_ic ([c = j] - p_ij) = p_ij T_i - tau_ij with
    T_i = sum_c tau_ic. With a one-hot target, no weights and no smoothing T_i = 1 and this is
    the familiar softmax(z) - y. For probability targets d loss_i / d q_ic = -(1 - eps) w_c log p_ic.
    Shapes: z (M, C) after moving the class axis last; gz is moved back to the input's shape.
    """

    saves_for_backward = Saves(extra=(Extra("input", count=2),))
    no_infer = "a training loss, outside traced models: runs on the placeholders"

    @staticmethod
    def forward(ctx, z, target, w=None, ignore_index=-100, reduction="mean", eps=0.0, soft=False,
                loss_shape=()):
        shape = z.shape
        zr = to_rows(z)
        m, c = zr.shape
        logp = log_softmax_rows(zr)
        if soft:
            q = to_rows(target)
            tau = ((1 - eps) * q + eps / c) * (w if w is not None else 1)
            denom = m
        else:
            valid = target != ignore_index
            tau, wy = _weighted_targets(target, valid, w, eps, c, z.dtype)
            denom = wy.sum() if w is not None else valid.sum()
        denom = z.dtype.type(denom)
        with np.errstate(invalid="ignore"):  # a -inf logit of weight 0 adds nothing (not 0 * -inf)
            loss = -np.sum(np.where(tau != 0, tau * logp, 0), axis=1)
        ctx.save_for_backward(logp, tau)
        ctx.meta = (shape, reduction, denom, eps, soft, w)
        if reduction == "none":
            return loss.reshape(loss_shape).astype(z.dtype, copy=False)
        total = loss.sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            r = total / denom if reduction == "mean" else total  # all rows ignored: NaN, as PyTorch
        return np.asarray(r, dtype=z.dtype)

    @staticmethod
    def backward(ctx, gy):
        logp, tau = ctx.saved_tensors
        shape, reduction, denom, eps, soft, w = ctx.meta
        if reduction == "none":
            g = gy.reshape(-1, 1)
        else:
            g = gy / denom if reduction == "mean" else gy
        gz = gt = None
        if ctx.needs_input_grad[0]:
            p = np.exp(logp)
            gz = from_rows(g * (p * tau.sum(axis=1, keepdims=True) - tau), shape)
        if soft and ctx.needs_input_grad[1]:
            gt = from_rows(-(1 - eps) * g * logp * (w if w is not None else 1), shape)
        return gz, gt

    @staticmethod
    def cost(call):
        """The analyzer's protocol: :func:`cost` of the input's shape."""
        return cost(np.shape(call.x), itemsize=call.itemsize)


def _target_index(t3: np.ndarray, c: int) -> np.ndarray:
    """Flat indices ``n C S + y S + s`` of the target entries of a contiguous (N, C, S) array,
    for targets ``t3`` (N, 1, S); shape (N S,)."""
    n, _, S = t3.shape
    base = np.arange(n, dtype=np.int64)[:, None] * (c * S)  # (N, 1)
    if S != 1:
        base = base + np.arange(S, dtype=np.int64)[None, :]  # (N, S)
    idx = t3.reshape(n, S) * S if S != 1 else t3.reshape(n, 1).astype(np.int64)
    idx += base
    return idx.reshape(-1)


class CrossEntropyIndexFn(Function):
    r"""Cross-entropy with class-index targets, no class weights and no label smoothing: the
    common case, in fewer passes than :class:`CrossEntropyFn` (which stays the reference).

    Notes
    -----
    The class axis is not moved: z (N, C, S) with S = d1 ... dk (S = 1 for (N, C); (C,) is
    (1, C, 1)), every reduction runs along axis 1 in place.

    **Forward**: m = max_c z_c, e_c = exp(z_c - m), s = sum_c e_c (per row, i.e. per (n, s)),
    loss = log s - (z_y - m); ignored rows give 0; 'mean' divides by the number of rows that
    are not ignored. Saves e (input-sized), 1 / s (target-sized) and the target: p = e / s is
    never formed in forward.

    **Backward**: d loss / d z_c = p_c - [c = y] (CrossEntropyFn's p T - tau with T = 1), so
    gz = e * (g / s) - g [c = y] for the upstream per-row gradient g (0 on ignored rows): one
    pass over the input plus a scatter of one value per row.
    """

    saves_for_backward = Saves(inputs=(1,), extra=(Extra("input"), Extra("input", 1, "float")))
    no_infer = "a training loss, outside traced models: runs on the placeholders"
    cost = staticmethod(CrossEntropyFn.cost)

    @property
    def name(self) -> str:
        """The same op as :class:`CrossEntropyFn` for messages and graphs: "crossentropy"."""
        return "crossentropy"

    @staticmethod
    def forward(ctx, z, target, ignore_index=-100, reduction="mean", loss_shape=()):
        n, c = (1, z.shape[0]) if z.ndim == 1 else z.shape[:2]
        S = int(np.prod(z.shape[2:]))  # 1 for (C,) and (N, C)
        z3 = z.reshape(n, c, S)  # (N, C, S)
        valid = target != ignore_index  # (M,), M = N S
        every = bool(valid.all())
        t3 = (target if every else np.where(valid, target, 0)).reshape(n, 1, S)  # (N, 1, S)
        m = np.max(z3, axis=1, keepdims=True)  # (N, 1, S)
        e = z3 - m  # (N, C, S), fresh: becomes exp(z - m) in place
        picked = e.reshape(-1)[_target_index(t3, c)].reshape(m.shape)  # z_y - m, (N, 1, S)
        np.exp(e, out=e)
        s = np.sum(e, axis=1, keepdims=True)
        loss = np.log(s)
        loss -= picked
        if not every:
            loss = np.where(valid.reshape(loss.shape), loss, 0).astype(z.dtype, copy=False)
        with np.errstate(divide="ignore"):
            inv_s = (1 / s).astype(z.dtype, copy=False)
        ctx.save_for_backward(target, e, inv_s)
        denom = z.dtype.type(valid.sum())
        ctx.meta = (z.shape, ignore_index, reduction, denom, every)
        if reduction == "none":
            return loss.reshape(loss_shape)
        total = loss.sum(dtype=z.dtype)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = total / denom if reduction == "mean" else total  # all rows ignored: NaN, as PyTorch
        return np.asarray(r, dtype=z.dtype)

    @staticmethod
    def backward(ctx, gy):
        target, e, inv_s = ctx.saved_tensors
        shape, ignore_index, reduction, denom, every = ctx.meta
        if not ctx.needs_input_grad[0]:
            return None, None
        n, c, S = e.shape
        if reduction == "none":
            g = gy.reshape(n, 1, S)
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                g = np.full((n, 1, S), gy / denom if reduction == "mean" else gy, dtype=e.dtype)
        if not every:
            valid = (target != ignore_index).reshape(n, 1, S)
            g = np.where(valid, g, 0).astype(e.dtype, copy=False)
            target = np.where(valid.reshape(-1), target, 0)
        gz = e * (g * inv_s)  # p g, (N, C, S)
        flat = gz.reshape(-1)
        flat[_target_index(target.reshape(n, 1, S), c)] -= g.reshape(-1)  # minus g at each row's target
        return gz.reshape(shape), None


class NLLLossFn(Function):
    r"""Negative log-likelihood of given log-probabilities.

    Notes
    -----
    **Forward**: loss_i = -w_{y_i} x_{i, y_i} (0 for rows with y_i = ignore_index); 'mean'
    divides the sum by sum_i w_{y_i} over non-ignored rows.
    **Backward**: the only non-zero entry of gx_i is gx_{i, y_i} = -w_{y_i} g_i, with g_i the
    upstream gradient of row i (divided by the weight sum for 'mean').
    """

    saves_for_backward = Saves(extra=(Extra("input", 1), Extra("input", 1, "float")))
    no_infer = "a training loss, outside traced models: runs on the placeholders"
    cost = staticmethod(CrossEntropyFn.cost)  # the same formula

    @staticmethod
    def forward(ctx, x, t, w=None, ignore_index=-100, reduction="mean", loss_shape=()):
        xr = to_rows(x)
        m = xr.shape[0]
        valid = t != ignore_index
        tt = np.where(valid, t, 0)
        wy = ((w[tt] if w is not None else np.ones(m, x.dtype)) * valid).astype(x.dtype)
        loss = -xr[np.arange(m), tt] * wy
        denom = x.dtype.type(wy.sum() if w is not None else valid.sum())
        ctx.meta = (x.shape, tt, wy, reduction, denom, m, xr.shape[1])
        if reduction == "none":
            return loss.reshape(loss_shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = loss.sum() / denom if reduction == "mean" else loss.sum()
        return np.asarray(r, dtype=x.dtype)

    @staticmethod
    def backward(ctx, gy):
        shape, tt, wy, reduction, denom, m, c = ctx.meta
        g = gy.reshape(-1) if reduction == "none" else (gy / denom if reduction == "mean" else gy)
        gr = np.zeros((m, c), gy.dtype)
        gr[np.arange(m), tt] = -wy * g
        return from_rows(gr, shape)


def _soft_target(op: str, x: Tensor, t: Tensor) -> None:
    if x.ndim >= 1 and t.shape == (() if x.ndim == 1 else (x.shape[0],) + x.shape[2:]):
        raise TypeError(
            f"{op}: class-index target must have an integer dtype, got {t.dtype} with shape {t.shape} "
            f"(input shape {x.shape}); use .long()"
        )
    if t.shape != x.shape:
        raise ValueError(
            f"{op}: probability target must have the input's shape {x.shape}, got {t.shape} "
            "(class-index targets need an integer dtype)"
        )
    if t.dtype != x.dtype:
        raise TypeError(f"{op}: input dtype {x.dtype} and probability target dtype {t.dtype} differ")
    # rows need not sum to 1: PyTorch computes -sum_c tau_ic log p_ic for any real q (unnormalized soft
    # labels, a mixup that does not sum to 1), and so do we; the gradient formulas above hold as they are


def cross_entropy(
    input: Tensor,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    r"""Cross-entropy between logits and class indices or class probabilities.

    Parameters
    ----------
    input : Tensor
        Logits, shape (C,), (N, C) or (N, C, d1, ..., dk) (e.g. (N, C, H, W) segmentation).
    target : Tensor or array
        Class indices of integer dtype, shape (), (N,) or (N, d1, ..., dk), values in
        [0, C) or ``ignore_index``; or probabilities of the input's shape and dtype (soft labels,
        mixup), which are differentiable. As PyTorch, rows that do not sum to 1 are taken as given:
        loss_i = -sum_c w_c ((1 - eps) q_ic + eps / C) log p_ic.
    weight : Tensor or array, optional
        (C,) class weights (not differentiated).
    ignore_index : int
        Rows with this class index contribute nothing and leave the 'mean' denominator.
    reduction : {'mean', 'sum', 'none'}
        'none' gives the per-element loss, shape of the index target.
    label_smoothing : float
        eps in [0, 1]: the target becomes (1 - eps) target + eps / C (see :class:`CrossEntropyFn`).

    Notes
    -----
    One Function (:class:`CrossEntropyFn`) with the closed-form gradient
    T_i softmax(z_i) - tau_i (:class:`CrossEntropyIndexFn`, with fewer passes, for class-index
    targets without weights or smoothing); 'mean' with class weights divides by the sum of the target
    classes' weights (PyTorch's rule). All rows ignored under 'mean' gives NaN, as PyTorch.

    Example
    -------
    >>> import cvprimer as cp, numpy as np
    >>> z = cp.tensor([[2.0, 0.0, 0.0]])
    >>> round(cross_entropy(z, np.array([0])).item(), 4)
    0.2395
    """
    op = "cross_entropy"
    x = tensor_arg(op, "input", input)
    check_reduction(op, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    c = x.shape[0] if x.ndim == 1 else (x.shape[1] if x.ndim >= 2 else 0)
    w = class_weight(op, weight, c, x.dtype)
    kind = (target.dtype if isinstance(target, Tensor) else np.asarray(target).dtype).kind
    if kind == "f":
        soft = tensor_arg(op, "target", target)
        _soft_target(op, x, soft)
        loss_shape = () if x.ndim == 1 else (x.shape[0],) + x.shape[2:]
        return CrossEntropyFn.apply(x, soft, w, ignore_index, reduction, float(label_smoothing), True, loss_shape)
    t, loss_shape = hard_target_rows(op, x, target, ignore_index)
    if w is None and label_smoothing == 0.0:  # the common case: fewer passes, same math
        return CrossEntropyIndexFn.apply(x, t, ignore_index, reduction, loss_shape)
    return CrossEntropyFn.apply(x, t, w, ignore_index, reduction, float(label_smoothing), False, loss_shape)


def nll_loss(
    input: Tensor, target: Any, weight: Any = None, ignore_index: int = -100, reduction: str = "mean"
) -> Tensor:
    r"""Negative log-likelihood loss on log-probabilities (e.g. the output of log_softmax).

    Shapes, ``weight``, ``ignore_index`` and ``reduction`` as in :func:`cross_entropy` with
    class-index targets; ``cross_entropy(z, y) == nll_loss(log_softmax(z, 1), y)``.
    See :class:`NLLLossFn` for the math.

    Example
    -------
    >>> import cvprimer as cp, numpy as np
    >>> nll_loss(cp.tensor([[-0.5, -1.0], [-2.0, -0.1]]), np.array([0, 1]), reduction="sum").item()
    0.6000000238418579
    """
    op = "nll_loss"
    x = tensor_arg(op, "input", input)
    check_reduction(op, reduction)
    t, loss_shape = hard_target_rows(op, x, target, ignore_index)
    w = class_weight(op, weight, x.shape[0] if x.ndim == 1 else x.shape[1], x.dtype)
    return NLLLossFn.apply(x, t, w, ignore_index, reduction, loss_shape)


def cost(input_shape: tuple[int, ...], itemsize: int = 4) -> Cost:
    """Counts for cross_entropy on logits of ``input_shape``: log-softmax (about 5 FLOPs an
    element) plus the weighted sum (2 an element); logits and one target row read."""
    n = int(np.prod(input_shape))
    return Cost(0, 7 * n, 2 * n * itemsize)
