r"""Proximal operators for non-smooth penalties: soft-thresholding, the proximal map of the L1 norm.

A (sub)gradient step on ``lam * ||w||_1`` moves every weight by ``lr * lam * sign(w)``: a weight near zero
jumps across it and back, and lands on exactly ``0`` only by accident. The *proximal* step instead solves

.. math::

    \operatorname{prox}_{t\|\cdot\|_1}(v) = \arg\min_w \tfrac12 \|w - v\|_2^2 + t \|w\|_1,
    \qquad [\operatorname{prox}(v)]_i = \operatorname{sign}(v_i)\,\max(|v_i| - t, 0),

with ``t = lr * lam``: every weight moves towards zero by ``t`` and stops *at* zero when it would cross
it, so weights whose data gradient cannot hold them away from zero become exact zeros. Proximal gradient
descent (ISTA) alternates a gradient step on the smooth loss with this map:
``w <- prox_{lr*lam}(w - lr * grad L(w))``.

References: Daubechies, Defrise & De Mol (2004), "An iterative thresholding algorithm for linear inverse
problems with a sparsity constraint"; Parikh & Boyd (2014), "Proximal Algorithms", section 6.5.2.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from cvprimer.core.function import no_grad
from cvprimer.core.tensor import Tensor


def soft_threshold(x: np.ndarray, t: float) -> np.ndarray:
    r"""``sign(x) * max(|x| - t, 0)`` elementwise (a new array of ``x``'s dtype); ``t >= 0``.

    Example
    -------
    >>> soft_threshold(np.array([-2.0, -0.5, 0.3, 1.5]), 1.0).tolist()  # sign(-0.5) * 0 is -0.0
    [-1.0, -0.0, 0.0, 0.5]
    """
    if t < 0:
        raise ValueError(f"soft_threshold: threshold must be >= 0, got {t}")
    x = np.asarray(x)
    return (np.sign(x) * np.maximum(np.abs(x) - t, 0)).astype(x.dtype, copy=False)


def prox_l1_(params: Iterable[Tensor], threshold: float) -> None:
    r"""Apply the L1 proximal map in place: ``p <- sign(p) max(|p| - threshold, 0)`` for every tensor.

    Call it after any optimizer's ``step()`` with ``threshold = lr * lam`` to turn that optimizer into a
    proximal method for the penalty ``lam * ||w||_1`` (for SGD use ``SGD(..., l1_decay=lam,
    l1_mode="proximal")``, which does exactly this per parameter group).
    """
    if threshold < 0:
        raise ValueError(f"prox_l1_: threshold must be >= 0, got {threshold}")
    with no_grad():
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"prox_l1_: expected Tensors, got {type(p).__name__}")
            p.data[...] = soft_threshold(p.data, threshold)
