r"""Residual networks: torchvision's ImageNet ResNet-18/34/50/101/152 and the CIFAR ResNets of
He et al. (2015) Sec. 4.2 (depth 6n+2, option A shortcuts).

References
----------
K. He, X. Zhang, S. Ren, J. Sun, "Deep residual learning for image recognition", CVPR 2016,
arXiv:1512.03385. The ImageNet models follow torchvision ("ResNet v1.5": the bottleneck's stride
is on its 3x3 convolution, not on the first 1x1 as in the paper).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import cvprimer.functional as F
from cvprimer import nn
from cvprimer.core.random import get_rng
from cvprimer.models._utils import check_input, check_int, init_weights
from cvprimer.models.registry import register_model


def conv3x3(cin: int, cout: int, stride: int = 1, rng: np.random.Generator | None = None, dilation: int = 1) -> Any:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False, rng=rng)


def conv1x1(cin: int, cout: int, stride: int = 1, rng: np.random.Generator | None = None) -> Any:
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False, rng=rng)


class BasicBlock(nn.Module):
    r"""Two 3x3 convolutions with BN, ``y = ReLU(BN(conv(ReLU(BN(conv(x))))) + shortcut(x))``;
    the first convolution carries the stride. ``expansion = 1``."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Any = None,
                 rng: np.random.Generator | None = None, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride, rng, dilation)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = conv3x3(planes, planes, 1, rng, dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def residual(self, x: Any) -> Any:
        return self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))

    def forward(self, x: Any) -> Any:
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.residual(x) + identity)


class Bottleneck(nn.Module):
    r"""1x1 (reduce to ``planes``) -> 3x3 (stride here, torchvision's v1.5) -> 1x1 (expand to
    ``4 planes``), each with BN, ReLU after the first two and after the residual sum."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Any = None,
                 rng: np.random.Generator | None = None, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes, rng=rng)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride, rng, dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion, rng=rng)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def residual(self, x: Any) -> Any:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.bn3(self.conv3(out))

    def forward(self, x: Any) -> Any:
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.residual(x) + identity)


LAYERS = {18: (BasicBlock, [2, 2, 2, 2]), 34: (BasicBlock, [3, 4, 6, 3]), 50: (Bottleneck, [3, 4, 6, 3]),
          101: (Bottleneck, [3, 4, 23, 3]), 152: (Bottleneck, [3, 8, 36, 3])}


class ResNet(nn.Module):
    r"""ImageNet ResNet: 7x7/2 conv (64) -> BN -> ReLU -> 3x3/2 max-pool -> four stages of
    ``layers[i]`` blocks with ``64 * 2^i * width_mult`` planes (stride 2 from stage 2 on; a 1x1
    conv + BN projection shortcut where the shape changes) -> global average pool -> FC.

    Parameters
    ----------
    block : BasicBlock or Bottleneck (or a subclass, e.g. the SE blocks of :mod:`.senet`)
    layers : four ints (blocks per stage)
    num_classes, in_channels, rng : as usual.
    width_mult : float
        Multiplies every stage's width (1.0 is the paper's network).
    zero_init_residual : bool
        Zero the last BN's weight of each block (torchvision's option, Goyal et al. 2017).
    replace_stride_with_dilation : three bools
        For stages 2-4, dilate instead of striding (output stride 8 or 16; used by segmentation).

    Initialisation (torchvision's): convs kaiming-normal (fan_out, ReLU), BN 1/0, FC PyTorch default.
    Parameters (1000 classes): 11,689,512 / 21,797,672 / 25,557,032 / 44,549,160 / 60,192,808.
    """

    def __init__(self, block: Any = BasicBlock, layers: list[int] | tuple[int, ...] = (2, 2, 2, 2),
                 num_classes: int = 1000, in_channels: int = 3, width_mult: float = 1.0,
                 zero_init_residual: bool = False,
                 replace_stride_with_dilation: tuple[bool, bool, bool] = (False, False, False),
                 rng: np.random.Generator | None = None, **block_kwargs: Any) -> None:
        super().__init__()
        if len(layers) != 4:
            raise ValueError(f"ResNet: layers must have 4 entries (blocks per stage), got {list(layers)}")
        for n in layers:
            check_int("ResNet", "blocks per stage", n)
        num_classes = check_int("ResNet", "num_classes", num_classes)
        self.in_channels = check_int("ResNet", "in_channels", in_channels)
        if len(replace_stride_with_dilation) != 3:
            raise ValueError("ResNet: replace_stride_with_dilation must have 3 entries, got "
                             f"{replace_stride_with_dilation!r}")
        rng = get_rng(rng)
        self._rng, self._block_kwargs = rng, block_kwargs
        widths = [max(1, int(round(64 * width_mult * 2**i))) for i in range(4)]
        self.inplanes, self.dilation = widths[0], 1
        self.conv1 = nn.Conv2d(in_channels, self.inplanes, 7, stride=2, padding=3, bias=False, rng=rng)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, widths[0], layers[0])
        self.layer2 = self._make_layer(block, widths[1], layers[1], 2, replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, widths[2], layers[2], 2, replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, widths[3], layers[3], 2, replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.out_channels = widths[3] * block.expansion
        self.fc = nn.Linear(self.out_channels, num_classes, rng=rng)
        init_weights(self, rng, conv="kaiming_normal", conv_mode="fan_out")
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)
        del self._rng

    def _make_layer(self, block: Any, planes: int, blocks: int, stride: int = 1, dilate: bool = False) -> Any:
        rng = self._rng
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride, rng),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, rng=rng, dilation=previous_dilation,
                        **self._block_kwargs)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, rng=rng, dilation=self.dilation, **self._block_kwargs))
        return nn.Sequential(*layers)

    def forward_features(self, x: Any) -> Any:
        """The trunk up to ``layer4``: ``(N, C_in, H, W) -> (N, out_channels, H/32, W/32)``."""
        check_input(type(self).__name__, x, self.in_channels)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x: Any) -> Any:
        return self.fc(self.avgpool(self.forward_features(x)).flatten(1))


def _resnet(depth: int) -> Any:
    def build(**kwargs: Any) -> ResNet:
        block, layers = LAYERS[depth]
        return ResNet(block, layers, **kwargs)

    build.__name__ = f"resnet{depth}"
    build.__doc__ = f"ResNet-{depth} (torchvision's; see :class:`ResNet`)."
    return register_model(build)


resnet18, resnet34, resnet50, resnet101, resnet152 = (_resnet(d) for d in (18, 34, 50, 101, 152))


# --- CIFAR ResNets (He et al. 2015, Sec. 4.2) ------------------------------------------------

class ShortcutA(nn.Module):
    r"""Option A: a parameter-free shortcut. Spatial subsampling by taking every ``stride``-th pixel
    (``x[:, :, ::s, ::s]``) and zero-padding the channels, half before and half after (Composite)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.stride, self.pad_before, self.pad_after = stride, (cout - cin) // 2, cout - cin - (cout - cin) // 2

    def forward(self, x: Any) -> Any:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad_before, self.pad_after))


