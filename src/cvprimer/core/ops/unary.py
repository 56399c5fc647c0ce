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


def _sign(x: np.ndarray) -> np.ndarray:
    """sign(x) in {-1, 0, 1} with PyTorch's sign(NaN) = 0 (NumPy gives NaN)."""
    s = np.sign(x)
    return np.where(np.isnan(s), np.zeros((), s.dtype), s) if s.dtype.kind == "f" else s


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
    r"""y = |x|.  Backward: gx = gy * sign(x), with the subgradient 0 chosen at x = 0 and sign(NaN) = 0
    (PyTorch's ``sgn``: a NaN input gets the gradient 0)."""

    geometry = staticmethod(pointwise)
    saves_for_backward = Saves(extra=(Extra("input"),))  # sign(x)
    float_only = False
    cost = staticmethod(elementwise_cost(1))
    infer = staticmethod(broadcast_infer)

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(_sign(x))
        return np.abs(x)

    @staticmethod
    def backward(ctx, gy):
        (s,) = ctx.saved_tensors
        return gy * s


class SignFn(Function):
    r"""y = sign(x) in {-1, 0, 1}, with sign(NaN) = 0 as PyTorch.  Backward: gx = 0 (piecewise constant)."""

    saves_for_backward = NOTHING
    geometry = staticmethod(pointwise)
    float_only = False
    cost = staticmethod(elementwise_cost(1))
    infer = staticmethod(broadcast_infer)

    @staticmethod
    def forward(ctx, x):
        ctx.shape = x.shape
        return _sign(x)

    @staticmethod
    def backward(ctx, gy):
        return np.zeros_like(gy)


def _bound_shape(x: Any, lo: Any, hi: Any) -> tuple[int, ...]:
    """The broadcast shape of clamp's operands, or a ValueError naming the op and the shapes."""
    shapes = [np.shape(v) for v in (x, lo, hi) if v is not None]
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"clamp: input {np.shape(x)}, min {np.shape(lo) if lo is not None else None} and "
                         f"max {np.shape(hi) if hi is not None else None} cannot be broadcast together") from None


def clamp_infer(x: Any, lo: Any, hi: Any) -> tuple[tuple[int, ...], np.dtype]:
    """``infer`` of clamp: the broadcast shape and PyTorch's promoted dtype."""
    from cvprimer.core.ops.arith import result_type

    return _bound_shape(x, lo, hi), result_type(x, lo, hi)


class ClampFn(Function):
    r"""y = min(max(x, lo), hi); either bound may be None, a scalar or a tensor (all three broadcast).

    Forward, PyTorch's rule: y = min(max(x, lo), hi), so where lo > hi every element becomes hi; a NaN
    in x stays NaN. The dtype is PyTorch's promotion of x and the bounds (a float32 x with an int32 or
    a Python-float bound stays float32).

    Backward (PyTorch's ``clamp_backward_min_max``): each element's gradient goes to exactly one
    operand, or to none:
    gx = gy where lo <= x <= hi (the closed interval);
    glo = gy where x < lo and lo < hi;  ghi = gy where x > hi or hi < lo;
    none where x is NaN. Gradients of broadcast operands are summed back (centrally).
    """

    geometry = staticmethod(pointwise)
    saves_for_backward = Saves(extra=(Extra("output", 0, "int8"),))  # which operand each gradient goes to
    float_only = False
    cost = staticmethod(elementwise_cost(2))
    infer = staticmethod(clamp_infer)

    @staticmethod
    def forward(ctx, x, lo, hi):
        shape, dt = clamp_infer(x, lo, hi)
        y = np.asarray(x, dtype=dt)
        with np.errstate(invalid="ignore"):
            if lo is not None:
                y = np.maximum(y, np.asarray(lo, dtype=dt))
            if hi is not None:
                y = np.minimum(y, np.asarray(hi, dtype=dt))
        if any(ctx.needs_input_grad):
            # route: 0 -> x, 1 -> lo, 2 -> hi, 3 -> nowhere; the three conditions are mutually exclusive
            route = np.full(shape, 3, np.int8)
            inside = np.ones(shape, bool)
            if lo is not None:
                inside &= x >= lo
            if hi is not None:
                inside &= x <= hi
            route[inside] = 0
            if lo is not None:
                to_lo = (x < lo) & (lo < hi) if hi is not None else np.broadcast_to(x < lo, shape)
                route[to_lo] = 1
            if hi is not None:
                to_hi = (x > hi) | (hi < lo) if lo is not None else np.broadcast_to(x > hi, shape)
                route[to_hi] = 2
            ctx.save_for_backward(route)
        return y

    @staticmethod
    def backward(ctx, gy):
        (route,) = ctx.saved_tensors
        zero = np.zeros((), gy.dtype)
        return tuple(np.where(route == k, gy, zero) if ctx.needs_input_grad[k] else None for k in range(3))


class ReLUFn(Function):
    r"""y = max(x, 0).

    Backward: gx = 0 where y <= 0, else gy (PyTorch's ``threshold_backward``: a NaN passes the
    gradient, as +inf does). ReLU is not differentiable at 0; like PyTorch we take the
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
        return gx if gx is not None else np.where(y <= 0, np.zeros((), gy.dtype), gy)


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
