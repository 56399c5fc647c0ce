"""Every nn layer takes a NumPy array as well as a Tensor (Module.__call__ converts positional arrays,
no copy, dtype kept): the output from the array equals the output from the same values as a Tensor, for
every Module class nn exports (the table must name each one, so a new layer cannot skip the check)."""

import inspect

import numpy as np
import pytest

import cvprimer as cp
from cvprimer import nn

R = np.random.default_rng(0)
X4 = R.standard_normal((2, 4, 6, 6)).astype(np.float32)  # NCHW
X2 = R.standard_normal((3, 4)).astype(np.float32)
P2 = R.uniform(0.1, 0.9, (3, 4)).astype(np.float32)
Y3 = np.array([0, 3, 1])

CONTAINERS = {"Module", "ModuleDict", "ModuleList"}
# name -> (constructor, positional inputs); layers with randomness run in eval mode
CASES = {
    "CELU": (lambda: nn.CELU(), [X2]), "ELU": (lambda: nn.ELU(), [X2]), "GELU": (lambda: nn.GELU(), [X2]),
    "SELU": (lambda: nn.SELU(), [X2]), "Hardsigmoid": (lambda: nn.Hardsigmoid(), [X2]),
    "Hardswish": (lambda: nn.Hardswish(), [X2]), "Hardtanh": (lambda: nn.Hardtanh(), [X2]),
    "LeakyReLU": (lambda: nn.LeakyReLU(), [X2]), "LogSoftmax": (lambda: nn.LogSoftmax(1), [X2]),
    "Maxout": (lambda: nn.Maxout(2), [X4]), "Mish": (lambda: nn.Mish(), [X2]), "PReLU": (lambda: nn.PReLU(), [X2]),
    "ReLU": (lambda: nn.ReLU(), [X2]), "ReLU6": (lambda: nn.ReLU6(), [X2]), "SiLU": (lambda: nn.SiLU(), [X2]),
    "Sigmoid": (lambda: nn.Sigmoid(), [X2]), "Softmax": (lambda: nn.Softmax(1), [X2]),
    "Softplus": (lambda: nn.Softplus(), [X2]), "Softsign": (lambda: nn.Softsign(), [X2]),
    "Tanh": (lambda: nn.Tanh(), [X2]),
    "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d(3), [X4]), "AvgPool2d": (lambda: nn.AvgPool2d(2), [X4]),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), [X4]), "GlobalAvgPool2d": (lambda: nn.GlobalAvgPool2d(), [X4]),
    "GlobalMaxPool2d": (lambda: nn.GlobalMaxPool2d(), [X4]),
    "MaxUnpool2d": (lambda: nn.MaxUnpool2d(2), None),  # built below from MaxPool2d's indices
    "BatchNorm1d": (lambda: nn.BatchNorm1d(4), [X2]), "BatchNorm2d": (lambda: nn.BatchNorm2d(4), [X4]),
    "GroupNorm": (lambda: nn.GroupNorm(2, 4), [X4]), "InstanceNorm2d": (lambda: nn.InstanceNorm2d(4), [X4]),
    "LayerNorm": (lambda: nn.LayerNorm(4), [X2]),
    "Conv1d": (lambda: nn.Conv1d(4, 3, 3), [X4[:, :, 0]]), "Conv2d": (lambda: nn.Conv2d(4, 3, 3), [X4]),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(4, 3, 3, stride=2), [X4]),
    "DepthwiseSeparableConv2d": (lambda: nn.DepthwiseSeparableConv2d(4, 8, 3, padding=1), [X4]),
    "Linear": (lambda: nn.Linear(4, 5), [X2]), "Dropout": (lambda: nn.Dropout(0.3), [X2]),
    "Dropout2d": (lambda: nn.Dropout2d(0.3), [X4]), "Flatten": (lambda: nn.Flatten(), [X4]),
    "Unflatten": (lambda: nn.Unflatten(1, (2, 2)), [X2]), "Identity": (lambda: nn.Identity(), [X2]),
    "ChannelShuffle": (lambda: nn.ChannelShuffle(2), [X4]), "PixelShuffle": (lambda: nn.PixelShuffle(2), [X4]),
    "PixelUnshuffle": (lambda: nn.PixelUnshuffle(2), [X4]), "Upsample": (lambda: nn.Upsample(scale_factor=2), [X4]),
    "SpatialGate": (lambda: nn.SpatialGate(), [X4]), "SqueezeExcite": (lambda: nn.SqueezeExcite(4, 2), [X4]),
    "MultiheadAttention": (lambda: nn.MultiheadAttention(4, 2, batch_first=True), [X4[:, 0, :3, :4]] * 3),
    "Sequential": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(144, 2)), [X4]),
    "BCELoss": (lambda: nn.BCELoss(), [P2, P2]), "BCEWithLogitsLoss": (lambda: nn.BCEWithLogitsLoss(), [X2, P2]),
    "CosineEmbeddingLoss": (lambda: nn.CosineEmbeddingLoss(), [X2, X2, np.array([1, -1, 1])]),
    "CrossEntropyLoss": (lambda: nn.CrossEntropyLoss(), [X2, Y3]), "HuberLoss": (lambda: nn.HuberLoss(), [X2, P2]),
    "KLDivLoss": (lambda: nn.KLDivLoss(), [X2, P2]), "L1Loss": (lambda: nn.L1Loss(), [X2, P2]),
    "MSELoss": (lambda: nn.MSELoss(), [X2, P2]), "MultiMarginLoss": (lambda: nn.MultiMarginLoss(), [X2, Y3]),
    "NLLLoss": (lambda: nn.NLLLoss(), [X2, Y3]), "SigmoidFocalLoss": (lambda: nn.SigmoidFocalLoss(), [X2, P2.round()]),
    "SmoothL1Loss": (lambda: nn.SmoothL1Loss(), [X2, P2]),
    "SoftmaxFocalLoss": (lambda: nn.SoftmaxFocalLoss(), [X2, Y3]),
}


def _module_classes():
    return sorted(n for n in nn.__all__
                  if inspect.isclass(getattr(nn, n)) and issubclass(getattr(nn, n), nn.Module) and n not in CONTAINERS)


def test_the_table_names_every_layer():
    assert sorted(CASES) == _module_classes()


def _first(out):
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_accepts_numpy_like_a_tensor(name):
    make, inputs = CASES[name]
    layer = make().eval()
    if name == "MaxUnpool2d":
        y, idx = nn.MaxPool2d(2, return_indices=True)(cp.Tensor(X4))
        inputs = [y.data, idx.data]
    got = _first(layer(*inputs))
    want = _first(layer(*[cp.Tensor(a) for a in inputs]))
    assert isinstance(got, cp.Tensor), f"{name} returned {type(got).__name__} for NumPy input"
    np.testing.assert_array_equal(got.data, want.data)
    assert got.dtype == want.dtype


def test_numpy_input_keeps_float64_and_gets_no_grad():
    lin = nn.Linear(4, 2).double()
    out = lin(X2.astype(np.float64))
    assert out.dtype == np.float64
    out.sum().backward()
    assert lin.weight.grad is not None  # gradients still reach the parameters
