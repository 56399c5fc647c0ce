"""F.linear: parity with torch (outputs and every gradient), gradcheck, cost, clear errors."""

import numpy as np
import pytest
import torch

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.core.function import observe_ops, shape_only
from cvprimer.functional.linear import LinearFn, cost
from parity import check_grad, parity, randn


@pytest.mark.parametrize("xs,out", [((5, 3), 4), ((2, 3, 7), 2), ((3,), 5), ((2, 1, 2, 6), 1)])
@pytest.mark.parametrize("bias", [True, False])
def test_parity(xs, out, bias):
    x, w, b = randn(*xs, seed=1), randn(out, xs[-1], seed=2), randn(out, seed=3)
    if bias:
        parity(F.linear, torch.nn.functional.linear, x, w, b, noncontig=True)
    else:
        parity(F.linear, torch.nn.functional.linear, x, w, noncontig=True)


def test_partial_gradients():
    x, w, b = randn(4, 3, seed=1), randn(2, 3, seed=2), randn(2, seed=3)
    for rg in ([True, False, False], [False, True, True], [False, False, True]):
        parity(F.linear, torch.nn.functional.linear, x, w, b, requires_grad=rg)


def test_gradcheck():
    check_grad(F.linear, randn(2, 3, 4, seed=4), randn(5, 4, seed=5), randn(5, seed=6))
    check_grad(lambda x, w: F.linear(x, w), randn(4, seed=7), randn(3, 4, seed=8))


def test_directional_gradcheck_larger_shape():
    ts = [cp.Tensor(randn(*s, seed=i), requires_grad=True) for i, s in enumerate([(16, 10, 64), (48, 64), (48,)])]
    assert cp.directional_gradcheck(F.linear, ts)


def test_cost_and_infer():
    c = cost((8, 10, 32), (16, 32), bias=True)
    assert c["macs"] == 8 * 10 * 16 * 32 and c["flops"] == 8 * 10 * 16
    assert c["bytes"] == 4 * (80 * 32 + 16 * 32 + 16 + 80 * 16)
    seen = []
    with observe_ops(lambda fn, call: seen.append(fn.cost(call)) if fn is LinearFn else None):
        F.linear(cp.randn(8, 10, 32), cp.randn(16, 32), cp.randn(16))
    assert seen == [c]
    with shape_only():
        y = F.linear(cp.Tensor(np.broadcast_to(np.float32(0), (3, 7))), cp.randn(2, 7))
    assert y.shape == (3, 2) and y.dtype == np.float32


@pytest.mark.parametrize("args,match", [
    ((cp.randn(4, 3), cp.randn(2, 4)), r"x has shape \(4, 3\)"),
    ((cp.randn(4, 3), cp.randn(3)), "weight must be 2-D"),
    ((cp.randn(4, 3), cp.randn(2, 3), cp.randn(3)), r"bias has shape \(3,\)"),
])
def test_errors(args, match):
    with pytest.raises(ValueError, match=match):
        F.linear(*args)
    with pytest.raises(TypeError, match="linear: x must be a Tensor"):
        F.linear(np.ones((2, 3)), cp.randn(2, 3))
