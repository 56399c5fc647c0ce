r"""Synchronized batch normalization: batch statistics over the union of all ranks' batches.

With plain batch norm each of W ranks normalizes its B samples by their own mean and variance, so
W ranks x batch B is NOT one process x batch WB (the statistics are noisier and the gradient lacks the
cross-rank terms). ``SyncBatchNorm`` computes the statistics of the global batch, which makes the two
the same computation (up to floating-point summation order).

**Forward.** Per channel, each rank r computes its count m_r, mean mu_r and centred sum of squares
M2_r = sum (x - mu_r)^2 (two passes, no cancellation); one ``Allgather`` of the (2C + 1) numbers per
rank, then every rank combines them (Chan, Golub & LeVeque's parallel variance, the same on all ranks)::

    M    = sum_r m_r
    mu   = (1/M) sum_r m_r mu_r
    var  = (1/M) [ sum_r M2_r + sum_r m_r (mu_r - mu)^2 ]            (biased, for normalizing)
    x_hat = (x - mu) / sqrt(var + eps),   y = gamma x_hat + beta

The running variance gets the unbiased ``var M / (M - 1)``, as in single-process batch norm.

**Backward.** Rank r's upstream gradient ``gy`` is that of its own loss L_r; the statistics couple all
ranks' samples, so the gradient of the total sum_r L_r with respect to rank r's inputs needs the sums
of the whole batch. With g = gy gamma (gamma constant per channel, so it factors out)::

    S1 = sum_{all ranks} gy,   S2 = sum_{all ranks} gy x_hat            (one Allreduce of 2C numbers)
    gx = gamma inv_std (gy - S1 / M - x_hat S2 / M)
    ggamma_r = sum_{rank r} gy x_hat,   gbeta_r = sum_{rank r} gy        (local: the gradient all-reduce
                                                                          of the data-parallel step
                                                                          averages them over ranks)

Dividing by W in that all-reduce turns d(sum_r L_r) into d(mean_r L_r), the gradient of the mean loss
over the global batch when every L_r is a mean over equal shards.

References: Ioffe & Szegedy, arXiv:1502.03167; Peng et al., MegDet (cross-GPU BN), arXiv:1711.07240;
Chan, Golub & LeVeque (1979), "Updating formulae and a pairwise algorithm for computing sample variances".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.function import Function
from cvprimer.core.saves import Extra, Saves
from cvprimer.core.tensor import Tensor
from cvprimer.functional.normalization._normalize import check_eps, check_input, check_param, moments
from cvprimer.functional.normalization._normalize import cost as _norm_cost
from cvprimer.functional.normalization.batch_norm import update_running
from cvprimer.nn.layers.normalization import BatchNorm1d, BatchNorm2d, _BatchNorm
from cvprimer.nn.module import Module


def combine_moments(counts: np.ndarray, means: np.ndarray, m2s: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    r"""Total count, mean and biased variance of a union of W parts from their per-part statistics.

    Parameters: ``counts`` (W,), ``means`` and ``m2s`` (W, C) (m2 = centred sum of squares). Returns
    ``(M, mean (C,), var (C,))`` in float64 (formulas in the module docstring).
    """
    counts = counts.astype(np.float64)
    total = float(counts.sum())
    mean = (counts[:, None] * means).sum(axis=0) / total
    m2 = m2s.sum(axis=0) + (counts[:, None] * (means - mean) ** 2).sum(axis=0)
    return total, mean, m2 / total


class SyncBatchNormFn(Function):
    r"""Fused synchronized batch norm in training mode (see the module docstring for the math).

    Forward arguments: x (N, C, *), weight and bias (C,) or None, comm, eps, stats (dict receiving the
    global ``mean``, biased ``var`` and ``count``). Saves x_hat, inv_std, gamma and the global count.
    """

    saves_for_backward = Saves(inputs=(1,), extra=(Extra("input"),))  # gamma, x_hat (inv_std is per channel)
    is_normalization = True

    @staticmethod
    def forward(ctx, x, weight, bias, comm, eps, stats=None):
        n, c = x.shape[0], x.shape[1]
        xv = x.reshape(n, c, -1)  # (N, C, L)
        m = xv.shape[0] * xv.shape[2]
        if m:
            mu_r, xc, var_r = moments(xv, (0, 2))
        else:  # an empty local batch contributes nothing
            mu_r, xc, var_r = np.zeros((1, c, 1), x.dtype), xv.copy(), np.zeros((1, c, 1), x.dtype)
        if comm.world_size == 1:
            total, mean, var = float(m), mu_r, var_r
        else:
            local = np.concatenate([[m], mu_r.reshape(-1), (var_r * m).reshape(-1)]).astype(np.float64)
            parts = comm.allgather(local)  # (W, 2C + 1)
            total, mean64, var64 = combine_moments(parts[:, 0], parts[:, 1:c + 1], parts[:, c + 1:])
            mean = mean64.astype(x.dtype).reshape(1, c, 1)
            var = var64.astype(x.dtype).reshape(1, c, 1)
            xc = xv - mean
        inv_std = 1 / np.sqrt(var + x.dtype.type(eps))
        x_hat = xc * inv_std
        y = x_hat * weight.reshape(1, c, 1) if weight is not None else x_hat.copy()
        if bias is not None:
            y += bias.reshape(1, c, 1)
        if stats is not None:
            stats["mean"], stats["var"], stats["count"] = mean.reshape(-1), var.reshape(-1), total
        ctx.save_for_backward(x_hat, inv_std, None if weight is None else weight.reshape(1, c, 1))
        ctx.comm, ctx.total, ctx.shape = comm, total, x.shape
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, gy):
        x_hat, inv_std, w = ctx.saved_tensors
        gy = gy.reshape(x_hat.shape)
        c = x_hat.shape[1]
        s1 = np.add.reduce(gy, axis=(0, 2))
        s2 = np.einsum("ncl,ncl->c", gy, x_hat)
        gw = s2.copy() if ctx.needs_input_grad[1] else None
        gb = s1.copy() if ctx.needs_input_grad[2] else None
        gx = None
        if ctx.needs_input_grad[0]:
            if ctx.comm.world_size > 1:
                tot = ctx.comm.allreduce_(np.concatenate([s1, s2]).astype(np.float64))
                s1, s2 = tot[:c].astype(gy.dtype), tot[c:].astype(gy.dtype)
            m = gy.dtype.type(ctx.total)
            a = inv_std if w is None else inv_std * w
            gx = gy - (s1 / m).reshape(1, c, 1)
            gx -= x_hat * (s2 / m).reshape(1, c, 1)
            gx *= a
            gx = gx.reshape(ctx.shape)
        return gx, gw, gb

    @staticmethod
    def infer(call):
        """Shape-only trace: x's shape and dtype; zero statistics; no communication."""
        x, stats = call.x, call.arg(5, "stats")
        if stats is not None:
            stats["mean"] = np.zeros(x.shape[1], x.dtype)
            stats["var"] = np.zeros(x.shape[1], x.dtype)
            stats["count"] = 2.0
        return x.shape, x.dtype

    @staticmethod
    def cost(call):
        """As single-process batch norm (the collectives move O(C) numbers, not counted)."""
        return _norm_cost(call.x.shape, affine=call.inputs[1] is not None, itemsize=call.itemsize)


