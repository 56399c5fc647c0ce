r"""Instance normalization (Ulyanov, Vedaldi & Lempitsky, arXiv:1607.08022)."""

from __future__ import annotations

import math

import numpy as np

from cvprimer.core.tensor import Tensor
from cvprimer.functional.normalization._normalize import (
    AffineStatsFn,
    NormalizeFn,
    check_eps,
    check_input,
    check_param,
)
from cvprimer.functional.normalization.batch_norm import update_running


def instance_norm(
    x: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    r"""Normalize each (sample, channel) plane of (N, C, *) over its spatial positions.

    Parameters
    ----------
    x : Tensor (N, C, L) or (N, C, H, W) (any (N, C, *) with at least one spatial dim)
    running_mean, running_var : Tensor (C,) or None; with ``use_input_stats`` they are
        updated in place with the batch average of the per-instance mean and unbiased
        variance (as PyTorch); without it they normalize (like eval-mode batch norm).
    weight, bias : Tensor (C,) or None (per-channel gamma, beta)

    Notes
    -----
    **Forward** per (n, c), over the L spatial values: x_hat = (x - mu_nc) / sqrt(var_nc + eps),
    y = gamma_c x_hat + beta_c.
    **Backward** per (n, c) with gx_hat = gy gamma_c:
    gx = (1/L) inv_std (L gx_hat - sum gx_hat - x_hat sum(gx_hat x_hat));
    ggamma_c = sum_{n, spatial} gy x_hat, gbeta_c = sum gy (the kernel of :mod:`._normalize`).
    """
    op = "instance_norm"
    check_input(op, x, 3, "(N, C, *) with at least one spatial dim")
    n, c = x.shape[0], x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        check_param(op, name, t, (c,), x)
    eps = check_eps(op, eps)
    length = math.prod(x.shape[2:])
    view, pview = (n, c, length), (1, c, 1)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError(f"{op}: use_input_stats=False needs running_mean and running_var; "
                             f"input {tuple(x.shape)}")
        return AffineStatsFn.apply(x, weight, bias, running_mean.data, running_var.data, view, pview, eps)
    if length <= 1:
        raise ValueError(
            f"{op}: Expected more than 1 spatial element when training, got input size {tuple(x.shape)}"
        )
    stats: dict[str, np.ndarray] = {}
    y = NormalizeFn.apply(x, weight, bias, view, (2,), pview, eps, stats)
    if running_mean is not None or running_var is not None:
        mean = stats["mean"].reshape(n, c).mean(axis=0)
        var = (stats["var"] * (length / (length - 1))).reshape(n, c).mean(axis=0)
        update_running(running_mean, running_var, mean, var, float(momentum))
    return y
