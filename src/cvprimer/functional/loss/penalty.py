r"""Weight penalties over an iterable of parameters: sum |w| (L1) and sum w^2 (L2)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from cvprimer.core.cost import Cost, array_numel
from cvprimer.core.function import Function
from cvprimer.core.saves import Saves
from cvprimer.core.tensor import Tensor


class LpPenaltyFn(Function):
    r"""Sum of |w|^p over every element of every input, p in {1, 2}.

    Notes
    -----
    **Forward**: P = sum_k sum_i |w_ki|^p (a 0-d tensor in the first input's dtype).
    **Backward**: dP/dw = p |w|^(p-1) sign(w): sign(w) for L1 (0 at w = 0, the subgradient
    that leaves exact zeros alone), 2 w for L2. One gradient per input, its shape.
    """

    saves_for_backward = Saves(all_inputs=True)
    no_infer = "a training loss, outside traced models: runs on the placeholders"

    @staticmethod
    def forward(ctx, *ws, p=1):
        ctx.p = p
        ctx.save_for_backward(*ws)
        total = sum(float(np.sum(np.abs(w) if p == 1 else w * w, dtype=np.float64)) for w in ws)
        return np.asarray(total, dtype=ws[0].dtype)

    @staticmethod
    def backward(ctx, gy):
        ws = ctx.saved_tensors
        return tuple(
            (gy * (np.sign(w) if ctx.p == 1 else 2 * w)) if need else None
            for w, need in zip(ws, ctx.needs_input_grad, strict=True)
        )

    @staticmethod
    def cost(call):
        """The analyzer's protocol: 2 FLOPs an element (|w| or w^2, then the add); reads every input."""
        n = array_numel(call.inputs)
        return Cost(0, 2 * n, n * call.itemsize)


def _params(op: str, params: Iterable[Tensor]) -> list[Tensor]:
    if isinstance(params, Tensor):
        params = [params]
    ps = list(params)
    for i, w in enumerate(ps):
        if not isinstance(w, Tensor):
            raise TypeError(f"{op}: params must be Tensors, item {i} is {type(w).__name__}")
    return ps


def l1_penalty(params: Iterable[Tensor]) -> Tensor:
    r"""sum |w| over all parameters (Lasso; pushes weights to exact zeros). Differentiable.

    ``params`` is an iterable of Tensors (e.g. ``model.parameters()``) or one Tensor; an
    empty iterable gives 0. Add ``lam * l1_penalty(params)`` to the loss.

    Example
    -------
    >>> import cvprimer as cp
    >>> l1_penalty([cp.tensor([1.0, -2.0]), cp.tensor([[0.5]])]).item()
    3.5
    """
    ps = _params("l1_penalty", params)
    return LpPenaltyFn.apply(*ps, p=1) if ps else Tensor(np.float32(0.0))


def l2_penalty(params: Iterable[Tensor]) -> Tensor:
    r"""sum w^2 over all parameters (no 1/2 factor). Differentiable.

    With plain SGD, adding (lam / 2) l2_penalty to the loss is the same as weight decay
    with coefficient lam: the gradient of (lam / 2) sum w^2 is lam w.

    Example
    -------
    >>> import cvprimer as cp
    >>> l2_penalty([cp.tensor([1.0, -2.0]), cp.tensor([[0.5]])]).item()
    5.25
    """
    ps = _params("l2_penalty", params)
    return LpPenaltyFn.apply(*ps, p=2) if ps else Tensor(np.float32(0.0))
