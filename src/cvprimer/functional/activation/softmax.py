r"""Softmax and log-softmax over one axis, shifted by the maximum for stability.

Both are hand-written Functions: their backward needs only the output ``y`` (not ``x``),
which is what forward saves. The NumPy code works in place on its one output-sized array (shift,
exp, scale); with ``settings.numba`` both run the compiled kernels of :mod:`._kernels` (rows for the
last axis, side-by-side columns for another; the NumPy code is the reference the tests compare against
and takes over for groups with a non-finite maximum, except in the softmax row kernel, which handles them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.cost import Cost, same_shape_infer
from cvprimer.core.function import Function
from cvprimer.core.geometry import Global, along
from cvprimer.core.saves import OUTPUT
from cvprimer.core.settings import settings
from cvprimer.core.tensor import Tensor
from cvprimer.functional.activation.registry import activation


def _axis(op: str, x: np.ndarray, dim: Any) -> int:
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {dim!r} (input shape {x.shape})")
    nd = max(x.ndim, 1)
    if not -nd <= dim < nd:
        raise ValueError(f"{op}: dim {dim} is out of range for input of shape {x.shape}")
    return int(dim) % nd


def _shift(x: np.ndarray, axis: int) -> np.ndarray:
    """``x - max`` along ``axis`` (a new array). A group whose max is -inf (all -inf), +inf or NaN
    is shifted by 0 so that no ``inf - inf`` appears; an empty axis gives an empty result (as PyTorch)."""
    if x.ndim == 0:
        x = x.reshape(1)
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)  # initial: an empty axis has no maximum
    if not np.isfinite(m).all():
        m = np.where(np.isfinite(m), m, 0)
    return np.subtract(x, m)


def _shifted(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """``z = x - max`` along ``axis`` (see :func:`_shift`) and ``sum(exp(z))`` (keepdims)."""
    z = _shift(x, axis)
    return z, np.sum(np.exp(z), axis=axis, keepdims=True)


def softmax_array(x: np.ndarray, axis: int, zero_empty: bool = False) -> np.ndarray:
    """NumPy softmax along ``axis`` (non-negative) of a >= 1-d array; with ``zero_empty`` a
    group that is entirely -inf gives zeros instead of NaN. One new array, three passes over it
    after the max (shift, exp in place, divide in place)."""
    y = _shift(x, axis)
    np.exp(y, out=y)
    s = np.sum(y, axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        y /= s
    if zero_empty:
        y[np.broadcast_to(~(s > 0), y.shape)] = 0  # s = 0 (all -inf) or NaN
    return y


def _compiled_softmax(x: np.ndarray, axis: int, zero_empty: bool) -> np.ndarray | None:
    """The compiled kernels' softmax (None where they do not apply: the NumPy path; also below
    ``settings.numba_min_elements`` values, where NumPy is as fast, and for empty arrays)."""
    if not settings.numba or x.ndim == 0 or x.size == 0 or x.size < settings.numba_min_elements:
        return None
    from cvprimer.functional.activation import _kernels

    if axis == x.ndim - 1:
        y = _kernels.softmax_rows(x.reshape(-1, x.shape[-1]), zero_empty)
        return None if y is None else y.reshape(x.shape)
    return None if zero_empty else _kernels.softmax_axis(x, axis, log=False)


def _compiled_grad(y: np.ndarray, g: np.ndarray, axis: int, log: bool) -> np.ndarray | None:
    if not settings.numba or y.ndim == 0 or y.size == 0 or y.size < settings.numba_min_elements:
        return None
    from cvprimer.functional.activation import _kernels

    return _kernels.softmax_axis_grad(y, g, axis, log)


class SoftmaxFn(Function):
    r"""Softmax along one axis.

    Notes
    -----
    **Forward**: with m = max_j x_j (per group along ``dim``),
    y_i = exp(x_i - m) / sum_j exp(x_j - m). The shift by m changes nothing mathematically
    and keeps exp() from overflowing.

    **Backward**: the Jacobian is dy_i/dx_j = y_i (delta_ij - y_j), so
    gx_i = sum_j gy_j y_j (delta_ji - y_i) = y_i (gy_i - sum_j gy_j y_j). Shapes: x, y, gy,
    gx all have the input's shape.

    ``zero_empty=True`` (used by attention) makes a group whose entries are all -inf
    give y = 0 (and gx = 0) instead of NaN.
    """

    saves_for_backward = OUTPUT
    infer = staticmethod(same_shape_infer)

    @staticmethod
    def geometry(call):
        """Pointwise over channels; over H or W every output reads the whole axis (global)."""
        return along(call.x, call.arg(1, "dim", -1), Global())

    @staticmethod
    def forward(ctx, x, dim=-1, zero_empty=False):
        shape = x.shape
        axis = _axis("softmax", x, dim)
        y = _compiled_softmax(x, axis, zero_empty)
        if y is None:
            y = softmax_array(x if x.ndim else x.reshape(1), axis, zero_empty)
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y.reshape(shape)

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        g = gy.reshape(y.shape)
        gx = _compiled_grad(y, g, ctx.axis, log=False)
        if gx is not None:
            return gx.reshape(gy.shape)
        gx = g * y  # then gx = y g - y sum(g y) = y (g - sum(g y)), in place
        d = np.sum(gx, axis=ctx.axis, keepdims=True)
        gx -= y * d
        return gx.reshape(gy.shape)

    @staticmethod
    def cost(call):
        """The analyzer's protocol: :func:`cost` of the input's shape."""
        return cost(np.shape(call.x), itemsize=call.itemsize)


class LogSoftmaxFn(Function):
    r"""Log-softmax along one axis.

    Notes
    -----
    **Forward**: y_i = x_i - m - log sum_j exp(x_j - m) (m the group maximum), which is
    log softmax(x)_i without ever forming a softmax that could underflow to 0.

    **Backward**: dy_i/dx_j = delta_ij - softmax(x)_j, so
    gx_j = gy_j - softmax(x)_j sum_i gy_i = gy_j - exp(y_j) sum_i gy_i.
    """

    saves_for_backward = OUTPUT
    infer = staticmethod(same_shape_infer)
    cost = staticmethod(SoftmaxFn.cost)  # the same formula

    @staticmethod
    def geometry(call):
        """Pointwise over channels; over H or W every output reads the whole axis (global)."""
        return along(call.x, call.arg(1, "dim", -1), Global())

    @staticmethod
    def forward(ctx, x, dim=-1):
        shape = x.shape
        axis = _axis("log_softmax", x, dim)
        y = _kernels_log_softmax(x, axis)
        if y is None:
            y, s = _shifted(x, axis)
            with np.errstate(divide="ignore", invalid="ignore"):
                y -= np.log(s)
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y.reshape(shape)

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        g = gy.reshape(y.shape)
        gx = _compiled_grad(y, g, ctx.axis, log=True)
        if gx is None:
            gx = g - np.exp(y) * np.sum(g, axis=ctx.axis, keepdims=True)
        return gx.reshape(gy.shape)


def _kernels_log_softmax(x: np.ndarray, axis: int) -> np.ndarray | None:
    if not settings.numba or x.ndim == 0 or x.size == 0 or x.size < settings.numba_min_elements:
        return None
    from cvprimer.functional.activation import _kernels

    return _kernels.softmax_axis(x, axis, log=True)


def _check(op: str, x: Any, dtype: Any = None) -> Tensor:
    """``x`` converted to ``dtype`` when one is given (PyTorch's ``dtype=``: the input is cast before the
    operation, so it runs and returns in that dtype; the cast is differentiable, its backward casts the
    gradient back to ``x``'s dtype)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a cvprimer Tensor, got {type(x).__name__}")
    if dtype is None:
        return x
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{op}: dtype must be a NumPy floating dtype such as np.float64, got {dtype!r}") from None
    if dt.kind != "f":
        raise TypeError(f"{op}: dtype must be a floating dtype (float16/32/64), got {dt.name}")
    return x.astype(dt)


@activation(layer="Softmax", layer_options=("dim",), pointwise=False)
def softmax(x: Tensor, dim: int = -1, dtype: Any = None) -> Tensor:
    r"""Softmax along ``dim``: exp(x_i) / sum_j exp(x_j), computed stably.

    Parameters
    ----------
    x : Tensor
        Any shape, floating dtype.
    dim : int
        The axis normalized to sum 1 (default the last).
    dtype : NumPy floating dtype, optional
        As PyTorch's ``dtype=``: ``x`` is cast to it first, the softmax is computed and returned in it
        (e.g. float64 for a float32 input near overflow); the gradient comes back in ``x``'s dtype.

    Returns
    -------
    Tensor of the same shape, in ``dtype`` (default ``x``'s), each slice along ``dim`` summing to 1.

    Notes
    -----
    See :class:`SoftmaxFn` for the forward/backward math. A slice that is entirely -inf
    gives NaN, as in PyTorch.

    Example
    -------
    >>> import cvprimer as cp
    >>> softmax(cp.tensor([[1.0, 2.0, 3.0]])).sum(dim=-1).item()  # doctest: +ELLIPSIS
    1.0...
    """
    return SoftmaxFn.apply(_check("softmax", x, dtype), dim)


@activation(layer="LogSoftmax", layer_options=("dim",), pointwise=False)
def log_softmax(x: Tensor, dim: int = -1, dtype: Any = None) -> Tensor:
    r"""Log-softmax along ``dim``: x_i - log sum_j exp(x_j), stable for large |x|.

    Parameters
    ----------
    x : Tensor
        Any shape, floating dtype.
    dim : int
        The axis (default the last).
    dtype : NumPy floating dtype, optional
        Cast ``x`` to it first and compute and return in it, as PyTorch's ``dtype=``.

    Returns
    -------
    Tensor of the same shape, in ``dtype`` (default ``x``'s).

    Notes
    -----
    See :class:`LogSoftmaxFn`. Prefer this over ``log(softmax(x))``: the latter gives
    -inf (and NaN gradients) once a probability underflows.

    Example
    -------
    >>> import cvprimer as cp
    >>> round(log_softmax(cp.tensor([0.0, 0.0])).data[0].item(), 4)
    -0.6931
    """
    return LogSoftmaxFn.apply(_check("log_softmax", x, dtype), dim)


def cost(shape: tuple[int, ...], itemsize: int = 4) -> Cost:
    """Counts for softmax/log_softmax on an input of ``shape``: no MACs; about five
    FLOPs per element (max, subtract, exp, sum, divide or log); one read and one write."""
    n = int(np.prod(shape))
    return Cost(0, 5 * n, 2 * n * itemsize)
