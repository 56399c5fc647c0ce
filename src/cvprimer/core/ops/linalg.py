r"""Matrix product with NumPy's ``matmul`` semantics (batched, broadcasting, 1-D cases)."""

from __future__ import annotations

import numpy as np

from cvprimer.core.cost import Cost
from cvprimer.core.function import Function
from cvprimer.core.saves import BOTH


def _matmul_shape(sa: tuple[int, ...], sb: tuple[int, ...]) -> tuple[int, ...]:
    a2 = (1,) + sa if len(sa) == 1 else sa
    b2 = sb + (1,) if len(sb) == 1 else sb
    out = np.broadcast_shapes(a2[:-2], b2[:-2]) + (a2[-2], b2[-1])
    if len(sa) == 1:
        out = out[:-2] + out[-1:]
    if len(sb) == 1:
        out = out[:-1]
    return out


class MatMulFn(Function):
    r"""y = a @ b.

    Shapes: a (..., n, k) @ b (..., k, m) -> (..., n, m), batch axes broadcast. A 1-D
    ``a`` (k,) is treated as (1, k) and the added axis removed from y; a 1-D ``b`` (k,)
    as (k, 1), likewise.

    Forward:  y_ij = sum_l a_il b_lj.
    Backward: ga = gy @ b^T,  gb = a^T @ gy  (per batch element; the batch axes that
    broadcasting stretched are then summed by the central unbroadcast). For the 1-D cases
    the same formulas run on the promoted 2-D shapes and the extra axis is dropped.
    """

    saves_for_backward = BOTH
    is_gemm = True

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: both operands need at least 1 dim, got {a.shape} and {b.shape}")
        ka = a.shape[-1]
        kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if ka != kb:
            raise ValueError(
                f"matmul: inner dimensions differ: a {a.shape} has {ka} columns, b {b.shape} has "
                f"{kb} rows (expected a (..., n, k) @ b (..., k, m))"
            )
        try:
            y = np.matmul(a, b)
        except ValueError:
            raise ValueError(f"matmul: batch shapes of {a.shape} and {b.shape} do not broadcast") from None
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b if ctx.needs_input_grad[0] else None)
        ctx.nd = (a.ndim, b.ndim)
        return y

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        na, nb = ctx.nd
        if nb == 1:
            gy = gy[..., None]  # restore the promoted column axis first (gy may be 0-d)
        if na == 1:
            gy = gy[..., None, :]
        ga = gb = None
        if ctx.needs_input_grad[0]:
            b2 = b[:, None] if nb == 1 else b
            ga = np.matmul(gy, np.swapaxes(b2, -1, -2))
            if na == 1:
                ga = ga[..., 0, :]  # drop the promoted row axis; batch axes summed centrally
        if ctx.needs_input_grad[1]:
            a2 = a[None, :] if na == 1 else a
            gb = np.matmul(np.swapaxes(a2, -1, -2), gy)
            if nb == 1:
                gb = gb[..., 0]  # drop the promoted column axis
        return ga, gb

    @staticmethod
    def infer(call):
        a, b = call.inputs
        return _matmul_shape(np.shape(a), np.shape(b)), np.result_type(a, b)

    @staticmethod
    def cost(call):
        """MACs = (elements of y) * k: one multiply-accumulate per term of each dot product."""
        a, b = call.inputs
        k = np.shape(a)[-1]
        y = call.out
        return Cost(int(y.size) * int(k), 0, (int(np.size(a)) + int(np.size(b)) + int(y.size)) * call.itemsize)
