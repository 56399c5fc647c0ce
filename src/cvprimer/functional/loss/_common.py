"""Helpers shared by the loss families: argument checks and PyTorch's ``reduction``."""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.cost import Cost
from cvprimer.core.tensor import Tensor

REDUCTIONS = ("none", "mean", "sum")


def check_reduction(op: str, reduction: Any, allowed: tuple[str, ...] = REDUCTIONS) -> str:
    if reduction not in allowed:
        raise ValueError(f"{op}: reduction must be one of {allowed}, got {reduction!r}")
    return reduction


def tensor_arg(op: str, name: str, x: Any, floating: bool = True) -> Tensor:
    """``x`` as a Tensor (NumPy arrays are wrapped); a TypeError naming ``op`` otherwise."""
    if isinstance(x, np.ndarray):
        x = Tensor(x)
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")
    if floating and x.dtype.kind != "f":
        raise TypeError(f"{op}: {name} must be floating-point, got dtype {x.dtype} (shape {x.shape})")
    return x


def same_shape(op: str, a: Tensor, b: Tensor, names: tuple[str, str] = ("input", "target")) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{op}: {names[0]} shape {a.shape} and {names[1]} shape {b.shape} differ; expected the "
            "same shape (no implicit broadcasting, unlike PyTorch which only warns)"
        )


def optional_weight(op: str, name: str, w: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """A non-differentiable weight array broadcastable to ``shape`` (or None)."""
    if w is None:
        return None
    arr = w.data if isinstance(w, Tensor) else np.asarray(w)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{op}: {name} must be numeric, got dtype {arr.dtype}")
    try:
        np.broadcast_shapes(arr.shape, shape)
    except ValueError:
        raise ValueError(f"{op}: {name} of shape {arr.shape} does not broadcast to the input shape {shape}") from None
    if np.broadcast_shapes(arr.shape, shape) != tuple(shape):
        raise ValueError(f"{op}: {name} of shape {arr.shape} would enlarge the input shape {shape}")
    return arr


def reduce(loss: np.ndarray, reduction: str) -> np.ndarray:
    """Apply ``reduction`` to the elementwise losses (the result keeps ``loss``'s dtype)."""
    if reduction == "none":
        return loss
    r = np.sum(loss) if reduction == "sum" else np.mean(loss)
    return np.asarray(r, dtype=loss.dtype)


def unreduce(gy: np.ndarray, shape: tuple[int, ...], reduction: str) -> np.ndarray:
    """The upstream gradient of :func:`reduce` spread back over the elementwise losses:
    'none' passes it through, 'sum' broadcasts it, 'mean' broadcasts it divided by n."""
    if reduction == "none":
        return gy
    n = int(np.prod(shape)) if reduction == "mean" else 1
    return np.broadcast_to(gy / n if n != 1 else gy, shape)


def cost(shape: tuple[int, ...], flops_per_element: int, itemsize: int = 4, reads: int = 2) -> Cost:
    """Counts for an elementwise loss over ``shape``: no MACs, ``flops_per_element`` per
    element plus one per element for the reduction; ``reads`` inputs read once."""
    n = int(np.prod(shape))
    return Cost(0, (flops_per_element + 1) * n, reads * n * itemsize)
