"""Tensor factories (PyTorch's names). Random ones take an explicit ``rng``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from cvprimer.core.random import get_rng
from cvprimer.core.tensor import DEFAULT_DTYPE, Tensor, _shape_arg


def _device_kw(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """Accept PyTorch's ``device=`` keyword (the CPU only: anything else is refused in one line)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, device: Any = None, **kwargs: Any) -> Tensor:
        if device is not None:
            from cvprimer.core.device import check_device

            check_device(fn.__name__, device)
        return fn(*args, **kwargs)

    return wrapper


def _make(arr: np.ndarray, requires_grad: bool) -> Tensor:
    return Tensor(arr, requires_grad=requires_grad)


def _dt(dtype: Any) -> np.dtype:
    return DEFAULT_DTYPE if dtype is None else np.dtype(dtype)


@_device_kw
def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(_shape_arg(shape), _dt(dtype)), requires_grad)


@_device_kw
def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(_shape_arg(shape), _dt(dtype)), requires_grad)


@_device_kw
def empty(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.empty(_shape_arg(shape), _dt(dtype)), requires_grad)


@_device_kw
def full(shape: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _make(np.full(shape, fill_value, _dt(dtype)), requires_grad)


@_device_kw
def zeros_like(x: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(x.shape, dtype or x.dtype), requires_grad)


@_device_kw
def ones_like(x: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(x.shape, dtype or x.dtype), requires_grad)


@_device_kw
def full_like(x: Tensor, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.full(x.shape, fill_value, dtype or x.dtype), requires_grad)


@_device_kw
def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.eye(n, m, dtype=_dt(dtype)), requires_grad)


@_device_kw
def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Like ``torch.arange``: int64 when all arguments are ints, else float32."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if ints else DEFAULT_DTYPE
    return _make(np.arange(start, end, step).astype(dtype), requires_grad)


def _endpoint(name: str, which: str, v: Any) -> float:
    """A linspace endpoint as a Python float: a number, or a 0-d tensor/array (its dtype does not set the
    precision of the computation; ``dtype`` does, as in PyTorch)."""
    arr = v.data if isinstance(v, Tensor) else np.asarray(v)
    if arr.ndim != 0 or arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: {which} must be a real number or a 0-d tensor, got shape {arr.shape} "
                         f"dtype {arr.dtype}")
    return float(arr)


@_device_kw
def linspace(start: Any, end: Any, steps: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    r"""``steps`` evenly spaced values from ``start`` to ``end`` inclusive: start + i (end - start) / (steps - 1).

    ``start``/``end``: numbers or 0-d tensors; computed in float64 and rounded once to ``dtype``
    (float32 by default), so a float32 0-d ``start`` with ``dtype=float64`` gives float64-exact points."""
    a, b = _endpoint("linspace", "start", start), _endpoint("linspace", "end", end)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"linspace: steps must be an int >= 0, got {steps!r}")
    return _make(np.linspace(a, b, int(steps)).astype(_dt(dtype)), requires_grad)


@_device_kw
def randn(*shape: Any, rng: np.random.Generator | None = None, dtype: Any = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    return _make(get_rng(rng).standard_normal(_shape_arg(shape)).astype(_dt(dtype)), requires_grad)


@_device_kw
def rand(*shape: Any, rng: np.random.Generator | None = None, dtype: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1)."""
    return _make(get_rng(rng).random(_shape_arg(shape)).astype(_dt(dtype)), requires_grad)


@_device_kw
def randint(low: int, high: int, size: Any, rng: np.random.Generator | None = None) -> Tensor:
    """Integers uniform on [low, high), int64."""
    size = (size,) if isinstance(size, int) else tuple(size)
    return Tensor(get_rng(rng).integers(low, high, size=size, dtype=np.int64))


@_device_kw
def randn_like(x: Tensor, rng: np.random.Generator | None = None) -> Tensor:
    return randn(*x.shape, rng=rng, dtype=x.dtype)


@_device_kw
def rand_like(x: Tensor, rng: np.random.Generator | None = None) -> Tensor:
    return rand(*x.shape, rng=rng, dtype=x.dtype)
