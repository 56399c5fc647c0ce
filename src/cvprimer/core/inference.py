r"""``inference_mode``: PyTorch's faster ``no_grad`` for evaluation, as a context manager and a decorator.

Inside ``with cp.inference_mode():`` nothing is recorded for backward (results have ``requires_grad=False``
and no ``grad_fn``) and :func:`is_inference_mode_enabled` is True; ``inference_mode(False)`` switches recording
back on inside it, as in PyTorch. The mode is per thread (and per asyncio task), like grad mode.

Differences from PyTorch: here it is exactly ``no_grad`` plus the flag; PyTorch's "inference tensors" also
skip version counting and refuse later use in a recorded computation, which cvprimer's tensors made inside
do not (they behave as tensors made under ``no_grad``).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar, cast

from cvprimer.core.function import set_grad_enabled

_F = TypeVar("_F", bound=Callable[..., Any])

_INFERENCE: ContextVar[bool] = ContextVar("cvprimer_inference_mode", default=False)


def is_inference_mode_enabled() -> bool:
    """Whether an ``inference_mode()`` block is active in this thread or task."""
    return _INFERENCE.get()


class inference_mode(contextlib.ContextDecorator):  # noqa: N801 - PyTorch's name
    """Context manager / decorator: no graph recording, and :func:`is_inference_mode_enabled` True
    (``mode=False``: recording on and the flag off). Usable bare (``@cp.inference_mode``) or called
    (``@cp.inference_mode()``), as PyTorch's.

    Example
    -------
    >>> import cvprimer as cp
    >>> w = cp.ones(2, requires_grad=True)
    >>> with cp.inference_mode():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """

    def __new__(cls, mode: Any = True) -> Any:
        if callable(mode):  # used bare as a decorator: @inference_mode
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)
        self._stack: list[tuple[Any, Any]] = []

    def _recreate_cm(self) -> inference_mode:  # a fresh one per decorated call: safe across threads
        return inference_mode(self.mode)

    def __call__(self, fn: _F) -> _F:
        wrapped = super().__call__(fn)
        return cast(_F, functools.wraps(fn)(wrapped))

    def __enter__(self) -> None:
        grad = set_grad_enabled(not self.mode)
        grad.__enter__()
        self._stack.append((grad, _INFERENCE.set(self.mode)))

    def __exit__(self, *exc: object) -> None:
        grad, token = self._stack.pop()
        _INFERENCE.reset(token)
        grad.__exit__(*exc)
