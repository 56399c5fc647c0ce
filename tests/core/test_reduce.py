"""Parity and gradcheck for reductions."""

import numpy as np
import pytest
import torch

import cvprimer as cp
from parity import check_grad, distinct, parity, randn

DIMS = [None, 0, -1, (0, 2), (1,)]


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("op", ["sum", "mean"])
def test_sum_mean(op, dim, keepdim):
    a = randn(3, 4, 5, seed=1)
    if dim is None:
        ours = lambda x: getattr(cp, op)(x, dim, keepdim)  # noqa: E731
        theirs = lambda x: getattr(torch, op)(x, dim=tuple(range(3)), keepdim=keepdim)  # noqa: E731
    else:
        ours = lambda x: getattr(x, op)(dim, keepdim)  # noqa: E731
        theirs = lambda x: getattr(x, op)(dim, keepdim=keepdim)  # noqa: E731
    parity(ours, theirs, a)
    parity(ours, theirs, a, noncontig=True)
    check_grad(ours, a)


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_tie_free(op, dim, keepdim):
    a = distinct(3, 4, 5, seed=2)
    tdim = tuple(range(3)) if dim is None else dim
    parity(lambda x: getattr(cp, op)(x, dim, keepdim),
           lambda x: getattr(torch, "a" + op)(x, dim=tdim, keepdim=keepdim), a)
    check_grad(lambda x: getattr(cp, op)(x, dim, keepdim), a)


def test_max_ties_share_gradient_evenly_like_torch_amax():
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    parity(lambda x: cp.max(x, 1), lambda x: torch.amax(x, 1), a)
    parity(lambda x: x.max(), lambda x: x.max(), a)


@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_argmax_argmin(dim, keepdim):
    a = distinct(4, 6, seed=3)
    for ours, theirs in ((cp.argmax, torch.argmax), (cp.argmin, torch.argmin)):
        np.testing.assert_array_equal(
            ours(cp.tensor(a), dim, keepdim).numpy(),
            theirs(torch.from_numpy(a), dim=dim, keepdim=keepdim).numpy(),
        )


def test_argmax_first_of_ties():
    assert cp.argmax(cp.tensor([1.0, 5.0, 5.0, 2.0])).item() == 1


@pytest.mark.parametrize("dim", [None, 0, (1, 2), -1])
@pytest.mark.parametrize("unbiased", [True, False])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std(op, dim, unbiased, keepdim):
    a = randn(3, 4, 5, seed=4)
    tdim = tuple(range(3)) if dim is None else dim
    parity(lambda x: getattr(cp, op)(x, dim, unbiased, keepdim),
           lambda x: getattr(torch, op)(x, dim=tdim, unbiased=unbiased, keepdim=keepdim), a)
    check_grad(lambda x: getattr(cp, op)(x, dim, unbiased, keepdim), a)


def test_var_correction_keyword():
    a = randn(10, seed=5)
    assert np.isclose(cp.var(cp.tensor(a), correction=0).item(), np.var(a))
    assert np.isclose(cp.std(cp.tensor(a), correction=1).item(), np.std(a, ddof=1))


@pytest.mark.parametrize("dim", [None, 0, -1, (0, 1)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_logsumexp(dim, keepdim):
    a = randn(3, 4, 2, seed=6) * 3
    tdim = tuple(range(3)) if dim is None else dim
    parity(lambda x: cp.logsumexp(x, dim, keepdim), lambda x: torch.logsumexp(x, tdim, keepdim), a)
    check_grad(lambda x: cp.logsumexp(x, dim, keepdim), a)


def test_logsumexp_is_stable_for_huge_and_minus_inf_values():
    a = np.array([[1e4, 1e4 - 1.0, -1e4], [-np.inf, -np.inf, -np.inf]])
    parity(lambda x: cp.logsumexp(x, 1), lambda x: torch.logsumexp(x, 1), a, grad=False)
    x = cp.tensor(a[:1], requires_grad=True)
    with cp.detect_anomaly():
        cp.logsumexp(x, 1).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_numpy_aliases_axis_keepdims():
    a = randn(2, 3, seed=7)
    t = cp.tensor(a)
    np.testing.assert_allclose(cp.sum(t, axis=1, keepdims=True).numpy(), a.sum(1, keepdims=True), rtol=1e-6)


def test_bad_dim_is_a_clear_error():
    with pytest.raises(ValueError, match="sum: dim 3 is out of range for a tensor with 2 dims"):
        cp.randn(2, 3).sum(3)
    with pytest.raises(ValueError, match="max: cannot reduce an empty tensor"):
        cp.zeros(0, 3).max()
