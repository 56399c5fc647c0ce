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
@pytest.mark.parametrize("op", ["amax", "amin"])
def test_amax_amin_tie_free(op, dim, keepdim):
    a = distinct(3, 4, 5, seed=2)
    tdim = tuple(range(3)) if dim is None else dim
    parity(lambda x: getattr(cp, op)(x, dim, keepdim), lambda x: getattr(torch, op)(x, dim=tdim, keepdim=keepdim), a)
    check_grad(lambda x: getattr(cp, op)(x, dim, keepdim), a)


@pytest.mark.parametrize("shape,dim", [((3, 4, 5), 0), ((3, 4, 5), 1), ((3, 4, 5), -1), ((6,), 0), ((), 0),
                                       ((2, 1, 3), 1)])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_along_a_dim_give_values_and_indices_like_torch(op, shape, dim, keepdim):
    """``max(input, dim)``: PyTorch's (values, indices); the gradient goes to the first extreme only, so the
    planted tie (the extreme copied to position 0 of every slice) checks that it is not shared."""
    a = randn(*shape, seed=5)
    if a.ndim:
        ext = getattr(np, op)(a, axis=dim, keepdims=True)
        np.put_along_axis(a, np.zeros_like(ext, dtype=np.int64), ext, axis=dim)
    for ours, theirs in ((lambda x: getattr(cp, op)(x, dim, keepdim), lambda x: getattr(torch, op)(x, dim, keepdim)),
                         (lambda x: getattr(x, op)(dim=dim, keepdim=keepdim),
                          lambda x: getattr(x, op)(dim=dim, keepdim=keepdim))):
        parity(lambda x, f=ours: f(x).values, lambda x, f=theirs: f(x).values, a)
        got, want = ours(cp.tensor(a)), theirs(torch.from_numpy(a))
        np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
        assert got.indices.dtype == np.int64
        values, indices = ours(cp.tensor(a))  # unpacks like torch.return_types.max
        assert values.shape == tuple(want.values.shape) and indices.shape == tuple(want.indices.shape)
    check_grad(lambda x: getattr(cp, op)(x, dim, keepdim).values, randn(*shape, seed=6))


def test_max_ties_share_gradient_evenly_like_torch_amax():
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    parity(lambda x: cp.amax(x, 1), lambda x: torch.amax(x, 1), a)
    parity(lambda x: x.max(), lambda x: x.max(), a)
    parity(lambda x: cp.max(x, 1).values, lambda x: torch.max(x, 1).values, a)  # first maximum takes it all


@pytest.mark.parametrize("bad,msg", [((0, 1), r"max: dim must be an int, got \(0, 1\).*use amax"),
                                     ([1], r"max: dim must be an int, got \[1\]")])
def test_max_over_several_dims_points_to_amax(bad, msg):
    with pytest.raises(TypeError, match=msg):
        cp.max(cp.ones(2, 3), bad)


def test_max_keepdim_without_dim_is_refused():
    with pytest.raises(TypeError, match="max: keepdim needs a dim"):
        cp.max(cp.ones(2, 3), keepdim=True)


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
