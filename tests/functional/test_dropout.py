"""dropout / dropout2d: unbiasedness (binomial bound), same mask in backward, modes, errors."""

import numpy as np
import pytest

import cvprimer as cp
import cvprimer.functional as F
from parity import check_grad, randn


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_preserves_expectation(p):
    """mean(dropout(ones)) = (1/(1-p)) * (kept / n), kept ~ Binomial(n, 1-p): mean 1 and
    standard error sqrt(p / ((1-p) n)); allow 5 standard errors."""
    n = 200_000
    y = F.dropout(cp.ones(n, dtype=np.float64), p=p, rng=np.random.default_rng(1))
    se = np.sqrt(p / ((1 - p) * n))
    assert abs(y.numpy().mean() - 1.0) < 5 * se
    vals = np.unique(y.numpy())
    np.testing.assert_allclose(vals, [0.0, 1 / (1 - p)])


def test_dropout2d_preserves_expectation_per_channel():
    """Channels are the Bernoulli trials: n = N * C of them, each worth H * W ones."""
    p, shape = 0.3, (400, 50, 2, 3)
    y = F.dropout2d(cp.ones(shape, dtype=np.float64), p=p, rng=np.random.default_rng(2)).numpy()
    per_channel = y.reshape(400, 50, -1)
    assert (per_channel.min(axis=2) == per_channel.max(axis=2)).all()  # whole channels
    se = np.sqrt(p / ((1 - p) * 400 * 50))
    assert abs(y.mean() - 1.0) < 5 * se


@pytest.mark.parametrize("fn,shape", [(F.dropout, (3, 4, 5)), (F.dropout2d, (2, 6, 3, 3)),
                                      (F.dropout2d, (6, 3, 3))])
def test_backward_uses_the_forward_mask(fn, shape):
    x = cp.Tensor(randn(*shape, seed=3), requires_grad=True)
    y = fn(x, p=0.4, rng=np.random.default_rng(4))
    gy = randn(*shape, seed=5)
    y.backward(cp.Tensor(gy))
    mask = y.data / x.data  # the scaled mask m, since x has no zeros
    np.testing.assert_allclose(x.grad.numpy(), gy * mask, rtol=1e-12)
    assert set(np.round(np.unique(mask), 12)) <= {0.0, round(1 / 0.6, 12)}


def test_identity_in_eval_and_for_p_zero_zeros_for_p_one():
    x = cp.Tensor(randn(4, 3, 2, 2).astype(np.float32), requires_grad=True)
    for fn in (F.dropout, F.dropout2d):
        assert fn(x, p=0.5, training=False) is x
        assert fn(x, p=0.0) is x
        y = fn(x, p=1.0)
        assert y.dtype == np.float32 and not y.data.any()
        y.sum().backward()
        assert not x.grad.numpy().any()


def test_explicit_rng_reproducible_and_default_generator_seeded():
    x = cp.ones((50, 40))
    a = F.dropout(x, 0.5, rng=np.random.default_rng(7)).numpy()
    b = F.dropout(x, 0.5, rng=np.random.default_rng(7)).numpy()
    np.testing.assert_array_equal(a, b)
    cp.manual_seed(3)
    c = F.dropout(x, 0.5).numpy()
    cp.manual_seed(3)
    np.testing.assert_array_equal(c, F.dropout(x, 0.5).numpy())
    assert not np.array_equal(a, F.dropout(x, 0.5, rng=np.random.default_rng(8)).numpy())


def test_errors():
    x = cp.ones((2, 3, 4, 4))
    for fn in (F.dropout, F.dropout2d):
        for bad in (-0.1, 1.5):
            with pytest.raises(ValueError, match=f"{fn.__name__}: dropout probability p has to be between 0 and 1"):
                fn(x, p=bad)
        with pytest.raises(TypeError, match=f"{fn.__name__}: p must be a real number"):
            fn(x, p="0.5")
    with pytest.raises(ValueError, match=r"dropout2d: expected a 3-D \(C, H, W\) or 4-D \(N, C, H, W\) input, "
                                         r"got shape \(2, 3\)"):
        F.dropout2d(cp.ones((2, 3)))
    with pytest.raises(TypeError, match="dropout: expected a Tensor"):
        F.dropout(np.ones(3))


@pytest.mark.parametrize("fn,shape", [(F.dropout, (3, 4)), (F.dropout2d, (2, 3, 2, 2))])
def test_gradcheck_with_a_fixed_mask(fn, shape):
    # a fresh generator per call: every forward of the check draws the same mask
    check_grad(lambda t: fn(t, p=0.3, rng=np.random.default_rng(9)), randn(*shape, seed=10))
