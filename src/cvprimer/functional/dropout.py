r"""Inverted dropout (Srivastava et al., JMLR 2014) and channel dropout (Tompson et al.,
arXiv:1411.4280).

``p`` is the probability of DROPPING a unit (PyTorch's convention). The classic papers and
our seed code speak of ``keep_prob``; the two are related by ``keep_prob = 1 - p``.
Survivors are scaled by 1 / (1 - p) at training time ("inverted" dropout), so the expected
value of every unit is unchanged, E[y] = x, and evaluation is the identity.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.call import pointwise
from cvprimer.core.cost import Cost, same_shape_infer
from cvprimer.core.function import Function
from cvprimer.core.inplace import inplace_result
from cvprimer.core.random import get_rng
from cvprimer.core.saves import Saves
from cvprimer.core.tensor import Tensor


class DropoutFn(Function):
    r"""y = x * m, with m = keep / (1 - p) and keep ~ Bernoulli(1 - p).

    The mask ``m`` has x's shape (dropout) or (N, C, 1, 1) / (C, 1, 1) (dropout2d: one draw
    per channel, broadcast over H, W).

    Backward: gx = gy * m (the same mask, the only saved state; the central unbroadcast is
    not involved since gx has x's shape).
    """

    geometry = staticmethod(pointwise)
    saves_for_backward = Saves(inputs=(1,))  # the scaled mask
    infer = staticmethod(same_shape_infer)

    @staticmethod
    def forward(ctx, x, mask):
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, gy):
        (mask,) = ctx.saved_tensors
        return gy * mask

    @staticmethod
    def cost(call):
        """The analyzer's protocol: :func:`cost` of the input's shape."""
        return cost(np.shape(call.x), itemsize=call.itemsize)


def _check(op: str, x: Any, p: Any) -> float:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"{op}: p must be a real number, got {type(p).__name__}")
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"{op}: dropout probability p has to be between 0 and 1, but got {p}")
    return float(p)


def _mask(shape: tuple[int, ...], p: float, dtype: np.dtype, rng: Any) -> np.ndarray:
    keep = get_rng(rng).random(shape) >= p  # P(keep) = 1 - p
    if p == 1.0:
        return np.zeros(shape, dtype)
    return keep.astype(dtype) * dtype.type(1.0 / (1.0 - p))


def dropout(x: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False,
            rng: np.random.Generator | None = None) -> Tensor:
    r"""Zero each element independently with probability ``p``; scale survivors by 1/(1-p).

    Parameters
    ----------
    x : Tensor, any shape
    p : float in [0, 1], the drop probability (keep_prob = 1 - p)
    training : bool; False (evaluation) returns x unchanged
    inplace : bool; PyTorch's option: write the result into ``x`` and return ``x`` (in training with p > 0)
    rng : numpy Generator or None (the default generator, see ``cp.manual_seed``)

    Notes
    -----
    **Forward** y = x * b / (1 - p), b ~ Bernoulli(1 - p) elementwise; E[y] = x.
    **Backward** gx = gy * b / (1 - p) with the same mask. p = 0 and eval mode are the
    identity (x itself is returned); p = 1 gives zeros (and zero gradients).

    Example
    -------
    >>> import numpy as np, cvprimer as cp, cvprimer.functional as F
    >>> y = F.dropout(cp.ones(4), p=0.5, rng=np.random.default_rng(0))
    >>> sorted(set(y.numpy().tolist())) in ([0.0, 2.0], [2.0], [0.0])
    True
    """
    p = _check("dropout", x, p)
    if not training or p == 0.0:
        return x
    mask = _mask(x.shape, p, x.dtype, rng)
    if inplace:
        return inplace_result(x, "dropout", lambda s: DropoutFn.apply(s, mask))
    return DropoutFn.apply(x, mask)


def dropout2d(x: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False,
              rng: np.random.Generator | None = None) -> Tensor:
    r"""Channel dropout: zero whole channels of (N, C, H, W) or (C, H, W) with probability p.

    Neighbouring pixels of a feature map are strongly correlated, so element-wise dropout
    barely regularizes convolutional features; dropping a whole channel does. Survivors are
    scaled by 1/(1-p).

    **Forward** y[n, c] = x[n, c] * b_{nc} / (1 - p), b_{nc} ~ Bernoulli(1 - p).
    **Backward** gx[n, c] = gy[n, c] * b_{nc} / (1 - p).
    """
    p = _check("dropout2d", x, p)
    if x.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {x.shape}")
    if not training or p == 0.0:
        return x
    mask = _mask(x.shape[:-2] + (1, 1), p, x.dtype, rng)
    if inplace:
        return inplace_result(x, "dropout2d", lambda s: DropoutFn.apply(s, mask))
    return DropoutFn.apply(x, mask)


def cost(shape: tuple[int, ...], itemsize: int = 4) -> Cost:
    """One multiply per element; read x and the mask, write y."""
    n = int(np.prod(shape))
    return Cost(0, n, 3 * n * itemsize)
