r"""Elementwise unary ops: neg, exp, log, sqrt, abs, sign, clamp, relu, sigmoid, tanh.

Each saves what its derivative is a function of, preferring the output (exp, sqrt, relu,
sigmoid, tanh) so the input can be freed. Values chosen at kinks are PyTorch's:
relu'(0) = 0, abs'(0) = 0, clamp passes the gradient on the closed interval [lo, hi].
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cvprimer.core.cost import broadcast_infer, elementwise_cost
from cvprimer.core.function import Function
from cvprimer.core.geometry import pointwise
from cvprimer.core.saves import INPUT, NOTHING, OUTPUT, Extra, Saves
from cvprimer.core.settings import settings

#: Compiled forms of sigmoid's forward and of the sigmoid, tanh and relu gradients, registered by
#: ``cvprimer.functional.activation`` (which holds the numba kernels; core imports nothing above it):
#: ``"sigmoid"``: ``f(x) -> y``; ``"sigmoid_grad"``, ``"tanh_grad"``, ``"relu_grad"``: ``f(y, gy) -> gx``
#: from the saved output. Each returns None where it has no kernel (a dtype, a byte order); the NumPy
#: code below stays the reference and runs then, or whenever ``settings.numba`` is False.
COMPILED: dict[str, Callable[..., Any]] = {}


def _fast(name: str, *arrays: np.ndarray) -> Any:
    """The compiled result of ``name`` on ``arrays``, or None (use NumPy: numba off, no kernel, or
    fewer than ``settings.numba_min_elements`` values)."""
    if not settings.numba or name not in COMPILED or arrays[0].size < settings.numba_min_elements:
        return None
    return COMPILED[name](*arrays)


class NegFn(Function):
    r"""y = -x.  Backward: gx = -gy."""

    saves_for_backward = NOTHING
    geometry = staticmethod(pointwise)
    float_only = False
    cost = staticmethod(elementwise_cost(1))
    infer = staticmethod(broadcast_infer)

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, gy):
        return -gy


class ExpFn(Function):
    r"""y = e^x.  Backward: gx = gy * y (saves the output)."""

    geometry = staticmethod(pointwise)
    saves_for_backward = OUTPUT
    cost = staticmethod(elementwise_cost(1))
    infer = staticmethod(broadcast_infer)

    @staticmethod
    def forward(ctx, x):
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        return gy * y


class LogFn(Function):
    r"""y = ln x (x > 0; ln 0 = -inf, ln of a negative = NaN, as NumPy).  Backward: gx = gy / x."""

    geometry = staticmethod(pointwise)
    saves_for_backward = INPUT
    cost = staticmethod(elementwise_cost(1))
    infer = staticmethod(broadcast_infer)

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        with np.errstate(divide="ignore"):
            return gy / x


class SqrtFn(Function):
    r"""y = sqrt(x).  Backward: gx = gy / (2 y) (saves the output; infinite at x = 0)."""

    geometry = staticmethod(pointwise)
    saves_for_backward = OUTPUT
    cost = staticmethod(elementwise_cost(1))
    infer = staticmethod(broadcast_infer)

    @staticmethod
    def forward(ctx, x):
        with np.errstate(invalid="ignore"):
            y = np.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        with np.errstate(divide="ignore"):
            return gy / (2 * y)


class AbsFn(Function):
    r"""y = |x|.  Backward: gx = gy * sign(x), with the subgradient 0 chosen at x = 0."""

    geometry = staticmethod(pointwise)
    saves_for_backward = Saves(extra=(Extra("input"),))  # sign(x)
    float_only = False
    cost = staticmethod(elementwise_cost(1))
    infer = staticmethod(broadcast_infer)

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(np.sign(x))
        return np.abs(x)

    @staticmethod
    def backward(ctx, gy):
        (s,) = ctx.saved_tensors
        return gy * s


class SignFn(Function):
    r"""y = sign(x) in {-1, 0, 1}.  Backward: gx = 0 (piecewise constant)."""

    saves_for_backward = NOTHING
    geometry = staticmethod(pointwise)
    float_only = False
    cost = staticmethod(elementwise_cost(1))
    infer = staticmethod(broadcast_infer)

    @staticmethod
    def forward(ctx, x):
        ctx.shape = x.shape
        return np.sign(x)

    @staticmethod
    def backward(ctx, gy):
        return np.zeros_like(gy)


class ClampFn(Function):
    r"""y = min(max(x, lo), hi); either bound may be None.

    Backward: gx = gy where lo <= x <= hi (closed interval, PyTorch's choice at the
    bounds), 0 outside.
    """

    geometry = staticmethod(pointwise)
    saves_for_backward = Saves(extra=(Extra("input", 0, "bool"),))  # the pass-through mask
    float_only = False
    cost = staticmethod(elementwise_cost(2))
    infer = staticmethod(broadcast_infer)

    @staticmethod
    def forward(ctx, x, lo, hi):
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"clamp: min ({lo}) is greater than max ({hi})")
        y = np.clip(x, lo, hi)
        if ctx.needs_input_grad[0]:
            keep = np.ones(x.shape, bool)
            if lo is not None:
                keep &= x >= lo
            if hi is not None:
                keep &= x <= hi
            ctx.save_for_backward(keep)
        return y

    @staticmethod
    def backward(ctx, gy):
        (keep,) = ctx.saved_tensors
        return gy * keep, None, None


class ReLUFn(Function):
    r"""y = max(x, 0).

    Backward: gx = gy * [y > 0]. ReLU is not differentiable at 0; like PyTorch we take the
    subgradient 0 there (any value in [0, 1] is a valid subgradient; the set x == 0 has
    measure zero for continuous inputs, so the choice almost never matters in training).
    """

    geometry = staticmethod(pointwise)
    saves_for_backward = OUTPUT
    float_only = False
    cost = staticmethod(elementwise_cost(1))
    infer = staticmethod(broadcast_infer)

    @staticmethod
    def forward(ctx, x):
        y = np.maximum(x, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        gx = _fast("relu_grad", y, gy) if y.dtype.kind == "f" else None
        return gx if gx is not None else gy * (y > 0)


class SigmoidFn(Function):
    r"""y = 1 / (1 + e^{-x}), computed without overflow for large |x|.

    Backward: gx = gy * y (1 - y) (saves the output).
    """

    geometry = staticmethod(pointwise)
    saves_for_backward = OUTPUT
    cost = staticmethod(elementwise_cost(3))
    infer = staticmethod(broadcast_infer)

    @staticmethod
    def forward(ctx, x):
        y = _fast("sigmoid", x)
        if y is None:
            # e^{-|x|} never overflows; pick the algebraically equal form per sign
            e = np.exp(-np.abs(x))
            y = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        gx = _fast("sigmoid_grad", y, gy)
        return gx if gx is not None else gy * y * (1 - y)


class TanhFn(Function):
    r"""y = tanh x.  Backward: gx = gy * (1 - y^2) (saves the output)."""

    geometry = staticmethod(pointwise)
    saves_for_backward = OUTPUT
    cost = staticmethod(elementwise_cost(1))
    infer = staticmethod(broadcast_infer)

    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        gx = _fast("tanh_grad", y, gy)
        return gx if gx is not None else gy * (1 - y * y)
