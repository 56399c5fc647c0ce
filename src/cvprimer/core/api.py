"""Public functions over the primitive ops; Tensor's methods and operators delegate to them
(:mod:`cvprimer.core.tensor_methods`).

Names and arguments follow PyTorch (``dim``, ``keepdim``); NumPy's ``axis``/``keepdims``
are accepted as aliases in the reductions.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from cvprimer.core.ops.arith import (
    AddFn,
    CastFn,
    CloneFn,
    DivFn,
    DivRoundFn,
    MaximumFn,
    MinimumFn,
    MulFn,
    PowFn,
    SubFn,
    WhereFn,
)
from cvprimer.core.ops.index import getitem
from cvprimer.core.ops.linalg import MatMulFn
from cvprimer.core.ops.reduce import (
    LogSumExpFn,
    MaxFn,
    MeanFn,
    MinFn,
    StdFn,
    SumFn,
    VarFn,
    arg_extreme,
    normalize_dims,
)
from cvprimer.core.ops.shape import (
    ConcatFn,
    ExpandFn,
    PadFn,
    PermuteFn,
    ReshapeFn,
    SplitFn,
    StackFn,
    split_sizes,
)
from cvprimer.core.ops.unary import (
    AbsFn,
    ClampFn,
    ExpFn,
    LogFn,
    NegFn,
    ReLUFn,
    SigmoidFn,
    SignFn,
    SqrtFn,
    TanhFn,
)
from cvprimer.core.tensor import DEFAULT_DTYPE, Tensor, _shape_arg

Scalar = int | float


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _dim(dim: Any, axis: Any) -> Any:
    return axis if dim is None else dim


# -- elementwise -----------------------------------------------------------------------
def _scalars(a: Any, b: Any, floating: bool = False) -> tuple[Any, Any]:
    """Two Python numbers become a 0-d tensor and a number, so the result has PyTorch's dtype (a float
    the default float32, ints int64; ``floating``: true division, float32 for ints too) instead of
    NumPy's float64; anything else passes unchanged."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        from cvprimer.core.ops.arith import result_type

        dt = result_type(a, b)
        return Tensor(np.asarray(a, dtype=DEFAULT_DTYPE if floating and dt.kind != "f" else dt)), b
    return a, b