def sync_batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
                    weight: Tensor | None = None, bias: Tensor | None = None, momentum: float = 0.1,
                    eps: float = 1e-5, comm: Any = None) -> Tensor:
    r"""Training-mode batch norm with statistics over all ranks' batches (module docstring for the math).

    Parameters
    ----------
    x : Tensor (N, C, *)
    running_mean, running_var : Tensor (C,) or None, updated in place with the GLOBAL statistics
    weight, bias : Tensor (C,) or None (gamma, beta)
    momentum : running = (1 - momentum) running + momentum batch_statistic
    eps : added to the variance
    comm : :class:`~cvprimer.distributed.Communicator` (default: the world); every rank must call this
        the same number of times in the same order (it communicates in forward and backward)

    Returns
    -------
    Tensor of x's shape. With one rank it is ``F.batch_norm(..., training=True)``.
    """
    from cvprimer.distributed.comm import world

    op = "sync_batch_norm"
    check_input(op, x, 2, "of at least 2 dims (N, C, *)")
    c = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        check_param(op, name, t, (c,), x)
    eps = check_eps(op, eps)
    stats: dict[str, Any] = {}
    y = SyncBatchNormFn.apply(x, weight, bias, comm or world(), eps, stats)
    total = stats["count"]
    if total <= 1:
        raise ValueError(f"{op}: expected more than 1 value per channel over all ranks when training, got "
                         f"{int(total)} (local input {tuple(x.shape)})")
    update_running(running_mean, running_var, stats["mean"], stats["var"] * (total / (total - 1)),
                   float(momentum))
    return y


class SyncBatchNorm(_BatchNorm):
    r"""Batch norm whose training statistics are those of the global batch over all ranks.

    Same parameters, buffers, ``state_dict`` keys and evaluation behaviour as ``BatchNorm1d/2d``
    (accepts (N, C), (N, C, L) and (N, C, H, W)); ``comm`` (default: the world at the first forward).
    Build one directly or turn a model's batch norms into these with :func:`convert_sync_batchnorm`.

    Differences from PyTorch: no ``process_group`` (one communicator), and the statistics are combined
    with Chan's parallel formula from per-rank means and centred sums of squares.
    """

    _ndims = (2, 3, 4)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype: Any = None, comm: Any = None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype)
        self.comm = comm

    def forward(self, x: Tensor) -> Tensor:
        if not self.training and self.running_mean is not None:
            return super().forward(x)
        if x.ndim not in self._ndims:
            raise ValueError(f"SyncBatchNorm: expected a 2-D, 3-D or 4-D input, got shape {x.shape}")
        factor = 0.0 if self.momentum is None else self.momentum
        track = self.training and self.track_running_stats
        if track:
            self.num_batches_tracked.data += 1
            factor = 1.0 / float(self.num_batches_tracked.data) if self.momentum is None else self.momentum
        return sync_batch_norm(x, self.running_mean if track else None, self.running_var if track else None,
                               self.weight, self.bias, factor, self.eps, self.comm)


def convert_sync_batchnorm(module: Module, comm: Any = None) -> Module:
    """Replace every ``BatchNorm1d``/``BatchNorm2d`` in ``module`` by a :class:`SyncBatchNorm` that shares
    its parameter and buffer Tensors (so an optimizer built before stays valid); returns the module
    (a new one when ``module`` itself is a batch norm)."""

    def convert(bn: Module) -> SyncBatchNorm:
        new = SyncBatchNorm(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats, comm=comm)
        for store in ("_parameters", "_buffers"):
            getattr(new, store).update(getattr(bn, store))
        new.train(bn.training)
        return new

    if isinstance(module, (BatchNorm1d, BatchNorm2d)):
        return convert(module)
    for parent in list(module.modules()):
        for name, child in list(parent._modules.items()):
            if isinstance(child, (BatchNorm1d, BatchNorm2d)):
                parent._modules[name] = convert(child)
    return module
