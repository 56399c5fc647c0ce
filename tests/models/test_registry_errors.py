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


# Parameter/buffer names as torchvision's state dicts spell them (so converted torchvision
# checkpoints load by name); widths are reduced where names do not depend on them.
TORCHVISION_KEYS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("resnet18", {"width_mult": 0.125}, ["conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight",
                                         "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_var",
                                         "layer4.1.bn2.bias", "fc.weight", "fc.bias"]),
    ("resnet50", {"width_mult": 0.0625}, ["layer1.0.conv3.weight", "layer1.0.downsample.0.weight",
                                          "layer3.5.bn3.weight"]),
    ("densenet121", {}, ["features.conv0.weight", "features.norm0.weight",
                         "features.denseblock1.denselayer1.norm1.weight",
                         "features.denseblock4.denselayer16.conv2.weight",
                         "features.transition3.conv.weight", "features.norm5.running_var", "classifier.weight"]),
    ("mobilenet_v2", {"width_mult": 0.35}, ["features.0.0.weight", "features.0.1.running_mean",
                                            "features.1.conv.0.0.weight", "features.1.conv.1.weight",
                                            "features.2.conv.0.0.weight", "features.2.conv.3.bias",
                                            "features.18.0.weight", "classifier.1.weight"]),
    ("shufflenet_v2_x0_5", {}, ["conv1.0.weight", "conv1.1.running_var", "stage2.0.branch1.0.weight",
                                "stage2.0.branch1.2.weight", "stage2.0.branch2.6.running_var",
                                "stage4.3.branch2.5.weight", "conv5.0.weight", "fc.weight"]),
    ("squeezenet1_1", {}, ["features.0.weight", "features.3.squeeze.weight", "features.12.expand3x3.bias",
                           "classifier.1.weight"]),
    ("googlenet", {}, ["conv1.conv.weight", "conv1.bn.running_mean", "inception3a.branch2.1.conv.weight",
                       "inception4a.branch4.1.bn.weight", "inception5b.branch3.0.conv.weight", "fc.weight"]),
    ("vgg16_bn", {"classifier_width": 8, "pool_size": 1}, ["features.0.weight", "features.1.running_var",
                                                           "features.41.weight", "classifier.0.weight",
                                                           "classifier.3.weight", "classifier.6.bias"]),
    ("vit_tiny", {"depth": 2, "embed_dim": 8, "num_heads": 2},
     ["conv_proj.weight", "class_token", "encoder.pos_embedding", "encoder.layers.encoder_layer_0.ln_1.weight",
      "encoder.layers.encoder_layer_1.self_attention.in_proj_weight",
      "encoder.layers.encoder_layer_0.self_attention.out_proj.bias", "encoder.layers.encoder_layer_0.mlp.0.weight",
      "encoder.layers.encoder_layer_1.mlp.3.bias", "encoder.ln.weight", "heads.head.weight"]),
]


@pytest.mark.parametrize("name,cfg,keys", TORCHVISION_KEYS, ids=[c[0] for c in TORCHVISION_KEYS])
def test_torchvision_state_dict_names(name: str, cfg: dict[str, Any], keys: list[str]) -> None:
    sd = models.get_model(name, **cfg).state_dict()
    missing = [k for k in keys if k not in sd]
    assert not missing, missing


def test_resnet_parameter_tensor_counts() -> None:
    # ResNet-18: 20 convs + 20 BNs (2 each) + FC (2) = 62 tensors; ResNet-50: 53 + 106 + 2 = 161
    assert len(list(models.get_model("resnet18", width_mult=0.125).parameters())) == 62
    assert len(list(models.get_model("resnet50", width_mult=0.0625).parameters())) == 161
