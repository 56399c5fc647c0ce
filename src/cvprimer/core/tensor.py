r"""``Tensor``: a NumPy array with an optional place in a define-by-run autograd graph.

Every differentiable operation on Tensors calls a :class:`~cvprimer.core.function.Function`;
when any input requires a gradient (and recording is on), the output remembers the node
that made it (``grad_fn``). ``backward()`` walks that graph in reverse topological order
and accumulates gradients into the leaves' ``.grad``.

Dtypes: Python floats become float32 (the default); NumPy arrays keep their dtype, so
float64 works everywhere it is asked for (gradient checks). Python ints become int64 and
bools bool, as in PyTorch.

Version counter (PyTorch's ``_version``): every in-place change of a tensor's values (``__setitem__``, an
optimizer's update, ``load_state_dict``) adds one to it. A node records the version of each Tensor whose data
its backward keeps; backward refuses with a RuntimeError when a version moved since, instead of computing a
silently wrong gradient from the changed values. The counter is a one-element list shared by tensors that share
storage through ``detach()`` and view ops, so writing through any of them is seen.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from cvprimer.core import function as _fn
from cvprimer.core.tensor_methods import (
    _ArithMixin,
    _CompareMixin,
    _DeviceMixin,
    _HookMixin,
    _InplaceMixin,
    _ReduceMixin,
    _ShapeMixin,
    _UnaryMixin,
)

DEFAULT_DTYPE = np.dtype(np.float32)


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    if isinstance(data, Tensor):
        arr = data.data
    elif isinstance(data, np.ndarray):
        arr = data
    else:
        arr = np.asarray(data)
        if dtype is None and arr.dtype == np.float64:
            arr = arr.astype(DEFAULT_DTYPE)
    if dtype is not None:
        arr = arr.astype(np.dtype(dtype), copy=False)
    return arr


class Tensor(_ArithMixin, _UnaryMixin, _CompareMixin, _ReduceMixin, _ShapeMixin, _InplaceMixin, _DeviceMixin,
             _HookMixin):
    """An n-dimensional array that can record the operations applied to it.

    The methods and operators over ops (``x + y``, ``x.sum(1)``, ``x.add_(y)``, ``x.to(cp.float64)``, ...) come
    from the mixins in :mod:`cvprimer.core.tensor_methods`, each delegating to its public function.

    Parameters
    ----------
    data : array-like
        NumPy array (kept, not copied, dtype preserved), nested lists or scalars (floats
        become float32).
    requires_grad : bool
        Record operations so that ``backward`` can fill ``.grad``. Floating dtypes only.
    dtype : optional
        Cast to this dtype.
    """

    __slots__ = ("data", "requires_grad", "grad", "_node", "_out_index", "_retains_grad", "_vc", "_hooks",
                 "__weakref__")
    __array_priority__ = 1000  # make ndarray <op> Tensor defer to Tensor's reflected operator

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data: np.ndarray = _to_array(data, dtype)
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(
                f"Tensor: only floating-point tensors can require gradients, got dtype "
                f"{self.data.dtype} with shape {self.data.shape}"
            )
        self.requires_grad: bool = bool(requires_grad)
        self.grad: Tensor | None = None
        self._node: _fn.Function | None = None
        self._out_index = 0
        self._retains_grad = False
        self._vc: list[int] = [0]  # the version counter (a shared box: see the module docstring)
        self._hooks: tuple[dict[int, Any], dict[int, Any]] | None = None  # a leaf's (grad, post-accumulate)

    @classmethod
    def _wrap(cls, arr: np.ndarray) -> Tensor:
        t = cls.__new__(cls)
        t.data = arr
        t.requires_grad = False
        t.grad = None
        t._node = None
        t._out_index = 0
        t._retains_grad = False
        t._vc = [0]
        t._hooks = None
        return t

    # -- version counter ---------------------------------------------------------------
    @property
    def _version(self) -> int:
        """How many in-place changes this tensor's data has seen (PyTorch's ``Tensor._version``)."""
        return self._vc[0]

    def _bump_version(self) -> None:
        """Record one in-place change of ``data`` (call after writing into ``self.data`` in place)."""
        self._vc[0] += 1

    # -- basic properties ------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def size(self, dim: int | None = None) -> Any:
        """Shape (PyTorch spelling); ``size(dim)`` gives one extent."""
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self) -> int:
        return int(self.data.size)

    def dim(self) -> int:
        return self.data.ndim

    @property
    def grad_fn(self) -> _fn.Function | None:
        """The node that produced this tensor (None for leaves and untracked results)."""
        return self._node

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype != DEFAULT_DTYPE:
            extra += f", dtype={self.data.dtype.name}"
        if self._node is not None:
            extra += f", grad_fn=<{type(self._node).__name__}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __hash__(self) -> int:
        return id(self)

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with more than one value is ambiguous (shape {self.shape}); use "
                ".any() or .all(), or compare tensors by identity with `is`"
            )
        return bool(self.data.reshape(()))

    # ``==`` and ``!=`` are elementwise, as in PyTorch (and NumPy); hashing stays by identity, so Tensors are
    # still dict keys and set members (a dict finds its key by ``is`` before trying ``==``). Code that looks a
    # tensor up in a list (``in``, ``list.index``, ``list.remove``) must compare by identity instead.
    def _compare(self, other: Any, op: Any, name: str) -> Any:
        o: Any
        if isinstance(other, Tensor):
            o = other.data
        elif isinstance(other, (bool, int, float, complex, np.ndarray, np.generic, list, tuple)):
            o = other
        else:  # None, strings, other objects: Python falls back to identity (False for ==), as PyTorch
            return NotImplemented
        try:
            return Tensor._wrap(np.asarray(op(self.data, o)))
        except ValueError as e:
            raise RuntimeError(
                f"Tensor.{name}: shapes {self.shape} and {np.shape(o)} do not broadcast ({e})"
            ) from None

    def all(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """Whether every element (along ``dim``) is nonzero: a bool Tensor, as PyTorch's ``all``."""
        return Tensor._wrap(np.asarray(np.all(self.data, axis=dim, keepdims=keepdim)))

    def any(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """Whether some element (along ``dim``) is nonzero: a bool Tensor, as PyTorch's ``any``."""
        return Tensor._wrap(np.asarray(np.any(self.data, axis=dim, keepdims=keepdim)))

    def __eq__(self, other: Any) -> Any:
        """Elementwise ``self == other`` (broadcasting): a bool Tensor."""
        return self._compare(other, np.equal, "__eq__")

    def __ne__(self, other: Any) -> Any:
        """Elementwise ``self != other`` (broadcasting): a bool Tensor."""
        return self._compare(other, np.not_equal, "__ne__")

    # -- conversion --------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The underlying array (shared memory). Refuses on a tensor that requires grad,
        like PyTorch: call ``detach()`` first."""
        if self.requires_grad:
            raise RuntimeError("Tensor.numpy(): tensor requires grad; use tensor.detach().numpy()")
        return self.data

    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise ValueError(f"Tensor.item(): only one-element tensors, got shape {self.shape}")
        return self.data.reshape(()).item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A new leaf sharing the same data (and version counter, as in PyTorch), outside the graph."""
        t = Tensor._wrap(self.data)
        t._vc = self._vc
        return t

    def requires_grad_(self, flag: bool = True) -> Tensor:
        if flag and self.data.dtype.kind not in "fc":
            raise TypeError(f"requires_grad_: dtype {self.dtype} cannot require gradients")
        if self._node is not None and not flag:
            raise RuntimeError("requires_grad_(False) is only valid on leaf tensors; use detach()")
        self.requires_grad = bool(flag)
        return self

    def retain_grad(self) -> Tensor:
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        self._retains_grad = True
        return self

    def contiguous(self) -> Tensor:
        return self

    # -- autograd ----------------------------------------------------------------------
    def _accumulate(self, g: np.ndarray) -> None:
        if self.grad is None:
            # own the array: upstream gradients may be shared between several inputs
            self.grad = Tensor._wrap(np.array(g, dtype=self.data.dtype, copy=True))
        else:
            self.grad.data += g

    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``grad`` is the upstream gradient (same shape as ``self``); it may be omitted only
        for a one-element tensor, where it defaults to 1.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require grad and has no grad_fn "
                "(was it computed under no_grad, or from inputs without requires_grad?)"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward(): grad can be implicitly created only for scalar outputs; got "
                    f"shape {self.shape}. Pass grad= with the same shape, or reduce first."
                )
            g = np.ones(self.shape, dtype=self.dtype)
        else:
            g = _to_array(grad, self.dtype)
            if g.shape != self.shape:
                raise ValueError(
                    f"backward(): grad has shape {g.shape}, expected the output's shape {self.shape}"
                )
        _fn.run_backward([self], [g], retain_graph=retain_graph)

    def zero_grad(self) -> None:
        self.grad = None

    # -- in-place data updates (only outside the graph) --------------------------------
    def _inplace_operator(self, op: str, ufunc: Any, other: Any) -> Any:
        r"""``w -= x`` and the other augmented assignments on a tensor.

        * A leaf that requires grad while grad mode is on: refused at once with PyTorch's message (the rebinding
          ``w = w - x`` would silently turn the parameter into a non-leaf without ``.grad``, which failed a step
          later with a puzzling error).
        * The same leaf under ``no_grad()`` (the hand-written update ``w -= lr * w.grad``): changed in place,
          ``w.data <- ufunc(w.data, x)``, keeping its shape and dtype, and its version counter bumped, as in
          PyTorch (a rebinding would leave the parameter unchanged and the new ``w`` without ``requires_grad``).
        * Anything else (and ``@=``): ``NotImplemented``, so Python computes ``t = t op x`` out of place, as
          before.
        """
        if not (self.requires_grad and self.is_leaf):
            return NotImplemented
        if _fn.is_grad_enabled():
            raise RuntimeError(
                f"a leaf Variable that requires grad is being used in an in-place operation. (Tensor.{op} on a "
                f"leaf of shape {self.shape}: update parameters under `with cp.no_grad():`, or write w = w - ...)"
            )
        if ufunc is None:  # w @= m under no_grad: out of place, as before
            return NotImplemented
        x = other.data if isinstance(other, Tensor) else np.asarray(other)
        try:
            ufunc(self.data, x, out=self.data, casting="same_kind")
        except (ValueError, TypeError) as e:  # numpy's broadcasting/casting errors, restated
            raise ValueError(f"Tensor.{op}: cannot update a tensor of shape {self.shape} ({self.dtype}) in place "
                             f"with a value of shape {x.shape} ({x.dtype}): the result must keep the tensor's "
                             f"shape and dtype ({e})") from None
        self._bump_version()
        return self

    def __iadd__(self, other: Any) -> Any:
        return self._inplace_operator("__iadd__", np.add, other)

    def __isub__(self, other: Any) -> Any:
        return self._inplace_operator("__isub__", np.subtract, other)

    def __imul__(self, other: Any) -> Any:
        return self._inplace_operator("__imul__", np.multiply, other)

    def __itruediv__(self, other: Any) -> Any:
        return self._inplace_operator("__itruediv__", np.true_divide, other)

    def __ipow__(self, other: Any) -> Any:
        return self._inplace_operator("__ipow__", np.power, other)

    def __imatmul__(self, other: Any) -> Any:
        return self._inplace_operator("__imatmul__", None, other)

    def __setitem__(self, idx: Any, value: Any) -> None:
        """In-place assignment ``t[idx] = value`` (outside the graph); bumps the version counter, so a
        backward that needs the old values raises instead of using the new ones."""
        if self.requires_grad and _fn.is_grad_enabled():
            raise RuntimeError(
                "Tensor.__setitem__: in-place assignment to a tensor that requires grad is not "
                "supported (it would corrupt saved values); use cp.where or do it under no_grad()"
            )
        if isinstance(idx, Tensor):
            idx = idx.data
        self.data[idx] = value.data if isinstance(value, Tensor) else value
        self._vc[0] += 1


def _check_device(where: str, device: Any) -> None:
    if device is not None:
        from cvprimer.core.device import check_device

        check_device(where, device)


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False, *, device: Any = None,
           pin_memory: bool = False) -> Tensor:
    """Make a tensor from array-like data (always copies, like ``torch.tensor``). ``device``: the CPU only;
    ``pin_memory`` is accepted and ignored."""
    _check_device("tensor", device)
    return Tensor(np.array(_to_array(data, dtype), copy=True), requires_grad=requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Wrap without copying when possible (``device``: the CPU only)."""
    _check_device("as_tensor", device)
    if isinstance(data, Tensor) and dtype is None:
        return data
    return Tensor(data, dtype=dtype)


def is_tensor(x: Any) -> bool:
    return isinstance(x, Tensor)


def _shape_arg(shape: Sequence[Any]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)
