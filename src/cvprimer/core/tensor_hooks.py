r"""Tensor hooks, PyTorch's: ``Tensor.register_hook(fn)`` and ``Tensor.register_post_accumulate_grad_hook(fn)``,
and the :class:`RemovableHandle` they return.

Where they live: a leaf's hooks on the Tensor itself (the ``_hooks`` slot: a pair of dicts, gradient hooks
and post-accumulate hooks, by handle id); a non-leaf's gradient hooks on its graph node, by output index
(``node._tensor_hooks``), as PyTorch keeps them on ``grad_fn``. :func:`cvprimer.core.function.run_backward`
calls them (see its docstring for the order); this module is imported by it only when a hook exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cvprimer.core.tensor import Tensor


class RemovableHandle:
    """What ``Tensor.register_hook`` and ``register_post_accumulate_grad_hook`` return (PyTorch's
    ``torch.utils.hooks.RemovableHandle``): ``handle.remove()`` unregisters the hook; also a context manager."""

    _next_id = 0

    def __init__(self, hooks: dict[int, Callable[..., Any]]) -> None:
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _hook_name(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def run_grad_hooks(hooks: dict[int, Callable[..., Any]], g: np.ndarray, shape: tuple[int, ...],
                   dtype: np.dtype) -> np.ndarray:
    """Call each tensor hook on the gradient (a Tensor), in registration order; a hook that returns a
    Tensor (or array) replaces the gradient seen by the next hook and by the rest of the sweep."""
    for fn in list(hooks.values()):
        out = fn(Tensor._wrap(g))
        if out is None:
            continue
        new = out.data if isinstance(out, Tensor) else np.asarray(out)
        if new.shape != tuple(shape):
            raise RuntimeError(
                f"hook '{_hook_name(fn)}' has changed the size of value: it returned a gradient of shape "
                f"{new.shape}, expected the tensor's shape {tuple(shape)}"
            )
        g = new if new.dtype == dtype else new.astype(dtype)
    return g


def register_hook(self: Tensor, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
    r"""Call ``hook(grad)`` each time the gradient with respect to this tensor is computed.

    ``grad`` is a Tensor of this tensor's shape: the sum of every contribution (on a leaf, before it is
    accumulated into ``.grad``; on a non-leaf, before its producer's backward uses it). A hook that returns
    a Tensor replaces the gradient from there on (the next hook, ``.grad``, the rest of the graph); one that
    returns None leaves it. Several hooks run in the order they were registered. Returns a handle whose
    ``remove()`` unregisters the hook, as PyTorch's ``Tensor.register_hook``.

    A non-leaf's hooks live on its graph node (``grad_fn``), as in PyTorch, so they fire even when the
    Tensor object itself is gone.
    """
    if not self.requires_grad:
        raise RuntimeError(
            f"register_hook: cannot register a hook on a tensor that doesn't require gradient (shape "
            f"{self.shape}, dtype {self.dtype}); call requires_grad_() first"
        )
    if not callable(hook):
        raise TypeError(f"register_hook: hook must be callable, got {type(hook).__name__}")
    if self._node is None:
        if self._hooks is None:
            self._hooks = ({}, {})
        table = self._hooks[0]
    else:
        per_output = self._node.__dict__.setdefault("_tensor_hooks", {})
        table = per_output.setdefault(self._out_index, {})
    handle = RemovableHandle(table)
    table[handle.id] = hook
    return handle


def register_post_accumulate_grad_hook(self: Tensor, hook: Callable[[Tensor], None]) -> RemovableHandle:
    r"""Call ``hook(tensor)`` on this leaf after backward has accumulated its gradient into ``.grad``
    (PyTorch's ``Tensor.register_post_accumulate_grad_hook``): the place for per-parameter work that needs
    the finished gradient, such as an optimizer step in backward or a data-parallel gradient bucket.
    The hook's return value must be None. Leaves that require grad only. Returns a removable handle.
    """
    if self._node is not None:
        raise RuntimeError(
            "register_post_accumulate_grad_hook: post accumulate grad hooks cannot be registered on non-leaf "
            f"tensors (this one, of shape {self.shape}, was made by {self._node.name})"
        )
    if not self.requires_grad:
        raise RuntimeError(
            "register_post_accumulate_grad_hook: cannot register a hook on a tensor that doesn't require "
            f"gradient (shape {self.shape}, dtype {self.dtype})"
        )
    if not callable(hook):
        raise TypeError(f"register_post_accumulate_grad_hook: hook must be callable, got {type(hook).__name__}")
    if self._hooks is None:
        self._hooks = ({}, {})
    handle = RemovableHandle(self._hooks[1])
    self._hooks[1][handle.id] = hook
    return handle
