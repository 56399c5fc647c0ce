r"""GoogLeNet (Inception v1) as torchvision defines it.

References
----------
C. Szegedy et al., "Going deeper with convolutions", CVPR 2015, arXiv:1409.4842 (Table 1).

Differences from the paper (kept to match torchvision's layer list and its 6,624,904 parameters):
every convolution is followed by BatchNorm (eps 0.001) and has no bias; the "5x5" branch of each
Inception module uses a 3x3 convolution (as torchvision's ported weights do); max-pools use
``ceil_mode=True``. ``transform_input`` is not provided.
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


class BasicConv2d(nn.Sequential):
    """Conv2d (no bias) -> BatchNorm2d (eps 0.001) -> ReLU."""

    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.add_module("conv", nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=padding, bias=False,
                                          rng=rng))
        self.add_module("bn", nn.BatchNorm2d(cout, eps=0.001))
        self.add_module("relu", nn.ReLU())


class Inception(nn.Module):
    r"""Four parallel branches concatenated on channels: 1x1; 1x1 -> 3x3; 1x1 -> "5x5" (3x3 here);
    3x3/1 max-pool -> 1x1. Output channels ``ch1x1 + ch3x3 + ch5x5 + pool_proj``."""

    def __init__(self, cin: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int,
                 pool_proj: int, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.branch1 = BasicConv2d(cin, ch1x1, 1, rng=rng)
        self.branch2 = nn.Sequential(BasicConv2d(cin, ch3x3red, 1, rng=rng),
                                     BasicConv2d(ch3x3red, ch3x3, 3, padding=1, rng=rng))
        self.branch3 = nn.Sequential(BasicConv2d(cin, ch5x5red, 1, rng=rng),
                                     BasicConv2d(ch5x5red, ch5x5, 3, padding=1, rng=rng))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), BasicConv2d(cin, pool_proj, 1, rng=rng))

    def forward(self, x: Any) -> Any:
        return cp.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class InceptionAux(nn.Module):
    r"""Auxiliary classifier: adaptive average pool to 4x4 -> 1x1 conv (128) -> FC(1024) -> ReLU ->
    dropout -> FC(num_classes)."""

    def __init__(self, cin: int, num_classes: int, dropout: float = 0.7,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.conv = BasicConv2d(cin, 128, 1, rng=rng)
        self.fc1 = nn.Linear(2048, 1024, rng=rng)
        self.fc2 = nn.Linear(1024, num_classes, rng=rng)
        self.dropout = nn.Dropout(dropout, rng=rng)

    def forward(self, x: Any) -> Any:
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4))).flatten(1)
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


class GoogLeNet(nn.Module):
    r"""GoogLeNet: stem (7x7/2 conv, pool, 1x1, 3x3, pool) -> Inception 3a, 3b -> pool -> 4a..4e ->
    pool -> 5a, 5b -> global average pool -> dropout (0.2) -> FC.

    Parameters
    ----------
    num_classes, in_channels, rng : as usual.
    aux_logits : bool
        Build the two auxiliary classifiers (after 4a and 4d); in training mode ``forward`` then
        returns ``(logits, aux2, aux1)`` as torchvision does. Default False.
    dropout, dropout_aux : float

    Initialisation: conv and FC weights N(0, 0.01^2) (torchvision truncates at +-2, i.e. 200 sigma:
    the same), BN 1/0. Parameters (1000 classes, no aux heads): 6,624,904. Smallest input 15x15.
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, aux_logits: bool = False,
                 dropout: float = 0.2, dropout_aux: float = 0.7, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        num_classes = check_int("GoogLeNet", "num_classes", num_classes)
        self.in_channels = check_int("GoogLeNet", "in_channels", in_channels)
        rng = get_rng(rng)
        self.aux_logits = bool(aux_logits)
        self.conv1 = BasicConv2d(in_channels, 64, 7, stride=2, padding=3, rng=rng)
        self.maxpool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, 1, rng=rng)
        self.conv3 = BasicConv2d(64, 192, 3, padding=1, rng=rng)
        self.maxpool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32, rng)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64, rng)
        self.maxpool3 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64, rng)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64, rng)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64, rng)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64, rng)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128, rng)
        self.maxpool4 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128, rng)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128, rng)
        if self.aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout_aux, rng)
            self.aux2 = InceptionAux(528, num_classes, dropout_aux, rng)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(dropout, rng=rng)
        self.fc = nn.Linear(1024, num_classes, rng=rng)
        init_weights(self, rng, conv="normal", conv_std=0.01, linear="normal", linear_std=0.01)

    def forward(self, x: Any) -> Any:
        check_input("GoogLeNet", x, self.in_channels)
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux_logits and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux_logits and self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        logits = self.fc(self.dropout(self.avgpool(x).flatten(1)))
        if aux1 is not None:
            return logits, aux2, aux1
        return logits


@register_model
def googlenet(**kwargs: Any) -> GoogLeNet:
    return GoogLeNet(**kwargs)
