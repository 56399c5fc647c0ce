r"""SqueezeNet 1.0 and 1.1 as torchvision defines them.

References
----------
F. Iandola et al., "SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and <0.5MB model
size", arXiv:1602.07360. Version 1.1: the SqueezeNet repository (2.4x less computation, 3x3 stem).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import cvprimer as cp
from cvprimer import nn
from cvprimer.core.random import get_rng
from cvprimer.models._utils import check_input, check_int, init_weights
from cvprimer.models.registry import register_model


class Fire(nn.Module):
    r"""Fire module: squeeze 1x1 (``s`` maps) -> ReLU, then expand by 1x1 (``e1``) and 3x3 (``e3``)
    in parallel, each -> ReLU, concatenated: ``(N, C, H, W) -> (N, e1 + e3, H, W)``."""

    def __init__(self, cin: int, squeeze: int, expand1x1: int, expand3x3: int,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1, rng=rng)
        self.squeeze_activation = nn.ReLU()
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, 1, rng=rng)
        self.expand1x1_activation = nn.ReLU()
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, 3, padding=1, rng=rng)
        self.expand3x3_activation = nn.ReLU()

    def forward(self, x: Any) -> Any:
        x = self.squeeze_activation(self.squeeze(x))
        return cp.cat([self.expand1x1_activation(self.expand1x1(x)),
                       self.expand3x3_activation(self.expand3x3(x))], dim=1)


class SqueezeNet(nn.Module):
    r"""SqueezeNet ``version`` "1_0" (7x7/2 stem, 96 maps) or "1_1" (3x3/2 stem, 64 maps, earlier pools).

    Classifier: Dropout -> 1x1 conv to ``num_classes`` -> ReLU -> global average pool.
    Max-pools are 3x3/2 with ``ceil_mode=True``. Initialisation (torchvision's): the final conv
    N(0, 0.01^2), the others kaiming-uniform; biases 0. Parameters (1000 classes): 1,248,424 (1.0),
    1,235,496 (1.1). Smallest input 21x21 (1.0) / 17x17 (1.1).
    """

    def __init__(self, version: str = "1_0", num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if version not in ("1_0", "1_1"):
            raise ValueError(f"SqueezeNet: version must be '1_0' or '1_1', got {version!r}")
        num_classes = check_int("SqueezeNet", "num_classes", num_classes)
        self.in_channels = check_int("SqueezeNet", "in_channels", in_channels)
        self.min_size = 21 if version == "1_0" else 17
        rng = get_rng(rng)

        def pool() -> Any:
            return nn.MaxPool2d(3, 2, ceil_mode=True)

        if version == "1_0":
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, 96, 7, stride=2, rng=rng), nn.ReLU(), pool(),
                Fire(96, 16, 64, 64, rng), Fire(128, 16, 64, 64, rng), Fire(128, 32, 128, 128, rng), pool(),
                Fire(256, 32, 128, 128, rng), Fire(256, 48, 192, 192, rng), Fire(384, 48, 192, 192, rng),
                Fire(384, 64, 256, 256, rng), pool(), Fire(512, 64, 256, 256, rng),
            )
        else:
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, 64, 3, stride=2, rng=rng), nn.ReLU(), pool(),
                Fire(64, 16, 64, 64, rng), Fire(128, 16, 64, 64, rng), pool(),
                Fire(128, 32, 128, 128, rng), Fire(256, 32, 128, 128, rng), pool(),
                Fire(256, 48, 192, 192, rng), Fire(384, 48, 192, 192, rng),
                Fire(384, 64, 256, 256, rng), Fire(512, 64, 256, 256, rng),
            )
        final_conv = nn.Conv2d(512, num_classes, 1, rng=rng)
        self.classifier = nn.Sequential(nn.Dropout(dropout, rng=rng), final_conv, nn.ReLU(),
                                        nn.AdaptiveAvgPool2d((1, 1)))
        init_weights(self, rng, conv="kaiming_uniform")
        nn.init.normal_(final_conv.weight, 0.0, 0.01, rng=rng)

    def forward(self, x: Any) -> Any:
        check_input("SqueezeNet", x, self.in_channels, min_size=self.min_size)
        return self.classifier(self.features(x)).flatten(1)


@register_model
def squeezenet1_0(**kwargs: Any) -> SqueezeNet:
    return SqueezeNet(version="1_0", **kwargs)


@register_model
def squeezenet1_1(**kwargs: Any) -> SqueezeNet:
    return SqueezeNet(version="1_1", **kwargs)
