r"""Reductions: sum, mean, max, min, var, std, logsumexp (and non-differentiable argmax/argmin).

``dim`` is None (all axes), an int or a tuple of ints (negative counts from the end);
``keepdim`` keeps reduced axes with size 1, as PyTorch. Every backward first restores
the reduced axes of ``gy`` (size 1) and then broadcasts, which is what
:func:`_restore` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.call import Call, spatial_kept
from cvprimer.core.cost import reduction_cost
from cvprimer.core.function import Function
from cvprimer.core.saves import NOTHING, Extra, Saves


def normalize_dims(name: str, dim: Any, ndim: int) -> tuple[int, ...]:
    """``dim`` as a sorted tuple of non-negative axes (all axes when None).

    The one place reductions resolve ``dim``, with PyTorch's rules: each entry an int in
    ``[-ndim, ndim)``; a 0-d tensor counts as having one dim, so ``dim`` 0 or -1 is accepted
    there and reduces nothing (the result is the element itself). An empty ``dim`` (``()`` or ``[]``)
    reduces every axis, as ``torch.sum(x, dim=())`` does in PyTorch 2.x (sum, mean, amax, amin, var,
    std); ops where PyTorch refuses it (logsumexp) check before calling here. Differences from PyTorch:
    2.13's var/std backward with ``dim=()`` divides as if nothing were reduced (n = 1, gradients +-inf);
    ours is the gradient of the all-axes reduction the forward computes."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else dim
    if not isinstance(dims, (tuple, list)) or not all(
        isinstance(d, (int, np.integer)) and not isinstance(d, (bool, np.bool_)) for d in dims
    ):
        raise TypeError(f"{name}: dim must be None, an int or a tuple of ints, got {dim!r} ({type(dim).__name__})")
    out = []
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise ValueError(
                f"{name}: dim {d} is out of range for a tensor with {ndim} dims "
                f"(expected in [{-max(ndim, 1)}, {max(ndim, 1) - 1}])"
            )
        out.append(int(d) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: dim {dim} repeats an axis")
    return tuple(sorted(out)) if ndim else ()


def reduction_infer(call: Call) -> Any:
    """``infer`` of a reduction of ``x`` over ``dim`` (the inputs after ``dim`` end with keepdim when it is
    passed positionally, after var/std's correction): the reduced shape, and the dtype NumPy's sum gives."""
    x, rest = call.x, call.inputs[2:]
    keepdim = bool(rest[-1]) if rest else bool(call.kwargs.get("keepdim", False))
    axes = normalize_dims("reduce", call.arg(1, "dim"), x.ndim)
    if keepdim:
        shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
    else:
        shape = tuple(n for i, n in enumerate(x.shape) if i not in axes)
    return shape, x.dtype if x.dtype.kind in "fc" else np.sum(np.zeros(1, x.dtype)).dtype


def _restore(gy: np.ndarray, axes: tuple[int, ...], keepdim: bool) -> np.ndarray:
    """Give ``gy`` back its reduced axes as size-1 axes (ready to broadcast)."""
    if keepdim or not axes:
        return gy
    return np.expand_dims(gy, axes)


class SumFn(Function):
    r"""y = sum of x over ``dim``.  Backward: every x element receives gy of its group:
    gx = broadcast(gy) to x's shape."""

    saves_for_backward = NOTHING
    infer = staticmethod(reduction_infer)

    geometry = staticmethod(spatial_kept)
    float_only = False
    cost = staticmethod(reduction_cost(1))

    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        axes = normalize_dims("sum", dim, x.ndim)
        ctx.meta = (x.shape, axes, keepdim)
        return np.sum(x, axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, gy):
        shape, axes, keepdim = ctx.meta
        return np.broadcast_to(_restore(gy, axes, keepdim), shape)


class MeanFn(Function):
    r"""y = mean of x over ``dim`` (n elements per group).  Backward: gx = broadcast(gy) / n."""

    saves_for_backward = NOTHING
    infer = staticmethod(reduction_infer)
    geometry = staticmethod(spatial_kept)
    cost = staticmethod(reduction_cost(1))

    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        axes = normalize_dims("mean", dim, x.ndim)
        ctx.meta = (x.shape, axes, keepdim)
        return np.mean(x, axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, gy):
        shape, axes, keepdim = ctx.meta
        n = int(np.prod([shape[a] for a in axes])) if axes else 1
        return np.broadcast_to(_restore(gy, axes, keepdim) / n, shape)


class _ExtremeFn(Function):
    r"""y = max (or min) of x over ``dim``.

    Backward: the gradient goes only to the element(s) equal to the extreme. Ties are
    split evenly among the equal elements (what PyTorch does for ``amax``/``amin`` and
    for the all-axes ``max()``); for tie-free inputs this is the arg-max element alone.
    """

    saves_for_backward = Saves(extra=(Extra("input"),))  # each element's share of the gradient
    infer = staticmethod(reduction_infer)
    geometry = staticmethod(spatial_kept)
    _np = staticmethod(np.max)
    cost = staticmethod(reduction_cost(1))

    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        cls = type(ctx)
        if x.size == 0:
            raise ValueError(f"{ctx.name}: cannot reduce an empty tensor of shape {x.shape}")
        axes = normalize_dims(ctx.name.lower(), dim, x.ndim)
        y = cls._np(x, axis=axes, keepdims=True)
        if ctx.needs_input_grad[0]:
            mask = x == y
            ctx.save_for_backward((mask / mask.sum(axis=axes, keepdims=True)).astype(x.dtype))
        ctx.meta = (axes, keepdim)
        return y if keepdim else np.squeeze(y, axis=axes)

    @staticmethod
    def backward(ctx, gy):
        (share,) = ctx.saved_tensors
        axes, keepdim = ctx.meta
        return _restore(gy, axes, keepdim) * share


class MaxFn(_ExtremeFn):
    __doc__ = _ExtremeFn.__doc__
    float_only = False
    _np = staticmethod(np.max)


class MinFn(_ExtremeFn):
    __doc__ = _ExtremeFn.__doc__
    float_only = False
    _np = staticmethod(np.min)


class VarFn(Function):
    r"""Variance over ``dim`` with ``correction`` (1 = unbiased, the default; 0 = biased).

    Forward: y = sum_i (x_i - m)^2 / (n - correction), m the group mean.
    Backward: dy/dx_i = 2 (x_i - m) / (n - correction) (the terms through m sum to zero
    because sum_i (x_i - m) = 0), so gx = gy * 2 (x - m) / (n - correction).
    """

    saves_for_backward = Saves(extra=(Extra("input"),))  # x - mean
    infer = staticmethod(reduction_infer)
    geometry = staticmethod(spatial_kept)
    cost = staticmethod(reduction_cost(3))

    @staticmethod
    def forward(ctx, x, dim=None, correction=1, keepdim=False):
        axes = normalize_dims("var", dim, x.ndim)
        n = int(np.prod([x.shape[a] for a in axes])) if axes else 1
        d = x - x.mean(axis=axes, keepdims=True)
        denom = max(n - correction, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.sum(d * d, axis=axes, keepdims=keepdim) / np.asarray(denom, x.dtype)
        ctx.save_for_backward(d)
        ctx.meta = (axes, keepdim, denom)
        return y

    @staticmethod
    def backward(ctx, gy):
        (d,) = ctx.saved_tensors
        axes, keepdim, denom = ctx.meta
        with np.errstate(divide="ignore", invalid="ignore"):
            return _restore(gy, axes, keepdim) * d * (2.0 / denom if denom else np.inf)


class StdFn(Function):
    r"""Standard deviation s = sqrt(var) over ``dim`` (same ``correction`` as var).

    Backward: ds/dx_i = (x_i - m) / ((n - correction) s), so
    gx = gy * (x - m) / ((n - correction) s). Infinite where s = 0, as in PyTorch.
    """

    saves_for_backward = Saves(extra=(Extra("input"), Extra("output")))  # x - mean, and s
    infer = staticmethod(reduction_infer)

    geometry = staticmethod(spatial_kept)
    cost = staticmethod(reduction_cost(3))

    @staticmethod
    def forward(ctx, x, dim=None, correction=1, keepdim=False):
        axes = normalize_dims("std", dim, x.ndim)
        n = int(np.prod([x.shape[a] for a in axes])) if axes else 1
        d = x - x.mean(axis=axes, keepdims=True)
        denom = max(n - correction, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.sqrt(np.sum(d * d, axis=axes, keepdims=True) / np.asarray(denom, x.dtype))
        ctx.save_for_backward(d, s)
        ctx.meta = (axes, keepdim, denom)
        return s if keepdim else np.squeeze(s, axis=axes)

    @staticmethod
    def backward(ctx, gy):
        d, s = ctx.saved_tensors
        axes, keepdim, denom = ctx.meta
        with np.errstate(divide="ignore", invalid="ignore"):
            return _restore(gy, axes, keepdim) * d / (denom * s)


class LogSumExpFn(Function):
    r"""y = log sum_i exp(x_i) over ``dim``, computed stably as m + log sum exp(x - m)
    with m the group maximum (no overflow for large x; an all -inf group gives -inf, and so
    does an empty group, the log of an empty sum, as in PyTorch).

    Backward: dy/dx_i = exp(x_i - y) = softmax(x)_i, so gx = gy * exp(x - y).
    """

    saves_for_backward = Saves(inputs=(0,), outputs=(0,))
    infer = staticmethod(reduction_infer)
    geometry = staticmethod(spatial_kept)
    cost = staticmethod(reduction_cost(3))

    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        if isinstance(dim, (tuple, list)) and len(dim) == 0:
            # PyTorch 2.13 fails on logsumexp(x, dim=()) (a shape error), unlike sum; say so plainly
            raise ValueError("logsumexp: dim=() is not supported (PyTorch refuses it too); pass dim=None to "
                             "reduce every axis or name the axes")
        axes = normalize_dims("logsumexp", dim, x.ndim)
        m = np.max(x, axis=axes, keepdims=True, initial=-np.inf)  # initial: empty groups are allowed
        m = np.where(np.isfinite(m), m, 0)  # all -inf (or inf) groups: avoid inf - inf
        with np.errstate(divide="ignore"):
            y = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
        ctx.save_for_backward(x, y)
        ctx.meta = (axes, keepdim)
        return y if keepdim else np.squeeze(y, axis=axes)

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_tensors
        axes, keepdim = ctx.meta
        with np.errstate(invalid="ignore"):
            p = np.exp(x - y)
        return _restore(gy, axes, keepdim) * np.nan_to_num(p, nan=0.0)


def arg_extreme(name: str, x: np.ndarray, dim: int | None, keepdim: bool, fn: Any) -> np.ndarray:
    """argmax/argmin over one axis (or the flattened array when dim is None); first index wins."""
    if x.size == 0:
        raise ValueError(f"{name}: cannot reduce an empty tensor of shape {x.shape}")
    if dim is None:
        out = np.asarray(fn(x.reshape(-1)), dtype=np.int64)
        return out.reshape((1,) * x.ndim) if keepdim else out
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, (bool, np.bool_)):
        raise TypeError(f"{name}: dim must be an int or None, got {dim!r} (input shape {x.shape})")
    axes = normalize_dims(name, dim, x.ndim)
    if not axes:  # a 0-d tensor: its one element is the extreme
        return np.zeros((), np.int64)
    return fn(x, axis=axes[0], keepdims=keepdim).astype(np.int64)
