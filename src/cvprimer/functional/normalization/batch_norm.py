r"""Batch normalization (Ioffe & Szegedy, arXiv:1502.03167)."""

from __future__ import annotations

import math

import numpy as np

from cvprimer.core.cost import Cost
from cvprimer.core.tensor import Tensor
from cvprimer.functional.normalization._normalize import (
    AffineStatsFn,
    NormalizeFn,
    affine_cost,
    check_eps,
    check_input,
    check_param,
)
from cvprimer.functional.normalization._normalize import cost as _norm_cost


def batch_norm(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float | None = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    r"""Batch normalization over (N, *) per channel C (dim 1).

    Parameters
    ----------
    x : Tensor (N, C), (N, C, L) or (N, C, H, W) (any (N, C, *))
    running_mean, running_var : Tensor (C,) or None. In training mode they are updated IN
        PLACE (``.data``) when given; in evaluation mode they are what normalizes.
    weight, bias : Tensor (C,) or None, the affine gamma and beta.
    training : bool, batch statistics (True) or running statistics (False)
    momentum : float, running = (1 - momentum) * running + momentum * batch_statistic
    eps : float added to the variance

    Returns
    -------
    Tensor of x's shape.

    Notes
    -----
    **Forward (training)** over the m = N * L values of each channel (L = prod of the dims
    after C): mu = mean, var = biased variance, x_hat = (x - mu) / sqrt(var + eps),
    y = gamma x_hat + beta. The running variance is updated with the UNBIASED batch variance
    var * m / (m - 1) (as PyTorch), while normalizing uses the biased one.

    **Backward (training)**, per channel with gx_hat = gy * gamma:

        gx = (1/m) inv_std (m gx_hat - sum gx_hat - x_hat sum(gx_hat x_hat))
        ggamma = sum gy x_hat,   gbeta = sum gy

    (derived in :mod:`._normalize`; one fused op that keeps x, the per-channel mean and inv_std,
    and recomputes x_hat). With ``settings.numba`` compiled kernels run it in two passes over memory each
    way (:mod:`._norm_kernels`: image by image for planes of more than ``settings.norm_cols_max_length``
    positions, whole rows of (N, C L) for shorter ones); the NumPy code is the reference.

    **Evaluation**: y = gamma (x - running_mean) / sqrt(running_var + eps) + beta, an
    affine map; gx = gy gamma / sqrt(running_var + eps).

    Differences from PyTorch: ``momentum=None`` (PyTorch's cumulative moving average) needs
    a count of batches seen, which a functional call does not have; it raises here. The
    module layer (nn.BatchNorm) can pass ``momentum = 1 / num_batches_tracked`` instead.

    Example
    -------
    >>> import numpy as np, cvprimer as cp, cvprimer.functional as F
    >>> x = cp.tensor(np.arange(8.0).reshape(4, 2))
    >>> rm, rv = cp.zeros(2), cp.ones(2)
    >>> y = F.batch_norm(x, rm, rv, training=True)
    >>> [round(v, 3) for v in rm.numpy().tolist()]
    [0.3, 0.4]
    """
    op = "batch_norm"
    check_input(op, x, 2, "of at least 2 dims (N, C, *)")
    c = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        check_param(op, name, t, (c,), x)
    eps = check_eps(op, eps)
    n = x.shape[0]
    length = math.prod(x.shape[2:])
    view, pview = (n, c, length), (1, c, 1)
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError(f"{op}: running_mean and running_var must be given in evaluation mode "
                             f"(training=False); input {tuple(x.shape)}")
        return AffineStatsFn.apply(x, weight, bias, running_mean.data, running_var.data, view, pview, eps)
    m = n * length
    if m <= 1:
        raise ValueError(
            f"{op}: Expected more than 1 value per channel when training, got input size {tuple(x.shape)}"
        )
    if momentum is None:
        raise ValueError(f"{op}: momentum=None (cumulative moving average) is not supported by the "
                         "functional op; pass momentum = 1 / num_batches_tracked")
    stats: dict[str, np.ndarray] = {}
    y = NormalizeFn.apply(x, weight, bias, view, (0, 2), pview, eps, stats)
    update_running(running_mean, running_var, stats["mean"], stats["var"] * (m / (m - 1)), float(momentum))
    return y


def update_running(running_mean: Tensor | None, running_var: Tensor | None, mean: np.ndarray,
                   unbiased_var: np.ndarray, momentum: float) -> None:
    """running = (1 - momentum) running + momentum batch_stat, in place (no graph)."""
    for r, s in ((running_mean, mean), (running_var, unbiased_var)):
        if r is not None:
            r.data *= r.data.dtype.type(1 - momentum)
            r.data += (momentum * s).astype(r.data.dtype, copy=False)


def cost(shape: tuple[int, ...], affine: bool = True, training: bool = True, itemsize: int = 4) -> Cost:
    """Training: see ``_normalize.cost``. Evaluation: ``_normalize.affine_cost`` (one multiply-add
    per element)."""
    if training:
        return _norm_cost(shape, affine, itemsize)
    return affine_cost(shape, itemsize)
