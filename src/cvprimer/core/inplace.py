r"""In-place Tensor methods with PyTorch's rules: ``add_``, ``sub_``, ``mul_``, ``div_``, ``pow_``, ``clamp_``,
``zero_``, ``fill_``, ``copy_``, ``neg_``, ``abs_``, ``exp_``, ``log_``, ``sqrt_``, ``relu_``, ``sigmoid_``,
``tanh_``. Each changes the tensor's values where they are (``t.data`` keeps its identity, so views and
``detach()`` aliases see the change), bumps its version counter and returns the tensor itself.

The rules, as in PyTorch:

* **A leaf that requires grad, with grad mode on**: refused with PyTorch's message ("a leaf Variable that
  requires grad is being used in an in-place operation"): its ``.grad`` would no longer be the gradient of
  anything. Under ``no_grad()`` it is changed (the hand-written optimizer step).
* **Recorded** (grad mode on, and the tensor or an argument requires grad): the op is differentiable. The
  out-of-place op runs on the tensor's values *before* the change (a copy that takes the tensor's place in
  the graph, so an op that saves its input, such as ``mul_``, keeps the old values), the result is written
  into the tensor, and the tensor's ``grad_fn`` becomes the op's node: ``y.mul_(w)`` then behaves as
  ``y = y * w`` for backward. A node recorded *earlier* that saved the tensor's values (``y = x.exp()``
  saves ``y``) sees the version move and refuses at backward, with PyTorch's message, instead of using the
  new values.
* **Not recorded** (under ``no_grad``, or nothing requires grad): changed in place, version bumped.

Dtypes follow PyTorch: the out-of-place result must cast to the tensor's dtype within its kind
(``int_t.add_(0.5)`` raises "result type ... can't be cast to the desired output type ..."); ``copy_`` and
``fill_`` convert like an assignment. The argument broadcasts to the tensor's shape, never the other way
("output with shape [3] doesn't match the broadcast shape [2, 3]").

Differences from PyTorch: a recorded in-place op keeps a copy of the old values (so it saves no memory over
the out-of-place op) and refuses, with a clear message, on a tensor that shares storage with a view
(PyTorch rewrites the view's graph: ``CopySlices``); under ``no_grad`` views are fine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from cvprimer.core import api
from cvprimer.core import function as _fn
from cvprimer.core.tensor import Tensor


def _refuse_leaf(t: Tensor, name: str) -> None:
    if t.requires_grad and t._node is None and _fn.is_grad_enabled():
        raise RuntimeError(
            f"a leaf Variable that requires grad is being used in an in-place operation. (Tensor.{name} on a "
            f"leaf of shape {t.shape}: do it under `with cp.no_grad():`, or on a copy, t.clone().{name}(...))"
        )


def _records(t: Tensor, args: tuple[Any, ...]) -> bool:
    return _fn.is_grad_enabled() and (
        t.requires_grad or any(isinstance(a, Tensor) and a.requires_grad for a in args))


def _check_result(t: Tensor, name: str, r: Tensor) -> None:
    if r.shape != t.shape:
        raise RuntimeError(
            f"Tensor.{name}: output with shape {list(t.shape)} doesn't match the broadcast shape {list(r.shape)}"
        )
    if not np.can_cast(r.dtype, t.dtype, casting="same_kind"):
        raise RuntimeError(
            f"Tensor.{name}: result type {r.dtype} can't be cast to the desired output type {t.dtype} "
            f"(tensor of shape {t.shape}); convert the tensor first, e.g. t = t.float()"
        )


def _write(t: Tensor, name: str, values: np.ndarray, casting: Literal["same_kind", "unsafe"] = "same_kind") -> None:
    try:
        np.copyto(t.data, values, casting=casting)
    except ValueError as e:
        if not t.data.flags.writeable:
            raise RuntimeError(
                f"Tensor.{name}: unsupported operation: this tensor (shape {t.shape}) is a read-only view, where "
                "several elements may refer to a single memory location (an expand()?). Please clone() the "
                "tensor before performing the operation."
            ) from None
        raise RuntimeError(f"Tensor.{name}: cannot write a value of shape {np.shape(values)} into a tensor of "
                           f"shape {t.shape} ({e})") from None


def _inplace(t: Tensor, name: str, compute: Callable[[Tensor], Tensor], args: tuple[Any, ...] = ()) -> Tensor:
    """Run ``compute`` (the out-of-place op) and make its result ``t``'s new value (recorded or not)."""
    _refuse_leaf(t, name)
    if _records(t, args):
        if len(t._vc) > 1:  # Function.apply marks a counter shared by a view and its base
            raise RuntimeError(
                f"Tensor.{name}: an in-place operation on a tensor that shares its storage with a view (shape "
                f"{t.shape}) cannot be recorded for backward here (the view's graph would not follow); write it "
                "out of place (t = t.op(...)), or under no_grad()"
            )
        src = Tensor._wrap(t.data.copy())  # the old values take t's place in the graph
        src.requires_grad, src._node, src._out_index = t.requires_grad, t._node, t._out_index
        r = compute(src)
        _check_result(t, name, r)
        if r.dtype != t.dtype:
            r = api.astype(r, t.dtype)
        _write(t, name, r.data)
        t._node, t._out_index, t.requires_grad = r._node, r._out_index, r.requires_grad
    else:
        with _fn.no_grad():
            r = compute(t)
        _check_result(t, name, r)
        _write(t, name, r.data)
    t._bump_version()
    return t


