r"""Dropout layers: active in ``train()`` mode, identity in ``eval()`` mode."""

from __future__ import annotations

import numpy as np

from cvprimer.core.tensor import Tensor
from cvprimer.functional.dropout import dropout, dropout2d
from cvprimer.nn.module import Module


class _DropoutNd(Module):
    """``p`` the drop probability; ``inplace`` (PyTorch's) writes the result into the input; ``rng`` (keyword
    only) the generator of the masks (None: the default one, see ``cp.manual_seed``)."""

    def __init__(self, p: float = 0.5, inplace: bool = False, *, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: p must be in [0, 1], got {p}")
        self.p, self.inplace, self.rng = p, bool(inplace), rng

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    r"""Zero each element with probability p and scale the rest by 1/(1-p) (inverted dropout)."""

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training, self.inplace, rng=self.rng)


class Dropout2d(_DropoutNd):
    r"""Zero whole channels of (N, C, H, W) with probability p, scale the rest by 1/(1-p)."""

    def forward(self, x: Tensor) -> Tensor:
        return dropout2d(x, self.p, self.training, self.inplace, rng=self.rng)
