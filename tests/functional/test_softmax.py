"""softmax / log_softmax: parity over dims, gradcheck, extreme logits, errors."""

import numpy as np
import pytest
import torch

import cvprimer as cp
from cvprimer.functional.activation.softmax import cost, log_softmax, softmax
from parity import check_grad, parity, randn


@pytest.mark.parametrize("shape,dim", [((7,), 0), ((3, 5), -1), ((3, 5), 0), ((2, 3, 4, 5), 1), ((2, 3, 4), -2)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_parity_and_gradcheck(name, shape, dim):
    a = randn(*shape, seed=len(shape) + dim) * 3
    ours = {"softmax": softmax, "log_softmax": log_softmax}[name]
    theirs = getattr(torch, name)
    parity(lambda x: ours(x, dim), lambda x: theirs(x, dim), a, noncontig=True)
    check_grad(lambda x: ours(x, dim), randn(*[min(s, 3) for s in shape], seed=2))


def test_zero_dim_input():
    parity(lambda x: softmax(x, 0), lambda x: torch.softmax(x, 0), np.array(1.5))
    parity(lambda x: log_softmax(x, -1), lambda x: torch.log_softmax(x, -1), np.array(-0.5))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_extreme_logits_match_torch_and_stay_finite(name):
    a = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [500.0, 499.0, -3.0]])
    ours = {"softmax": softmax, "log_softmax": log_softmax}[name]
    with cp.detect_anomaly():
        parity(lambda x: ours(x, 1), lambda x: getattr(torch, name)(x, 1), a)


def test_all_neg_inf_row_gives_nan_like_torch():
    a = np.array([[-np.inf, -np.inf], [0.0, 1.0]])
    parity(lambda x: softmax(x, 1), lambda x: torch.softmax(x, 1), a, grad=False)
    parity(lambda x: log_softmax(x, 1), lambda x: torch.log_softmax(x, 1), a, grad=False)


def test_rows_sum_to_one_and_log_consistent():
    x = cp.Tensor(randn(4, 6, seed=3))
    np.testing.assert_allclose(softmax(x, 1).data.sum(1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.exp(log_softmax(x, 1).data), softmax(x, 1).data, rtol=1e-5)


def test_errors():
    x = cp.randn(2, 3)
    with pytest.raises(ValueError, match=r"softmax: dim 2 is out of range for input of shape \(2, 3\)"):
        softmax(x, 2)
    with pytest.raises(TypeError, match="log_softmax: dim must be an int"):
        log_softmax(x, None)
    with pytest.raises(TypeError, match="softmax: expected a cvprimer Tensor"):
        softmax(np.zeros(3))
    with pytest.raises(TypeError, match="expected floating-point"):
        softmax(cp.arange(3))


def test_cost_counts_elements():
    c = cost((2, 10))
    assert c["macs"] == 0 and c["flops"] == 100 and c["bytes"] == 160
