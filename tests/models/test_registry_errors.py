"""Registry names and errors, make_divisible, and the models' argument/input validation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cvprimer as cp
from cvprimer import models
from cvprimer.models import make_divisible

TORCHVISION_NAMES = ["alexnet", "googlenet", "densenet121", "mobilenet_v2", "squeezenet1_0", "squeezenet1_1",
                     *(f"vgg{d}{bn}" for d in (11, 13, 16, 19) for bn in ("", "_bn")),
                     *(f"resnet{d}" for d in (18, 34, 50, 101, 152)),
                     *(f"shufflenet_v2_x{w}" for w in ("0_5", "1_0", "1_5", "2_0"))]


def test_list_models_has_the_zoo() -> None:
    names = models.list_models()
    assert names == sorted(names)
    for n in [*TORCHVISION_NAMES, "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "lenet5",
              "lenet5_original", "mobilenet_v1", "se_resnet50", "unet", "fcn", "dcgan_generator",
              "dcgan_discriminator", "vit_tiny"]:
        assert n in names, n


def test_get_model_unknown_name_lists_known() -> None:
    with pytest.raises(ValueError, match=r"unknown model 'resnet21'.*resnet20, .*vgg19_bn"):
        models.get_model("resnet21")
    with pytest.raises(TypeError, match="get_model: name must be a str"):
        models.get_model(18)


def test_get_model_passes_config() -> None:
    m = models.get_model("resnet20", num_classes=7, in_channels=1)
    assert m.fc.weight.shape == (7, 64) and m.conv1.weight.shape[1] == 1


@pytest.mark.parametrize("v,d,expected", [
    (32 * 1.0, 8, 32),     # already a multiple
    (32 * 0.75, 8, 24),
    (16 * 0.5, 8, 8),
    (37, 8, 40),           # rounds to nearest: 37 + 4 = 41 -> 40
    (35.0, 8, 32),         # 39 -> 32, kept since 32 >= 0.9 * 35 = 31.5
    (35.9, 8, 40),         # 39.9 -> 32 < 0.9 * 35.9 = 32.31: bumped to 40
    (18, 8, 24),           # nearest is 16 < 0.9 * 18 = 16.2: bumped up by one divisor
    (3, 8, 8),             # never below min_value (= divisor)
    (1280 * 1.4, 8, 1792),
])
def test_make_divisible_cases(v: float, d: int, expected: int) -> None:
    assert make_divisible(v, d) == expected


@given(st.floats(0.5, 5000), st.sampled_from([1, 2, 4, 8, 16, 32]))
def test_make_divisible_properties(v: float, d: int) -> None:
    r = make_divisible(v, d)
    assert r % d == 0 and r >= d
    assert r >= 0.9 * v                     # never down by more than 10%
    assert r <= max(d, v + d / 2 + 1e-9, 0.9 * v + d)


def test_make_divisible_errors() -> None:
    with pytest.raises(ValueError, match="make_divisible: divisor"):
        make_divisible(10, 0)
    with pytest.raises(ValueError, match="make_divisible: v must be a positive"):
        make_divisible(-3)


BAD_CONFIGS: list[tuple[Any, dict[str, Any], str]] = [
    (models.VGG, {"depth": 12}, r"VGG: depth must be one of \[11, 13, 16, 19\]"),
    (models.CifarResNet, {"depth": 21}, r"CifarResNet: depth must be 6n \+ 2"),
    (models.CifarResNet, {"num_classes": 0}, "CifarResNet: num_classes must be an int >= 1"),
    (models.ResNet, {"layers": (2, 2, 2)}, "ResNet: layers must have 4 entries"),
    (models.ShuffleNetV2, {"width": "3_0"}, "ShuffleNetV2: width must be one of"),
    (models.MobileNetV1, {"width_mult": 0}, "MobileNetV1: width_mult must be a positive"),
    (models.MobileNetV1, {"resolution_mult": 1.5}, r"MobileNetV1: resolution_mult must be in \(0, 1\]"),
    (models.MobileNetV2, {"width_mult": -1.0}, "MobileNetV2: width_mult must be a positive"),
    (models.UNet, {"upsampling": "nearest"}, r"UNet: upsampling must be one of \['bilinear', 'transposed', 'unpool'\]"),
    (models.FCN, {"upsampling": "deconv"}, "FCN: upsampling must be one of"),
    (models.FCN, {"widths": (8, 8), "dilated": True}, "FCN: need at least 3 stages"),
    (models.VisionTransformer, {"image_size": 30, "patch_size": 4},
     r"image_size \(30\) must be divisible by patch_size \(4\)"),
    (models.VisionTransformer, {"embed_dim": 10, "num_heads": 3},
     r"embed_dim \(10\) must be divisible by num_heads \(3\)"),
    (models.DCGANGenerator, {"image_size": 48}, "DCGANGenerator: image_size must be a power of two"),
    (models.LeNet5, {"input_size": 34}, "LeNet5: input_size must be even and <= 32"),
    (models.DenseNet, {"drop_rate": 1.0}, r"DenseNet: drop_rate must be in \[0, 1\)"),
    (models.SqueezeNet, {"version": "1_2"}, "SqueezeNet: version must be '1_0' or '1_1'"),
    (models.se_resnet, {"depth": 26}, r"se_resnet: depth must be one of \[18, 34, 50, 101, 152\]"),
]


@pytest.mark.parametrize("build,cfg,match", BAD_CONFIGS,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(BAD_CONFIGS)])
def test_bad_config_raises(build: Any, cfg: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build(**cfg)


@pytest.mark.parametrize("name,cfg,shape,match", [
    ("resnet20", {}, (2, 1, 32, 32), r"CifarResNet: expected input of shape \(N, 3, H, W\).*got \(2, 1, 32, 32\)"),
    ("resnet20", {}, (3, 32, 32), r"got \(3, 32, 32\)"),
    ("unet", {"base_channels": 2, "depth": 2}, (1, 3, 18, 16), r"UNet: H and W must be divisible by 2\^depth = 4"),
    ("fcn", {"widths": (2, 2, 2)}, (1, 3, 10, 8), "FCN: H and W must be divisible by the output stride 4"),
    ("lenet5", {"input_size": 28}, (1, 1, 32, 32), "LeNet5: built for 28x28 inputs"),
    ("lenet5_original", {}, (1, 1, 28, 28), r"LeNet5Original: expected \(N, 1, 32, 32\)"),
    ("vit_tiny", {"embed_dim": 8, "depth": 1, "num_heads": 2}, (1, 3, 16, 16),
     r"VisionTransformer: expected \(N, 3, 32"),
    ("dcgan_discriminator", {"ndf": 2, "image_size": 16}, (1, 3, 32, 32), r"DCGANDiscriminator: expected \(N, 3, 16"),
    ("dcgan_generator", {"nz": 4, "ngf": 2, "image_size": 8}, (2, 5), r"DCGANGenerator: expected z of shape \(N, 4\)"),
    ("squeezenet1_1", {}, (1, 3, 8, 8), r"SqueezeNet: expected input .* H, W >= 17"),
])
def test_bad_input_raises(name: str, cfg: dict[str, Any], shape: tuple[int, ...], match: str) -> None:
    m = models.get_model(name, rng=np.random.default_rng(0), **cfg)
    with pytest.raises(ValueError, match=match):
        m(cp.zeros(*shape))
