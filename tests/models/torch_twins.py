"""PyTorch twins of the model zoo, built from ``torch.nn`` layers as the papers and torchvision lay them out
(torchvision itself is not importable here), and the harness that compares a zoo model with its twin.

Each twin is written from the published architecture, not from our code: module names follow torchvision's
(ours claim the same names), so weights copy 1:1 by name; where a twin's names differ (the ViT block is
``torch.nn.TransformerEncoderLayer``, LeNet-5's C3 is one masked dense convolution) a rename maps our
parameter names onto the twin's, optionally with an index into the twin's tensor.

:func:`check_twin` copies our weights (float64) into the twin, runs the same input through both and compares
the output, then backpropagates one random projection of the output and compares the gradient with respect
to the input and to every parameter (and, in training mode, the updated batch-norm running statistics).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any

import numpy as np
import torch
import torch.nn.functional as tF
from torch import nn

import cvprimer as cp
from cvprimer.core.function import run_backward
from parity import assert_close

torch.set_num_threads(1)

# float64 throughout: |ours - torch| <= ATOL * max(1, max|torch|) + RTOL * |torch|, elementwise.
RTOL, ATOL = 1e-9, 1e-10

Rename = Callable[[str], "str | tuple[str, Any] | None"]


# --------------------------------------------------------------------------- harness
def randomize_(model: Any, rng: np.random.Generator) -> None:
    """Give every constant-initialised parameter (BN 1/0, zero biases, ViT's zero head and class token)
    random values around its constant, and BN random running statistics, so no weight is inert."""
    for _, p in model.named_parameters():
        flat = p.data.reshape(-1)
        if flat.size and np.all(flat == flat[0]):
            p.data = (p.data + 0.2 * rng.standard_normal(p.shape)).astype(p.data.dtype)
    for name, b in model.named_buffers():
        if name.endswith("running_mean"):
            b.data = (0.2 * rng.standard_normal(b.shape)).astype(b.data.dtype)
        elif name.endswith("running_var"):
            b.data = rng.uniform(0.5, 2.0, b.shape).astype(b.data.dtype)


def _target(twin_state: dict[str, torch.Tensor], name: str, rename: Rename | None) -> tuple[str, Any] | None:
    t = rename(name) if rename is not None else name
    if t is None:
        return None
    tname, idx = (t, None) if isinstance(t, str) else t
    assert tname in twin_state, f"our {name!r} maps to {tname!r}, which the twin lacks"
    return tname, idx


def copy_weights(ours: Any, twin: nn.Module, rename: Rename | None = None) -> None:
    """Copy every parameter and buffer of ``ours`` into ``twin`` (already float64) by name; every tensor of
    the twin must receive one, and shapes must agree."""
    state = dict(chain(twin.named_parameters(), twin.named_buffers()))
    filled: set[str] = set()
    for name, t in chain(ours.named_parameters(), ours.named_buffers()):
        tgt = _target(state, name, rename)
        if tgt is None:
            continue
        tname, idx = tgt
        dst = state[tname]
        src = torch.from_numpy(np.array(t.data)).to(dst.dtype)
        view_shape = tuple(dst.shape) if idx is None else tuple(dst[idx].shape)
        assert view_shape == tuple(src.shape), f"{name}: shape {tuple(src.shape)} vs twin {tname} {view_shape}"
        with torch.no_grad():
            if idx is None:
                dst.copy_(src)
            else:
                dst[idx] = src
        filled.add(tname)
    missing = sorted(set(state) - filled)
    assert not missing, f"twin tensors that received no weights: {missing}"


def _outs(o: Any) -> list[Any]:
    return list(o) if isinstance(o, (tuple, list)) else [o]


def check_twin(ours: Any, twin: nn.Module, x: np.ndarray, *, train: bool = False, rename: Rename | None = None,
               seed: int = 0, randomize: bool = True) -> None:
    """Same weights, same input: outputs, input gradient, every parameter gradient (and in training mode the
    BN running statistics after the step) agree in float64."""
    rng = np.random.default_rng(seed)
    ours.double()
    if randomize:
        randomize_(ours, rng)
    twin = twin.double()
    copy_weights(ours, twin, rename)
    ours.train(train)
    twin.train(train)

    xc = cp.tensor(x.astype(np.float64), requires_grad=True)
    xt = torch.from_numpy(x.astype(np.float64)).requires_grad_(True)
    out_c, out_t = _outs(ours(xc)), _outs(twin(xt))
    assert len(out_c) == len(out_t), f"{len(out_c)} outputs vs the twin's {len(out_t)}"
    for k, (oc, ot) in enumerate(zip(out_c, out_t, strict=True)):
        assert_close(oc.data, ot.detach().numpy(), f"output {k}", rtol=RTOL, atol=ATOL)

    gs = [rng.standard_normal(oc.shape) for oc in out_c]
    run_backward(out_c, gs)
    torch.autograd.backward(out_t, [torch.from_numpy(g) for g in gs])
    assert_close(xc.grad.data, xt.grad.numpy(), "input gradient", rtol=RTOL, atol=ATOL)

    state = dict(chain(twin.named_parameters(), twin.named_buffers()))
    for name, p in ours.named_parameters():
        tgt = _target(state, name, rename)
        if tgt is None:
            continue
        tname, idx = tgt
        tg = state[tname].grad
        assert tg is not None, f"the twin's {tname} got no gradient"
        tg = tg if idx is None else tg[idx]
        assert p.grad is not None, f"our {name} got no gradient"
        assert_close(p.grad.data, tg.numpy(), f"gradient of {name}", rtol=RTOL, atol=ATOL)
    if train:
        for name, b in ours.named_buffers():
            if name.endswith(("running_mean", "running_var", "num_batches_tracked")):
                tgt = _target(state, name, rename)
                assert tgt is not None
                assert_close(b.data, state[tgt[0]].detach().numpy(), f"buffer {name} after a training step",
                             rtol=RTOL, atol=ATOL)


# --------------------------------------------------------------------------- LeNet-5
class LeNet5(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size: int = 32) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=(32 - input_size) // 2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                                        nn.Linear(84, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


# Table I of LeCun et al. (1998), row by row: the C3 maps (columns 0..15) each S2 map (row) feeds.
_TABLE_ROWS = (
    "X...XXX..XXXX.XX",
    "XX...XXX..XXXX.X",
    "XXX...XXX..X.XXX",
    ".XXX..XXXX..X.XX",
    "..XXX..XXXX.XX.X",
    "...XXX..XXXX.XXX",
)
C3_MASK = np.array([[c == "X" for c in row] for row in _TABLE_ROWS]).T   # (16 C3 maps, 6 S2 maps)


def _scaled_tanh(x: torch.Tensor) -> torch.Tensor:
    return 1.7159 * torch.tanh(2.0 / 3.0 * x)


class Subsampling(nn.Module):
    """S2/S4: the sum of each 2x2 block times a trainable coefficient plus a trainable bias, squashed."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.coefficient = nn.Parameter(torch.empty(channels))
        self.bias = nn.Parameter(torch.empty(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = tF.avg_pool2d(x, 2) * 4
        return _scaled_tanh(s * self.coefficient.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1))


class MaskedC3(nn.Conv2d):
    """C3 as one dense 6 -> 16 convolution whose weight is masked by Table I (only its 60 links act)."""

    def __init__(self) -> None:
        super().__init__(6, 16, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = torch.from_numpy(C3_MASK).to(self.weight.dtype)[:, :, None, None]
        return tF.conv2d(x, self.weight * mask, self.bias)


class LeNet5Original(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(in_channels, 6, 5)
        self.s2 = Subsampling(6)
        self.c3 = MaskedC3()
        self.s4 = Subsampling(16)
        self.c5 = nn.Conv2d(16, 120, 5)
        self.f6 = nn.Linear(120, 84)
        self.register_buffer("rbf_centers", torch.empty(num_classes, 84))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.s4(_scaled_tanh(self.c3(self.s2(_scaled_tanh(self.c1(x))))))
        x = _scaled_tanh(self.f6(_scaled_tanh(self.c5(x)).flatten(1)))
        return -((x[:, None, :] - self.rbf_centers[None]) ** 2).sum(-1)   # RBF units, negated into logits


def lenet5_original_rename(c3_table: Sequence[Sequence[int]]) -> Rename:
    """Our C3 is four grouped convolutions over gathered channels (``pieces.k``, maps ``lo..hi``); their
    weights sit in the twin's dense weight at (map, input map) of each table entry, in the table's order."""
    bounds = ((0, 6), (6, 12), (12, 15), (15, 16))

    def rename(name: str) -> str | tuple[str, Any] | None:
        m = re.fullmatch(r"c3\.pieces\.(\d)\.(weight|bias)", name)
        if m is None:
            return name
        lo, hi = bounds[int(m.group(1))]
        maps = np.arange(lo, hi)
        if m.group(2) == "bias":
            return "c3.bias", torch.from_numpy(maps)
        rows = torch.from_numpy(np.repeat(maps[:, None], len(c3_table[lo]), axis=1))
        cols = torch.from_numpy(np.array([c3_table[i] for i in range(lo, hi)]))
        return "c3.weight", (rows, cols)

    return rename


# --------------------------------------------------------------------------- AlexNet, VGG
class AlexNet(nn.Module):
    def __init__(self, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(256 * 36, 4096), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


VGG_CFGS = {11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]}   # Simonyan & Zisserman, A


class VGG(nn.Module):
    def __init__(self, depth: int, batch_norm: bool, num_classes: int = 1000, in_channels: int = 3,
                 dropout: float = 0.5, classifier_width: int = 4096, pool_size: int = 7) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for v in VGG_CFGS[depth]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
                continue
            layers.append(nn.Conv2d(c, int(v), 3, padding=1))
            layers += [nn.BatchNorm2d(int(v)), nn.ReLU()] if batch_norm else [nn.ReLU()]
            c = int(v)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(pool_size)
        w = classifier_width
        self.classifier = nn.Sequential(nn.Linear(512 * pool_size**2, w), nn.ReLU(), nn.Dropout(dropout),
                                        nn.Linear(w, w), nn.ReLU(), nn.Dropout(dropout), nn.Linear(w, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# --------------------------------------------------------------------------- ResNets, SE-ResNets
def _c3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)


class SE(nn.Module):
    """Hu et al. Fig. 3: global average pool -> FC (C/r) -> ReLU -> FC (C) -> sigmoid -> channel scale."""

    def __init__(self, c: int, reduction: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(c, max(1, c // reduction))
        self.fc2 = nn.Linear(max(1, c // reduction), c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean((2, 3))))))
        return x * s[:, :, None, None]


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 se_reduction: int | None = None) -> None:
        super().__init__()
        self.conv1, self.bn1 = _c3(inplanes, planes, stride), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = _c3(planes, planes), nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.downsample = downsample
        if se_reduction is not None:
            self.se = SE(planes, se_reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        if hasattr(self, "se"):      # SE on the residual branch, before the sum (Hu et al. Fig. 3)
            out = self.se(out)
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """torchvision's v1.5 bottleneck: the stride on the 3x3 convolution."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 se_reduction: int | None = None) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(inplanes, planes, 1, bias=False), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = _c3(planes, planes, stride), nn.BatchNorm2d(planes)
        self.conv3, self.bn3 = nn.Conv2d(planes, 4 * planes, 1, bias=False), nn.BatchNorm2d(4 * planes)
        self.relu = nn.ReLU()
        self.downsample = downsample
        if se_reduction is not None:
            self.se = SE(4 * planes, se_reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if hasattr(self, "se"):
            out = self.se(out)
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self, block: type, layers: Sequence[int], num_classes: int = 1000, width_mult: float = 1.0,
                 se_reduction: int | None = None) -> None:
        super().__init__()
        widths = [max(1, int(round(64 * width_mult * 2**i))) for i in range(4)]
        self.inplanes = widths[0]
        self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        for i, (w, n) in enumerate(zip(widths, layers, strict=True)):
            setattr(self, f"layer{i + 1}", self._make_layer(block, w, n, 1 if i == 0 else 2, se_reduction))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[3] * block.expansion, num_classes)

    def _make_layer(self, block: type, planes: int, n: int, stride: int, se: int | None) -> nn.Sequential:
        down = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            down = nn.Sequential(nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                 nn.BatchNorm2d(planes * block.expansion))
        blocks = [block(self.inplanes, planes, stride, down, se)]
        self.inplanes = planes * block.expansion
        blocks += [block(self.inplanes, planes, 1, None, se) for _ in range(1, n)]
        return nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class ShortcutA(nn.Module):
    """He et al. Sec. 4.2 option A: identity on every ``stride``-th pixel, extra channels zero-padded
    (half before, half after, as the reference CIFAR implementations do)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.stride, self.extra = stride, cout - cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return tF.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))


class CifarResNet(nn.Module):
    def __init__(self, depth: int = 20, num_classes: int = 10, in_channels: int = 3, width_mult: float = 1.0) -> None:
        super().__init__()
        n = (depth - 2) // 6
        widths = [max(1, int(round(w * width_mult))) for w in (16, 32, 64)]
        self.conv1, self.bn1, self.relu = _c3(in_channels, widths[0]), nn.BatchNorm2d(widths[0]), nn.ReLU()
        c = widths[0]
        for i, w in enumerate(widths):
            blocks = []
            for j in range(n):
                stride = 2 if i > 0 and j == 0 else 1
                short = ShortcutA(c, w, stride) if stride != 1 or c != w else None
                blocks.append(BasicBlock(c, w, stride, short))
                c = w
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(self.relu(self.bn1(self.conv1(x))))))
        return self.fc(x.mean((2, 3)))


# --------------------------------------------------------------------------- DenseNet
class DenseLayer(nn.Module):
    def __init__(self, cin: int, k: int, bn_size: int) -> None:
        super().__init__()
        self.norm1, self.relu1 = nn.BatchNorm2d(cin), nn.ReLU()
        self.conv1 = nn.Conv2d(cin, bn_size * k, 1, bias=False)
        self.norm2, self.relu2 = nn.BatchNorm2d(bn_size * k), nn.ReLU()
        self.conv2 = nn.Conv2d(bn_size * k, k, 3, padding=1, bias=False)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = torch.cat(features, 1)          # [x_0, x_1, ..., x_{l-1}] (Huang et al. Eq. 2)
        return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))


class DenseBlock(nn.ModuleDict):
    def __init__(self, n: int, cin: int, bn_size: int, k: int) -> None:
        super().__init__({f"denselayer{i + 1}": DenseLayer(cin + i * k, k, bn_size) for i in range(n)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class DenseNet(nn.Module):
    def __init__(self, growth_rate: int = 32, block_config: Sequence[int] = (6, 12, 24, 16),
                 num_init_features: int = 64, bn_size: int = 4, num_classes: int = 1000) -> None:
        super().__init__()
        feats = OrderedDict([("conv0", nn.Conv2d(3, num_init_features, 7, 2, 3, bias=False)),
                             ("norm0", nn.BatchNorm2d(num_init_features)), ("relu0", nn.ReLU()),
                             ("pool0", nn.MaxPool2d(3, 2, 1))])
        c = num_init_features
        for i, n in enumerate(block_config):
            feats[f"denseblock{i + 1}"] = DenseBlock(n, c, bn_size, growth_rate)
            c += n * growth_rate
            if i != len(block_config) - 1:
                feats[f"transition{i + 1}"] = nn.Sequential(OrderedDict(
                    norm=nn.BatchNorm2d(c), relu=nn.ReLU(), conv=nn.Conv2d(c, c // 2, 1, bias=False),
                    pool=nn.AvgPool2d(2, 2)))
                c //= 2
        feats["norm5"] = nn.BatchNorm2d(c)
        self.features = nn.Sequential(feats)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = tF.adaptive_avg_pool2d(tF.relu(self.features(x)), 1)
        return self.classifier(torch.flatten(x, 1))


# --------------------------------------------------------------------------- GoogLeNet
class BasicConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, padding: int = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return tF.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    def __init__(self, cin: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, pp: int) -> None:
        super().__init__()
        self.branch1 = BasicConv2d(cin, c1, 1)
        self.branch2 = nn.Sequential(BasicConv2d(cin, c3r, 1), BasicConv2d(c3r, c3, 3, padding=1))
        # torchvision's "5x5" branch is a 3x3 convolution (its ported weights; see torchvision issue #906)
        self.branch3 = nn.Sequential(BasicConv2d(cin, c5r, 1), BasicConv2d(c5r, c5, 3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), BasicConv2d(cin, pp, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    def __init__(self, cin: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.conv = BasicConv2d(cin, 128, 1)
        self.fc1, self.fc2 = nn.Linear(2048, 1024), nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.conv(tF.adaptive_avg_pool2d(x, (4, 4))), 1)
        return self.fc2(self.dropout(tF.relu(self.fc1(x))))


class GoogLeNet(nn.Module):
    def __init__(self, num_classes: int = 1000, aux_logits: bool = False, dropout: float = 0.2,
                 dropout_aux: float = 0.7) -> None:
        super().__init__()
        self.aux_logits = aux_logits
        self.conv1 = BasicConv2d(3, 64, 7, 2, 3)
        self.maxpool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.conv3 = BasicConv2d(64, 64, 1), BasicConv2d(64, 192, 3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        if aux_logits:
            self.aux1, self.aux2 = InceptionAux(512, num_classes, dropout_aux), InceptionAux(528, num_classes,
                                                                                            dropout_aux)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> Any:
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux_logits and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux_logits and self.training else None
        x = self.inception5b(self.inception5a(self.maxpool4(self.inception4e(x))))
        x = self.fc(self.dropout(torch.flatten(tF.adaptive_avg_pool2d(x, 1), 1)))
        return (x, aux2, aux1) if aux1 is not None else x    # torchvision's GoogLeNetOutputs order


# --------------------------------------------------------------------------- MobileNets, ShuffleNet, SqueezeNet
def conv_bn_act(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: type | None = nn.ReLU) -> Any:
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, *([act()] if act is not None else []))


class MobileNetV1(nn.Module):
    """Howard et al. Table 1: 3x3/2 conv 32, 13 depthwise-separable layers, global pool, FC."""

    CFG = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), *((512, 1),) * 5, (1024, 2), (1024, 1))

    def __init__(self, num_classes: int = 1000, width_mult: float = 1.0) -> None:
        super().__init__()

        def ch(c: int) -> int:
            return max(1, int(c * width_mult))

        c = ch(32)
        layers = [conv_bn_act(3, c, 3, 2)]
        for cout, s in self.CFG:
            layers.append(nn.Sequential(conv_bn_act(c, c, 3, s, groups=c), conv_bn_act(c, ch(cout), 1)))
            c = ch(cout)
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.0), nn.Linear(c, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean((2, 3)))


def _make_divisible(v: float, divisor: int = 8) -> int:
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, t: int) -> None:
        super().__init__()
        hidden = int(round(cin * t))
        self.use_res_connect = stride == 1 and cin == cout
        layers = [conv_bn_act(cin, hidden, 1, act=nn.ReLU6)] if t != 1 else []
        layers += [conv_bn_act(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6),
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    CFG = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))

    def __init__(self, num_classes: int = 1000, width_mult: float = 1.0, dropout: float = 0.2) -> None:
        super().__init__()
        c = _make_divisible(32 * width_mult)
        last = _make_divisible(1280 * max(1.0, width_mult))
        layers: list[nn.Module] = [conv_bn_act(3, c, 3, 2, act=nn.ReLU6)]
        for t, cout, n, s in self.CFG:
            cout = _make_divisible(cout * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(c, cout, s if i == 0 else 1, t))
                c = cout
        layers.append(conv_bn_act(c, last, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(last, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(tF.adaptive_avg_pool2d(self.features(x), 1), 1))


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class ShuffleUnit(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        half = cout // 2
        if stride > 1:
            self.branch1 = nn.Sequential(
                nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin),
                nn.Conv2d(cin, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU())
        else:
            self.branch1 = nn.Sequential()
        c2 = cin if stride > 1 else half
        self.branch2 = nn.Sequential(
            nn.Conv2d(c2, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(),
            nn.Conv2d(half, half, 3, stride, 1, groups=half, bias=False), nn.BatchNorm2d(half),
            nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), 1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), 1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    def __init__(self, stages_out_channels: Sequence[int], num_classes: int = 1000,
                 stages_repeats: Sequence[int] = (4, 8, 4)) -> None:
        super().__init__()
        ch = stages_out_channels
        self.conv1 = conv_bn_act(3, ch[0], 3, 2)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        c = ch[0]
        for i, (reps, cout) in enumerate(zip(stages_repeats, ch[1:4], strict=True)):
            setattr(self, f"stage{i + 2}", nn.Sequential(ShuffleUnit(c, cout, 2),
                                                         *[ShuffleUnit(cout, cout, 1) for _ in range(reps - 1)]))
            c = cout
        self.conv5 = conv_bn_act(c, ch[4], 1)
        self.fc = nn.Linear(ch[4], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage4(self.stage3(self.stage2(self.maxpool(self.conv1(x)))))
        return self.fc(self.conv5(x).mean([2, 3]))


class Fire(nn.Module):
    def __init__(self, cin: int, s: int, e1: int, e3: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(cin, s, 1)
        self.expand1x1 = nn.Conv2d(s, e1, 1)
        self.expand3x3 = nn.Conv2d(s, e3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.squeeze(x))
        return torch.cat([torch.relu(self.expand1x1(x)), torch.relu(self.expand3x3(x))], 1)


class SqueezeNet(nn.Module):
    def __init__(self, version: str = "1_0", num_classes: int = 1000) -> None:
        super().__init__()

        def pool() -> nn.Module:
            return nn.MaxPool2d(3, 2, ceil_mode=True)

        if version == "1_0":
            self.features = nn.Sequential(
                nn.Conv2d(3, 96, 7, 2), nn.ReLU(), pool(), Fire(96, 16, 64, 64), Fire(128, 16, 64, 64),
                Fire(128, 32, 128, 128), pool(), Fire(256, 32, 128, 128), Fire(256, 48, 192, 192),
                Fire(384, 48, 192, 192), Fire(384, 64, 256, 256), pool(), Fire(512, 64, 256, 256))
        else:
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, 3, 2), nn.ReLU(), pool(), Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), pool(),
                Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), pool(), Fire(256, 48, 192, 192),
                Fire(384, 48, 192, 192), Fire(384, 64, 256, 256), Fire(512, 64, 256, 256))
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(512, num_classes, 1), nn.ReLU(),
                                        nn.AdaptiveAvgPool2d(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.classifier(self.features(x)), 1)


# --------------------------------------------------------------------------- DCGAN
class DCGANGenerator(nn.Module):
    """Radford et al. Fig. 1 (PyTorch's DCGAN example): project z to 4x4, fractionally-strided 4/2/1
    convolutions halving the width with BN + ReLU, Tanh output without BN."""

    def __init__(self, nz: int, ngf: int, out_channels: int, image_size: int) -> None:
        super().__init__()
        n = int(np.log2(image_size)) - 2
        c = ngf * 2 ** (n - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(nz, c, 4, 1, 0, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU()]
            c //= 2
        self.main = nn.Sequential(*layers, nn.ConvTranspose2d(c, out_channels, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z.view(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """Strided 4/2/1 convolutions doubling the width, LeakyReLU(0.2), BN on all but the input layer,
    a 4x4 valid convolution to one value, sigmoid."""

    def __init__(self, ndf: int, in_channels: int, image_size: int, sigmoid: bool = True) -> None:
        super().__init__()
        n = int(np.log2(image_size)) - 2
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2)]
        c = ndf
        for _ in range(n - 1):
            layers += [nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2)]
            c *= 2
        layers.append(nn.Conv2d(c, 1, 4, 1, 0, bias=False))
        self.main = nn.Sequential(*layers, *([nn.Sigmoid()] if sigmoid else []))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1)


# --------------------------------------------------------------------------- U-Net, FCN
def double_conv(cin: int, cout: int, bn: bool = True, dilation: int = 1) -> nn.Sequential:
    layers: list[nn.Module] = []
    for c in (cin, cout):
        layers.append(nn.Conv2d(c, cout, 3, padding=dilation, dilation=dilation, bias=not bn))
        layers += [nn.BatchNorm2d(cout), nn.ReLU()] if bn else [nn.ReLU()]
    return nn.Sequential(*layers)


class Up(nn.Module):
    def __init__(self, cin: int, cout: int, mode: str) -> None:
        super().__init__()
        self.mode = mode
        if mode == "transposed":
            self.up = nn.ConvTranspose2d(cin, cout, 2, 2)
        else:
            self.proj = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor, indices: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
        if self.mode == "transposed":
            return self.up(x)
        if self.mode == "bilinear":
            return self.proj(tF.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))
        return tF.max_unpool2d(self.proj(x), indices, 2, 2, output_size=list(size))


class UNet(nn.Module):
    """Ronneberger et al. Fig. 1 with padded convolutions and BN: contracting path of (pool, double conv)
    stages, expanding path of (up, concat [skip, upsampled], double conv), 1x1 head."""

    def __init__(self, num_classes: int, in_channels: int, base: int, depth: int, upsampling: str,
                 bn: bool = True) -> None:
        super().__init__()
        w = [base * 2**i for i in range(depth + 1)]
        self.inc = double_conv(in_channels, w[0], bn)
        self.down = nn.ModuleList([double_conv(w[i], w[i + 1], bn) for i in range(depth)])
        self.up = nn.ModuleList([Up(w[i + 1], w[i], upsampling) for i in reversed(range(depth))])
        self.dec = nn.ModuleList([double_conv(2 * w[i], w[i], bn) for i in reversed(range(depth))])
        self.head = nn.Conv2d(w[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips, idxs = [], []
        x = self.inc(x)
        for stage in self.down:
            skips.append(x)
            x, i = tF.max_pool2d(x, 2, 2, return_indices=True)
            idxs.append(i)
            x = stage(x)
        for up, dec in zip(self.up, self.dec, strict=True):
            skip = skips.pop()
            x = dec(torch.cat([skip, up(x, idxs.pop(), skip.shape[2:])], 1))
        return self.head(x)


class FCN(nn.Module):
    def __init__(self, num_classes: int, widths: Sequence[int], upsampling: str, dilated: bool = False) -> None:
        super().__init__()
        n = len(widths)
        self.mode = upsampling
        self.pooled = [i > 0 and not (dilated and i >= n - 2) for i in range(n)]
        dil = [2 ** (i - n + 3) if dilated and i >= n - 2 else 1 for i in range(n)]
        self.stride = 2 ** sum(self.pooled)
        self.stages = nn.ModuleList([double_conv(3 if i == 0 else widths[i - 1], widths[i], True, dil[i])
                                     for i in range(n)])
        if upsampling == "unpool":   # DeconvNet-style: per pooled stage in reverse, conv-BN-ReLU then unpool
            self.decoder = nn.ModuleList()
            c = widths[-1]
            for i in reversed(range(n)):
                if self.pooled[i]:
                    self.decoder.append(nn.Sequential(nn.Conv2d(c, widths[i - 1], 3, padding=1),
                                                      nn.BatchNorm2d(widths[i - 1]), nn.ReLU()))
                    c = widths[i - 1]
            self.score = nn.Conv2d(c, num_classes, 1)
        else:
            self.score = nn.Conv2d(widths[-1], num_classes, 1)
            if upsampling == "transposed" and self.stride > 1:
                s = self.stride
                self.upscore = nn.ConvTranspose2d(num_classes, num_classes, 2 * s, s, s // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[2:]
        idxs = []
        for stage, pooled in zip(self.stages, self.pooled, strict=True):
            if pooled:
                x, i = tF.max_pool2d(x, 2, 2, return_indices=True)
                idxs.append(i)
            x = stage(x)
        if self.mode == "unpool":
            for block in self.decoder:
                x = tF.max_unpool2d(block(x), idxs.pop(), 2, 2)
            return self.score(x)
        x = self.score(x)
        if self.stride == 1:
            return x
        if self.mode == "bilinear":
            return tF.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return self.upscore(x)


# --------------------------------------------------------------------------- ViT
class VisionTransformer(nn.Module):
    """Dosovitskiy et al. Eq. 1-4 with torchvision's layout; each block is torch's own pre-norm
    ``TransformerEncoderLayer`` (``norm_first=True``, exact GELU, LayerNorm eps 1e-6)."""

    def __init__(self, image_size: int, patch_size: int, num_classes: int, embed_dim: int, depth: int,
                 num_heads: int, mlp_dim: int | None = None, in_channels: int = 3) -> None:
        super().__init__()
        mlp_dim = mlp_dim or 4 * embed_dim
        self.conv_proj = nn.Conv2d(in_channels, embed_dim, patch_size, patch_size)
        self.class_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.encoder = nn.Module()
        self.encoder.pos_embedding = nn.Parameter(torch.zeros(1, (image_size // patch_size) ** 2 + 1, embed_dim))
        self.encoder.layers = nn.Sequential(OrderedDict(
            (f"encoder_layer_{i}", nn.TransformerEncoderLayer(
                embed_dim, num_heads, mlp_dim, dropout=0.0, activation="gelu", layer_norm_eps=1e-6,
                batch_first=True, norm_first=True)) for i in range(depth)))
        self.encoder.ln = nn.LayerNorm(embed_dim, eps=1e-6)
        self.heads = nn.Sequential(OrderedDict(head=nn.Linear(embed_dim, num_classes)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        x = self.conv_proj(x).flatten(2).transpose(1, 2)                      # (N, L, D)
        x = torch.cat([self.class_token.expand(n, -1, -1), x], 1) + self.encoder.pos_embedding
        x = self.encoder.ln(self.encoder.layers(x))
        return self.heads(x[:, 0])


_VIT_BLOCK = {"ln_1": "norm1", "ln_2": "norm2", "self_attention": "self_attn", "mlp.0": "linear1",
              "mlp.3": "linear2"}


def vit_rename(name: str) -> str:
    """torchvision's block names -> ``TransformerEncoderLayer``'s (the attention's own names agree)."""
    m = re.fullmatch(r"(encoder\.layers\.encoder_layer_\d+)\.(ln_1|ln_2|self_attention|mlp\.0|mlp\.3)\.(.+)", name)
    return name if m is None else f"{m.group(1)}.{_VIT_BLOCK[m.group(2)]}.{m.group(3)}"
