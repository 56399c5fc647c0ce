"""Parameter counts: torchvision's documented ``num_params`` (exact) and the papers' figures.

The expected values are the published numbers (torchvision's weights metadata; the papers'
tables); the counts are computed from our models. Models over ~5 s to build (the VGGs allocate
~130M float32 weights each; ResNet-152, the bigger DenseNets) are marked slow.
"""

from __future__ import annotations

import numpy as np
import pytest

from cvprimer import models
from cvprimer.models import num_parameters

slow = pytest.mark.slow

# torchvision's documented num_params (1000 classes): weights enums' meta["num_params"].
TORCHVISION = [
    ("googlenet", 6_624_904, ()),
    ("resnet18", 11_689_512, ()),
    ("resnet34", 21_797_672, ()),
    ("resnet50", 25_557_032, ()),
    ("resnet101", 44_549_160, ()),
    ("resnet152", 60_192_808, slow),
    ("densenet121", 7_978_856, ()),
    ("densenet161", 28_681_000, slow),
    ("densenet169", 14_149_480, slow),
    ("densenet201", 20_013_928, slow),
    ("mobilenet_v2", 3_504_872, ()),
    ("shufflenet_v2_x0_5", 1_366_792, ()),
    ("shufflenet_v2_x1_0", 2_278_604, ()),
    ("shufflenet_v2_x1_5", 3_503_624, ()),
    ("shufflenet_v2_x2_0", 7_393_996, ()),
    ("squeezenet1_0", 1_248_424, ()),
    ("squeezenet1_1", 1_235_496, ()),
    ("vit_b_16", 86_567_656, ()),
    ("alexnet", 61_100_840, slow),  # also checked (with a forward pass) in test_forward.py
    ("vgg11", 132_863_336, slow),
    ("vgg11_bn", 132_868_840, slow),
    ("vgg13", 133_047_848, slow),
    ("vgg13_bn", 133_053_736, slow),
    ("vgg16", 138_357_544, slow),
    ("vgg16_bn", 138_365_992, slow),
    ("vgg19", 143_667_240, slow),
    ("vgg19_bn", 143_678_248, slow),
]


@pytest.mark.parametrize("name,expected", [pytest.param(n, c, marks=m, id=n) for n, c, m in TORCHVISION])
def test_torchvision_num_params(name: str, expected: int) -> None:
    model = models.get_model(name, rng=np.random.default_rng(0))
    assert num_parameters(model) == expected


# He et al. 2015, Table 6: parameters of the CIFAR-10 ResNets (option A shortcuts), in millions.
@pytest.mark.parametrize("depth,millions,digits", [(20, 0.27, 2), (32, 0.46, 2), (44, 0.66, 2), (56, 0.85, 2),
                                                   (110, 1.7, 1)])
def test_cifar_resnet_paper_counts(depth: int, millions: float, digits: int) -> None:
    model = models.get_model(f"resnet{depth}", num_classes=10)
    assert round(num_parameters(model) / 1e6, digits) == millions


def test_cifar_shortcuts_are_parameter_free() -> None:
    model = models.get_model("resnet20")
    from cvprimer.models.resnet import ShortcutA

    shortcuts = [m for m in model.modules() if isinstance(m, ShortcutA)]
    assert len(shortcuts) == 2  # the first block of stages 2 and 3
    assert all(num_parameters(s) == 0 for s in shortcuts)


# Howard et al. 2017, Table 6 (width multiplier) and Table 7 (resolution multiplier), millions.
@pytest.mark.parametrize("alpha,millions", [(1.0, 4.2), (0.75, 2.6), (0.5, 1.3), (0.25, 0.5)])
def test_mobilenet_v1_width_multiplier(alpha: float, millions: float) -> None:
    assert round(num_parameters(models.MobileNetV1(width_mult=alpha)) / 1e6, 1) == millions


def test_mobilenet_v1_resolution_multiplier_keeps_parameters() -> None:
    base = models.MobileNetV1()
    for rho, size in [(192 / 224, 192), (160 / 224, 160), (128 / 224, 128)]:
        m = models.MobileNetV1(resolution_mult=rho)
        assert m.input_size == size
        assert num_parameters(m) == num_parameters(base)


def test_lenet5_original_paper_counts() -> None:
    # LeCun et al. 1998, Sec. II.B: C3 has 1,516 trainable parameters; the network 60,000.
    m = models.LeNet5Original()
    assert num_parameters(m.c3) == 1516
    assert num_parameters(m) == 60_000
    # the RBF centres are fixed state, not parameters
    assert "rbf_centers" in m.state_dict() and all(p is not m.rbf_centers for p in m.parameters())


def test_lenet5_modern_count() -> None:
    # conv 6*(25+1) + conv 16*(150+1) + fc 120*401 + fc 84*121 + fc 10*85 (the layer list's sum)
    expected = 6 * 26 + 16 * 151 + 120 * 401 + 84 * 121 + 10 * 85
    assert num_parameters(models.LeNet5()) == expected == 61_706


def test_se_resnet50_paper_count() -> None:
    # Hu et al. 2018, Table 1 / Sec. 4: SE-ResNet-50 has ~28.1M parameters (ResNet-50: ~25.6M).
    assert round(num_parameters(models.get_model("se_resnet50")) / 1e6, 1) == 28.1


def test_classifier_size_follows_num_classes() -> None:
    a = num_parameters(models.get_model("resnet20", num_classes=10))
    b = num_parameters(models.get_model("resnet20", num_classes=100))
    assert b - a == 90 * (64 + 1)
