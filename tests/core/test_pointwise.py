"""The one pointwise style (cvprimer.core.pointwise, issue 28 point 3): every core unary op states its slope
``df`` next to its forward. The slope (``PointwiseFn.slope``, what plots show) equals PyTorch's derivative,
also for the ops whose backward is written apart (``vjp``: neg, log, sqrt, sign, relu, sigmoid)."""

import numpy as np
import pytest
import torch

from cvprimer.core.ops import unary
from cvprimer.core.pointwise import PointwiseFn

OPS = {"NegFn": torch.neg, "ExpFn": torch.exp, "LogFn": torch.log, "SqrtFn": torch.sqrt, "AbsFn": torch.abs,
       "SignFn": torch.sign, "ReLUFn": torch.relu, "SigmoidFn": torch.sigmoid, "TanhFn": torch.tanh}


@pytest.mark.parametrize("name", sorted(OPS))
def test_core_slope_is_torch_derivative(name):
    cls = getattr(unary, name)
    assert issubclass(cls, PointwiseFn)
    x = np.array([0.3, 1.7, 4.0, 9.5, 0.01, 2.0])  # positive: log and sqrt are defined
    if name not in ("LogFn", "SqrtFn"):
        x = np.concatenate([x, -x, [0.0]])  # abs'(0) = sign'(0) = relu'(0) = 0
    xt = torch.tensor(x, requires_grad=True)
    OPS[name](xt).backward(torch.ones(len(x), dtype=torch.float64))
    # tanh: 1 - y^2 near y = 1 carries the ulp by which two libms' tanh differ (2e-16 absolute)
    np.testing.assert_allclose(cls.slope(x), xt.grad.numpy(), rtol=1e-13, atol=1e-15)
    assert cls.slope(x).shape == x.shape


def test_slope_far_out():
    """Where the slope underflows or the derivative is infinite the slope says so (no NaN)."""
    assert unary.TanhFn.slope(np.array([30.0])).tolist() == [0.0]
    assert unary.SigmoidFn.slope(np.array([-800.0, 800.0])).tolist() == [0.0, 0.0]
    assert unary.SqrtFn.slope(np.array([0.0])).tolist() == [np.inf]
