r"""Tensor's methods and operators, declared by inheritance: ``class Tensor(_ArithMixin, _ReduceMixin, ...)``.

Each method delegates to the public function that does the work (``x.sum(1)`` is ``cp.sum(x, 1)``,
``x.add_(y)`` is :func:`cvprimer.core.inplace.add_`), so the functions stay the one place where an op's
arguments are read, and a type checker sees every method with its signature.

The modules holding those functions (``api``, ``inplace``, ``device``, ``tensor_hooks``) import ``Tensor``, so
this module cannot import them before ``Tensor`` exists: the methods reach them through the ``cvprimer.core``
package at call time (two attribute lookups, no import statement per call). ``self`` is annotated ``Any``: a
mixin is only ever a base of ``Tensor``, and a checker refuses a subclass as a method's self type.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

import cvprimer.core as _core  # the package (partly initialised here): its submodules are read at call time

if TYPE_CHECKING:
    from cvprimer.core.device import device as Device
    from cvprimer.core.tensor import Tensor
    from cvprimer.core.tensor_hooks import RemovableHandle


def _compare(op: Any, a: Any, other: Any) -> Tensor:
    """``a <op> other`` elementwise on the arrays, as a bool tensor outside the graph."""
    T = _core.Tensor  # noqa: N806
    return T._wrap(np.asarray(op(a.data, other.data if isinstance(other, T) else other)))


class _ArithMixin:
    """Elementwise arithmetic, the operators included (``+ - * / // ** @``, unary ``-`` and ``abs``)."""

    __slots__ = ()

    def add(self: Any, other: Any, *, alpha: Any = 1) -> Tensor:
        return _core.api.add(self, other, alpha=alpha)

    def sub(self: Any, other: Any, *, alpha: Any = 1) -> Tensor:
        return _core.api.sub(self, other, alpha=alpha)

    def mul(self: Any, other: Any) -> Tensor:
        return _core.api.mul(self, other)

    def div(self: Any, other: Any, *, rounding_mode: str | None = None) -> Tensor:
        return _core.api.div(self, other, rounding_mode=rounding_mode)

    def pow(self: Any, exponent: Any) -> Tensor:  # noqa: A003 - PyTorch's name
        return _core.api.pow(self, exponent)

    def matmul(self: Any, other: Any) -> Tensor:
        return _core.api.matmul(self, other)

    def maximum(self: Any, other: Any) -> Tensor:
        return _core.api.maximum(self, other)

    def minimum(self: Any, other: Any) -> Tensor:
        return _core.api.minimum(self, other)

    def __add__(self: Any, other: Any) -> Tensor:
        return _core.api.add(self, other)

    def __radd__(self: Any, other: Any) -> Tensor:
        return _core.api.add(other, self)

    def __sub__(self: Any, other: Any) -> Tensor:
        return _core.api.sub(self, other)

    def __rsub__(self: Any, other: Any) -> Tensor:
        return _core.api.sub(other, self)

    def __mul__(self: Any, other: Any) -> Tensor:
        return _core.api.mul(self, other)

    def __rmul__(self: Any, other: Any) -> Tensor:
        return _core.api.mul(other, self)

    def __truediv__(self: Any, other: Any) -> Tensor:
        return _core.api.div(self, other)

    def __rtruediv__(self: Any, other: Any) -> Tensor:
        return _core.api.div(other, self)

    def __floordiv__(self: Any, other: Any) -> Tensor:
        """``self // other``: PyTorch's floor division."""
        return _core.api.div(self, other, rounding_mode="floor")

    def __rfloordiv__(self: Any, other: Any) -> Tensor:
        return _core.api.div(other, self, rounding_mode="floor")

    def __pow__(self: Any, other: Any) -> Tensor:
        return _core.api.pow(self, other)

    def __rpow__(self: Any, other: Any) -> Tensor:
        return _core.api.pow(other, self)

    def __matmul__(self: Any, other: Any) -> Tensor:
        return _core.api.matmul(self, other)

    def __rmatmul__(self: Any, other: Any) -> Tensor:
        return _core.api.matmul(other, self)

    def __neg__(self: Any) -> Tensor:
        return _core.api.neg(self)

    def __abs__(self: Any) -> Tensor:
        return _core.api.abs(self)


class _UnaryMixin:
    """Elementwise functions of one tensor."""

    __slots__ = ()

    def exp(self: Any) -> Tensor:
        return _core.api.exp(self)

    def log(self: Any) -> Tensor:
        return _core.api.log(self)

    def sqrt(self: Any) -> Tensor:
        return _core.api.sqrt(self)

    def abs(self: Any) -> Tensor:  # noqa: A003
        return _core.api.abs(self)

    def sign(self: Any) -> Tensor:
        return _core.api.sign(self)

    def clamp(self: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        return _core.api.clamp(self, min, max)

    def clip(self: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        return _core.api.clamp(self, min, max)

    def relu(self: Any) -> Tensor:
        return _core.api.relu(self)

    def sigmoid(self: Any) -> Tensor:
        return _core.api.sigmoid(self)

    def tanh(self: Any) -> Tensor:
        return _core.api.tanh(self)


class _CompareMixin:
    """``< <= > >=`` and ``eq``/``ne``: bool tensors outside the graph (``==`` and ``!=`` are on Tensor)."""

    __slots__ = ()

    def __lt__(self, other: Any) -> Tensor:
        return _compare(np.less, self, other)

    def __le__(self, other: Any) -> Tensor:
        return _compare(np.less_equal, self, other)

    def __gt__(self, other: Any) -> Tensor:
        return _compare(np.greater, self, other)

    def __ge__(self, other: Any) -> Tensor:
        return _compare(np.greater_equal, self, other)

    def eq(self, other: Any) -> Tensor:
        return _compare(np.equal, self, other)

    def ne(self, other: Any) -> Tensor:
        return _compare(np.not_equal, self, other)


class _ReduceMixin:
    """Reductions (``dim``/``keepdim``, with NumPy's ``axis``/``keepdims`` aliases where the function takes them)."""

    __slots__ = ()

    def sum(self: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None, out: Any = None,  # noqa: A003
            axis: Any = None, keepdims: bool = False) -> Tensor:
        return _core.api.sum(self, dim, keepdim, dtype=dtype, out=out, axis=axis, keepdims=keepdims)

    def mean(self: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None, out: Any = None,
             axis: Any = None, keepdims: bool = False) -> Tensor:
        return _core.api.mean(self, dim, keepdim, dtype=dtype, out=out, axis=axis, keepdims=keepdims)

    def max(self: Any, dim: Any = None, keepdim: bool = False, *, axis: Any = None,  # noqa: A003
            keepdims: bool = False, other: Any = None) -> Any:
        """A 0-d tensor, a ``MinMax`` (values, indices) along ``dim``, or the elementwise maximum (see ``cp.max``)."""
        return _core.api.max(self, dim, keepdim, axis=axis, keepdims=keepdims, other=other)

    def min(self: Any, dim: Any = None, keepdim: bool = False, *, axis: Any = None,  # noqa: A003
            keepdims: bool = False, other: Any = None) -> Any:
        return _core.api.min(self, dim, keepdim, axis=axis, keepdims=keepdims, other=other)

    def amax(self: Any, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
             keepdims: bool = False) -> Tensor:
        return _core.api.amax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def amin(self: Any, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
             keepdims: bool = False) -> Tensor:
        return _core.api.amin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmax(self: Any, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return _core.api.argmax(self, dim, keepdim)

    def argmin(self: Any, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return _core.api.argmin(self, dim, keepdim)

    def var(self: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: float | None = None) -> Tensor:
        return _core.api.var(self, dim, unbiased, keepdim, correction=correction)

    def std(self: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: float | None = None) -> Tensor:
        return _core.api.std(self, dim, unbiased, keepdim, correction=correction)

    def logsumexp(self: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _core.api.logsumexp(self, dim, keepdim)


class _ShapeMixin:
    """Shape and view methods, indexing, casts and copies."""

    __slots__ = ()

    def reshape(self: Any, *shape: Any) -> Tensor:
        return _core.api.reshape(self, *shape)

    def view(self: Any, *shape: Any) -> Tensor:
        return _core.api.reshape(self, *shape)

    def permute(self: Any, *dims: Any) -> Tensor:
        return _core.api.permute(self, *dims)

    def transpose(self: Any, dim0: int = -2, dim1: int = -1) -> Tensor:
        return _core.api.transpose(self, dim0, dim1)

    def t(self: Any) -> Tensor:
        return _core.api.t(self)

    @property
    def T(self: Any) -> Tensor:  # noqa: N802 - PyTorch's name
        """Every axis reversed."""
        return _core.api.permute(self, *reversed(range(self.ndim)))

    def flatten(self: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return _core.api.flatten(self, start_dim, end_dim)

    def squeeze(self: Any, dim: Any = None) -> Tensor:
        return _core.api.squeeze(self, dim)

    def unsqueeze(self: Any, dim: int) -> Tensor:
        return _core.api.unsqueeze(self, dim)

    def expand(self: Any, *sizes: Any) -> Tensor:
        return _core.api.expand(self, *sizes)

    def broadcast_to(self: Any, shape: Sequence[int]) -> Tensor:
        return _core.api.broadcast_to(self, shape)

    def split(self: Any, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
        return _core.api.split(self, split_size_or_sections, dim)

    def chunk(self: Any, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        return _core.api.chunk(self, chunks, dim)

    def __getitem__(self: Any, idx: Any) -> Tensor:
        return _core.api.getitem(self, idx)

    def astype(self: Any, dtype: Any) -> Tensor:
        return _core.api.astype(self, dtype)

    def clone(self: Any) -> Tensor:
        return _core.api.clone(self)


class _InplaceMixin:
    """In-place ops (``add_``, ``zero_``, ...): see :mod:`cvprimer.core.inplace` for when they record."""

    __slots__ = ()

    def add_(self: Any, other: Any, *, alpha: Any = 1) -> Tensor:
        return _core.inplace.add_(self, other, alpha=alpha)

    def sub_(self: Any, other: Any, *, alpha: Any = 1) -> Tensor:
        return _core.inplace.sub_(self, other, alpha=alpha)

    def mul_(self: Any, other: Any) -> Tensor:
        return _core.inplace.mul_(self, other)

    def div_(self: Any, other: Any, *, rounding_mode: str | None = None) -> Tensor:
        return _core.inplace.div_(self, other, rounding_mode=rounding_mode)

    def pow_(self: Any, exponent: Any) -> Tensor:
        return _core.inplace.pow_(self, exponent)

    def clamp_(self: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        return _core.inplace.clamp_(self, min, max)

    def clip_(self: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        return _core.inplace.clamp_(self, min, max)

    def neg_(self: Any) -> Tensor:
        return _core.inplace.neg_(self)

    def abs_(self: Any) -> Tensor:
        return _core.inplace.abs_(self)

    def exp_(self: Any) -> Tensor:
        return _core.inplace.exp_(self)

    def log_(self: Any) -> Tensor:
        return _core.inplace.log_(self)

    def sqrt_(self: Any) -> Tensor:
        return _core.inplace.sqrt_(self)

    def relu_(self: Any) -> Tensor:
        return _core.inplace.relu_(self)

    def sigmoid_(self: Any) -> Tensor:
        return _core.inplace.sigmoid_(self)

    def tanh_(self: Any) -> Tensor:
        return _core.inplace.tanh_(self)

    def zero_(self: Any) -> Tensor:
        return _core.inplace.zero_(self)

    def fill_(self: Any, value: Any) -> Tensor:
        return _core.inplace.fill_(self, value)

    def copy_(self: Any, src: Any, non_blocking: bool = False) -> Tensor:
        return _core.inplace.copy_(self, src, non_blocking)


class _DeviceMixin:
    """Device and dtype methods (PyTorch's ``to``, ``cpu``, ``float()``, ``new_zeros``, ...); see
    :mod:`cvprimer.core.device`. Annotations spell ``builtins.int`` etc.: ``int``, ``float``, ``bool`` are
    methods here."""

    __slots__ = ()

    @property
    def device(self) -> Device:
        """Always ``device(type='cpu')``."""
        return _core.device.CPU

    @property
    def is_cuda(self) -> builtins.bool:
        """Always False: cvprimer has no CUDA device."""
        return False

    def to(self: Any, *args: Any, **kwargs: Any) -> Tensor:
        return _core.device.to(self, *args, **kwargs)

    def cpu(self: Any) -> Tensor:
        return _core.device.cpu(self)

    def cuda(self: Any, *args: Any, **kwargs: Any) -> Tensor:
        return _core.device.cuda(self, *args, **kwargs)

    def type_as(self: Any, other: Tensor) -> Tensor:
        return _core.device.type_as(self, other)

    def is_floating_point(self: Any) -> builtins.bool:
        return _core.device.is_floating_point(self)

    def element_size(self: Any) -> builtins.int:
        return _core.device.element_size(self)

    def nelement(self: Any) -> builtins.int:
        return builtins.int(self.data.size)

    def new_tensor(self: Any, data: Any, dtype: Any = None, device: Any = None,
                   requires_grad: builtins.bool = False) -> Tensor:
        return _core.device.new_tensor(self, data, dtype, device, requires_grad)

    def new_full(self: Any, size: Any, fill_value: Any, dtype: Any = None, device: Any = None,
                 requires_grad: builtins.bool = False) -> Tensor:
        return _core.device.new_full(self, size, fill_value, dtype, device, requires_grad)

    def new_zeros(self: Any, *size: Any, dtype: Any = None, device: Any = None,
                  requires_grad: builtins.bool = False) -> Tensor:
        return _core.device.new_zeros(self, *size, dtype=dtype, device=device, requires_grad=requires_grad)

    def new_ones(self: Any, *size: Any, dtype: Any = None, device: Any = None,
                 requires_grad: builtins.bool = False) -> Tensor:
        return _core.device.new_ones(self, *size, dtype=dtype, device=device, requires_grad=requires_grad)

    def new_empty(self: Any, *size: Any, dtype: Any = None, device: Any = None,
                  requires_grad: builtins.bool = False) -> Tensor:
        return _core.device.new_empty(self, *size, dtype=dtype, device=device, requires_grad=requires_grad)

    # dtype casts, PyTorch's names: self.to(dtype), differentiable for floating dtypes, self if already that dtype
    def float(self: Any) -> Tensor:  # noqa: A003
        return _core.api.astype(self, _core.device.float32)

    def double(self: Any) -> Tensor:
        return _core.api.astype(self, _core.device.float64)

    def half(self: Any) -> Tensor:
        return _core.api.astype(self, _core.device.float16)

    def long(self: Any) -> Tensor:
        return _core.api.astype(self, _core.device.int64)

    def int(self: Any) -> Tensor:  # noqa: A003
        return _core.api.astype(self, _core.device.int32)

    def short(self: Any) -> Tensor:
        return _core.api.astype(self, _core.device.int16)

    def bool(self: Any) -> Tensor:  # noqa: A003
        return _core.api.astype(self, _core.device.bool)

    def byte(self: Any) -> Tensor:
        return _core.api.astype(self, _core.device.uint8)

    def char(self: Any) -> Tensor:
        return _core.api.astype(self, _core.device.int8)


class _HookMixin:
    """Gradient hooks (see :mod:`cvprimer.core.tensor_hooks`)."""

    __slots__ = ()

    def register_hook(self: Any, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        return _core.tensor_hooks.register_hook(self, hook)

    def register_post_accumulate_grad_hook(self: Any, hook: Callable[[Tensor], None]) -> RemovableHandle:
        return _core.tensor_hooks.register_post_accumulate_grad_hook(self, hook)

