r"""Piecewise-linear rectifiers: relu6, leaky_relu, prelu, hardtanh, and relu with a settable slope at 0
(the plain relu op itself lives in core).

Values at the kinks are PyTorch's (it matters only on a measure-zero set, but parity tests
and the lab's slope plots see it):

* hardtanh / relu6: slope 1 strictly inside (min_val, max_val), 0 at and beyond the bounds;
  relu6(x) = hardtanh(x, 0, 6), so relu6'(0) = relu6'(6) = 0.
* leaky_relu / prelu: slope 1 for x > 0 and the negative slope for x <= 0 (including 0).
* relu: slope 0 at 0 by default (PyTorch's); :func:`relu` here takes ``grad_at_zero`` to pick any
  other subgradient in [0, 1] (``nn.ReLU(grad_at_zero=...)`` passes it on).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.api import relu as _core_relu
from cvprimer.core.call import pointwise
from cvprimer.core.cost import elementwise_cost, same_shape_infer
from cvprimer.core.function import Function
from cvprimer.core.inplace import inplace_result
from cvprimer.core.pointwise import PointwiseFn
from cvprimer.core.saves import INPUT, OUTPUT, Saves
from cvprimer.core.settings import settings
from cvprimer.core.tensor import Tensor
from cvprimer.functional.activation._base import KERNELS, check_float
from cvprimer.functional.activation.registry import activation


class HardtanhFn(PointwiseFn):
    r"""y = clip(x, min_val, max_val).

    Backward: gx = gy * [min_val < x < max_val]; written with the output, since
    min_val < y < max_val exactly when x is strictly inside. Saves y only.

    Differences from PyTorch: at a NaN x the gradient is 0 here; PyTorch's own answer depends on
    its kernel path (0 from the vectorized loop, gy from the scalar tail of the same tensor, so a
    float64 tensor of 3 NaNs gets gy and one of 12 gets 0), so there is no single rule to follow.
    """

    saves_for_backward = OUTPUT
    cost = staticmethod(elementwise_cost(2))
    kernels = KERNELS

    @staticmethod
    def kernel(min_val=-1.0, max_val=1.0):
        return "hardtanh", (min_val, max_val)

    @staticmethod
    def f(x, min_val=-1.0, max_val=1.0):
        return np.clip(x, min_val, max_val)

    @staticmethod
    def df(x, y, min_val=-1.0, max_val=1.0):
        return ((y > min_val) & (y < max_val)).astype(y.dtype)


class ReLUAtZeroFn(PointwiseFn):
    r"""y = max(x, 0) whose backward takes the slope ``grad_at_zero`` at exactly x = 0.

    Backward: gx = gy * 1 for x > 0, gy * grad_at_zero for x == 0, 0 for x < 0, gy for a NaN x
    (as PyTorch's relu). Saves x, since
    the output y = 0 cannot tell x = 0 from x < 0. (The default slope 0 uses the core
    :class:`~cvprimer.core.ops.unary.ReLUFn`, which saves only y.)
    """

    saves_for_backward = INPUT
    cost = staticmethod(elementwise_cost(2))
    kernels = KERNELS

    @staticmethod
    def kernel(grad_at_zero=0.0):
        return "relu_at_zero", (grad_at_zero,)

    @staticmethod
    def f(x, grad_at_zero=0.0):
        return np.maximum(x, 0)

    @staticmethod
    def df(x, y, grad_at_zero=0.0):
        return np.where(x < 0, 0.0, np.where(x == 0, grad_at_zero, 1.0)).astype(x.dtype)


class LeakyReLUFn(PointwiseFn):
    r"""y = x for x > 0, negative_slope * x otherwise.

    Backward: gx = gy for x > 0, gy * negative_slope for x <= 0 (so the slope at 0 is
    ``negative_slope``, as PyTorch). Saves x (the sign of y does not give the branch when
    the slope is negative).
    """

    cost = staticmethod(elementwise_cost(2))
    kernels = KERNELS

    @staticmethod
    def kernel(negative_slope=0.01):
        return "leaky_relu", (negative_slope,)

    @staticmethod
    def f(x, negative_slope=0.01):
        return np.where(x > 0, x, x * negative_slope)

    @staticmethod
    def df(x, y, negative_slope=0.01):
        return np.where(x > 0, 1.0, negative_slope).astype(x.dtype)


class PReLUFn(Function):
    r"""y = x for x > 0, a * x otherwise, with a learnable slope ``a`` broadcast over dim 1.

    Shapes: x (N, C, *); a is (C,) (one slope per channel, on dim 1 of x) or (1,) (one
    shared slope; the only choice for inputs with fewer than 2 dims, as PyTorch).

    Backward:  gx = gy * (1 if x > 0 else a)      (slope a at x = 0, as PyTorch)
               ga_c = sum over all positions of channel c of gy * x * [x <= 0]
    (summed over everything for the shared slope). Saves x and a.

    With ``settings.numba``: the compiled loops of :mod:`._kernels` (x as (N, C, rest), the slope
    gradient summed per row and then in float64); the NumPy code here is the reference.
    """

    geometry = staticmethod(pointwise)
    saves_for_backward = Saves(inputs=(0, 1))  # x and the slope (small, but changed in place by an optimizer step)
    infer = staticmethod(same_shape_infer)
    cost = staticmethod(elementwise_cost(2))

    @staticmethod
    def forward(ctx, x, a):
        ab = a.reshape(_prelu_view(x.ndim, a.size))
        ctx.save_for_backward(x, ab)
        if settings.numba:
            from cvprimer.functional.activation import _kernels

            y = _kernels.prelu(x, a)
            if y is not None:
                return y
        return np.where(x > 0, x, x * ab).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        x, ab = ctx.saved_tensors
        if settings.numba:
            from cvprimer.functional.activation import _kernels

            r = _kernels.prelu_grad(x, ab, gy, ctx.needs_input_grad[0], ctx.needs_input_grad[1])
            if r is not None:
                return r
        pos = x > 0
        gx = np.where(pos, gy, gy * ab) if ctx.needs_input_grad[0] else None
        ga = None
        if ctx.needs_input_grad[1]:
            contrib = np.where(pos, 0, gy * x)
            axes = tuple(i for i in range(x.ndim) if ab.shape[i] == 1)
            ga = contrib.sum(axis=axes).reshape(-1)
        return gx, ga


def _prelu_view(ndim: int, n: int) -> tuple[int, ...]:
    """Shape that broadcasts n slopes over dim 1 of an ndim-d input (all ones when shared)."""
    shape = [1] * ndim
    if n != 1:
        shape[1] = n
    return tuple(shape)


@activation(layer="Hardtanh")
def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    r"""Hard tanh: clamp x to [min_val, max_val].

    Notes
    -----
    **Forward** y = min(max(x, min_val), max_val).
    **Backward** gx = gy on the open interval (min_val, max_val), 0 elsewhere (also at the
    bounds, as PyTorch).

    Example
    -------
    >>> import cvprimer as cp, cvprimer.functional as F
    >>> F.hardtanh(cp.tensor([-2.0, 0.5, 2.0])).numpy().tolist()
    [-1.0, 0.5, 1.0]
    """
    if inplace:
        return inplace_result(x, "hardtanh", lambda s: hardtanh(s, min_val, max_val))
    lo, hi = check_float("hardtanh", "min_val", min_val), check_float("hardtanh", "max_val", max_val)
    if lo > hi:
        raise ValueError(f"hardtanh: min_val ({lo}) must be <= max_val ({hi})")
    return HardtanhFn.apply(x, min_val=lo, max_val=hi)


def check_grad_at_zero(op: str, value: Any) -> float:
    """``value`` as a float in [0, 1] (the subdifferential of relu at 0); ValueError otherwise."""
    g = check_float(op, "grad_at_zero", value)
    if not 0.0 <= g <= 1.0:
        raise ValueError(f"{op}: grad_at_zero must be in [0, 1] (the subgradients of relu at 0), got {g}")
    return g


@activation(layer="ReLU")
def relu(x: Tensor, inplace: bool = False, *, grad_at_zero: float = 0.0) -> Tensor:
    r"""ReLU, y = max(x, 0), with a choice of the slope used at exactly x = 0.

    Parameters
    ----------
    x : Tensor, any shape
    inplace : bool
        PyTorch's option: write the result into ``x`` and return ``x`` (:func:`cvprimer.core.inplace.inplace_result`).
    grad_at_zero : float in [0, 1] (keyword only)
        The derivative taken where x == 0 exactly. relu is not differentiable there; its
        subdifferential is the interval [0, 1] and any member is a valid choice. The default 0 is
        PyTorch's and runs the core op (identical results and saved tensors); any other value runs
        :class:`ReLUAtZeroFn`, which saves the input instead of the output.

    Notes
    -----
    **Forward** y = max(x, 0) (unchanged by ``grad_at_zero``).
    **Backward** gx = gy [x > 0] + grad_at_zero gy [x = 0].

    Exact zeros are not a measure-zero curiosity in practice: inputs with exact zero pixels (MNIST's
    background) times any weight, plus a zero-initialized bias, give pre-activations that are exactly 0,
    and so does a relu fed by another relu. The lab's q34 experiment measures how often.

    Example
    -------
    >>> import cvprimer as cp
    >>> from cvprimer.functional.activation.rectifier import relu
    >>> x = cp.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    >>> relu(x, grad_at_zero=0.5).sum().backward()
    >>> x.grad.numpy().tolist()
    [0.0, 0.5, 1.0]
    """
    if inplace:
        return inplace_result(x, "relu", lambda s: relu(s, grad_at_zero=grad_at_zero))
    g = check_grad_at_zero("relu", grad_at_zero)
    if g == 0.0:
        return _core_relu(x)
    return ReLUAtZeroFn.apply(x, grad_at_zero=g)


def relu_slope(x: np.ndarray, grad_at_zero: float = 0.0) -> np.ndarray:
    """d relu / dx for plotting: 1 where x > 0, ``grad_at_zero`` where x == 0, 0 elsewhere."""
    return ReLUAtZeroFn.df(np.asarray(x), None, grad_at_zero=check_grad_at_zero("relu_slope", grad_at_zero))


@activation(layer="ReLU6")
def relu6(x: Tensor, inplace: bool = False) -> Tensor:
    r"""ReLU capped at 6 (MobileNet): y = min(max(x, 0), 6) = hardtanh(x, 0, 6).

    Slope 1 on (0, 6), 0 elsewhere, including the kinks 0 and 6 (PyTorch's choice).

    References: Howard et al., "MobileNets", arXiv:1704.04861.
    """
    if inplace:
        return inplace_result(x, "relu6", lambda s: relu6(s))
    return HardtanhFn.apply(x, min_val=0.0, max_val=6.0)


@activation(layer="LeakyReLU")
def leaky_relu(x: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    r"""Leaky ReLU: y = x if x > 0 else negative_slope * x.

    **Backward** gx = gy if x > 0 else negative_slope * gy (slope at 0: negative_slope).

    References: Maas et al., "Rectifier nonlinearities improve neural network acoustic
    models", ICML workshop 2013.
    """
    if inplace:
        return inplace_result(x, "leaky_relu", lambda s: leaky_relu(s, negative_slope))
    return LeakyReLUFn.apply(x, negative_slope=check_float("leaky_relu", "negative_slope", negative_slope))


def _prelu_call(fn: Any, t: Tensor, weight: Any = 0.25) -> Tensor:
    """prelu with its slope given as a number or array (the registry's derivative: f'(x) = 1 where x > 0, the
    slope elsewhere, weight broadcast on dim 1)."""
    w = np.asarray(weight, dtype=t.dtype)
    return fn(t, Tensor(w.reshape(-1) if w.ndim else w))


@activation(layer="PReLU", call=_prelu_call)
def prelu(x: Tensor, weight: Tensor) -> Tensor:
    r"""Parametric ReLU with a learnable negative slope (He et al., arXiv:1502.01852).

    Parameters
    ----------
    x : Tensor (N, C, *)
    weight : Tensor (C,) one slope per channel on dim 1, or (1,) or 0-d () shared by all (inputs with
        fewer than 2 dims have no channel dim and take only the shared forms, as PyTorch). A 0-d slope is
        viewed as (1,) (a differentiable reshape), so its gradient comes back 0-d.

    Notes
    -----
    **Forward** y = x if x > 0 else a_c x.
    **Backward** gx = gy if x > 0 else a_c gy (slope a_c at 0);
    ga_c = sum_{positions in channel c, x <= 0} gy x.
    """
    if not isinstance(x, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"prelu: expected Tensors, got {type(x).__name__} and {type(weight).__name__}")
    if weight.ndim == 0:
        weight = weight.reshape(1)
    if weight.ndim != 1:
        raise ValueError(f"prelu: weight must be 1-D, (C,) or (1,), or 0-d, got shape {weight.shape}")
    n = weight.shape[0]
    c = x.shape[1] if x.ndim >= 2 else 1
    if n not in (1, c):
        raise ValueError(
            f"prelu: weight has {n} slopes but input {x.shape} has {c} channel(s) on dim 1 "
            "(1 for inputs with fewer than 2 dims); expected weight (C,) or (1,)"
        )
    return PReLUFn.apply(x, weight)
