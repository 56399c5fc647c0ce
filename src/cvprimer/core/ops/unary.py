r"""Elementwise unary ops: neg, exp, log, sqrt, abs, sign, relu, sigmoid, tanh (each a
:class:`~cvprimer.core.pointwise.PointwiseFn`: its forward, its slope, what the slope needs), and clamp.

Each saves what its derivative is a function of, preferring the output (exp, sqrt, relu,
sigmoid, tanh) so the input can be freed. Values chosen at kinks are PyTorch's:
relu'(0) = 0, abs'(0) = 0, clamp passes the gradient on the closed interval [lo, hi].
sigmoid, tanh and relu have compiled kernels (:mod:`cvprimer.core.ops.unary_kernels`, registered here by
their ``kernels`` attribute) for arrays of at least ``settings.numba_min_elements`` values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.call import pointwise
from cvprimer.core.cost import elementwise_cost
from cvprimer.core.function import Function
from cvprimer.core.pointwise import PointwiseFn
from cvprimer.core.saves import INPUT, NOTHING, OUTPUT, Extra, Saves

_KERNELS = "cvprimer.core.ops.unary_kernels"


def _sign(x: np.ndarray) -> np.ndarray:
    """sign(x) in {-1, 0, 1} with PyTorch's sign(NaN) = 0 (NumPy gives NaN)."""
    s = np.sign(x)
    return np.where(np.isnan(s), np.zeros((), s.dtype), s) if s.dtype.kind == "f" else s


class NegFn(PointwiseFn):
    r"""y = -x.  y' = -1.  Backward: gx = -gy (saves nothing)."""

    saves_for_backward = NOTHING
    float_only = False
    cost = staticmethod(elementwise_cost(1))

    @staticmethod
    def f(x):
        return -x

    @staticmethod
    def df(x, y):
        return -np.ones_like(x)

    @classmethod
    def vjp(cls, x, y, gy):
        return -gy


class ExpFn(PointwiseFn):
    r"""y = e^x.  y' = y.  Backward: gx = gy * y (saves the output)."""

    saves_for_backward = OUTPUT
    cost = staticmethod(elementwise_cost(1))

    @staticmethod
    def f(x):
        return np.exp(x)

    @staticmethod
    def df(x, y):
        return y


class LogFn(PointwiseFn):
    r"""y = ln x (x > 0; ln 0 = -inf, ln of a negative = NaN, as NumPy).  y' = 1 / x.
    Backward: gx = gy / x (saves the input)."""

    saves_for_backward = INPUT
    cost = staticmethod(elementwise_cost(1))

    @staticmethod
    def f(x):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x)

    @staticmethod
    def df(x, y):
        with np.errstate(divide="ignore"):
            return 1 / x

    @classmethod
    def vjp(cls, x, y, gy):
        with np.errstate(divide="ignore"):
            return gy / x


class SqrtFn(PointwiseFn):
    r"""y = sqrt(x).  y' = 1 / (2 y).  Backward: gx = gy / (2 y) (saves the output; infinite at x = 0)."""

    saves_for_backward = OUTPUT
    cost = staticmethod(elementwise_cost(1))

    @staticmethod
    def f(x):
        with np.errstate(invalid="ignore"):
            return np.sqrt(x)

    @staticmethod
    def df(x, y):
        with np.errstate(divide="ignore"):
            return 1 / (2 * y)

    @classmethod
    def vjp(cls, x, y, gy):
        with np.errstate(divide="ignore"):
            return gy / (2 * y)


class AbsFn(PointwiseFn):
    r"""y = |x|.  y' = sign(x), with the subgradient 0 chosen at x = 0 and sign(NaN) = 0
    (PyTorch's ``sgn``: a NaN input gets the gradient 0).  Backward: gx = gy * sign(x) (saves the input,
    as PyTorch)."""

    saves_for_backward = INPUT
    float_only = False
    cost = staticmethod(elementwise_cost(1))

    @staticmethod
    def f(x):
        return np.abs(x)

    @staticmethod
    def df(x, y):
        return _sign(x)


