"""Small networks for the analyzer's tests, built from the functional ops (independent of the zoo).

Parameters are zeros unless an ``rng`` is given (the shape-only trace never reads them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.nn.parameter import Parameter


def _param(shape: tuple[int, ...], rng: np.random.Generator | None, scale: float = 1.0) -> Parameter:
    data = np.zeros(shape, np.float32) if rng is None else (scale * rng.standard_normal(shape)).astype(np.float32)
    return Parameter(cp.tensor(data))


class Lambda(nn.Module):
    """A module running ``fn(self, x)``: for ad-hoc graphs (branches, merges)."""

    def __init__(self, fn: Callable[..., Any], **children: nn.Module) -> None:
        super().__init__()
        object.__setattr__(self, "fn", fn)
        for k, m in children.items():
            setattr(self, k, m)

    def forward(self, x: Any) -> Any:
        return self.fn(self, x)


class Conv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, s: int = 1, p: int = 0, d: int = 1, g: int = 1,
                 bias: bool = False, rng: np.random.Generator | None = None, transposed: bool = False,
                 output_padding: int = 0) -> None:
        super().__init__()
        self.args = (s, p, d, g, output_padding)
        self.transposed = transposed
        shape = (cin, cout // g, k, k) if transposed else (cout, cin // g, k, k)
        self.weight = _param(shape, rng, 1.0 / np.sqrt(cin * k * k / g))
        self.bias = _param((cout,), rng) if bias else None

    def forward(self, x: Any) -> Any:
        s, p, d, g, op = self.args
        if self.transposed:
            return F.conv_transpose2d(x, self.weight, self.bias, s, p, op, g, d)
        return F.conv2d(x, self.weight, self.bias, s, p, d, g)


class BN(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.weight = Parameter(cp.ones(c))
        self.bias = Parameter(cp.zeros(c))
        self.register_buffer("running_mean", cp.zeros(c))
        self.register_buffer("running_var", cp.ones(c))

    def forward(self, x: Any) -> Any:
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, self.training)


class FC(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.weight = _param((cout, cin), None)
        self.bias = _param((cout,), None)

    def forward(self, x: Any) -> Any:
        return F.linear(x.flatten(1), self.weight, self.bias)


class ReLU(nn.Module):
    def forward(self, x: Any) -> Any:
        return F.relu(x)


class GAP(nn.Module):
    def forward(self, x: Any) -> Any:
        return F.adaptive_avg_pool2d(x, 1)


def conv_bn(cin: int, cout: int, k: int, s: int = 1, g: int = 1) -> nn.Sequential:
    return nn.Sequential(Conv(cin, cout, k, s, k // 2, g=g), BN(cout), ReLU())


def mobilenet_v1(alpha: float = 1.0, num_classes: int = 1000) -> nn.Sequential:
    """MobileNet v1 (Howard et al. 2017, Table 1): conv 3x3/2, 13 depthwise-separable blocks,
    global average pool, fully connected."""
    def c(n: int) -> int:
        return int(n * alpha)
    cfg = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    layers: list[nn.Module] = [conv_bn(3, c(32), 3, 2)]
    cin = c(32)
    for cout, s in cfg:
        layers += [conv_bn(cin, cin, 3, s, g=cin), conv_bn(cin, c(cout), 1)]
        cin = c(cout)
    layers += [GAP(), FC(cin, num_classes)]
    return nn.Sequential(*layers)


class BasicBlockA(nn.Module):
    """CIFAR ResNet block with option-A shortcut (subsample + zero-pad channels: no parameters)."""

    def __init__(self, cin: int, cout: int, s: int) -> None:
        super().__init__()
        self.c1, self.b1 = Conv(cin, cout, 3, s, 1), BN(cout)
        self.c2, self.b2 = Conv(cout, cout, 3, 1, 1), BN(cout)
        self.pad = (cout - cin) // 2
        self.s = s

    def forward(self, x: Any) -> Any:
        y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        sc = x
        if self.s != 1 or self.pad:
            sc = F.pad(x[:, :, :: self.s, :: self.s], (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(y + sc)


def cifar_resnet(depth: int, num_classes: int = 10) -> nn.Sequential:
    """He et al. 2016, section 4.2: 6n + 2 layers, widths 16/32/64, option-A shortcuts."""
    n = (depth - 2) // 6
    layers: list[nn.Module] = [Conv(3, 16, 3, 1, 1), BN(16), ReLU()]
    cin = 16
    for i, w in enumerate((16, 32, 64)):
        for j in range(n):
            layers.append(BasicBlockA(cin, w, 2 if i > 0 and j == 0 else 1))
            cin = w
    layers += [GAP(), FC(64, num_classes)]
    return nn.Sequential(*layers)
