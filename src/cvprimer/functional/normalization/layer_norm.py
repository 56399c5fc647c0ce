r"""Layer normalization (Ba, Kiros & Hinton, arXiv:1607.06450)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from cvprimer.core.tensor import Tensor
from cvprimer.functional.normalization._normalize import NormalizeFn, check_eps, check_input, check_param


def layer_norm(
    x: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    r"""Normalize over the trailing dims ``normalized_shape`` of each sample.

    Parameters
    ----------
    x : Tensor (*, S_1, ..., S_k) whose last k dims equal ``normalized_shape``
    normalized_shape : int or tuple (S_1, ..., S_k)
    weight, bias : Tensor of shape ``normalized_shape`` or None (elementwise gamma, beta)

    Notes
    -----
    **Forward** per leading index, over the K = prod S values: mu, biased var,
    x_hat = (x - mu) / sqrt(var + eps), y = gamma * x_hat + beta (gamma, beta elementwise).
    No running statistics: training and evaluation are the same.

    **Backward** with gx_hat = gy * gamma, over the K values of a sample:
    gx = (1/K) inv_std (K gx_hat - sum gx_hat - x_hat sum(gx_hat x_hat));
    ggamma = sum over leading dims of gy x_hat, gbeta = sum of gy (derivation in
    :mod:`._normalize`, the kernel shared with batch/instance/group norm).
    """
    op = "layer_norm"
    shape = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) \
        else tuple(int(s) for s in normalized_shape)
    check_input(op, x, max(len(shape), 1), f"ending in normalized_shape {shape}")
    if not shape or tuple(x.shape[-len(shape):]) != shape:
        raise ValueError(
            f"{op}: input of shape {tuple(x.shape)} does not end in normalized_shape {shape}"
        )
    check_param(op, "weight", weight, shape, x)
    check_param(op, "bias", bias, shape, x)
    k = math.prod(shape)
    lead = math.prod(x.shape[: x.ndim - len(shape)])
    return NormalizeFn.apply(x, weight, bias, (lead, k), (1,), (1, k), check_eps(op, eps))
