"""PyTorch's ``inplace`` option on activations and dropout (``nn.ReLU(inplace=True)``, ``nn.ReLU(True)``,
``F.elu(x, inplace=True)``, ``nn.Dropout(p, True)``): the input itself is returned holding the result, its version
moves, backward through it gives PyTorch's gradients, and a leaf that requires grad is refused as PyTorch refuses it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import cvprimer as cp
import cvprimer.functional as F
import cvprimer.nn as nn

# name, options: every activation whose PyTorch layer takes ``inplace``
CASES = [("ReLU", {}), ("ReLU6", {}), ("LeakyReLU", {"negative_slope": 0.2}), ("ELU", {"alpha": 0.7}), ("SELU", {}),
         ("CELU", {"alpha": 1.25}), ("Hardtanh", {"min_val": -0.5, "max_val": 2.0}), ("Hardsigmoid", {}),
         ("Hardswish", {}), ("SiLU", {}), ("Mish", {})]


def _x(seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).uniform(-4, 7, (3, 5, 4))
    return np.where(np.abs(np.abs(x) - 3) < 0.05, x + 0.1, x)  # off the hard kinks


@pytest.mark.parametrize("name,kw", CASES, ids=[c[0] for c in CASES])
def test_inplace_layer_matches_torch_values_and_gradients(name, kw):
    x, w = _x(1), np.random.default_rng(2).standard_normal((3, 5, 4))
    leaf = cp.tensor(x, requires_grad=True)
    a = leaf * 1.0                                   # a non-leaf, as an activation's input in a network
    version = a._version
    y = getattr(nn, name)(**kw, inplace=True)(a)
    assert y is a and a._version > version
    (y * cp.tensor(w)).sum().backward()

    tleaf = torch.tensor(x, requires_grad=True)
    ta = tleaf * 1.0
    ty = getattr(torch.nn, name)(**kw, inplace=True)(ta)
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(a.detach().numpy(), ta.detach().numpy(), rtol=1e-12, atol=1e-12)
    # torch's float64 hardsigmoid backward multiplies by float32(1/6): 3e-8 relative (as tests/nn/test_layers.py)
    rtol = 1e-7 if name == "Hardsigmoid" else 1e-10
    np.testing.assert_allclose(leaf.grad.numpy(), tleaf.grad.numpy(), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("name,kw", CASES, ids=[c[0] for c in CASES])
def test_functional_inplace_returns_its_input_and_equals_out_of_place(name, kw):
    fn = getattr(F, {"ReLU6": "relu6", "LeakyReLU": "leaky_relu", "SiLU": "silu"}.get(name, name.lower()))
    x = cp.tensor(_x(3).astype(np.float32))
    expected = fn(x, **kw).numpy()
    assert fn(x, **kw, inplace=True) is x
    np.testing.assert_array_equal(x.numpy(), expected)


def test_positional_inplace_as_pytorch_writes_it():
    assert nn.ReLU(True).inplace and nn.ReLU6(True).inplace and nn.Hardtanh(0.0, 2.0, True).inplace
    assert nn.Dropout(0.3, True).inplace and nn.ELU(1.0, True).inplace
    x = cp.tensor([-1.0, 2.0])
    assert F.relu(x, True) is x and x.numpy().tolist() == [0.0, 2.0]
    assert repr(nn.ReLU(True)) == repr(torch.nn.ReLU(True)) and repr(nn.ReLU()) == repr(torch.nn.ReLU())
    assert repr(nn.ELU(inplace=True)) == repr(torch.nn.ELU(inplace=True))
    assert repr(nn.ReLU6()) == repr(torch.nn.ReLU6())


def test_a_leaf_that_requires_grad_is_refused_like_pytorch():
    t = torch.tensor([1.0, -1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        torch.relu_(t)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        nn.ReLU(inplace=True)(cp.tensor([1.0, -1.0], requires_grad=True))


def test_an_array_cannot_be_changed_in_place():
    with pytest.raises(TypeError, match=r"elu\(inplace=True\): the input must be a Tensor"):
        F.elu(np.ones(3, np.float32), inplace=True)


def test_conv_bn_relu_inplace_block_matches_torch():
    """The block every ResNet port writes: conv -> batch norm -> ReLU(inplace=True), trained one step."""
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4),
                             torch.nn.ReLU(inplace=True), torch.nn.Conv2d(4, 2, 1)).double()
    om = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace=True),
                       nn.Conv2d(4, 2, 1)).double()
    om.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(4).standard_normal((2, 3, 6, 5))
    (tm(torch.tensor(x)) ** 2).sum().backward()
    (om(cp.tensor(x)) ** 2).sum().backward()
    for (k, p), (_, tp) in zip(om.named_parameters(), tm.named_parameters(), strict=True):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=k)


@pytest.mark.parametrize("fn", ["dropout", "dropout2d"])
def test_dropout_inplace_writes_the_same_mask_into_its_input(fn):
    x = cp.tensor(np.random.default_rng(5).standard_normal((2, 3, 4, 4)).astype(np.float32))
    expected = getattr(F, fn)(x, 0.4, rng=np.random.default_rng(6)).numpy()
    assert getattr(F, fn)(x, 0.4, True, True, rng=np.random.default_rng(6)) is x
    np.testing.assert_array_equal(x.numpy(), expected)
    before = x.numpy().copy()
    assert getattr(F, fn)(x, 0.4, False, True) is x  # evaluation: unchanged, as PyTorch
    np.testing.assert_array_equal(x.numpy(), before)