def inplace_result(t: Any, op: str, compute: Callable[[Tensor], Tensor]) -> Tensor:
    """What ``inplace=True`` of a functional op does (``F.relu(x, inplace=True)``, ``nn.ReLU(inplace=True)``,
    ``F.dropout(x, inplace=True)``): the out-of-place result ``compute(t)`` becomes ``t``'s value where it is,
    under this module's rules (refused on a leaf that requires grad while grad mode is on; recorded for backward;
    an earlier node that saved ``t``'s values refuses at backward), and ``t`` is returned. ``t`` must be a Tensor."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}(inplace=True): the input must be a Tensor to be changed in place, got "
                        f"{type(t).__name__}; pass inplace=False (the default) for a new result")
    return _inplace(t, f"{op}_", compute)


def add_(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """In place: self <- self + alpha * other (``other`` broadcasts to self's shape)."""
    return _inplace(self, "add_", lambda s: api.add(s, other, alpha=alpha), (other,))


def sub_(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """In place: self <- self - alpha * other."""
    return _inplace(self, "sub_", lambda s: api.sub(s, other, alpha=alpha), (other,))


def mul_(self: Tensor, other: Any) -> Tensor:
    """In place: self <- self * other."""
    return _inplace(self, "mul_", lambda s: api.mul(s, other), (other,))


def div_(self: Tensor, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """In place: self <- self / other (true division; ``rounding_mode`` must be None)."""
    if rounding_mode is not None:
        raise ValueError(f"Tensor.div_: rounding_mode={rounding_mode!r} is not supported; only None (true division)")
    return _inplace(self, "div_", lambda s: api.div(s, other), (other,))


def pow_(self: Tensor, exponent: Any) -> Tensor:
    """In place: self <- self ** exponent."""
    return _inplace(self, "pow_", lambda s: api.pow(s, exponent), (exponent,))


def clamp_(self: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 - PyTorch's names
    """In place: self <- min(max(self, min), max) (see :func:`cvprimer.clamp` for the gradient's routing)."""
    return _inplace(self, "clamp_", lambda s: api.clamp(s, min, max), (min, max))


def _unary(name: str, fn: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    def method(self: Tensor) -> Tensor:
        return _inplace(self, name, fn)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In place: self <- {name[:-1]}(self); returns self."
    return method


neg_ = _unary("neg_", api.neg)
abs_ = _unary("abs_", api.abs)
exp_ = _unary("exp_", api.exp)
log_ = _unary("log_", api.log)
sqrt_ = _unary("sqrt_", api.sqrt)
relu_ = _unary("relu_", api.relu)
sigmoid_ = _unary("sigmoid_", api.sigmoid)
tanh_ = _unary("tanh_", api.tanh)


def _overwrite(t: Tensor, name: str, value: Any) -> Tensor:
    """``t``'s every element becomes ``value`` (broadcast), converting like an assignment; recorded as
    ``where(False, t, value)`` when ``value`` requires grad (the gradient reaches ``value``, summed over the
    broadcast, and nothing reaches the old ``t``)."""
    _refuse_leaf(t, name)
    if _records(t, (value,)):
        mask = np.zeros(t.shape, dtype=bool)
        return _inplace(t, name, lambda s: api.where(mask, s, value), (value,))
    v = value.data if isinstance(value, Tensor) else np.asarray(value)
    try:
        v = np.broadcast_to(v, t.shape)
    except ValueError:
        raise RuntimeError(f"Tensor.{name}: a value of shape {np.shape(v)} does not broadcast to the tensor's "
                           f"shape {t.shape}") from None
    _write(t, name, v, casting="unsafe")
    t._bump_version()
    return t


def zero_(self: Tensor) -> Tensor:
    """In place: every element becomes 0; returns self."""
    return _overwrite(self, "zero_", 0)


def fill_(self: Tensor, value: Any) -> Tensor:
    """In place: every element becomes ``value`` (a number or a 0-d tensor, differentiable); returns self."""
    if isinstance(value, Tensor) and value.ndim != 0:
        raise RuntimeError(f"Tensor.fill_: only supports 0-dimension value tensor but got tensor with "
                           f"{value.ndim} dimensions (shape {value.shape})")
    return _overwrite(self, "fill_", value)


def copy_(self: Tensor, src: Any, non_blocking: bool = False) -> Tensor:
    """In place: self <- src, broadcast to self's shape and converted to self's dtype (differentiable with
    respect to ``src``); returns self."""
    return _overwrite(self, "copy_", src)