class CifarBasicBlock(BasicBlock):
    """A :class:`BasicBlock` whose shortcut is option A (identity or :class:`ShortcutA`)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, rng: np.random.Generator | None = None) -> None:
        shortcut = ShortcutA(inplanes, planes, stride) if stride != 1 or inplanes != planes else None
        super().__init__(inplanes, planes, stride, shortcut, rng=rng)


class CifarResNet(nn.Module):
    r"""The CIFAR-10 ResNet of depth ``6n + 2``: 3x3 conv (16) -> BN -> ReLU -> three stages of ``n``
    basic blocks on 32x32, 16x16, 8x8 maps with 16, 32, 64 filters -> global average pool -> FC.

    Shortcuts are option A (parameter-free: strided subsampling + zero channel padding), so the
    counts are the paper's: 0.27M (20), 0.46M (32), 0.66M (44), 0.85M (56), 1.7M (110).
    ``width_mult`` scales the 16/32/64 filters. Initialisation: kaiming-normal (fan_out) convs.

    Shape
    -----
    ``(N, in_channels, H, W) -> (N, num_classes)`` (designed for 32x32).
    """

    def __init__(self, depth: int = 20, num_classes: int = 10, in_channels: int = 3, width_mult: float = 1.0,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
            raise ValueError(f"CifarResNet: depth must be 6n + 2 with n >= 1 (20, 32, 44, 56, 110, ...), got {depth!r}")
        num_classes = check_int("CifarResNet", "num_classes", num_classes)
        self.in_channels = check_int("CifarResNet", "in_channels", in_channels)
        rng = get_rng(rng)
        n = (depth - 2) // 6
        widths = [max(1, int(round(w * width_mult))) for w in (16, 32, 64)]
        self.conv1 = conv3x3(in_channels, widths[0], rng=rng)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        c = widths[0]
        for i, w in enumerate(widths):
            blocks = []
            for j in range(n):
                blocks.append(CifarBasicBlock(c, w, 2 if (i > 0 and j == 0) else 1, rng=rng))
                c = w
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c, num_classes, rng=rng)
        init_weights(self, rng, conv="kaiming_normal", conv_mode="fan_out")

    def forward(self, x: Any) -> Any:
        check_input("CifarResNet", x, self.in_channels)
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))


def _cifar(depth: int) -> Any:
    def build(**kwargs: Any) -> CifarResNet:
        return CifarResNet(depth=depth, **kwargs)

    build.__name__ = f"resnet{depth}"
    build.__doc__ = f"CIFAR ResNet-{depth} (He et al. 2015 Sec. 4.2, option A; see :class:`CifarResNet`)."
    return register_model(build)


resnet20, resnet32, resnet44, resnet56, resnet110 = (_cifar(d) for d in (20, 32, 44, 56, 110))
