r"""MobileNet v1 (width multiplier alpha, resolution multiplier rho) and torchvision's MobileNet v2.

References
----------
A. Howard et al., "MobileNets: efficient convolutional neural networks for mobile vision
applications", arXiv:1704.04861 (Table 1; Sec. 3.3-3.4 for alpha and rho).
M. Sandler et al., "MobileNetV2: inverted residuals and linear bottlenecks", CVPR 2018,
arXiv:1801.04381 (Table 2).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer import nn
from cvprimer.core.random import get_rng
from cvprimer.models._utils import (
    check_input,
    check_int,
    check_positive,
    conv_bn_act,
    init_weights,
    make_divisible,
)
from cvprimer.models.registry import register_model

# (output channels, stride) of the 13 depthwise-separable layers of Table 1.
V1_CFG = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
          (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


class MobileNetV1(nn.Module):
    r"""MobileNet v1: 3x3/2 conv (32) then 13 depthwise-separable layers (3x3 depthwise conv -> BN ->
    ReLU -> 1x1 pointwise conv -> BN -> ReLU), global average pool, FC.

    Parameters
    ----------
    width_mult : float
        The width multiplier alpha: every layer has ``int(alpha * C)`` channels (paper: 1, 0.75,
        0.5, 0.25; about 4.2M, 2.6M, 1.3M, 0.5M parameters).
    resolution_mult : float
        The resolution multiplier rho: sets the intended input size ``input_size = round(224 rho)``
        (paper: 224, 192, 160, 128). It changes the computation, not the parameters; the network
        accepts any input size (global pooling).
    num_classes, in_channels, dropout, rng : as usual.

    Initialisation: convs kaiming-normal (fan_out), BN 1/0, FC N(0, 0.01^2) with bias 0.
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, width_mult: float = 1.0,
                 resolution_mult: float = 1.0, dropout: float = 0.0, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        num_classes = check_int("MobileNetV1", "num_classes", num_classes)
        self.in_channels = check_int("MobileNetV1", "in_channels", in_channels)
        alpha = check_positive("MobileNetV1", "width_mult", width_mult)
        rho = check_positive("MobileNetV1", "resolution_mult", resolution_mult)
        if rho > 1:
            raise ValueError(f"MobileNetV1: resolution_mult must be in (0, 1], got {resolution_mult!r}")
        self.input_size = int(round(224 * rho))
        rng = get_rng(rng)

        def ch(c: int) -> int:
            return max(1, int(c * alpha))

        c = ch(32)
        layers = [conv_bn_act(in_channels, c, 3, stride=2, rng=rng)]
        for cout, stride in V1_CFG:
            layers.append(nn.Sequential(conv_bn_act(c, c, 3, stride=stride, groups=c, rng=rng),
                                        conv_bn_act(c, ch(cout), 1, rng=rng)))
            c = ch(cout)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Sequential(nn.Dropout(dropout, rng=rng), nn.Linear(c, num_classes, rng=rng))
        init_weights(self, rng, conv="kaiming_normal", conv_mode="fan_out", linear="normal", linear_std=0.01)

    def forward(self, x: Any) -> Any:
        check_input("MobileNetV1", x, self.in_channels)
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


class InvertedResidual(nn.Module):
    r"""MobileNet v2 block: [1x1 expand to ``t * C_in`` -> BN -> ReLU6] -> 3x3 depthwise (stride) ->
    BN -> ReLU6 -> 1x1 linear projection -> BN, plus the input when ``stride == 1`` and
    ``C_in == C_out``."""

    def __init__(self, cin: int, cout: int, stride: int, expand_ratio: int,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        hidden = int(round(cin * expand_ratio))
        self.use_res_connect = stride == 1 and cin == cout
        layers: list[Any] = []
        if expand_ratio != 1:
            layers.append(conv_bn_act(cin, hidden, 1, act="relu6", rng=rng))
        layers += [conv_bn_act(hidden, hidden, 3, stride=stride, groups=hidden, act="relu6", rng=rng),
                   nn.Conv2d(hidden, cout, 1, bias=False, rng=rng), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Any) -> Any:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


# (expansion t, output channels c, repeats n, first stride s): Table 2 of the paper.
V2_CFG = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


class MobileNetV2(nn.Module):
    r"""MobileNet v2 (torchvision's): 3x3/2 conv (32) -> 17 inverted residual blocks (Table 2) ->
    1x1 conv (1280) -> global average pool -> dropout (0.2) -> FC.

    Parameters
    ----------
    width_mult : float
        Multiplies every width; each is rounded by ``make_divisible(c * width_mult, round_nearest)``
        (never down by more than 10%); the last layer is ``make_divisible(1280 max(1, width_mult))``.
    round_nearest : int (8)
    num_classes, in_channels, dropout, rng : as usual.

    Initialisation (torchvision's): convs kaiming-normal (fan_out), BN 1/0, FC N(0, 0.01^2), bias 0.
    Parameters (1000 classes, width 1): 3,504,872.
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, width_mult: float = 1.0,
                 round_nearest: int = 8, dropout: float = 0.2, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        num_classes = check_int("MobileNetV2", "num_classes", num_classes)
        self.in_channels = check_int("MobileNetV2", "in_channels", in_channels)
        width_mult = check_positive("MobileNetV2", "width_mult", width_mult)
        round_nearest = check_int("MobileNetV2", "round_nearest", round_nearest)
        rng = get_rng(rng)
        c = make_divisible(32 * width_mult, round_nearest)
        self.last_channel = make_divisible(1280 * max(1.0, width_mult), round_nearest)
        layers: list[Any] = [conv_bn_act(in_channels, c, 3, stride=2, act="relu6", rng=rng)]
        for t, cout, n, s in V2_CFG:
            cout = make_divisible(cout * width_mult, round_nearest)
            for i in range(n):
                layers.append(InvertedResidual(c, cout, s if i == 0 else 1, t, rng))
                c = cout
        layers.append(conv_bn_act(c, self.last_channel, 1, act="relu6", rng=rng))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Sequential(nn.Dropout(dropout, rng=rng),
                                        nn.Linear(self.last_channel, num_classes, rng=rng))
        init_weights(self, rng, conv="kaiming_normal", conv_mode="fan_out", linear="normal", linear_std=0.01)

    def forward(self, x: Any) -> Any:
        check_input("MobileNetV2", x, self.in_channels)
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


@register_model
def mobilenet_v1(**kwargs: Any) -> MobileNetV1:
    return MobileNetV1(**kwargs)


@register_model
def mobilenet_v2(**kwargs: Any) -> MobileNetV2:
    return MobileNetV2(**kwargs)