def _alpha(name: str, a: Any, b: Any, alpha: Any) -> Any:
    """``alpha * b`` for add/sub's ``alpha`` (b itself when alpha is 1); a float alpha with two integer
    operands is refused, as PyTorch."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: alpha must be a real number, got {alpha!r}")
    if isinstance(alpha, (float, np.floating)) and all(
            np.asarray(o.data if isinstance(o, Tensor) else o).dtype.kind in "biu" for o in (a, b)):
        raise TypeError(f"{name}: alpha={alpha!r} is a float but both operands are integers (as PyTorch); "
                        "give an int alpha or a floating operand")
    if alpha == 1:
        return b
    return mul(b, float(alpha) if isinstance(alpha, np.floating) else alpha) if isinstance(b, Tensor) else b * alpha


def add(a: Any, b: Any, *, alpha: Any = 1) -> Tensor:
    """a + alpha b with broadcasting (two Python numbers: a 0-d tensor, float32 for floats, as PyTorch).
    Composite when alpha != 1 (gb = alpha gy through the multiply)."""
    return AddFn.apply(*_scalars(a, _alpha("add", a, b, alpha)))


def sub(a: Any, b: Any, *, alpha: Any = 1) -> Tensor:
    """a - alpha b with broadcasting."""
    return SubFn.apply(*_scalars(a, _alpha("sub", a, b, alpha)))


def mul(a: Any, b: Any) -> Tensor:
    """a * b with broadcasting."""
    return MulFn.apply(*_scalars(a, b))


def div(a: Any, b: Any, *, rounding_mode: str | None = None) -> Tensor:
    """a / b with broadcasting (true division: two Python ints give float32, as PyTorch); ``rounding_mode``
    'trunc' or 'floor' rounds the quotient (integers stay integers; zero gradients, see DivRoundFn)."""
    if rounding_mode is not None:
        return DivRoundFn.apply(*_scalars(a, b), rounding_mode)
    return DivFn.apply(*_scalars(a, b, floating=True))


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001 - PyTorch's name
    """a ** b; ``b`` a tensor (broadcast) or a scalar."""
    return PowFn.apply(a, b)


def neg(x: Tensor) -> Tensor:
    return NegFn.apply(x)


def exp(x: Tensor) -> Tensor:
    return ExpFn.apply(x)


def log(x: Tensor) -> Tensor:
    return LogFn.apply(x)


def sqrt(x: Tensor) -> Tensor:
    return SqrtFn.apply(x)


def abs(x: Tensor) -> Tensor:  # noqa: A001
    return AbsFn.apply(x)


def sign(x: Tensor) -> Tensor:
    return SignFn.apply(x)


def clamp(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    r"""Limit values to [min, max]: y = min(max(x, min), max). Either bound may be None, a Python
    number or a tensor broadcasting with ``x`` (the output has the broadcast shape and PyTorch's
    promoted dtype).

    Backward: the gradient goes to ``x`` where min <= x <= max, to ``min`` where x < min < max, to
    ``max`` where x > max or max < min (PyTorch's routing; where min > max every output is max), to
    nothing where x is NaN."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    return ClampFn.apply(x, min, max)


clip = clamp


def relu(x: Tensor) -> Tensor:
    return ReLUFn.apply(x)


def sigmoid(x: Tensor) -> Tensor:
    return SigmoidFn.apply(x)


def tanh(x: Tensor) -> Tensor:
    return TanhFn.apply(x)


def maximum(a: Any, b: Any) -> Tensor:
    return MaximumFn.apply(a, b)


def minimum(a: Any, b: Any) -> Tensor:
    return MinimumFn.apply(a, b)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """Elementwise ``a`` where ``cond`` is true, else ``b`` (all three broadcast)."""
    c = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
    return WhereFn.apply(c, a, b)


def matmul(a: Any, b: Any) -> Tensor:
    return MatMulFn.apply(a, b)


# -- reductions ------------------------------------------------------------------------
# PyTorch's overloads, parsed in one place: ``dim`` is None, an int or a tuple of ints (checked by
# ``normalize_dims``); max/min also take a tensor as their second argument (the elementwise
# maximum/minimum), var/std a bool there (``unbiased``).
def _reduce_args(dim: Any, keepdim: bool, axis: Any, keepdims: bool) -> tuple[Any, bool]:
    """``(dim, keepdim)`` with NumPy's ``axis``/``keepdims`` aliases folded in."""
    return _dim(dim, axis), bool(keepdim or keepdims)


def _reduce_dtype(name: str, x: Any, dtype: Any, out: Any, integer_to: Any) -> Tensor:
    """PyTorch's ``dtype=`` of sum/mean (the input is cast first) and NumPy's ``out=None`` (``np.sum(t)`` and
    ``np.mean(t)`` call these methods with it); ``integer_to``: the dtype a bool/int input is reduced in."""
    if out is not None:
        raise TypeError(f"{name}: out= is not supported (got {type(out).__name__}); use the returned tensor")
    x = _t(x)
    if dtype is None and x.data.dtype.kind not in "fc":
        dtype = integer_to
    return x if dtype is None else astype(x, dtype)


def sum(x: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None, out: Any = None,  # noqa: A001
        axis: Any = None, keepdims: bool = False) -> Tensor:
    """Sum over ``dim`` (all elements when None). ``dtype``: cast the input first, as PyTorch. Bool and
    integer inputs are summed in int64, as PyTorch (so ``(pred == y).sum()`` counts)."""
    return SumFn.apply(_reduce_dtype("sum", x, dtype, out, np.int64), *_reduce_args(dim, keepdim, axis, keepdims))


def mean(x: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None, out: Any = None,
         axis: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over ``dim`` (all elements when None). ``dtype``: cast the input first, as PyTorch.

    Differences from PyTorch: a bool or integer input is averaged in float32 (PyTorch refuses it), so that
    ``np.mean(pred == y)`` gives the accuracy as with NumPy arrays."""
    return MeanFn.apply(_reduce_dtype("mean", x, dtype, out, DEFAULT_DTYPE), *_reduce_args(dim, keepdim, axis,
                                                                                         keepdims))


class MinMax(NamedTuple):
    """What ``max(input, dim)`` / ``min(input, dim)`` return, as ``torch.return_types.max``: the values and
    the int64 indices where they were found."""

    values: Tensor
    indices: Tensor


def _extreme_along(name: str, fn: Any, x: Tensor, dim: int, keepdim: bool) -> MinMax:
    r"""PyTorch's ``max(input, dim, keepdim)``: the first extreme along one int ``dim`` and its index.

    The values are read from ``x`` at the indices (a gather), so the backward sends each output gradient to
    the one position the index names, :math:`\partial L/\partial x_{\ldots i \ldots} = g` where
    :math:`i` is the index, 0 elsewhere; ties do not share it (that is ``amax``). Shapes: ``x`` (..., n, ...)
    -> values and indices (..., ...) (or (..., 1, ...) with ``keepdim``)."""
    x = _t(x)
    idx = arg_extreme(name, x.data, dim, True, fn)
    if x.ndim == 0:  # one element: it is the extreme, index 0
        return MinMax(ReshapeFn.apply(x, ()), Tensor._wrap(np.zeros((), np.int64)))
    d = normalize_dims(name, dim, x.ndim)[0]
    grid = np.ogrid[tuple(slice(s) for s in idx.shape)]
    key = tuple(idx if a == d else grid[a] for a in range(x.ndim))
    values = getitem(x, key)
    if not keepdim:
        shape = idx.shape[:d] + idx.shape[d + 1 :]
        values, idx = ReshapeFn.apply(values, shape), idx.reshape(shape)
    return MinMax(values, Tensor._wrap(idx))


def _extreme(name: str, fn: Any, pairwise: Any, argfn: Any, x: Tensor, dim: Any, keepdim: bool, axis: Any,
             keepdims: bool, other: Any) -> Any:
    """max/min: of every element, along one int ``dim`` (values and indices), or elementwise against
    ``other`` (a tensor given as ``dim`` or ``other=``)."""
    if isinstance(dim, (Tensor, np.ndarray)):
        dim, other = None, dim
    if other is not None:
        if not isinstance(other, (Tensor, np.ndarray)):
            raise TypeError(f"{name}: other must be a tensor (the elementwise {name}imum), got "
                            f"{type(other).__name__}; a reduction takes dim=int")
        if dim is not None or axis is not None or keepdim or keepdims:
            raise TypeError(f"{name}: the elementwise form {name}(input, other) takes no dim or keepdim")
        return pairwise(x, other)
    dim, keepdim = _reduce_args(dim, keepdim, axis, keepdims)
    if dim is None:
        if keepdim:
            raise TypeError(f"{name}: keepdim needs a dim; {name}(input) reduces every element (use a{name} "
                            f"with keepdim=True to keep the axes)")
        return fn.apply(x, None, False)
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{name}: dim must be an int, got {dim!r} ({name}(input, dim) returns (values, indices) "
                        f"along one dim, as PyTorch's); for several dims use a{name}(input, dim={dim!r})")
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{name}: dim must be an int, got {dim!r} ({type(dim).__name__})")
    return _extreme_along(name, argfn, x, int(dim), keepdim)


def max(x: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None, keepdims: bool = False,  # noqa: A001
        other: Any = None) -> Any:
    r"""PyTorch's three overloads: ``max(input)`` the largest element (a 0-d tensor; the gradient shared
    evenly among tied maxima, as ``torch.max(input)``); ``max(input, dim, keepdim=False)`` a
    :class:`MinMax` ``(values, indices)`` along one int ``dim`` (gradient to the first maximum, the one the
    index names); ``max(input, other)`` with a tensor second argument, the elementwise :func:`maximum` (the
    gradient to the larger input, split in half at ties). ``amax`` reduces several dims, values only, ties
    sharing."""
    return _extreme("max", MaxFn, maximum, np.argmax, x, dim, keepdim, axis, keepdims, other)


def min(x: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None, keepdims: bool = False,  # noqa: A001
        other: Any = None) -> Any:
    """Minimum: of every element, ``(values, indices)`` along one int ``dim``, or the elementwise
    :func:`minimum` when the second argument is a tensor; as :func:`max`."""
    return _extreme("min", MinFn, minimum, np.argmin, x, dim, keepdim, axis, keepdims, other)


def amax(x: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Maximum over ``dim``; ties share the gradient evenly (``torch.amax``)."""
    return MaxFn.apply(x, *_reduce_args(dim, keepdim, axis, keepdims))


def amin(x: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Minimum over ``dim``; ties share the gradient evenly (``torch.amin``)."""
    return MinFn.apply(x, *_reduce_args(dim, keepdim, axis, keepdims))


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the first maximum along ``dim`` (of the flattened tensor when None); int64."""
    return Tensor._wrap(arg_extreme("argmax", _t(x).data, dim, keepdim, np.argmax))


def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the first minimum along ``dim``; int64."""
    return Tensor._wrap(arg_extreme("argmin", _t(x).data, dim, keepdim, np.argmin))


def _var_args(name: str, dim: Any, unbiased: bool | None, correction: float | None) -> tuple[Any, float]:
    """PyTorch's var/std overloads: ``(input, unbiased)`` (a bool second argument), ``(input, dim,
    unbiased)`` and ``(input, dim, *, correction)``; returns ``(dim, correction)``. ``correction`` is any
    real number (``n - correction`` divides), ``unbiased=True`` means 1, ``False`` 0."""
    if isinstance(dim, (bool, np.bool_)):
        if unbiased is not None:
            raise TypeError(f"{name}: unbiased given twice (as the second argument {dim} and as unbiased={unbiased})")
        dim, unbiased = None, bool(dim)
    if correction is not None:
        if unbiased is not None:
            raise TypeError(f"{name}: give unbiased or correction, not both (got unbiased={unbiased}, "
                            f"correction={correction})")
        if isinstance(correction, (bool, np.bool_)) or not isinstance(correction, (int, float, np.integer,
                                                                                   np.floating)):
            raise TypeError(f"{name}: correction must be a real number, got {correction!r}")
        return dim, float(correction)
    return dim, 1.0 if unbiased is None or unbiased else 0.0


def var(x: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Tensor:
    r"""Variance over ``dim``: sum (x - mean)^2 / (n - correction); Bessel's correction 1 by default.

    PyTorch's overloads: ``var(x, False)`` (a bool second argument is ``unbiased``: False divides by
    n), ``var(x, dim, unbiased, keepdim)``, ``var(x, dim, correction=c, keepdim=...)`` with any real
    ``c`` (0.5 divides by n - 0.5). ``n - correction <= 0`` gives inf/NaN, as PyTorch."""
    dim, c = _var_args("var", dim, unbiased, correction)
    return VarFn.apply(x, dim, c, keepdim)


def std(x: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Tensor:
    """Standard deviation; the square root of :func:`var`, with the same overloads."""
    dim, c = _var_args("std", dim, unbiased, correction)
    return StdFn.apply(x, dim, c, keepdim)


def logsumexp(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``dim``, stable for large values."""
    return LogSumExpFn.apply(x, dim, keepdim)


