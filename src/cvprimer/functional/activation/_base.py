r"""One base class for the pointwise activations, so each one states only its math.

A pointwise activation y = f(x) (with a few Python-float options) has the backward

    gx = gy * f'(x)

so a subclass supplies two NumPy functions, ``f(x, **opts)`` and ``df(x, y, **opts)``
(the slope, written in terms of the input ``x`` and/or the output ``y``), and declares in
``saves_for_backward`` which of the two its slope needs: the output (``OUTPUT``) when the slope is a
function of it (hardtanh), the input (``INPUT``) otherwise, or both (``Saves(inputs=(0,), outputs=(0,))``).
``df`` is also what :func:`cvprimer.functional.activation.derivative` returns, so the plotted slope and the
backward pass are one piece of code.

A subclass with compiled kernels (:mod:`._kernels`) returns their name and scalar arguments from
``kernel(**opts)``; while ``settings.numba`` is on, the dtypes those kernels cover then take the fused
forward and the fused ``gy * f'`` (from the one saved array) instead of ``f`` and ``gy * df``, which stay
the reference the tests compare against.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cvprimer.core.cost import Cost, itemsize, same_shape_infer
from cvprimer.core.function import Function
from cvprimer.core.geometry import pointwise
from cvprimer.core.saves import INPUT
from cvprimer.core.settings import settings


class PointwiseFn(Function):
    r"""y = f(x) elementwise; backward gx = gy * f'(x). Subclasses define ``f`` and ``df``.

    ``saves_for_backward`` is ``INPUT``, ``OUTPUT`` or both (:mod:`cvprimer.core.saves`): the arrays kept
    for backward (the minimum the slope needs), also read by the analyzer.
    """

    geometry = staticmethod(pointwise)
    saves_for_backward = INPUT
    infer = staticmethod(same_shape_infer)
    @staticmethod
    def f(x: np.ndarray, **opts: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def df(x: np.ndarray | None, y: np.ndarray | None, **opts: Any) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def kernel(**opts: Any) -> tuple[str, tuple[float, ...]] | None:
        """The compiled kernel pair for these options: its name in ``_kernels.KERNELS`` and its scalar
        arguments; None (the default) for the NumPy path only."""
        return None

    @classmethod
    def slope(cls, x: np.ndarray, **opts: Any) -> np.ndarray:
        """f'(x) as an array (evaluates f first when the slope is written with y)."""
        y = cls.f(x, **opts) if cls.saves_for_backward.keeps_output(0) else None
        return cls.df(x, y, **opts)

    @classmethod
    def apply(cls, x: Any, **opts: Any) -> Any:  # options are keywords only
        return super().apply(x, **opts)

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, **opts: Any) -> np.ndarray:
        cls = type(ctx)
        y = None
        k = cls.kernel(**opts) if settings.numba else None
        if k is not None:
            from cvprimer.functional.activation import _kernels

            y = _kernels.map_unary(k[0], x, k[1])
        if y is None:
            y = np.asarray(cls.f(x, **opts)).astype(x.dtype, copy=False)
        if ctx.needs_input_grad[0]:
            keep = cls.saves_for_backward
            ctx.save_for_backward(x if keep.keeps_input(0) else None, y if keep.keeps_output(0) else None)
            ctx.opts = opts
        return y

    @staticmethod
    def backward(ctx: Function, gy: np.ndarray) -> np.ndarray:
        x, y = ctx.saved_tensors
        cls = type(ctx)
        k = cls.kernel(**ctx.opts) if settings.numba else None
        if k is not None:
            from cvprimer.functional.activation import _kernels

            gx = _kernels.map_binary(k[0], x if x is not None else y, gy, k[1])
            if gx is not None:
                return gx
        return gy * cls.df(x, y, **ctx.opts)


def pointwise_cost(flops_per_element: int) -> Callable[..., Cost]:
    """The analyzer's ``cost`` of a pointwise activation with ``flops_per_element`` FLOPs an element
    (a comparison, multiply or add = 1; exp, log, erf = 1): :func:`cost` of the input's shape."""
    def op_cost(inputs: Any, outputs: Any, **kw: Any) -> Cost:
        return cost(np.shape(inputs[0]), flops_per_element, itemsize=itemsize(outputs))
    return op_cost


def check_float(op: str, name: str, value: Any) -> float:
    """A real scalar option as a Python float (TypeError naming ``op`` otherwise)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{op}: {name} must be a real number, got {type(value).__name__}")
    return float(value)


def cost(shape: tuple[int, ...], flops_per_element: int = 1, itemsize: int = 4) -> dict[str, int]:
    """Cost of a pointwise activation: no MACs, a few FLOPs per element, read x and write y."""
    n = int(np.prod(shape))
    return {"macs": 0, "flops": flops_per_element * n, "bytes": 2 * n * itemsize}
