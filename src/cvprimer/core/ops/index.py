r"""Indexing: ``x[idx]`` with slices, ints, None, Ellipsis, integer arrays and boolean masks.

Forward is NumPy indexing. Backward scatters gy back into a zero array of x's shape:
with only basic indices (slices, ints) each x element appears at most once in y, so a
plain assignment ``gx[idx] = gy`` is exact; with integer arrays the same x element may
be picked several times, and its gradient is the *sum* of all its copies, which
``np.add.at`` (unbuffered) computes. Boolean masks select each element at most once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.cost import view_cost
from cvprimer.core.function import Function
from cvprimer.core.geometry import Crop, Global
from cvprimer.core.saves import NOTHING


def _clean_index(idx: Any) -> Any:
    from cvprimer.core.tensor import Tensor

    if isinstance(idx, tuple):
        return tuple(_clean_index(i) for i in idx)
    if isinstance(idx, Tensor):
        return idx.data
    if isinstance(idx, list):
        return np.asarray(idx)
    return idx


def _has_int_array(idx: Any) -> bool:
    items = idx if isinstance(idx, tuple) else (idx,)
    return any(isinstance(i, np.ndarray) and i.dtype.kind in "iu" for i in items)


class GetItemFn(Function):
    r"""y = x[idx].  Backward: gx = zeros like x with gy scattered to the indexed places,
    summing where an integer-array index repeats an element."""

    saves_for_backward = NOTHING
    no_infer = "a view (basic indexing) or a gather no larger than its index: runs on the placeholder"
    float_only = False
    is_view = True
    cost = staticmethod(view_cost)

    @staticmethod
    def geometry(call):
        """Four slices with positive steps on a 4-D tensor: a strided crop (row o reads start + o step);
        an index that removes H or W: global; anything else (flips, integer arrays) is not described."""
        x, idx = call.inputs[:2]
        idx = idx if isinstance(idx, tuple) else (idx,)
        if getattr(x, "ndim", 0) == 4 and len(idx) == 4 and all(isinstance(t, slice) for t in idx):
            st = [sl.indices(n) for sl, n in zip(idx[2:], x.shape[2:], strict=True)]
            if all(step > 0 for _, _, step in st):
                return Crop(start=(st[0][0], st[1][0]), step=(st[0][2], st[1][2]))
            return None
        return Global() if len(call.out_shapes[0]) != 4 else None

    @staticmethod
    def forward(ctx, x, idx):
        try:
            y = x[idx]
        except IndexError as e:
            raise IndexError(f"getitem: {e} (tensor shape {x.shape})") from None
        ctx.meta = (x.shape, idx)
        return y

    @staticmethod
    def backward(ctx, gy):
        shape, index = ctx.meta
        gx = np.zeros(shape, gy.dtype)
        if _has_int_array(index):
            np.add.at(gx, index, gy)
        else:
            gx[index] = gy
        return gx, None


def getitem(x: Any, idx: Any) -> Any:
    """Differentiable ``x[idx]`` (see :class:`GetItemFn`)."""
    return GetItemFn.apply(x, _clean_index(idx))
