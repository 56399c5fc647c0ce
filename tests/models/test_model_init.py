"""The initialisation schemes the models state (torchvision's), checked on the weights' sample
statistics. Tolerances come from the sampling error: the sample std of n normal draws has
relative standard error ~ 1/sqrt(2n); we allow 6 of those."""

from __future__ import annotations

import math

import numpy as np

from cvprimer import models


def assert_std(w: np.ndarray, std: float) -> None:
    n = w.size
    tol = 6 / math.sqrt(2 * n)
    assert abs(w.std() / std - 1) < tol, (w.std(), std, tol)
    assert abs(w.mean()) < 6 * std / math.sqrt(n)


def test_resnet_kaiming_fan_out_and_bn() -> None:
    m = models.get_model("resnet18", width_mult=0.5, rng=np.random.default_rng(0))
    w = m.layer3[0].conv2.weight.data                   # (128, 128, 3, 3): fan_out = 128 * 9
    assert_std(w, math.sqrt(2.0 / (w.shape[0] * 9)))
    assert np.all(m.layer3[0].bn2.weight.data == 1) and np.all(m.layer3[0].bn2.bias.data == 0)
    z = models.get_model("resnet18", width_mult=0.25, zero_init_residual=True)
    assert np.all(z.layer1[0].bn2.weight.data == 0) and np.all(z.layer1[0].bn1.weight.data == 1)


def test_vgg_linear_normal_001() -> None:
    m = models.get_model("vgg11", classifier_width=256, pool_size=2, rng=np.random.default_rng(0))
    assert_std(m.classifier[0].weight.data, 0.01)
    assert np.all(m.classifier[0].bias.data == 0) and np.all(m.features[0].bias.data == 0)


def test_googlenet_normal_001() -> None:
    m = models.get_model("googlenet", rng=np.random.default_rng(0))
    assert_std(m.inception4a.branch2[1].conv.weight.data, 0.01)
    assert_std(m.fc.weight.data, 0.01)


def test_squeezenet_final_conv_and_kaiming_uniform() -> None:
    m = models.get_model("squeezenet1_1", rng=np.random.default_rng(0))
    assert_std(m.classifier[1].weight.data, 0.01)
    w = m.features[3].expand3x3.weight.data             # U(-b, b), b = sqrt(6 / fan_in)
    bound = math.sqrt(6.0 / (w.shape[1] * 9))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert np.all(m.features[3].expand3x3.bias.data == 0)


def test_dcgan_normal_002() -> None:
    g = models.get_model("dcgan_generator", rng=np.random.default_rng(0))
    assert_std(g.main[0].weight.data, 0.02)
    bn = g.main[1].weight.data
    assert abs(bn.mean() - 1) < 6 * 0.02 / math.sqrt(bn.size) and bn.std() > 0


def test_vit_init() -> None:
    m = models.get_model("vit_tiny", rng=np.random.default_rng(0))
    assert np.all(m.class_token.data == 0) and np.all(m.heads.head.weight.data == 0)
    assert_std(m.encoder.pos_embedding.data, 0.02)
    assert_std(m.conv_proj.weight.data, math.sqrt(1 / (3 * 4 * 4)))
