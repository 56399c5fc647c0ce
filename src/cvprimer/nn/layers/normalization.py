r"""Normalization layers: BatchNorm1d/2d (running statistics as buffers), LayerNorm,
InstanceNorm2d, GroupNorm; thin wrappers over :mod:`cvprimer.functional.normalization`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cvprimer.core.tensor import Tensor
from cvprimer.functional.normalization import batch_norm, group_norm, instance_norm, layer_norm
from cvprimer.nn.module import Module
from cvprimer.nn.parameter import Parameter


def _dt(dtype: Any) -> np.dtype:
    return np.dtype(np.float32 if dtype is None else dtype)


class _NormBase(Module):
    """Affine gamma (``weight``, ones) and beta (``bias``, zeros; none with ``bias=False``, PyTorch 2.13's
    keyword); running mean (zeros), running var (ones) and ``num_batches_tracked`` (int64 0) buffers when
    tracking."""

    def __init__(self, num_features: int, eps: float, momentum: float | None, affine: bool,
                 track_running_stats: bool, dtype: Any, bias: bool = True) -> None:
        super().__init__()
        if num_features <= 0:
            raise ValueError(f"{type(self).__name__}: num_features must be > 0, got {num_features}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats, self._has_bias = affine, track_running_stats, bool(bias)
        dt = _dt(dtype)
        self.register_parameter("weight", Parameter(np.ones(num_features, dt)) if affine else None)
        self.register_parameter("bias", Parameter(np.zeros(num_features, dt)) if affine and bias else None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dt)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dt)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                + ("" if self._has_bias else "bias=False, ") + f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    _ndims: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype, bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self._ndims:
            raise ValueError(f"{type(self).__name__}: expected a {' or '.join(f'{d}-D' for d in self._ndims)} "
                             f"input, got shape {x.shape}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            # momentum=None: cumulative moving average, factor 1/(number of batches seen)
            factor = 1.0 / float(self.num_batches_tracked.data) if self.momentum is None else self.momentum
        use_batch = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return batch_norm(x, self.running_mean if track else None, self.running_var if track else None,
                          self.weight, self.bias, use_batch, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    r"""Batch norm over (N, C) or (N, C, L): per channel, statistics over N (and L).

    Training: ``y = gamma (x - mean_B) / sqrt(var_B + eps) + beta`` and
    ``running = (1 - momentum) running + momentum stat_B`` (unbiased batch var in the running var);
    eval: the running statistics normalize. ``momentum=None``: cumulative average.
    """

    _ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    r"""Batch norm over (N, C, H, W), statistics per channel over N, H, W (see BatchNorm1d)."""

    _ndims = (4,)


class InstanceNorm2d(_NormBase):
    r"""Normalize each (n, c) plane over H, W (Ulyanov et al., arXiv:1607.08022). Defaults as PyTorch:
    ``affine=False``, ``track_running_stats=False``."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = False,
                 track_running_stats: bool = False, dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype, bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in (3, 4):
            raise ValueError(f"InstanceNorm2d: expected a 3-D or 4-D input, got shape {x.shape}")
        unbatched = x.ndim == 3
        if unbatched:
            x = x.unsqueeze(0)
        y = instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                          self.training or not self.track_running_stats,
                          0.0 if self.momentum is None else self.momentum, self.eps)  # PyTorch's None: 0
        return y.squeeze(0) if unbatched else y


class LayerNorm(Module):
    r"""Normalize each sample over its trailing ``normalized_shape`` dims (Ba et al., arXiv:1607.06450);
    elementwise affine gamma (ones) and beta (zeros) of that shape."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        dt = _dt(dtype)
        self.register_parameter("weight", Parameter(np.ones(shape, dt)) if elementwise_affine else None)
        self.register_parameter("bias", Parameter(np.zeros(shape, dt)) if elementwise_affine and bias else None)

    def forward(self, x: Tensor) -> Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    r"""Normalize each sample over groups of C / num_groups channels (Wu & He, arXiv:1803.08494);
    per-channel affine gamma (ones) and beta (zeros; none with ``bias=False``)."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        dt = _dt(dtype)
        self.register_parameter("weight", Parameter(np.ones(num_channels, dt)) if affine else None)
        self.register_parameter("bias", Parameter(np.zeros(num_channels, dt)) if affine and bias else None)

    def forward(self, x: Tensor) -> Tensor:
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
