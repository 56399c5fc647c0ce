r"""Segmentation networks: a U-Net and an FCN, each with a choice of decoder upsampling.

``upsampling`` picks how the decoder doubles the resolution:

* ``"bilinear"``: fixed bilinear interpolation (no parameters) followed by a 1x1 convolution;
* ``"transposed"``: a learned 2x2/2 transposed convolution (FCN's "deconvolution");
* ``"unpool"``: max-unpooling that puts each value back where the encoder's max-pool found it,
  using the pooling indices the encoder saved (Noh et al. 2015; Badrinarayanan et al. 2017).

References
----------
O. Ronneberger, P. Fischer, T. Brox, "U-Net: convolutional networks for biomedical image
segmentation", MICCAI 2015, arXiv:1505.04597.
J. Long, E. Shelhamer, T. Darrell, "Fully convolutional networks for semantic segmentation",
CVPR 2015, arXiv:1411.4038. H. Noh, S. Hong, B. Han, "Learning deconvolution network for semantic
segmentation", ICCV 2015, arXiv:1505.04366. F. Yu, V. Koltun, "Multi-scale context aggregation by
dilated convolutions", ICLR 2016, arXiv:1511.07122.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.core.random import get_rng
from cvprimer.models._utils import check_choice, check_input, check_int
from cvprimer.models.registry import register_model

UPSAMPLING = ("bilinear", "transposed", "unpool")


class DoubleConv(nn.Sequential):
    """(3x3 conv, padding = dilation -> [BN] -> ReLU) x 2; the spatial size is kept."""

    def __init__(self, cin: int, cout: int, batch_norm: bool = True, dilation: int = 1,
                 rng: np.random.Generator | None = None) -> None:
        layers: list[Any] = []
        for c in (cin, cout):
            layers.append(nn.Conv2d(c, cout, 3, padding=dilation, dilation=dilation, bias=not batch_norm, rng=rng))
            if batch_norm:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.ReLU())
        super().__init__(*layers)


class Up(nn.Module):
    r"""Double the resolution and map ``cin -> cout`` channels with the chosen ``mode``:
    bilinear: interpolate x2 then 1x1 conv; transposed: ConvTranspose2d(k=2, s=2);
    unpool: 1x1 conv then ``max_unpool2d`` with the encoder's indices (of a ``cout``-channel map)."""

    def __init__(self, cin: int, cout: int, mode: str, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.mode = mode
        if mode == "transposed":
            self.up: nn.Module = nn.ConvTranspose2d(cin, cout, 2, stride=2, rng=rng)
        else:
            self.proj = nn.Conv2d(cin, cout, 1, rng=rng)
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False) if mode == "bilinear" \
                else nn.MaxUnpool2d(2, 2)

    def forward(self, x: Any, indices: Any = None, size: Any = None) -> Any:
        if self.mode == "transposed":
            return self.up(x)
        if self.mode == "bilinear":
            return self.proj(self.up(x))
        return self.up(self.proj(x), indices, output_size=size)


