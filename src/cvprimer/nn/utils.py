r"""``torch.nn.utils``'s helpers: gradient clipping (by global norm, by value) and flattening parameters
into one vector and back. ``cvprimer.optim.clip_grad_norm_`` / ``clip_grad_value_`` are these same
functions (one implementation, two import paths)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from cvprimer.core.api import cat
from cvprimer.core.tensor import Tensor


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    """The ``.grad`` tensors of the parameters that have one."""
    ps = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in ps if p.grad is not None]


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> np.float64:
    r"""Rescale all gradients together so that their joint norm is at most ``max_norm``.

    ``total = || (||g_1||_p, ..., ||g_n||_p) ||_p`` (the p-norm of all gradients viewed as one
    vector; ``norm_type=inf`` gives the max-abs), then every ``g_i <- g_i * min(1, max_norm /
    (total + 1e-6))``. Returns the total norm *before* clipping (what you log to see explosions).

    Differences from PyTorch: the norm comes back as a NumPy float64 (a Python ``float`` that also has
    ``.item()``) rather than a 0-d tensor; ``foreach`` is accepted and ignored (there is one CPU path).
    """
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm}")
    gs = _grads(parameters)
    if not gs:
        return np.float64(0.0)
    p_ = float(norm_type)
    if p_ == math.inf:
        total = max(float(np.max(np.abs(g.data), initial=0.0)) for g in gs)
    else:
        norms = [np.sum(np.abs(g.data.astype(np.float64)) ** p_) ** (1.0 / p_) for g in gs]
        total = float(np.sum(np.asarray(norms) ** p_) ** (1.0 / p_))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} is non-finite ({total})")
    coef = min(1.0, max_norm / (total + 1e-6))
    for g in gs:
        g.data *= coef
    return np.float64(total)


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]`` in place."""
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for g in _grads(parameters):
        np.clip(g.data, -clip_value, clip_value, out=g.data)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    r"""All parameters flattened and concatenated into one 1-D Tensor of length ``sum(p.numel())``
    (in iteration order; differentiable, like PyTorch's)."""
    ps = list(parameters)
    if not ps:
        raise ValueError("parameters_to_vector: got no parameters")
    for p in ps:
        if not isinstance(p, Tensor):
            raise TypeError(f"parameters_to_vector: expected Tensors, got {type(p).__name__}")
    return cat([p.reshape(-1) for p in ps])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    r"""Copy consecutive slices of the 1-D ``vec`` into the parameters' values (the inverse of
    :func:`parameters_to_vector`); gradients are not touched and nothing is recorded."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected vec to be a Tensor, got {type(vec).__name__}")
    ps = list(parameters)
    n = sum(p.data.size for p in ps)
    if vec.ndim != 1 or vec.shape[0] != n:
        raise ValueError(f"vector_to_parameters: vec of shape {vec.shape} does not match the parameters' "
                         f"{n} elements (expected shape ({n},))")
    at = 0
    for p in ps:
        k = p.data.size
        p.data = vec.data[at:at + k].reshape(p.shape).astype(p.data.dtype, copy=True)
        at += k
