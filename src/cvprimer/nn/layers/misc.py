r"""Structural layers: Flatten, Unflatten, Identity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cvprimer.core.api import flatten, reshape
from cvprimer.core.tensor import Tensor
from cvprimer.nn.module import Module


class Flatten(Module):
    r"""Merge dims ``start_dim..end_dim``: (N, C, H, W) -> (N, C H W) by default (start_dim=1)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    r"""Split dim ``dim`` into ``unflattened_size``."""

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x: Tensor) -> Tensor:
        d = self.dim % x.ndim
        return reshape(x, x.shape[:d] + self.unflattened_size + x.shape[d + 1:])


class Identity(Module):
    r"""Returns its input unchanged (a placeholder, e.g. for an optional block). Extra arguments
    to the constructor are accepted and ignored, as in PyTorch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x
