r"""The one style of every elementwise op of one tensor: :class:`PointwiseFn`, which states only its math.

An op y = f(x) (with a few Python-scalar options, keywords only) has the backward

    gx = gy * f'(x)

so a subclass supplies NumPy functions and declarations, nothing else:

* ``f(x, **opts)``: the forward (its result is cast to x's dtype);
* ``df(x, y, **opts)``: the slope f', written with the input ``x`` and/or the output ``y``;
* ``saves_for_backward``: which of the two the slope needs (:mod:`cvprimer.core.saves`): ``OUTPUT`` when
  it is a function of y (exp, sigmoid, relu), ``INPUT`` otherwise, both, or ``NOTHING`` (neg, sign);
* ``vjp(x, y, gy, **opts)`` (optional): the gradient itself, where ``gy * df`` is not the right formula:
  a non-finite convention (relu passes the gradient where y is NaN and zeroes it where y <= 0 even for an
  infinite gy; sign's gradient is 0 even for an infinite gy, not NaN) or PyTorch's rounding (sqrt divides,
  gy / (2 y); sigmoid multiplies left to right, gy y (1 - y));
* ``kernel(**opts)`` and ``kernels`` (optional): the compiled forms. ``kernels`` names the module (imported
  on the first use, so numba is loaded only when a kernel runs) whose ``KERNELS`` table maps a kernel name to
  ``{dtype: (forward(x, y, *args), gradient(saved, gy, gx, *args))}``; ``kernel(**opts)`` returns the name and
  its scalar arguments, or None. Either entry of a pair may be None (NumPy's own ``np.tanh`` is as fast as a
  loop). While ``settings.numba`` is on, the dtypes a table covers take the kernels; ``f``, ``df`` and ``vjp``
  stay the reference the tests compare against and run everywhere else. ``small_on_numpy``: arrays below
  ``settings.numba_min_elements`` stay on NumPy (ops whose NumPy code is about as fast on small arrays).

``slope(x, **opts)`` evaluates f' alone (for plots and tests). The base also declares what the analyzer
reads: ``geometry`` pointwise, ``infer`` the input's shape and dtype; each op declares its ``cost``
(:func:`cvprimer.core.cost.elementwise_cost` of its FLOPs per element).

Example: tanh is one such class; its slope 1 - y^2 is the function its backward multiplies by

>>> import numpy as np
>>> from cvprimer.core.ops.unary import TanhFn
>>> TanhFn.slope(np.array([0.0, 20.0])).tolist()
[1.0, 0.0]
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import numpy as np

from cvprimer.core.call import pointwise
from cvprimer.core.cost import same_shape_infer
from cvprimer.core.function import Function
from cvprimer.core.saves import INPUT, Saves
from cvprimer.core.settings import current as current_settings

#: a kernel module's table: kernel name -> {NumPy scalar type: (forward or None, gradient or None)}
KernelTable = dict[str, dict[Any, tuple[Any, Any]]]


_TABLES: dict[str, KernelTable] = {}


def kernel_table(module: str) -> KernelTable:
    """The ``KERNELS`` table of the dotted ``module`` (imported on the first call; numba with it)."""
    table = _TABLES.get(module)
    if table is None:
        table = _TABLES[module] = importlib.import_module(module).KERNELS
    return table


def _pick(table: KernelTable, op: str, dtype: np.dtype, which: int) -> Any:
    pair = table.get(op, {}).get(dtype.type)
    if pair is None or not dtype.isnative:  # numba takes native byte order only
        return None
    return pair[which]


def map_unary(table: KernelTable, op: str, x: np.ndarray, args: tuple[float, ...] = ()) -> np.ndarray | None:
    """Forward y of kernel ``op`` of ``table`` on ``x`` (scalar ``args`` cast to x's dtype), split over the
    engine's worker pool; None where ``op`` has no forward kernel for x's dtype (use NumPy)."""
    kern = _pick(table, op, x.dtype, 0)
    if kern is None:
        return None
    from cvprimer.core.pool import batch_spans, pool_map

    a_ = tuple(x.dtype.type(v) for v in args)
    xf = np.ascontiguousarray(x).reshape(-1)
    y = np.empty_like(xf)
    pool_map(lambda a, b: kern(xf[a:b], y[a:b], *a_), batch_spans(xf.size, 1), blas_single=False)
    return y.reshape(x.shape)


def map_binary(table: KernelTable, op: str, saved: np.ndarray, gy: np.ndarray,
               args: tuple[float, ...] = ()) -> np.ndarray | None:
    """Input gradient of kernel ``op`` from the ``saved`` array (x, or y for ops that keep only y) and ``gy``;
    None where there is no gradient kernel for the dtype, or gy's dtype or shape differs from saved's."""
    kern = _pick(table, op, saved.dtype, 1)
    if kern is None or gy.dtype != saved.dtype or gy.shape != saved.shape:
        return None
    from cvprimer.core.pool import batch_spans, pool_map

    a_ = tuple(saved.dtype.type(v) for v in args)
    sf = np.ascontiguousarray(saved).reshape(-1)
    gf = np.ascontiguousarray(gy).reshape(-1)
    gx = np.empty_like(sf)
    pool_map(lambda a, b: kern(sf[a:b], gf[a:b], gx[a:b], *a_), batch_spans(sf.size, 1), blas_single=False)
    return gx.reshape(saved.shape)


class PointwiseFn(Function):
    r"""y = f(x) elementwise; backward gx = vjp(x, y, gy) = gy * f'(x) unless a subclass says otherwise.

    Shapes: y, gy and gx have x's shape; y has x's dtype. Options are keywords only (Python scalars).
    See the module docstring for what a subclass defines.
    """

    geometry = staticmethod(pointwise)
    saves_for_backward: ClassVar[Saves] = INPUT
    infer = staticmethod(same_shape_infer)
    #: dotted module whose ``KERNELS`` table holds this op's compiled kernels ("" for none)
    kernels: ClassVar[str] = ""
    #: arrays below ``settings.numba_min_elements`` stay on NumPy
    small_on_numpy: ClassVar[bool] = False

    @staticmethod
    def f(x: np.ndarray, **opts: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def df(x: np.ndarray | None, y: np.ndarray | None, **opts: Any) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def vjp(cls, x: np.ndarray | None, y: np.ndarray | None, gy: np.ndarray, **opts: Any) -> np.ndarray:
        """gx from the saved arrays (None where not saved) and gy: ``gy * df(x, y)`` by default."""
        return gy * cls.df(x, y, **opts)

    @staticmethod
    def kernel(**opts: Any) -> tuple[str, tuple[float, ...]] | None:
        """The compiled kernel pair for these options: its name in the ``kernels`` module's table and its
        scalar arguments; None (the default) for the NumPy path only."""
        return None

    @classmethod
    def slope(cls, x: np.ndarray, **opts: Any) -> np.ndarray:
        """f'(x) as an array (evaluates f first when the slope is written with y)."""
        y = np.asarray(cls.f(x, **opts)) if cls.saves_for_backward.keeps_output(0) else None
        return cls.df(x, y, **opts)

    @classmethod
    def compiled(cls, which: int, opts: dict[str, Any], first: np.ndarray, *rest: np.ndarray) -> Any:
        """The compiled forward (``which`` = 0, of x) or gradient (1, of the saved array and gy), or None:
        NumPy runs (numba off, no kernel for these options or this dtype, an array too small)."""
        if not cls.kernels:
            return None
        s = current_settings()  # one context lookup for both fields
        if not s.numba:
            return None
        k = cls.kernel(**opts)
        if k is None or (cls.small_on_numpy and first.size < s.numba_min_elements):
            return None
        table = kernel_table(cls.kernels)
        if which == 0:
            return map_unary(table, k[0], first, k[1])
        return map_binary(table, k[0], first, rest[0], k[1])

    @classmethod
    def apply(cls, x: Any, **opts: Any) -> Any:  # options are keywords only
        return super().apply(x, **opts)

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, **opts: Any) -> np.ndarray:
        cls: Any = type(ctx)
        y = cls.compiled(0, opts, x)
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
        cls: Any = type(ctx)
        saved = x if x is not None else y
        gx = cls.compiled(1, ctx.opts, saved, gy) if saved is not None else None
        return gx if gx is not None else cls.vjp(x, y, gy, **ctx.opts)
