r"""Elementwise binary arithmetic.

Broadcasting rule (NumPy's): shapes are right-aligned, a missing or size-1 axis is
repeated. If ``y = f(a, b)`` broadcasts ``a`` from shape ``S_a`` to the output shape
``S``, each element of ``a`` was used once per repeated position, so by the chain rule
``ga`` is ``gy * df/da`` *summed* over the repeated axes. ``Function.apply`` does that
sum centrally via :func:`cvprimer.core.function.unbroadcast`, so the backward of each op below is written as if
no broadcasting had happened.

Dtypes: each binary forward first passes its operands through :func:`promote`, which casts them to
PyTorch's result dtype (:func:`result_type`); true division gives float32 for integers, subtraction
refuses bool operands and pow bool ones, as PyTorch (which does give ``bool ** True``, a bool: we refuse it
too). Gradients are cast back to each input's own dtype centrally.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.call import Call, pointwise
from cvprimer.core.cost import copy_cost, elementwise_cost, same_shape_infer
from cvprimer.core.function import Function
from cvprimer.core.saves import BOTH, INPUT, NOTHING, Saves


def _check_broadcast(name: str, a: Any, b: Any) -> None:
    sa, sb = np.shape(a), np.shape(b)
    try:
        np.broadcast_shapes(sa, sb)
    except ValueError:
        raise ValueError(
            f"{name}: shapes {sa} and {sb} cannot be broadcast together (trailing axes must be "
            "equal or 1)"
        ) from None


def _category(dt: np.dtype) -> int:
    """0 bool, 1 integer, 2 floating, 3 complex: the order PyTorch's type promotion ranks kinds in."""
    return {"b": 0, "i": 1, "u": 1, "f": 2, "c": 3}[dt.kind]


def result_type(*operands: Any) -> np.dtype:
    r"""The dtype PyTorch's type promotion gives ``operands`` (arrays, Python scalars; None skipped).

    Rule (``torch.result_type``): operands form three tiers, dimensioned tensors, 0-d tensors and Python
    numbers (a Python float counts as the default float32, an int as int64, a bool as bool). A lower tier
    changes the result only when its category (bool < integer < floating < complex) is higher than every
    higher tier's: float32 (3,) with a float64 0-d tensor stays float32, with an int32 (3,) tensor also
    float32, float16 with the Python float 0.5 float16, int64 with 0.5 float32. Within a tier NumPy's
    promotion of the dtypes applies when they share a category; otherwise the higher category's dtype wins.
    """
    from cvprimer.core.tensor import DEFAULT_DTYPE

    tiers: list[list[np.dtype]] = [[], [], []]
    for o in operands:
        if o is None:
            continue
        if isinstance(o, np.ndarray):
            tiers[0 if o.ndim else 1].append(o.dtype)
        elif isinstance(o, (bool, np.bool_)):
            tiers[2].append(np.dtype(bool))
        elif isinstance(o, (int, np.integer)):
            tiers[2].append(np.dtype(np.int64))
        elif isinstance(o, complex):
            tiers[2].append(np.dtype(np.complex64))
        else:
            tiers[2].append(DEFAULT_DTYPE)
    out: np.dtype | None = None
    for dts in tiers:
        if not dts:
            continue
        dt = dts[0]
        for d in dts[1:]:  # PyTorch's promoteTypes: a higher category wins outright (int64 + float16 -> float16)
            dt = np.result_type(dt, d) if _category(d) == _category(dt) else max(dt, d, key=_category)
        if out is None:
            out = dt
        elif _category(dt) > _category(out):
            # a higher category from a lower tier: floats over ints keep the lower tier's dtype (int64
            # tensor + 0.5 -> float32); bool under anything, or int over bool, promotes normally
            out = dt if _category(out) > 0 or _category(dt) >= 2 else np.result_type(out, dt)
    return out if out is not None else DEFAULT_DTYPE