# -- shape -----------------------------------------------------------------------------
def reshape(x: Tensor, *shape: Any) -> Tensor:
    """Same elements in a new shape (one axis may be -1)."""
    return ReshapeFn.apply(x, _shape_arg(shape))


def permute(x: Tensor, *dims: Any) -> Tensor:
    return PermuteFn.apply(x, _shape_arg(dims))


def transpose(x: Tensor, dim0: int = -2, dim1: int = -1) -> Tensor:
    """Swap two axes (the last two by default)."""
    nd = x.ndim
    for d in (dim0, dim1):
        if not -nd <= d < nd:
            raise ValueError(f"transpose: dim {d} out of range for shape {x.shape}")
    perm = list(range(nd))
    perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
    return PermuteFn.apply(x, tuple(perm))


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes start_dim..end_dim (inclusive) into one."""
    nd = builtins.max(x.ndim, 1)
    s, e = start_dim % nd, end_dim % nd
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {x.shape}")
    shp = x.shape if x.ndim else (1,)
    new = shp[:s] + (int(np.prod(shp[s : e + 1])),) + shp[e + 1 :]
    return ReshapeFn.apply(x, new)


def squeeze(x: Tensor, dim: Any = None) -> Tensor:
    """Drop size-1 axes (all of them, or those in ``dim``; a non-1 axis in ``dim`` is kept, as PyTorch)."""
    if dim is None:
        new = tuple(s for s in x.shape if s != 1)
    else:
        dims = {d % builtins.max(x.ndim, 1) for d in ((dim,) if isinstance(dim, int) else dim)}
        new = tuple(s for i, s in enumerate(x.shape) if not (i in dims and s == 1))
    return ReshapeFn.apply(x, new)


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a size-1 axis at ``dim`` (negative counts in the result, as PyTorch)."""
    nd = x.ndim + 1
    if not -nd <= dim < nd:
        raise ValueError(f"unsqueeze: dim {dim} out of range for shape {x.shape}")
    d = dim % nd
    return ReshapeFn.apply(x, x.shape[:d] + (1,) + x.shape[d:])


