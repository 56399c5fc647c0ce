"""Every zoo family against a PyTorch twin with the same weights (issue 17).

The twins (``torch_twins.py``) are composed of torch's own layers following the papers and torchvision's
published layouts; :func:`torch_twins.check_twin` copies our float64 weights into the twin, runs the same
random input through both and compares the output, the input gradient and every parameter gradient of a
random projection of the output (rtol 1e-9, atol 1e-10 scaled by the largest magnitude). Eval mode uses
random BN running statistics; train mode (dropout 0 where the model has dropout) also checks the batch
statistics and the running-statistics update.

These tests kill architecture faults the shape-level tests cannot see, e.g. a ViT block made post-norm or a
dense block concatenating ``[new, x]`` instead of ``[x, new]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch_twins as T

from cvprimer import models
from cvprimer.models.lenet import C3_TABLE

Case = tuple[str, Callable[[], Any], Callable[[], Any], tuple[int, ...], bool, Any]


def _x(shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def _ours(name: str, **cfg: Any) -> Callable[[], Any]:
    return lambda: models.get_model(name, rng=np.random.default_rng(0), **cfg)


BASIC, BOTTLE = T.BasicBlock, T.Bottleneck
DN_SMALL = dict(growth_rate=4, block_config=(2, 3, 2), num_init_features=8, bn_size=2)

# (id, ours, twin, input shape, train mode, rename)
CASES: list[Case] = [
    ("lenet5", _ours("lenet5"), lambda: T.LeNet5(), (2, 1, 32, 32), False, None),
    ("lenet5-28", _ours("lenet5", input_size=28, in_channels=3, num_classes=4),
     lambda: T.LeNet5(4, 3, 28), (2, 3, 28, 28), False, None),
    ("lenet5_original", _ours("lenet5_original"), lambda: T.LeNet5Original(), (2, 1, 32, 32), False,
     T.lenet5_original_rename(C3_TABLE)),
    ("vgg11_bn", _ours("vgg11_bn", classifier_width=16, pool_size=1, num_classes=5),
     lambda: T.VGG(11, True, 5, classifier_width=16, pool_size=1), (2, 3, 32, 32), False, None),
    ("resnet20", _ours("resnet20"), lambda: T.CifarResNet(20), (2, 3, 32, 32), False, None),
    ("resnet20-train", _ours("resnet20", width_mult=0.5), lambda: T.CifarResNet(20, width_mult=0.5),
     (2, 3, 16, 16), True, None),
    ("resnet18", _ours("resnet18", width_mult=0.25, num_classes=5),
     lambda: T.ResNet(BASIC, (2, 2, 2, 2), 5, 0.25), (2, 3, 32, 32), False, None),
    ("resnet18-train", _ours("resnet18", width_mult=0.125, num_classes=5),
     lambda: T.ResNet(BASIC, (2, 2, 2, 2), 5, 0.125), (2, 3, 32, 32), True, None),
    ("resnet50-narrow", _ours("resnet50", width_mult=0.0625, num_classes=5),
     lambda: T.ResNet(BOTTLE, (3, 4, 6, 3), 5, 0.0625), (2, 3, 32, 32), False, None),
    ("se_resnet18", _ours("se_resnet18", width_mult=0.25, reduction=4, num_classes=5),
     lambda: T.ResNet(BASIC, (2, 2, 2, 2), 5, 0.25, se_reduction=4), (2, 3, 32, 32), False, None),
    ("se_resnet50-narrow-train", _ours("se_resnet50", width_mult=0.0625, num_classes=5),
     lambda: T.ResNet(BOTTLE, (3, 4, 6, 3), 5, 0.0625, se_reduction=16), (2, 3, 32, 32), True, None),
    ("densenet-small", lambda: models.DenseNet(**DN_SMALL, num_classes=5, rng=np.random.default_rng(0)),
     lambda: T.DenseNet(**DN_SMALL, num_classes=5), (2, 3, 32, 32), False, None),
    ("densenet-small-train", lambda: models.DenseNet(**DN_SMALL, num_classes=5, rng=np.random.default_rng(0)),
     lambda: T.DenseNet(**DN_SMALL, num_classes=5), (2, 3, 32, 32), True, None),
    ("densenet121-32", _ours("densenet121", num_classes=10), lambda: T.DenseNet(num_classes=10), (1, 3, 32, 32),
     False, None),
    ("googlenet", _ours("googlenet", num_classes=5), lambda: T.GoogLeNet(5), (1, 3, 32, 32), False, None),
    ("mobilenet_v1", _ours("mobilenet_v1", width_mult=0.25, num_classes=5), lambda: T.MobileNetV1(5, 0.25),
     (2, 3, 32, 32), False, None),
    ("mobilenet_v2", _ours("mobilenet_v2", width_mult=0.35, num_classes=5), lambda: T.MobileNetV2(5, 0.35),
     (2, 3, 32, 32), False, None),
    ("mobilenet_v2-train", _ours("mobilenet_v2", width_mult=0.35, num_classes=5, dropout=0.0),
     lambda: T.MobileNetV2(5, 0.35, dropout=0.0), (2, 3, 32, 32), True, None),
    ("shufflenet_v2_x0_5", _ours("shufflenet_v2_x0_5", num_classes=5),
     lambda: T.ShuffleNetV2((24, 48, 96, 192, 1024), 5), (2, 3, 32, 32), False, None),
    ("shufflenet_v2_x0_5-train", _ours("shufflenet_v2_x0_5", num_classes=5),
     lambda: T.ShuffleNetV2((24, 48, 96, 192, 1024), 5), (2, 3, 32, 32), True, None),
    ("squeezenet1_0", _ours("squeezenet1_0", num_classes=5), lambda: T.SqueezeNet("1_0", 5), (2, 3, 35, 35),
     False, None),
    ("squeezenet1_1", _ours("squeezenet1_1", num_classes=5), lambda: T.SqueezeNet("1_1", 5), (2, 3, 33, 33),
     False, None),
    ("dcgan_generator", _ours("dcgan_generator", nz=8, ngf=4, image_size=16),
     lambda: T.DCGANGenerator(8, 4, 3, 16), (2, 8), False, None),
    ("dcgan_generator-train", _ours("dcgan_generator", nz=8, ngf=4, image_size=32),
     lambda: T.DCGANGenerator(8, 4, 3, 32), (3, 8), True, None),
    ("dcgan_discriminator", _ours("dcgan_discriminator", ndf=4, image_size=32),
     lambda: T.DCGANDiscriminator(4, 3, 32), (2, 3, 32, 32), False, None),
    ("dcgan_discriminator-logit-train", _ours("dcgan_discriminator", ndf=4, image_size=16, sigmoid=False),
     lambda: T.DCGANDiscriminator(4, 3, 16, sigmoid=False), (3, 3, 16, 16), True, None),
    ("unet-transposed", _ours("unet", base_channels=4, depth=3, upsampling="transposed", num_classes=3),
     lambda: T.UNet(3, 3, 4, 3, "transposed"), (2, 3, 16, 16), False, None),
    ("unet-bilinear-train", _ours("unet", base_channels=4, depth=2, upsampling="bilinear"),
     lambda: T.UNet(2, 3, 4, 2, "bilinear"), (2, 3, 16, 12), True, None),
    ("unet-unpool-nobn", _ours("unet", base_channels=4, depth=2, upsampling="unpool", batch_norm=False),
     lambda: T.UNet(2, 3, 4, 2, "unpool", bn=False), (2, 3, 8, 8), False, None),
    ("fcn-bilinear", _ours("fcn", widths=(4, 8, 8), upsampling="bilinear", num_classes=3),
     lambda: T.FCN(3, (4, 8, 8), "bilinear"), (2, 3, 16, 16), False, None),
    ("fcn-transposed", _ours("fcn", widths=(4, 8, 8, 8), upsampling="transposed", num_classes=3),
     lambda: T.FCN(3, (4, 8, 8, 8), "transposed"), (2, 3, 16, 8), False, None),
    ("fcn-unpool-train", _ours("fcn", widths=(4, 8, 8), upsampling="unpool", num_classes=3),
     lambda: T.FCN(3, (4, 8, 8), "unpool"), (2, 3, 8, 8), True, None),
    ("fcn-dilated-transposed", _ours("fcn", widths=(4, 8, 8, 8), upsampling="transposed", dilated=True),
     lambda: T.FCN(21, (4, 8, 8, 8), "transposed", dilated=True), (2, 3, 8, 8), False, None),
    ("vit_tiny", _ours("vit_tiny", embed_dim=24, depth=2, num_heads=3, image_size=16, patch_size=4),
     lambda: T.VisionTransformer(16, 4, 10, 24, 2, 3), (2, 3, 16, 16), False, T.vit_rename),
    ("vit_tiny-mlp", _ours("vit_tiny", embed_dim=16, depth=1, num_heads=4, mlp_dim=24, image_size=12, patch_size=3,
                           num_classes=2, in_channels=1),
     lambda: T.VisionTransformer(12, 3, 2, 16, 1, 4, 24, in_channels=1), (2, 1, 12, 12), False, T.vit_rename),
]

SLOW_CASES: list[Case] = [   # VGG has no width option: its full-width trunk takes seconds even at 32x32
    ("vgg11", _ours("vgg11", classifier_width=16, pool_size=1, num_classes=5),
     lambda: T.VGG(11, False, 5, classifier_width=16, pool_size=1), (2, 3, 32, 32), False, None),
    ("vgg11_bn-train", _ours("vgg11_bn", classifier_width=16, pool_size=1, num_classes=5, dropout=0.0),
     lambda: T.VGG(11, True, 5, dropout=0.0, classifier_width=16, pool_size=1), (2, 3, 32, 32), True, None),
    ("alexnet", _ours("alexnet", num_classes=5), lambda: T.AlexNet(5), (1, 3, 63, 63), False, None),
    ("resnet50-full", _ours("resnet50", num_classes=10), lambda: T.ResNet(BOTTLE, (3, 4, 6, 3), 10),
     (1, 3, 32, 32), False, None),
    ("densenet121-224", _ours("densenet121", num_classes=10), lambda: T.DenseNet(num_classes=10),
     (1, 3, 224, 224), False, None),
    ("googlenet-aux-train", _ours("googlenet", num_classes=5, aux_logits=True, dropout=0.0, dropout_aux=0.0),
     lambda: T.GoogLeNet(5, aux_logits=True, dropout=0.0, dropout_aux=0.0), (2, 3, 64, 64), True, None),
    ("mobilenet_v1-full", _ours("mobilenet_v1", num_classes=10), lambda: T.MobileNetV1(10), (1, 3, 64, 64), False,
     None),
    ("vit_tiny-default", _ours("vit_tiny"), lambda: T.VisionTransformer(32, 4, 10, 192, 6, 3), (2, 3, 32, 32),
     False, T.vit_rename),
]


def _params(cases: list[Case], marks: tuple[Any, ...] = ()) -> list[Any]:
    return [pytest.param(*c[1:], id=c[0], marks=marks) for c in cases]


@pytest.mark.parametrize("ours, twin, shape, train, rename",
                         _params(CASES) + _params(SLOW_CASES, (pytest.mark.slow,)))
def test_twin(ours: Callable[[], Any], twin: Callable[[], Any], shape: tuple[int, ...], train: bool,
              rename: Any) -> None:
    T.check_twin(ours(), twin(), _x(shape), train=train, rename=rename)


def test_lenet_c3_table_is_the_papers() -> None:
    """Our C3 connection table is Table I of LeCun et al. (1998), map by map."""
    assert [set(r) for r in C3_TABLE] == [set(np.flatnonzero(row)) for row in T.C3_MASK]


def _family(name: str) -> str:
    """``vgg11_bn`` -> ``vgg``, ``resnet50-narrow`` -> ``resnet``, ``shufflenet_v2_x0_5`` -> ``shufflenet_v2``."""
    name = name.split("-")[0]
    if name.startswith(("vit_", "shufflenet_v2")):
        return "vit" if name.startswith("vit_") else "shufflenet_v2"
    m = re.fullmatch(r"(vgg|resnet|se_resnet|densenet)\d*(_bn)?", name)
    return m.group(1) if m else name


def test_every_registered_family_has_a_twin() -> None:
    """A model added to the registry needs a twin case here."""
    twinned = {_family(c[0]) for c in CASES + SLOW_CASES}
    assert {_family(n) for n in models.list_models()} - twinned == set()
