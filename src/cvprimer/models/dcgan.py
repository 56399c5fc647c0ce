r"""DCGAN generator and discriminator.

References
----------
A. Radford, L. Metz, S. Chintala, "Unsupervised representation learning with deep convolutional
generative adversarial networks", ICLR 2016, arXiv:1511.06434 (Fig. 1 and Sec. 3-4): no pooling
(strided and fractionally-strided convolutions), BatchNorm in both nets except the generator's
output and the discriminator's input layer, ReLU in the generator with Tanh output, LeakyReLU
(0.2) in the discriminator, weights N(0, 0.02^2).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer import nn
from cvprimer.core.random import get_rng
from cvprimer.models._utils import check_input, check_int
from cvprimer.models.registry import register_model


def _num_layers(model: str, image_size: int) -> int:
    """Number of 2x resolution steps between 4x4 and ``image_size`` (a power of two >= 8)."""
    image_size = check_int(model, "image_size", image_size, 8)
    if image_size & (image_size - 1):
        raise ValueError(f"{model}: image_size must be a power of two >= 8, got {image_size}")
    return image_size.bit_length() - 3


def _dcgan_init(model: Any, rng: np.random.Generator) -> None:
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02, rng=rng)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02, rng=rng)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    r"""``z (N, nz) or (N, nz, 1, 1) -> image (N, out_channels, image_size, image_size)`` in [-1, 1].

    ConvTranspose2d(nz, ngf 2^(L-1), 4, 1, 0) -> BN -> ReLU (4x4), then L - 1 steps of
    ConvTranspose2d(4, 2, 1) halving the width and doubling the size with BN -> ReLU, and a final
    ConvTranspose2d(4, 2, 1) to ``out_channels`` -> Tanh; ``L = log2(image_size) - 2`` (4 for 64x64:
    the paper's 1024-512-256-128 generator has ``ngf = 128``; the common PyTorch example uses 64).
    No biases (BN follows every layer but the last, whose bias the paper also omits).
    """

    def __init__(self, nz: int = 100, ngf: int = 64, out_channels: int = 3, image_size: int = 64,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.nz = check_int("DCGANGenerator", "nz", nz)
        ngf = check_int("DCGANGenerator", "ngf", ngf)
        out_channels = check_int("DCGANGenerator", "out_channels", out_channels)
        n = _num_layers("DCGANGenerator", image_size)
        rng = get_rng(rng)
        c = ngf * 2 ** (n - 1)
        layers: list[Any] = [nn.ConvTranspose2d(nz, c, 4, 1, 0, bias=False, rng=rng), nn.BatchNorm2d(c), nn.ReLU()]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False, rng=rng), nn.BatchNorm2d(c // 2), nn.ReLU()]
            c //= 2
        layers += [nn.ConvTranspose2d(c, out_channels, 4, 2, 1, bias=False, rng=rng), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        _dcgan_init(self, rng)

    def forward(self, z: Any) -> Any:
        shape = tuple(z.shape)
        if len(shape) == 2 and shape[1] == self.nz:
            z = z.reshape(shape[0], self.nz, 1, 1)
        elif not (len(shape) == 4 and shape[1:] == (self.nz, 1, 1)):
            raise ValueError(f"DCGANGenerator: expected z of shape (N, {self.nz}) or (N, {self.nz}, 1, 1), "
                             f"got {shape}")
        return self.main(z)


class DCGANDiscriminator(nn.Module):
    r"""``image (N, in_channels, image_size, image_size) -> (N,)`` real-probability (or logit).

    Conv2d(4, 2, 1) to ``ndf`` -> LeakyReLU(0.2) (no BN on the input layer), then L - 1 steps of
    Conv2d(4, 2, 1) doubling the width with BN -> LeakyReLU(0.2), and Conv2d(4, 1, 0) to one value
    on the 4x4 map -> Sigmoid (``sigmoid=False`` returns the logit, for
    ``binary_cross_entropy_with_logits``).
    """

    def __init__(self, ndf: int = 64, in_channels: int = 3, image_size: int = 64, sigmoid: bool = True,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        ndf = check_int("DCGANDiscriminator", "ndf", ndf)
        self.in_channels = check_int("DCGANDiscriminator", "in_channels", in_channels)
        n = _num_layers("DCGANDiscriminator", image_size)
        self.image_size = image_size
        rng = get_rng(rng)
        layers: list[Any] = [nn.Conv2d(in_channels, ndf, 4, 2, 1, bias=False, rng=rng), nn.LeakyReLU(0.2)]
        c = ndf
        for _ in range(n - 1):
            layers += [nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False, rng=rng), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2)]
            c *= 2
        layers.append(nn.Conv2d(c, 1, 4, 1, 0, bias=False, rng=rng))
        if sigmoid:
            layers.append(nn.Sigmoid())
        self.main = nn.Sequential(*layers)
        _dcgan_init(self, rng)

    def forward(self, x: Any) -> Any:
        check_input("DCGANDiscriminator", x, self.in_channels)
        if tuple(x.shape[2:]) != (self.image_size, self.image_size):
            raise ValueError(f"DCGANDiscriminator: expected (N, {self.in_channels}, {self.image_size}, "
                             f"{self.image_size}), got {tuple(x.shape)}")
        return self.main(x).reshape(x.shape[0])


@register_model
def dcgan_generator(**kwargs: Any) -> DCGANGenerator:
    return DCGANGenerator(**kwargs)


@register_model
def dcgan_discriminator(**kwargs: Any) -> DCGANDiscriminator:
    return DCGANDiscriminator(**kwargs)