def promote(*operands: Any, floating: bool = False) -> tuple[list[Any], np.dtype]:
    r"""The operands of a binary op converted to their common dtype, :func:`result_type` (PyTorch's rule),
    and that dtype; ``floating`` (true division) turns a bool/integer result into the default float32.

    The one place the elementwise binary ops (add, sub, mul, div, pow, maximum, minimum, where) choose the
    result dtype, instead of NumPy's promotion: NumPy makes float32 (3,) + int64 (3,) float64 and
    float32 (3,) + a float64 0-d array float64, PyTorch float32 in both. Python numbers become 0-d arrays
    of that dtype; arrays already of it are passed through without a copy.
    """
    if len(operands) == 2 and isinstance(operands[0], np.ndarray):
        # fast paths (most calls): two arrays of one dtype, or a floating array and a Python number
        a, b = operands
        if isinstance(b, np.ndarray) and a.dtype == b.dtype and (a.dtype.kind in "fc" or not floating):
            return [a, b], a.dtype
        if (a.dtype.kind == "f" and isinstance(b, (int, float)) and not isinstance(b, bool)
                and (a.ndim or a.dtype == result_type(b))):
            return [a, np.asarray(b, dtype=a.dtype)], a.dtype
    dt = result_type(*operands)
    if floating and dt.kind not in "fc":
        from cvprimer.core.tensor import DEFAULT_DTYPE

        dt = DEFAULT_DTYPE
    out = [o if isinstance(o, np.ndarray) and o.dtype == dt else np.asarray(o, dtype=dt) for o in operands]
    return out, dt


def _promoted(args: tuple[Any, ...], floating: bool = False) -> tuple[tuple[int, ...], np.dtype]:
    """The broadcast shape of ``args`` and the dtype :func:`promote` gives (``where``'s boolean condition,
    its first argument of three, takes no part in the dtype)."""
    shape = np.broadcast_shapes(*(np.shape(a) for a in args))
    ops = args[1:] if len(args) == 3 else args
    return tuple(shape), promote(*(np.zeros((1,) * np.ndim(o), o.dtype) if isinstance(o, np.ndarray) else o
                                   for o in ops), floating=floating)[1]


def _binary_infer(call: Call) -> tuple[tuple[int, ...], np.dtype]:
    """``infer`` of a binary op (shape-only trace): see :func:`_promoted`."""
    return _promoted(call.inputs)


def _div_infer(call: Call) -> tuple[tuple[int, ...], np.dtype]:
    """``infer`` of true division: :func:`_promoted` with a floating result."""
    return _promoted(call.inputs, floating=True)


class AddFn(Function):
    r"""y = a + b.  Backward: ga = gy, gb = gy (then unbroadcast)."""

    saves_for_backward = NOTHING
    geometry = staticmethod(pointwise)
    float_only = False
    cost = staticmethod(elementwise_cost(1))
    infer = staticmethod(_binary_infer)

    @staticmethod
    def forward(ctx, a, b):
        _check_broadcast("add", a, b)
        (a, b), _ = promote(a, b)
        return a + b

    @staticmethod
    def backward(ctx, gy):
        return gy, gy


class SubFn(Function):
    r"""y = a - b.  Backward: ga = gy, gb = -gy."""

    saves_for_backward = NOTHING
    geometry = staticmethod(pointwise)
    float_only = False
    cost = staticmethod(elementwise_cost(1))
    infer = staticmethod(_binary_infer)

    @staticmethod
    def forward(ctx, a, b):
        _check_broadcast("sub", a, b)
        if any(np.asarray(o).dtype.kind == "b" for o in (a, b)):
            raise TypeError(f"sub: a bool operand is not supported (as in PyTorch; got dtypes "
                            f"{np.asarray(a).dtype.name} and {np.asarray(b).dtype.name}); convert it with .astype(int)")
        (a, b), _ = promote(a, b)
        return a - b

    @staticmethod
    def backward(ctx, gy):
        return gy, (-gy if ctx.needs_input_grad[1] else None)


class MulFn(Function):
    r"""y = a * b.  Backward: ga = gy * b, gb = gy * a."""

    geometry = staticmethod(pointwise)
    saves_for_backward = BOTH
    float_only = False
    cost = staticmethod(elementwise_cost(1))
    infer = staticmethod(_binary_infer)

    @staticmethod
    def forward(ctx, a, b):
        _check_broadcast("mul", a, b)
        (a, b), _ = promote(a, b)
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b if ctx.needs_input_grad[0] else None)
        return a * b

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        return (gy * b if ctx.needs_input_grad[0] else None, gy * a if ctx.needs_input_grad[1] else None)


