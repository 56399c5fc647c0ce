r"""ShuffleNet v2 (x0.5, x1.0, x1.5, x2.0) as torchvision defines it.

References
----------
N. Ma, X. Zhang, H.-T. Zheng, J. Sun, "ShuffleNet V2: practical guidelines for efficient CNN
architecture design", ECCV 2018, arXiv:1807.11164 (Fig. 3 (c, d), Table 5).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.core.random import get_rng
from cvprimer.models._utils import check_input, check_int, conv_bn_act
from cvprimer.models.registry import register_model

STAGE_CHANNELS = {"0_5": (24, 48, 96, 192, 1024), "1_0": (24, 116, 232, 464, 1024),
                  "1_5": (24, 176, 352, 704, 1024), "2_0": (24, 244, 488, 976, 2048)}


class ShuffleUnit(nn.Module):
    r"""ShuffleNet v2 unit. Stride 1 (Fig. 3c): channel split in halves; one half passes unchanged,
    the other goes 1x1 conv -> BN -> ReLU -> 3x3 depthwise -> BN -> 1x1 conv -> BN -> ReLU; concat,
    then channel shuffle (2 groups). Stride 2 (Fig. 3d): no split; both branches see the whole input
    (left: 3x3/2 depthwise -> BN -> 1x1 -> BN -> ReLU), output channels double."""

    def __init__(self, cin: int, cout: int, stride: int, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if cout % 2:
            raise ValueError(f"ShuffleUnit: output channels must be even, got {cout}")
        self.stride = stride
        half = cout // 2
        if stride == 1 and cin != 2 * half:
            raise ValueError(f"ShuffleUnit: stride 1 needs cin == cout, got {cin} -> {cout}")
        c2 = cin if stride > 1 else half
        if stride > 1:   # flat Sequentials, so parameter names match torchvision's (branch1.0.weight, ...)
            self.branch1 = nn.Sequential(
                nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin, bias=False, rng=rng), nn.BatchNorm2d(cin),
                nn.Conv2d(cin, half, 1, bias=False, rng=rng), nn.BatchNorm2d(half), nn.ReLU())
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(c2, half, 1, bias=False, rng=rng), nn.BatchNorm2d(half), nn.ReLU(),
            nn.Conv2d(half, half, 3, stride=stride, padding=1, groups=half, bias=False, rng=rng), nn.BatchNorm2d(half),
            nn.Conv2d(half, half, 1, bias=False, rng=rng), nn.BatchNorm2d(half), nn.ReLU())

    def forward(self, x: Any) -> Any:
        if self.stride == 1:
            x1, x2 = cp.chunk(x, 2, dim=1)
            out = cp.cat([x1, self.branch2(x2)], dim=1)
        else:
            out = cp.cat([self.branch1(x), self.branch2(x)], dim=1)
        return F.channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    r"""ShuffleNet v2: 3x3/2 conv (24) -> BN -> ReLU -> 3x3/2 max-pool -> stages of 4, 8, 4 units
    (the first of each with stride 2) -> 1x1 conv -> BN -> ReLU -> global average pool -> FC.

    Parameters
    ----------
    width : {"0_5", "1_0", "1_5", "2_0"}
        The network width (Table 5 of the paper), e.g. "1_0" is ShuffleNet v2 1x.
    num_classes, in_channels, rng : as usual. Initialisation: PyTorch's layer defaults.

    Parameters (1000 classes): 1,366,792 / 2,278,604 / 3,503,624 / 7,393,996.
    """

    def __init__(self, width: str = "1_0", num_classes: int = 1000, in_channels: int = 3,
                 stages_repeats: tuple[int, int, int] = (4, 8, 4), rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if width not in STAGE_CHANNELS:
            raise ValueError(f"ShuffleNetV2: width must be one of {list(STAGE_CHANNELS)}, got {width!r}")
        num_classes = check_int("ShuffleNetV2", "num_classes", num_classes)
        self.in_channels = check_int("ShuffleNetV2", "in_channels", in_channels)
        if len(stages_repeats) != 3:
            raise ValueError(f"ShuffleNetV2: stages_repeats must have 3 entries, got {stages_repeats!r}")
        rng = get_rng(rng)
        chans = STAGE_CHANNELS[width]
        self.conv1 = conv_bn_act(in_channels, chans[0], 3, stride=2, rng=rng)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        c = chans[0]
        for i, (reps, cout) in enumerate(zip(stages_repeats, chans[1:4], strict=True)):
            reps = check_int("ShuffleNetV2", "stages_repeats", reps)
            units = [ShuffleUnit(c, cout, 2, rng)] + [ShuffleUnit(cout, cout, 1, rng) for _ in range(reps - 1)]
            setattr(self, f"stage{i + 2}", nn.Sequential(*units))
            c = cout
        self.conv5 = conv_bn_act(c, chans[4], 1, rng=rng)
        self.fc = nn.Linear(chans[4], num_classes, rng=rng)

    def forward(self, x: Any) -> Any:
        check_input("ShuffleNetV2", x, self.in_channels)
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        return self.fc(x.mean(dim=(2, 3)))


def _shufflenet(width: str) -> Any:
    def build(**kwargs: Any) -> ShuffleNetV2:
        return ShuffleNetV2(width, **kwargs)

    build.__name__ = f"shufflenet_v2_x{width}"
    build.__doc__ = f"ShuffleNet v2 x{width.replace('_', '.')} (see :class:`ShuffleNetV2`)."
    return register_model(build)


shufflenet_v2_x0_5, shufflenet_v2_x1_0, shufflenet_v2_x1_5, shufflenet_v2_x2_0 = (
    _shufflenet(w) for w in ("0_5", "1_0", "1_5", "2_0"))
