r"""AlexNet as torchvision defines it (the "one weird trick" single-tower variant: 64-192-384-256-256
channels, no local response normalisation).

References
----------
A. Krizhevsky, I. Sutskever, G. Hinton, "ImageNet classification with deep convolutional neural
networks", NeurIPS 2012; A. Krizhevsky, "One weird trick for parallelizing convolutional neural
networks", arXiv:1404.5997.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer import nn
from cvprimer.core.random import get_rng
from cvprimer.models._utils import check_input, check_int
from cvprimer.models.registry import register_model


class AlexNet(nn.Module):
    r"""Five convolutions (11x11/4, 5x5, 3x3 x3) with three 3x3/2 max-pools, adaptive average pooling
    to 6x6, then Dropout-FC(4096)-ReLU-Dropout-FC(4096)-ReLU-FC(num_classes).

    61,100,840 parameters for 1000 classes (torchvision's figure). Smallest input: 63x63.
    Initialisation: PyTorch's layer defaults (as torchvision).

    Shape
    -----
    ``(N, in_channels, H, W) -> (N, num_classes)``, ``H, W >= 63``.
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        num_classes = check_int("AlexNet", "num_classes", num_classes)
        self.in_channels = check_int("AlexNet", "in_channels", in_channels)
        rng = get_rng(rng)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, 11, stride=4, padding=2, rng=rng), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2, rng=rng), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1, rng=rng), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1, rng=rng), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(3, 2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(dropout, rng=rng), nn.Linear(256 * 6 * 6, 4096, rng=rng), nn.ReLU(),
            nn.Dropout(dropout, rng=rng), nn.Linear(4096, 4096, rng=rng), nn.ReLU(),
            nn.Linear(4096, num_classes, rng=rng),
        )

    def forward(self, x: Any) -> Any:
        check_input("AlexNet", x, self.in_channels, min_size=63)
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


@register_model
def alexnet(**kwargs: Any) -> AlexNet:
    return AlexNet(**kwargs)