class DivFn(Function):
    r"""y = a / b.  Backward: ga = gy / b, gb = -gy * a / b^2 = -gy * y / b."""

    geometry = staticmethod(pointwise)
    saves_for_backward = Saves(inputs=(1,), outputs=(0,))
    cost = staticmethod(elementwise_cost(1))
    infer = staticmethod(_div_infer)
    float_only = False  # int / int is a float32 true division, as PyTorch

    @staticmethod
    def forward(ctx, a, b):
        _check_broadcast("div", a, b)
        (a, b), _ = promote(a, b, floating=True)
        y = a / b
        ctx.save_for_backward(b, y if ctx.needs_input_grad[1] else None)
        return y

    @staticmethod
    def backward(ctx, gy):
        b, y = ctx.saved_tensors
        ga = gy / b if ctx.needs_input_grad[0] else None
        gb = -gy * y / b if ctx.needs_input_grad[1] else None
        return ga, gb


class DivRoundFn(Function):
    r"""y = round(a / b) with PyTorch's ``rounding_mode``: ``'trunc'`` rounds toward zero, ``'floor'`` down.

    **Forward**: floats: trunc(a / b), or Python's floor division (NumPy's ``floor_divide``: computed from
    ``fmod`` so that it is exact where floor(a / b) of the rounded quotient would be off by one, the same
    algorithm as PyTorch's), so 7.5 // -2 = -4, 1 // 0 = inf, 0 // 0 = nan. Integers: exact integer division
    (trunc: C's rounding toward zero, -7 / 2 = -3; floor: -4); an integer division by zero raises
    ZeroDivisionError, as PyTorch. The dtype is :func:`result_type`'s (integers stay integers).

    **Backward**: the result is piecewise constant in a and b, so its derivative is 0 wherever it exists;
    PyTorch returns zeros for both inputs (the output still requires grad) and so do we.
    """

    geometry = staticmethod(pointwise)
    saves_for_backward = NOTHING
    float_only = False
    cost = staticmethod(elementwise_cost(2))
    @staticmethod
    def infer(call):
        """The broadcast shape and the promoted dtype (integers stay integers)."""
        return _promoted(call.inputs[:2])

    @staticmethod
    def forward(ctx, a, b, mode):
        _check_broadcast("div", a, b)
        if mode not in ("trunc", "floor"):
            raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {mode!r}")
        (a, b), dt = promote(a, b)
        if dt.kind == "b":
            raise TypeError(f"div: rounding_mode={mode!r} is not supported for bool operands (as in PyTorch)")
        if dt.kind in "iu":
            if np.any(b == 0):
                raise ZeroDivisionError(f"div: integer division by zero (rounding_mode={mode!r}, dtype {dt.name})")
            q = np.floor_divide(a, b)
            if mode == "trunc":  # floor -> toward zero: +1 where the quotient is negative and inexact
                q = q + ((np.remainder(a, b) != 0) & ((a < 0) != (b < 0))).astype(dt)
            return q.astype(dt, copy=False)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return np.floor_divide(a, b) if mode == "floor" else np.trunc(a / b)

    @staticmethod
    def backward(ctx, gy):
        zero = np.zeros_like(gy)
        return (zero if ctx.needs_input_grad[0] else None, zero if ctx.needs_input_grad[1] else None, None)


class PowFn(Function):
    r"""y = a ** b, b a tensor or a scalar.

    Backward: ga = gy * b * a^(b-1); gb = gy * y * ln(a). As in PyTorch, gb is set to 0
    where a == 0 and b >= 0 (the limit of a^b ln a there), instead of 0 * (-inf) = NaN.
    """

    geometry = staticmethod(pointwise)
    saves_for_backward = Saves(inputs=(0, 1), outputs=(0,))
    cost = staticmethod(elementwise_cost(1))
    infer = staticmethod(_binary_infer)
    float_only = False  # int ** int stays integer, as PyTorch

    @staticmethod
    def forward(ctx, a, b):
        _check_broadcast("pow", a, b)
        (a, b), dt = promote(a, b)
        if dt.kind == "b":
            raise TypeError("pow: bool base and exponent are not supported (as in PyTorch); convert with .astype(int)")
        if dt.kind in "iu" and np.any(b < 0):
            raise ValueError(f"pow: integer base {dt.name} to a negative integer power is not allowed (as in "
                             "PyTorch); make the base or the exponent floating")
        y = np.power(a, b)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        a, b, y = ctx.saved_tensors
        ga = gb = None
        if ctx.needs_input_grad[0]:
            if np.isscalar(b) or np.ndim(b) == 0:
                ga = gy * (b * np.power(a, b - 1)) if b != 0 else np.zeros_like(gy)
            else:
                ga = gy * np.where(b == 0, 0.0, b * np.power(a, b - 1))
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = gy * np.where((a == 0) & (b >= 0), 0.0, y * np.log(a))
        return ga, gb


