r"""VGG-11/13/16/19 (configurations A, B, D, E), with or without batch normalisation, as torchvision.

References
----------
K. Simonyan, A. Zisserman, "Very deep convolutional networks for large-scale image recognition",
ICLR 2015, arXiv:1409.1556 (Table 1). Batch-norm variants: torchvision's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer import nn
from cvprimer.core.random import get_rng
from cvprimer.models._utils import check_input, check_int, init_weights
from cvprimer.models.registry import register_model

# Output channels of each 3x3 convolution; "M" is a 2x2/2 max-pool (Table 1 of the paper).
CFGS: dict[str, list[int | str]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
DEPTH_CFG = {11: "A", 13: "B", 16: "D", 19: "E"}


def make_layers(cfg: list[int | str], in_channels: int, batch_norm: bool, rng: np.random.Generator) -> Any:
    """The convolutional trunk: 3x3 conv (padding 1) [-> BN] -> ReLU per number, max-pool per "M"."""
    layers: list[Any] = []
    c = in_channels
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
            continue
        layers.append(nn.Conv2d(c, int(v), 3, padding=1, rng=rng))
        if batch_norm:
            layers.append(nn.BatchNorm2d(int(v)))
        layers.append(nn.ReLU())
        c = int(v)
    return nn.Sequential(*layers)


class VGG(nn.Module):
    r"""VGG: the conv trunk of ``depth`` layers, adaptive average pooling to 7x7, then
    FC(4096)-ReLU-Dropout-FC(4096)-ReLU-Dropout-FC(num_classes).

    Parameters
    ----------
    depth : {11, 13, 16, 19}
    batch_norm : bool
        Insert BatchNorm2d after every convolution (torchvision's ``vgg*_bn``).
    num_classes, in_channels, dropout, rng : as usual.
    classifier_width : int
        Width of the two hidden FC layers (4096 in the paper; e.g. 512 is the usual CIFAR variant).
    pool_size : int
        Side of the adaptive average pool before the classifier (7 as torchvision; 1 for CIFAR).

    Initialisation (torchvision's): convs kaiming-normal (fan_out, ReLU), biases 0; BN 1/0;
    linears N(0, 0.01^2), biases 0. Smallest input 32x32 (five 2x2 pools).
    Parameters for 1000 classes: 132,863,336 / 133,047,848 / 138,357,544 / 143,667,240
    (+ 5,504 / 5,888 / 8,448 / 11,008 with BN).
    """

    def __init__(self, depth: int = 16, batch_norm: bool = False, num_classes: int = 1000, in_channels: int = 3,
                 dropout: float = 0.5, classifier_width: int = 4096, pool_size: int = 7,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if depth not in DEPTH_CFG:
            raise ValueError(f"VGG: depth must be one of {sorted(DEPTH_CFG)}, got {depth!r}")
        num_classes = check_int("VGG", "num_classes", num_classes)
        self.in_channels = check_int("VGG", "in_channels", in_channels)
        rng = get_rng(rng)
        self.features = make_layers(CFGS[DEPTH_CFG[depth]], in_channels, batch_norm, rng)
        hidden = check_int("VGG", "classifier_width", classifier_width)
        pool_size = check_int("VGG", "pool_size", pool_size)
        self.avgpool = nn.AdaptiveAvgPool2d((pool_size, pool_size))
        self.classifier = nn.Sequential(
            nn.Linear(512 * pool_size**2, hidden, rng=rng), nn.ReLU(), nn.Dropout(dropout, rng=rng),
            nn.Linear(hidden, hidden, rng=rng), nn.ReLU(), nn.Dropout(dropout, rng=rng),
            nn.Linear(hidden, num_classes, rng=rng),
        )
        init_weights(self, rng, conv="kaiming_normal", conv_mode="fan_out", linear="normal", linear_std=0.01)

    def forward(self, x: Any) -> Any:
        check_input("VGG", x, self.in_channels, min_size=32)
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def _vgg(depth: int, bn: bool) -> Any:
    def build(**kwargs: Any) -> VGG:
        return VGG(depth=depth, batch_norm=bn, **kwargs)

    build.__name__ = f"vgg{depth}{'_bn' if bn else ''}"
    build.__doc__ = f"VGG-{depth}{' with batch normalisation' if bn else ''} (see :class:`VGG`)."
    return register_model(build)


vgg11, vgg11_bn, vgg13, vgg13_bn = _vgg(11, False), _vgg(11, True), _vgg(13, False), _vgg(13, True)
vgg16, vgg16_bn, vgg19, vgg19_bn = _vgg(16, False), _vgg(16, True), _vgg(19, False), _vgg(19, True)
