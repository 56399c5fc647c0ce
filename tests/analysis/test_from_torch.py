"""``from_torch``: torchvision-style models written here in torch are converted with their weights; outputs equal
torch's, and the analyzer's counts equal our zoo twin's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn as tnn

import cvprimer as cp
from cvprimer.analysis import analyze
from cvprimer.analysis.roofline import MachineProfile
from cvprimer.interop import UnsupportedLayerError, from_torch

PROFILE = MachineProfile(1e11, 1e10)


class BasicBlock(tnn.Module):
    """torchvision's BasicBlock (He et al. 2015): two 3x3 convs with BN, projection shortcut when needed."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(cout)
        self.relu = tnn.ReLU(inplace=True)
        self.conv2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride, bias=False), tnn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(tnn.Module):
    """torchvision's resnet18 layout: 7x7/2 stem, 3x3/2 max pool, four stages of two BasicBlocks, GAP, fc."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = tnn.BatchNorm2d(64)
        self.relu = tnn.ReLU(inplace=True)
        self.maxpool = tnn.MaxPool2d(3, 2, 1)
        chans = [64, 128, 256, 512]
        cin = 64
        for i, c in enumerate(chans):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", tnn.Sequential(BasicBlock(cin, c, stride), BasicBlock(c, c, 1)))
            cin = c
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _randomize_bn(model: tnn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, tnn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g, dtype=m.running_mean.dtype) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g, dtype=m.running_var.dtype) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g, dtype=m.weight.dtype) + 0.5)


def test_resnet18_outputs_and_gradients_match_torch():
    torch.manual_seed(0)
    tm = ResNet18(10).double().eval()
    _randomize_bn(tm, 1)
    x = torch.randn(1, 3, 32, 32, dtype=torch.float64, requires_grad=True)
    ours = from_torch(tm, x.detach())
    ours.eval()
    xo = cp.tensor(x.detach().numpy(), requires_grad=True)
    out = ours(xo)
    ref = tm(x)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-10)
    g = np.random.default_rng(0).standard_normal(ref.shape)
    (out * cp.tensor(g)).sum().backward()
    (ref * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(xo.grad.data, x.grad.numpy(), rtol=1e-9, atol=1e-11)
    tw = dict(tm.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, tw[name].grad.numpy(), rtol=1e-9, atol=1e-10, err_msg=name)


def test_resnet18_counts_equal_our_zoo_twin():
    converted = from_torch(ResNet18(1000).eval())
    a = analyze(converted, (1, 3, 224, 224), profile=PROFILE)
    b = analyze("resnet18", (1, 3, 224, 224), profile=PROFILE)
    assert a.totals["macs"] == b.totals["macs"] == 1_814_073_344
    assert a.totals["params"]["total"] == b.totals["params"]["total"] == 11_689_512
    assert a.totals["output_rf"] == b.totals["output_rf"]
    assert [g["name"] for g in a.subtotals(1)][:5] == ["conv1", "bn1", "relu", "maxpool", "layer1"]


def test_vgg_style_with_functional_calls_and_dropout():
    torch.manual_seed(1)

    class Small(tnn.Module):
        def __init__(self):
            super().__init__()
            self.features = tnn.Sequential(tnn.Conv2d(1, 8, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                                           tnn.Conv2d(8, 16, 3, padding=2, dilation=2, groups=2), tnn.GELU())
            self.drop = tnn.Dropout(0.5)
            self.head = tnn.Linear(16 * 7 * 7, 10)

        def forward(self, x):
            h = torch.relu(self.features(x))
            return self.head(self.drop(h.view(h.size(0), -1)))

    tm = Small().eval()
    x = torch.randn(3, 1, 14, 14)
    ours = from_torch(tm, x)
    ours.eval()
    with torch.no_grad(), cp.no_grad():
        np.testing.assert_allclose(ours(cp.tensor(x.numpy())).data, tm(x).numpy(), rtol=1e-4, atol=1e-5)
    assert dict(ours.named_modules())["features.3"].weight.dtype == np.float32


def test_unsupported_layers_are_all_named():
    model = tnn.Sequential(tnn.Conv2d(3, 4, 3), tnn.PixelShuffle(2), tnn.LSTM(4, 4))
    with pytest.raises(UnsupportedLayerError, match=r"PixelShuffle.*LSTM"):
        from_torch(model)
    with pytest.raises(TypeError, match="expected a torch.nn.Module"):
        from_torch(object())