class MaximumFn(Function):
    r"""y = max(a, b) elementwise.

    Backward: the gradient goes to the larger input; at ties (a == b) it is split in half
    between them (PyTorch's rule, the mean of the two one-sided derivatives).
    """

    geometry = staticmethod(pointwise)
    saves_for_backward = BOTH
    float_only = False
    cost = staticmethod(elementwise_cost(1))
    infer = staticmethod(_binary_infer)

    @staticmethod
    def forward(ctx, a, b):
        _check_broadcast("maximum", a, b)
        (a, b), _ = promote(a, b)
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        w = np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0)).astype(gy.dtype)
        return (gy * w if ctx.needs_input_grad[0] else None, gy * (1 - w) if ctx.needs_input_grad[1] else None)


class MinimumFn(Function):
    r"""y = min(a, b) elementwise; gradient to the smaller input, split in half at ties."""

    geometry = staticmethod(pointwise)
    saves_for_backward = BOTH
    float_only = False
    cost = staticmethod(elementwise_cost(1))
    infer = staticmethod(_binary_infer)

    @staticmethod
    def forward(ctx, a, b):
        _check_broadcast("minimum", a, b)
        (a, b), _ = promote(a, b)
        ctx.save_for_backward(a, b)
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        w = np.where(a < b, 1.0, np.where(a == b, 0.5, 0.0)).astype(gy.dtype)
        return (gy * w if ctx.needs_input_grad[0] else None, gy * (1 - w) if ctx.needs_input_grad[1] else None)


class WhereFn(Function):
    r"""y = cond ? a : b (cond a boolean array, broadcast with a and b).

    Backward: ga = gy where cond else 0; gb = gy where not cond else 0.
    """

    saves_for_backward = INPUT  # the condition
    geometry = staticmethod(pointwise)
    float_only = False
    cost = staticmethod(elementwise_cost(1))
    infer = staticmethod(_binary_infer)

    @staticmethod
    def forward(ctx, cond, a, b):
        cond = np.asarray(cond)
        if cond.dtype != np.bool_:
            raise TypeError(f"where: condition must be boolean, got dtype {cond.dtype}")
        try:
            np.broadcast_shapes(cond.shape, np.shape(a), np.shape(b))
        except ValueError:
            raise ValueError(
                f"where: condition {cond.shape}, a {np.shape(a)} and b {np.shape(b)} cannot be "
                "broadcast together"
            ) from None
        ctx.save_for_backward(cond)
        (a, b), _ = promote(a, b)
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, gy):
        (cond,) = ctx.saved_tensors
        zero = np.zeros((), gy.dtype)
        return (
            None,
            np.where(cond, gy, zero) if ctx.needs_input_grad[1] else None,
            np.where(cond, zero, gy) if ctx.needs_input_grad[2] else None,
        )


class CastFn(Function):
    r"""y = a converted to another dtype. Backward: gy converted back (done centrally)."""

    saves_for_backward = NOTHING

    @staticmethod
    def infer(call):
        """The input's shape in the new dtype."""
        a, dtype = call.inputs
        return a.shape, np.dtype(dtype)

    geometry = staticmethod(pointwise)
    float_only = False
    cost = staticmethod(copy_cost)

    @staticmethod
    def forward(ctx, a, dtype):
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, gy):
        return gy, None


class CloneFn(Function):
    r"""y = copy of a. Backward: ga = gy."""

    saves_for_backward = NOTHING
    infer = staticmethod(same_shape_infer)
    geometry = staticmethod(pointwise)
    float_only = False
    cost = staticmethod(copy_cost)

    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, gy):
        return gy
