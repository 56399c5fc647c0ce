"""Building blocks against PyTorch: each block's forward and input gradient equal a PyTorch
rendering of the same math with the same weights (float64, training-mode BatchNorm), plus the
LeNet C3 connection table, option-A shortcuts and the FCN bilinear kernel."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as tF

import cvprimer as cp
from cvprimer import nn
from cvprimer.models.lenet import C3, C3_TABLE, LeNet5Original
from cvprimer.models.mobilenet import InvertedResidual
from cvprimer.models.resnet import Bottleneck, CifarBasicBlock, CifarResNet, ShortcutA
from cvprimer.models.segmentation import bilinear_kernel
from cvprimer.models.senet import SEModule
from cvprimer.models.shufflenet import ShuffleUnit
from cvprimer.models.squeezenet import Fire

torch.set_num_threads(1)
RTOL, ATOL = 1e-9, 1e-10   # float64 throughout: only summation order differs


def T(a: Any) -> torch.Tensor:
    return torch.from_numpy(np.asarray(a.data if hasattr(a, "data") else a))


def mirror(m: Any, x: torch.Tensor) -> torch.Tensor:
    """PyTorch rendering of a Sequential of Conv2d / BatchNorm2d / ReLU / ReLU6 (our weights)."""
    if isinstance(m, nn.Sequential):
        for sub in m:
            x = mirror(sub, x)
        return x
    if isinstance(m, nn.Conv2d):
        return tF.conv2d(x, T(m.weight), None if m.bias is None else T(m.bias), m.stride, m.padding, m.dilation,
                         m.groups)
    if isinstance(m, nn.BatchNorm2d):
        return tF.batch_norm(x, None, None, T(m.weight), T(m.bias), training=True, eps=m.eps)
    if isinstance(m, nn.ReLU6):
        return tF.relu6(x)
    if isinstance(m, nn.ReLU):
        return tF.relu(x)
    raise TypeError(type(m).__name__)


def shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def randomize(module: Any, rng: np.random.Generator) -> Any:
    """float64, and random BN affine parameters, so a BN that did nothing would be noticed."""
    module.double()
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data[...] = rng.uniform(0.5, 1.5, m.weight.shape)
            m.bias.data[...] = rng.normal(0, 0.1, m.bias.shape)
    return module


def check(ours: Any, theirs: Any, x_shape: tuple[int, ...], seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape)
    xo = cp.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    np.testing.assert_allclose(yo.data, yt.detach().numpy(), rtol=RTOL, atol=ATOL)
    gy = rng.standard_normal(yt.shape)
    (yo * cp.tensor(gy)).sum().backward()
    yt.backward(torch.from_numpy(gy))
    np.testing.assert_allclose(xo.grad.data, xt.grad.numpy(), rtol=RTOL, atol=ATOL)


def test_c3_table_is_lecuns() -> None:
    # Table I: 16 maps, 60 connections; maps 0-5 read 3 contiguous maps, 6-11 four contiguous,
    # 12-14 four discontinuous, 15 all six; every S2 map feeds 10 C3 maps.
    assert len(C3_TABLE) == 16 and sum(len(r) for r in C3_TABLE) == 60
    assert [len(r) for r in C3_TABLE] == [3] * 6 + [4] * 9 + [6]
    assert C3_TABLE[1] == (1, 2, 3) and C3_TABLE[9] == (3, 4, 5, 0) and C3_TABLE[14] == (0, 2, 3, 5)
    assert all(sum(j in r for r in C3_TABLE) == 10 for j in range(6))


def test_c3_connectivity_by_perturbation() -> None:
    c3 = C3(rng=np.random.default_rng(0)).double()
    x = np.random.default_rng(1).standard_normal((1, 6, 9, 9))
    base = c3(cp.tensor(x)).data
    for j in range(6):
        xp = x.copy()
        xp[:, j] += 1.0
        changed = np.abs(c3(cp.tensor(xp)).data - base).max(axis=(0, 2, 3)) > 1e-12
        assert changed.tolist() == [j in r for r in C3_TABLE]


def test_c3_equals_masked_dense_convolution() -> None:
    c3 = C3(rng=np.random.default_rng(0)).double()
    dense, bias, k = np.zeros((16, 6, 5, 5)), np.zeros(16), 0
    for conv, idx in zip(c3.pieces, c3._gather, strict=True):
        g, fan = conv.weight.shape[:2]
        for j in range(g):
            dense[k, idx[j * fan:(j + 1) * fan]] = conv.weight.data[j]
            bias[k] = conv.bias.data[j]
            k += 1
    assert k == 16 and int((np.abs(dense).sum(axis=(2, 3)) > 0).sum()) == 60
    check(c3, lambda x: tF.conv2d(x, torch.from_numpy(dense), torch.from_numpy(bias)), (2, 6, 10, 10))


@pytest.mark.parametrize("cin,cout,stride", [(4, 8, 2), (4, 4, 1), (3, 8, 2)])
def test_option_a_shortcut(cin: int, cout: int, stride: int) -> None:
    before = (cout - cin) // 2
    check(ShortcutA(cin, cout, stride),
          lambda x: tF.pad(x[:, :, ::stride, ::stride], (0, 0, 0, 0, before, cout - cin - before)), (2, cin, 6, 6))


@pytest.mark.parametrize("cin,cout,stride", [(4, 8, 2), (6, 6, 1)])
def test_cifar_basic_block(cin: int, cout: int, stride: int) -> None:
    b = randomize(CifarBasicBlock(cin, cout, stride, rng=np.random.default_rng(0)), np.random.default_rng(1))

    def ref(x: torch.Tensor) -> torch.Tensor:
        out = mirror(nn.Sequential(b.conv1, b.bn1, b.relu, b.conv2, b.bn2), x)
        short = x if b.downsample is None else tF.pad(x[:, :, ::stride, ::stride],
                                                      (0, 0, 0, 0, (cout - cin) // 2, cout - cin - (cout - cin) // 2))
        return tF.relu(out + short)

    check(b, ref, (2, cin, 6, 6))


def test_bottleneck_with_projection() -> None:
    down = nn.Sequential(nn.Conv2d(8, 16, 1, stride=2, bias=False), nn.BatchNorm2d(16))
    b = randomize(Bottleneck(8, 4, 2, down, rng=np.random.default_rng(0)), np.random.default_rng(1))

    def ref(x: torch.Tensor) -> torch.Tensor:
        out = mirror(nn.Sequential(b.conv1, b.bn1, b.relu, b.conv2, b.bn2, b.relu, b.conv3, b.bn3), x)
        return tF.relu(out + mirror(down, x))

    assert b.conv2.stride == (2, 2) and b.conv1.stride == (1, 1)   # torchvision's v1.5: stride on the 3x3
    check(b, ref, (2, 8, 6, 6))


def test_se_module() -> None:
    se = SEModule(32, 4, rng=np.random.default_rng(0)).double()

    def ref(x: torch.Tensor) -> torch.Tensor:
        s = tF.relu(tF.linear(x.mean((2, 3)), T(se.fc1.weight), T(se.fc1.bias)))
        s = torch.sigmoid(tF.linear(s, T(se.fc2.weight), T(se.fc2.bias)))
        return x * s[:, :, None, None]

    check(se, ref, (2, 32, 3, 3))


@pytest.mark.parametrize("cin,cout,stride", [(8, 8, 1), (8, 12, 2)])
def test_shuffle_unit(cin: int, cout: int, stride: int) -> None:
    u = randomize(ShuffleUnit(cin, cout, stride, rng=np.random.default_rng(0)), np.random.default_rng(1))

    def ref(x: torch.Tensor) -> torch.Tensor:
        if stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat([x1, mirror(u.branch2, x2)], 1)
        else:
            out = torch.cat([mirror(u.branch1, x), mirror(u.branch2, x)], 1)
        return shuffle(out, 2)

    check(u, ref, (2, cin, 6, 6))


@pytest.mark.parametrize("cin,cout,stride,t", [(8, 8, 1, 6), (8, 12, 2, 6), (8, 8, 1, 1)])
def test_inverted_residual(cin: int, cout: int, stride: int, t: int) -> None:
    b = randomize(InvertedResidual(cin, cout, stride, t, rng=np.random.default_rng(0)), np.random.default_rng(1))
    assert b.use_res_connect == (stride == 1 and cin == cout)

    def ref(x: torch.Tensor) -> torch.Tensor:
        y = mirror(b.conv, x)
        return x + y if b.use_res_connect else y

    check(b, ref, (2, cin, 6, 6))


def test_fire() -> None:
    f = Fire(6, 3, 4, 5, rng=np.random.default_rng(0)).double()

    def ref(x: torch.Tensor) -> torch.Tensor:
        s = tF.relu(tF.conv2d(x, T(f.squeeze.weight), T(f.squeeze.bias)))
        return torch.cat([tF.relu(tF.conv2d(s, T(f.expand1x1.weight), T(f.expand1x1.bias))),
                          tF.relu(tF.conv2d(s, T(f.expand3x3.weight), T(f.expand3x3.bias), padding=1))], 1)

    check(f, ref, (2, 6, 5, 5))


@pytest.mark.parametrize("s", [2, 4])
def test_bilinear_kernel_upsamples_like_interpolate(s: int) -> None:
    # FCN's initialisation: a transposed conv (k = 2s, stride s, padding s/2) with this kernel is
    # bilinear upsampling (align_corners=False) away from the border, where it sees zeros instead
    # of the replicated edge.
    x = torch.randn(1, 3, 6, 7, dtype=torch.float64)
    up = tF.conv_transpose2d(x, torch.from_numpy(bilinear_kernel(3, 2 * s).astype(np.float64)), stride=s,
                             padding=s // 2)
    ref = tF.interpolate(x, scale_factor=s, mode="bilinear", align_corners=False)
    assert up.shape == ref.shape
    np.testing.assert_allclose(up[..., s:-s, s:-s].numpy(), ref[..., s:-s, s:-s].numpy(), rtol=1e-12, atol=1e-12)


def test_whole_network_input_gradients() -> None:
    # a directional finite-difference check through entire small networks (float64, eval-mode BN)
    for model, shape in [(CifarResNet(depth=8, width_mult=0.25, rng=np.random.default_rng(0)), (2, 3, 8, 8)),
                         (LeNet5Original(rng=np.random.default_rng(0)), (2, 1, 32, 32))]:
        model.double().eval()
        x = cp.tensor(np.random.default_rng(1).standard_normal(shape), requires_grad=True)
        assert cp.directional_gradcheck(lambda t, m=model: m(t), [x])