class SignFn(PointwiseFn):
    r"""y = sign(x) in {-1, 0, 1}, with sign(NaN) = 0 as PyTorch.  y' = 0 (piecewise constant).
    Backward: gx = 0, also where gy is infinite or NaN (not gy * 0; saves nothing)."""

    saves_for_backward = NOTHING
    float_only = False
    cost = staticmethod(elementwise_cost(1))

    @staticmethod
    def f(x):
        return _sign(x)

    @staticmethod
    def df(x, y):
        return np.zeros_like(x)

    @classmethod
    def vjp(cls, x, y, gy):
        return np.zeros_like(gy)


def _bound_shape(x: Any, lo: Any, hi: Any) -> tuple[int, ...]:
    """The broadcast shape of clamp's operands, or a ValueError naming the op and the shapes."""
    shapes = [np.shape(v) for v in (x, lo, hi) if v is not None]
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"clamp: input {np.shape(x)}, min {np.shape(lo) if lo is not None else None} and "
                         f"max {np.shape(hi) if hi is not None else None} cannot be broadcast together") from None


def _clamp_meta(x: Any, lo: Any, hi: Any) -> tuple[tuple[int, ...], np.dtype]:
    """clamp's output: the broadcast shape and PyTorch's promoted dtype."""
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

    @staticmethod
    def infer(call):
        """The broadcast shape and PyTorch's promoted dtype of x and the bounds."""
        return _clamp_meta(*call.inputs)

    @staticmethod
    def forward(ctx, x, lo, hi):
        shape, dt = _clamp_meta(x, lo, hi)
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


class ReLUFn(PointwiseFn):
    r"""y = max(x, 0).

    y' = 0 where y <= 0, else 1. Backward: gx = 0 where y <= 0, else gy (PyTorch's ``threshold_backward``:
    a NaN passes the gradient, as +inf does; an infinite gy is zeroed, not turned into NaN by gy * 0).
    ReLU is not differentiable at 0; like PyTorch we take the
    subgradient 0 there (any value in [0, 1] is a valid subgradient; the set x == 0 has
    measure zero for continuous inputs, so the choice almost never matters in training).
    Saves the output.
    """

    saves_for_backward = OUTPUT
    float_only = False
    cost = staticmethod(elementwise_cost(1))
    kernels = _KERNELS
    small_on_numpy = True

    @staticmethod
    def kernel():
        return "relu", ()

    @staticmethod
    def f(x):
        return np.maximum(x, 0)

    @staticmethod
    def df(x, y):
        return np.where(y <= 0, 0.0, 1.0).astype(y.dtype)

    @classmethod
    def vjp(cls, x, y, gy):
        return np.where(y <= 0, np.zeros((), gy.dtype), gy)


class SigmoidFn(PointwiseFn):
    r"""y = 1 / (1 + e^{-x}), computed without overflow for large |x|.

    y' = y (1 - y). Backward: gx = gy * y * (1 - y), multiplied left to right (saves the output).
    """

    saves_for_backward = OUTPUT
    cost = staticmethod(elementwise_cost(3))
    kernels = _KERNELS
    small_on_numpy = True

    @staticmethod
    def kernel():
        return "sigmoid", ()

    @staticmethod
    def f(x):
        # e^{-|x|} never overflows; pick the algebraically equal form per sign
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e))

    @staticmethod
    def df(x, y):
        return y * (1 - y)

    @classmethod
    def vjp(cls, x, y, gy):
        return gy * y * (1 - y)


class TanhFn(PointwiseFn):
    r"""y = tanh x.  y' = 1 - y^2.  Backward: gx = gy * (1 - y^2) (saves the output)."""

    saves_for_backward = OUTPUT
    cost = staticmethod(elementwise_cost(1))
    kernels = _KERNELS
    small_on_numpy = True

    @staticmethod
    def kernel():
        return "tanh", ()

    @staticmethod
    def f(x):
        return np.tanh(x)

    @staticmethod
    def df(x, y):
        return 1 - y * y