class UNet(nn.Module):
    r"""U-Net: an encoder of ``depth`` (2x2 max-pool -> double 3x3 conv) stages doubling the width
    from ``base_channels``, a mirrored decoder (:class:`Up` -> concatenate the encoder feature map
    of the same size -> double conv), and a 1x1 convolution to ``num_classes`` score maps.

    Differences from the paper: 3x3 convolutions are padded (the output has the input's size, no
    cropping of the skip connections) and followed by BatchNorm (``batch_norm=False`` removes it).
    ``base_channels=64, depth=4`` is the paper's network.

    Shape
    -----
    ``(N, in_channels, H, W) -> (N, num_classes, H, W)``; H and W divisible by ``2^depth``.
    """

    def __init__(self, num_classes: int = 2, in_channels: int = 3, base_channels: int = 64, depth: int = 4,
                 upsampling: str = "transposed", batch_norm: bool = True,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        num_classes = check_int("UNet", "num_classes", num_classes)
        self.in_channels = check_int("UNet", "in_channels", in_channels)
        base = check_int("UNet", "base_channels", base_channels)
        self.depth = check_int("UNet", "depth", depth)
        self.upsampling = check_choice("UNet", "upsampling", upsampling, UPSAMPLING)
        rng = get_rng(rng)
        widths = [base * 2**i for i in range(depth + 1)]
        self.inc = DoubleConv(in_channels, widths[0], batch_norm, rng=rng)
        self.pool = nn.MaxPool2d(2, 2, return_indices=True)
        self.down = nn.ModuleList([DoubleConv(widths[i], widths[i + 1], batch_norm, rng=rng) for i in range(depth)])
        self.up = nn.ModuleList([Up(widths[i + 1], widths[i], upsampling, rng) for i in reversed(range(depth))])
        self.dec = nn.ModuleList([DoubleConv(2 * widths[i], widths[i], batch_norm, rng=rng)
                                  for i in reversed(range(depth))])
        self.head = nn.Conv2d(widths[0], num_classes, 1, rng=rng)

    def forward(self, x: Any) -> Any:
        check_input("UNet", x, self.in_channels)
        f = 2**self.depth
        if x.shape[2] % f or x.shape[3] % f:
            raise ValueError(f"UNet: H and W must be divisible by 2^depth = {f}, got input {tuple(x.shape)}")
        skips, indices = [], []
        x = self.inc(x)
        for stage in self.down:
            skips.append(x)
            x, idx = self.pool(x)
            indices.append(idx)
            x = stage(x)
        for up, dec in zip(self.up, self.dec, strict=True):
            skip, idx = skips.pop(), indices.pop()
            x = dec(cp.cat([skip, up(x, idx, skip.shape[2:])], dim=1))
        return self.head(x)


def bilinear_kernel(channels: int, k: int) -> np.ndarray:
    r"""The ``(C, C, k, k)`` weight of a transposed convolution that performs bilinear upsampling
    channel by channel (FCN's initialisation): ``w[c, c] = (1 - |i - m| / f)(1 - |j - m| / f)``,
    ``f = ceil(k / 2)``, ``m = f - 1`` if k is odd else ``f - 1/2``; zero across channels."""
    f = (k + 1) // 2
    centre = f - 1 if k % 2 == 1 else f - 0.5
    og = np.arange(k)
    filt = (1 - np.abs(og - centre) / f)
    w = np.zeros((channels, channels, k, k), np.float32)
    w[np.arange(channels), np.arange(channels)] = np.outer(filt, filt)
    return w


class FCN(nn.Module):
    r"""A fully convolutional network: an encoder of stages (double 3x3 conv, a 2x2 max-pool before
    every stage but the first), a per-pixel classifier, and an upsampling decoder.

    Parameters
    ----------
    widths : channels of the encoder stages (default (64, 128, 256, 512): output stride 8).
    upsampling : "bilinear" | "transposed" | "unpool"
        bilinear: 1x1 score conv at output stride ``s`` and one fixed bilinear interpolation to the
        input size (FCN-32s-style, as torchvision's FCN). transposed: the score maps go through one
        learned ``ConvTranspose2d(k=2s, stride=s, padding=s/2)``, initialised to bilinear upsampling
        (Long et al.). unpool: DeconvNet-style decoder, per pooled stage in reverse: 3x3 conv -> BN
        -> ReLU to the width the pool saw, then max-unpool with that pool's indices; the score conv
        runs at full resolution.
    dilated : bool
        The dilated-convolution backbone: the last two stages keep the resolution (no pooling) and
        use dilation 2 and 4 instead, so the receptive field still grows while the output stride is
        4 times smaller (Yu & Koltun; torchvision's ``replace_stride_with_dilation``). Needs >= 3 stages.
    num_classes, in_channels, batch_norm, rng : as usual.

    Shape
    -----
    ``(N, in_channels, H, W) -> (N, num_classes, H, W)``; H and W divisible by the output stride.
    """

    def __init__(self, num_classes: int = 21, in_channels: int = 3, widths: tuple[int, ...] = (64, 128, 256, 512),
                 upsampling: str = "bilinear", dilated: bool = False, batch_norm: bool = True,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        num_classes = check_int("FCN", "num_classes", num_classes)
        self.in_channels = check_int("FCN", "in_channels", in_channels)
        self.upsampling = check_choice("FCN", "upsampling", upsampling, UPSAMPLING)
        widths = tuple(check_int("FCN", "widths", w) for w in widths)
        if len(widths) < (3 if dilated else 1):
            raise ValueError(f"FCN: need at least {3 if dilated else 1} stages, got widths={widths}")
        rng = get_rng(rng)
        n = len(widths)
        self.pooled = [i > 0 and not (dilated and i >= n - 2) for i in range(n)]
        dil = [2 ** (i - n + 3) if dilated and i >= n - 2 else 1 for i in range(n)]
        self.output_stride = 2 ** sum(self.pooled)
        self.pool = nn.MaxPool2d(2, 2, return_indices=True)
        self.stages = nn.ModuleList([DoubleConv(in_channels if i == 0 else widths[i - 1], widths[i], batch_norm,
                                                dil[i], rng) for i in range(n)])
        if upsampling == "unpool":
            self.unpool = nn.MaxUnpool2d(2, 2)
            self.decoder = nn.ModuleList()
            c = widths[-1]
            for i in reversed(range(n)):
                if self.pooled[i]:   # the pool before stage i saw widths[i - 1] channels
                    self.decoder.append(nn.Sequential(nn.Conv2d(c, widths[i - 1], 3, padding=1, rng=rng),
                                                      nn.BatchNorm2d(widths[i - 1]), nn.ReLU()))
                    c = widths[i - 1]
            self.score = nn.Conv2d(c, num_classes, 1, rng=rng)
        else:
            self.score = nn.Conv2d(widths[-1], num_classes, 1, rng=rng)
            if upsampling == "transposed" and self.output_stride > 1:
                s = self.output_stride
                self.upscore = nn.ConvTranspose2d(num_classes, num_classes, 2 * s, stride=s, padding=s // 2,
                                                  bias=False, rng=rng)
                self.upscore.weight.data[...] = bilinear_kernel(num_classes, 2 * s)

    def forward(self, x: Any) -> Any:
        check_input("FCN", x, self.in_channels)
        size = tuple(x.shape[2:])
        if size[0] % self.output_stride or size[1] % self.output_stride:
            raise ValueError(f"FCN: H and W must be divisible by the output stride {self.output_stride}, "
                             f"got input {tuple(x.shape)}")
        indices = []
        for stage, pooled in zip(self.stages, self.pooled, strict=True):
            if pooled:
                x, idx = self.pool(x)
                indices.append(idx)
            x = stage(x)
        if self.upsampling == "unpool":
            for block in self.decoder:
                x = self.unpool(block(x), indices.pop())
            return self.score(x)
        x = self.score(x)
        if self.output_stride == 1:
            return x
        if self.upsampling == "bilinear":
            return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return self.upscore(x)


@register_model
def unet(**kwargs: Any) -> UNet:
    return UNet(**kwargs)


@register_model
def fcn(**kwargs: Any) -> FCN:
    return FCN(**kwargs)
