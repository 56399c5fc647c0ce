r"""Group normalization (Wu & He, arXiv:1803.08494)."""

from __future__ import annotations

import math

import numpy as np

from cvprimer.core.tensor import Tensor
from cvprimer.functional.normalization._normalize import NormalizeFn, check_eps, check_input, check_param


def group_norm(
    x: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    r"""Normalize each sample over groups of C / num_groups channels (and all spatial dims).

    Parameters
    ----------
    x : Tensor (N, C, *)
    num_groups : int G dividing C. G = 1 is layer norm over (C, *); G = C is instance norm.
    weight, bias : Tensor (C,) or None (per-channel gamma, beta: finer than the groups)

    Notes
    -----
    **Forward** in the view (N, G, C/G, L), over the m = (C/G) L values of each (n, g):
    x_hat = (x - mu_ng) / sqrt(var_ng + eps), then y = gamma_c x_hat + beta_c.
    **Backward** with gx_hat = gy gamma_c (gamma varies inside a group, so it does not factor
    out): gx = (1/m) inv_std (m gx_hat - sum gx_hat - x_hat sum(gx_hat x_hat));
    ggamma_c = sum_{n, spatial} gy x_hat, gbeta_c = sum gy (:mod:`._normalize`).
    """
    op = "group_norm"
    check_input(op, x, 2, "(N, C, *)")
    n, c = x.shape[0], x.shape[1]
    if isinstance(num_groups, bool) or not isinstance(num_groups, (int, np.integer)) or num_groups < 1:
        raise ValueError(f"{op}: num_groups must be a positive int, got {num_groups!r}")
    if c % num_groups:
        raise ValueError(
            f"{op}: Expected number of channels in input {tuple(x.shape)} ({c}) to be divisible by "
            f"num_groups ({num_groups})"
        )
    check_param(op, "weight", weight, (c,), x)
    check_param(op, "bias", bias, (c,), x)
    g = int(num_groups)
    length = math.prod(x.shape[2:])
    view, pview = (n, g, c // g, length), (1, g, c // g, 1)
    return NormalizeFn.apply(x, weight, bias, view, (2, 3), pview, check_eps(op, eps))
