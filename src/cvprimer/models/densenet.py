r"""DenseNet-BC (121, 161, 169, 201) as torchvision defines it.

References
----------
G. Huang, Z. Liu, L. van der Maaten, K. Weinberger, "Densely connected convolutional networks",
CVPR 2017, arXiv:1608.06993 (Table 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.core.random import get_rng
from cvprimer.models._utils import check_input, check_int, init_weights
from cvprimer.models.registry import register_model


class DenseLayer(nn.Module):
    r"""BN -> ReLU -> 1x1 conv (``bn_size * k`` maps) -> BN -> ReLU -> 3x3 conv (``k`` maps)
    [-> dropout]; its input is the concatenation of all earlier feature maps of the block."""

    def __init__(self, cin: int, growth_rate: int, bn_size: int, drop_rate: float,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(cin, bn_size * growth_rate, 1, bias=False, rng=rng)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False, rng=rng)
        self.drop_rate, self.rng = float(drop_rate), rng

    def forward(self, x: Any) -> Any:
        out = self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))
        if self.drop_rate > 0:
            out = F.dropout(out, self.drop_rate, self.training, rng=self.rng)
        return out


class DenseBlock(nn.Module):
    r"""``num_layers`` dense layers; layer ``i`` sees ``cin + i k`` channels; the block returns the
    concatenation of its input and every layer's output (``cin + num_layers k`` channels)."""

    def __init__(self, num_layers: int, cin: int, bn_size: int, growth_rate: int, drop_rate: float,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}",
                            DenseLayer(cin + i * growth_rate, growth_rate, bn_size, drop_rate, rng))

    def forward(self, x: Any) -> Any:
        features = [x]
        for layer in self.children():
            features.append(layer(cp.cat(features, dim=1)))
        return cp.cat(features, dim=1)


class Transition(nn.Sequential):
    """BN -> ReLU -> 1x1 conv (compression) -> 2x2/2 average pool."""

    def __init__(self, cin: int, cout: int, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.add_module("norm", nn.BatchNorm2d(cin))
        self.add_module("relu", nn.ReLU())
        self.add_module("conv", nn.Conv2d(cin, cout, 1, bias=False, rng=rng))
        self.add_module("pool", nn.AvgPool2d(2, 2))


class DenseNet(nn.Module):
    r"""DenseNet-BC: 7x7/2 conv -> BN -> ReLU -> 3x3/2 max-pool -> dense blocks separated by
    transitions that halve the channels -> BN -> ReLU -> global average pool -> FC.

    Parameters
    ----------
    growth_rate : int (k; 32 for DenseNet-121)
    block_config : layers per dense block ((6, 12, 24, 16) for DenseNet-121)
    num_init_features : int (64), bn_size : int (4), drop_rate : float (0)
    num_classes, in_channels, rng : as usual.

    Initialisation (torchvision's): convs kaiming-normal (fan_in), BN 1/0, FC bias 0.
    Parameters (1000 classes): DenseNet-121 7,978,856. Smallest input 29x29.
    """

    def __init__(self, growth_rate: int = 32, block_config: tuple[int, ...] = (6, 12, 24, 16),
                 num_init_features: int = 64, bn_size: int = 4, drop_rate: float = 0.0, num_classes: int = 1000,
                 in_channels: int = 3, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        growth_rate = check_int("DenseNet", "growth_rate", growth_rate)
        num_classes = check_int("DenseNet", "num_classes", num_classes)
        self.in_channels = check_int("DenseNet", "in_channels", in_channels)
        if not 0 <= drop_rate < 1:
            raise ValueError(f"DenseNet: drop_rate must be in [0, 1), got {drop_rate!r}")
        rng = get_rng(rng)
        self.features = nn.Sequential()
        self.features.add_module("conv0", nn.Conv2d(in_channels, num_init_features, 7, stride=2, padding=3,
                                                    bias=False, rng=rng))
        self.features.add_module("norm0", nn.BatchNorm2d(num_init_features))
        self.features.add_module("relu0", nn.ReLU())
        self.features.add_module("pool0", nn.MaxPool2d(3, 2, 1))
        c = num_init_features
        for i, n in enumerate(block_config):
            check_int("DenseNet", "layers per block", n)
            self.features.add_module(f"denseblock{i + 1}", DenseBlock(n, c, bn_size, growth_rate, drop_rate, rng))
            c += n * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", Transition(c, c // 2, rng))
                c //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(c))
        self.relu = nn.ReLU()
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Linear(c, num_classes, rng=rng)
        init_weights(self, rng, conv="kaiming_normal", conv_mode="fan_in", linear="zero_bias")

    def forward(self, x: Any) -> Any:
        check_input("DenseNet", x, self.in_channels)
        return self.classifier(self.avgpool(self.relu(self.features(x))).flatten(1))


_CFG = {121: (32, (6, 12, 24, 16), 64), 161: (48, (6, 12, 36, 24), 96), 169: (32, (6, 12, 32, 32), 64),
        201: (32, (6, 12, 48, 32), 64)}


def _densenet(depth: int) -> Any:
    def build(**kwargs: Any) -> DenseNet:
        k, cfg, init_features = _CFG[depth]
        return DenseNet(k, cfg, init_features, **kwargs)

    build.__name__ = f"densenet{depth}"
    build.__doc__ = f"DenseNet-{depth} (torchvision's; see :class:`DenseNet`)."
    return register_model(build)


densenet121, densenet161, densenet169, densenet201 = (_densenet(d) for d in (121, 161, 169, 201))
