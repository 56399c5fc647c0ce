r"""SE-ResNet: ResNet blocks with squeeze-and-excitation channel gating (reduction 16).

References
----------
J. Hu, L. Shen, G. Sun, "Squeeze-and-excitation networks", CVPR 2018, arXiv:1709.01507 (Fig. 3:
the SE module sits on the residual branch, after its last BN and before the sum with the
shortcut). SE-ResNet-50 has 28.1M parameters (Table 1 of the paper: +2.5M over ResNet-50).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer import nn
from cvprimer.models._utils import check_int
from cvprimer.models.registry import register_model
from cvprimer.models.resnet import BasicBlock, Bottleneck, ResNet


class SEModule(nn.Module):
    r"""Squeeze-and-excitation: ``s = sigmoid(W2 ReLU(W1 mean_{H,W}(x) + b1) + b2)``, ``y = x * s``
    per channel, with ``W1: C -> C/r`` and ``W2: C/r -> C`` fully connected (biases included).

    Shape: ``(N, C, H, W) -> (N, C, H, W)``; ``2 C^2 / r + C / r + C`` parameters.
    """

    def __init__(self, channels: int, reduction: int = 16, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        channels = check_int("SEModule", "channels", channels)
        reduction = check_int("SEModule", "reduction", reduction)
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Linear(channels, hidden, rng=rng)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden, channels, rng=rng)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: Any) -> Any:
        s = self.sigmoid(self.fc2(self.relu(self.fc1(x.mean(dim=(2, 3))))))    # (N, C)
        return x * s.reshape(s.shape[0], s.shape[1], 1, 1)


class SEBasicBlock(BasicBlock):
    """:class:`BasicBlock` with an :class:`SEModule` on the residual branch."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Any = None,
                 rng: np.random.Generator | None = None, dilation: int = 1, reduction: int = 16) -> None:
        super().__init__(inplanes, planes, stride, downsample, rng=rng, dilation=dilation)
        self.se = SEModule(planes * self.expansion, reduction, rng=rng)

    def residual(self, x: Any) -> Any:
        return self.se(super().residual(x))


class SEBottleneck(Bottleneck):
    """:class:`Bottleneck` with an :class:`SEModule` on the residual branch (after ``bn3``)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Any = None,
                 rng: np.random.Generator | None = None, dilation: int = 1, reduction: int = 16) -> None:
        super().__init__(inplanes, planes, stride, downsample, rng=rng, dilation=dilation)
        self.se = SEModule(planes * self.expansion, reduction, rng=rng)

    def residual(self, x: Any) -> Any:
        return self.se(super().residual(x))


_SE = {18: (SEBasicBlock, [2, 2, 2, 2]), 34: (SEBasicBlock, [3, 4, 6, 3]), 50: (SEBottleneck, [3, 4, 6, 3]),
       101: (SEBottleneck, [3, 4, 23, 3]), 152: (SEBottleneck, [3, 8, 36, 3])}


def se_resnet(depth: int = 50, reduction: int = 16, **kwargs: Any) -> ResNet:
    r"""SE-ResNet-``depth`` (18, 34, 50, 101, 152): torchvision's ResNet trunk with SE blocks."""
    if depth not in _SE:
        raise ValueError(f"se_resnet: depth must be one of {sorted(_SE)}, got {depth!r}")
    block, layers = _SE[depth]
    return ResNet(block, layers, reduction=reduction, **kwargs)


def _se(depth: int) -> Any:
    def build(**kwargs: Any) -> ResNet:
        return se_resnet(depth, **kwargs)

    build.__name__ = f"se_resnet{depth}"
    build.__doc__ = f"SE-ResNet-{depth} (reduction 16 by default; see :func:`se_resnet`)."
    return register_model(build)


se_resnet18, se_resnet34, se_resnet50, se_resnet101, se_resnet152 = (_se(d) for d in (18, 34, 50, 101, 152))
