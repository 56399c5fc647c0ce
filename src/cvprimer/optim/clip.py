r"""Gradient clipping: by global norm and by value (``torch.nn.utils`` semantics)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from cvprimer.core.tensor import Tensor


def _with_grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    ps = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in ps if p.grad is not None]


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    r"""Rescale all gradients together so that their joint norm is at most ``max_norm``.

    ``total = || (||g_1||_p, ..., ||g_n||_p) ||_p`` (the p-norm of all gradients viewed as one
    vector; ``norm_type=inf`` gives the max-abs), then every ``g_i <- g_i * min(1, max_norm /
    (total + 1e-6))``. Returns the total norm *before* clipping (what you log to see explosions).
    """
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm}")
    ps = _with_grads(parameters)
    if not ps:
        return 0.0
    p_ = float(norm_type)
    if p_ == math.inf:
        total = max(float(np.max(np.abs(p.grad.data), initial=0.0)) for p in ps)
    else:
        norms = [np.sum(np.abs(p.grad.data.astype(np.float64)) ** p_) ** (1.0 / p_) for p in ps]
        total = float(np.sum(np.asarray(norms) ** p_) ** (1.0 / p_))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} is non-finite ({total})")
    coef = min(1.0, max_norm / (total + 1e-6))
    for p in ps:
        p.grad.data *= coef
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]`` in place."""
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for p in _with_grads(parameters):
        np.clip(p.grad.data, -clip_value, clip_value, out=p.grad.data)