def expand(x: Tensor, *sizes: Any) -> Tensor:
    """Broadcast to ``sizes``; -1 keeps an axis. A read-only view (no copy)."""
    sizes = _shape_arg(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: {sizes} has fewer axes than the tensor's shape {x.shape}")
    full = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    return ExpandFn.apply(x, full)


def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    return ExpandFn.apply(x, tuple(shape))


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    return ConcatFn.apply(dim, *tensors)


concat = concatenate = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    return StackFn.apply(dim, *tensors)


def split(x: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces along ``dim``: of size ``split_size`` each, or of the listed sizes."""
    if not -x.ndim <= dim < x.ndim:
        raise ValueError(f"split: dim {dim} out of range for shape {x.shape}")
    sizes = split_sizes("split", x.shape[dim], split_size_or_sections)
    out = SplitFn.apply(x, sizes, dim % x.ndim)
    return out if isinstance(out, tuple) else (out,)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """``chunks`` pieces of size ceil(n / chunks) along ``dim`` (the last may be smaller)."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = x.shape[dim]
    return split(x, builtins.max(-(-n // chunks), 1), dim)


def pad(x: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad trailing axes, PyTorch's order: (left, right, top, bottom, front, back)."""
    return PadFn.apply(x, tuple(pad), mode, value)


# -- casts and copies ----------------------------------------------------------------
def astype(x: Tensor, dtype: Any) -> Tensor:
    """Differentiable dtype cast (the gradient is cast back to the source dtype); ``x`` itself when the
    dtype already matches."""
    if np.dtype(dtype) == x.data.dtype:
        return x
    return CastFn.apply(x, np.dtype(dtype))


def t(x: Tensor) -> Tensor:
    """PyTorch's ``t()``: a 2-D tensor transposed; 0-D and 1-D ones returned as they are (as a view)."""
    if x.ndim > 2:
        raise ValueError(f"t: expects a tensor with at most 2 dims, got shape {x.shape}; use transpose or permute")
    return permute(x, *reversed(range(x.ndim))) if x.ndim == 2 else ReshapeFn.apply(x, x.shape)


def clone(x: Tensor) -> Tensor:
    """A differentiable copy (the gradient passes through unchanged)."""
    return CloneFn.apply(x)
