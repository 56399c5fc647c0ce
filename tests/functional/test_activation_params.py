"""prelu (learnable slope), maxout (channel groups), and the derivative registry."""

import numpy as np
import pytest
import torch.nn.functional as TF

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.functional.activation import ACTIVATIONS, derivative
from parity import check_grad, distinct, parity, randn


def off_zero(*shape, seed=0):
    a = randn(*shape, seed=seed)
    return np.where(a >= 0, a + 0.1, a - 0.1)


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 4), (2, 3, 4, 5)])
@pytest.mark.parametrize("shared", [False, True])
def test_prelu_parity_and_gradcheck(shape, shared):
    x = off_zero(*shape, seed=1)
    w = np.random.default_rng(2).uniform(0.05, 0.5, 1 if shared else shape[1])
    parity(F.prelu, TF.prelu, x, w, noncontig=True)
    small = off_zero(*((2, 3) + shape[2:3]), seed=3)
    check_grad(F.prelu, small, w)  # every shape here has C = 3


def test_prelu_low_rank_inputs_take_a_shared_slope():
    parity(F.prelu, TF.prelu, off_zero(6, seed=4), np.array([0.3]))
    parity(F.prelu, TF.prelu, np.array(-1.5), np.array([0.3]))


def test_prelu_errors():
    x = cp.Tensor(off_zero(2, 3, 4))
    with pytest.raises(ValueError, match=r"prelu: weight has 4 slopes but input \(2, 3, 4\) has 3"):
        F.prelu(x, cp.ones(4))
    with pytest.raises(ValueError, match="prelu: weight must be 1-D"):
        F.prelu(x, cp.ones((3, 1)))
    with pytest.raises(ValueError, match="prelu"):
        F.prelu(cp.Tensor(off_zero(3)), cp.ones(3))
    with pytest.raises(TypeError, match="prelu"):
        F.prelu(x, np.ones(3))


def torch_maxout(x, pieces, dim):
    d = dim % x.dim()
    shape = x.shape[:d] + (x.shape[d] // pieces, pieces) + x.shape[d + 1 :]
    return x.reshape(shape).amax(dim=d + 1)


@pytest.mark.parametrize("shape,pieces,dim", [((4, 6), 2, 1), ((2, 6, 3, 2), 3, 1), ((2, 3, 8), 4, -1),
                                              ((6, 5), 6, 0), ((2, 4, 3), 1, 1)])
def test_maxout_parity(shape, pieces, dim):
    x = distinct(*shape, seed=5)
    parity(lambda t: F.maxout(t, pieces, dim), lambda t: torch_maxout(t, pieces, dim), x, noncontig=True)
    check_grad(lambda t: F.maxout(t, pieces, dim), distinct(*shape, seed=6) * 0.1)


def test_maxout_ties_send_gradient_to_first_max():
    x = cp.tensor([[1.0, 1.0, 0.0, 2.0, 2.0, 2.0]], requires_grad=True)
    y = F.maxout(x, 3)
    y.backward(cp.tensor([[5.0, 7.0]]))
    np.testing.assert_array_equal(x.grad.numpy(), [[5.0, 0.0, 0.0, 7.0, 0.0, 0.0]])


def test_maxout_errors():
    x = cp.Tensor(randn(2, 6, 3))
    with pytest.raises(ValueError, match=r"maxout: the size 6 of dim 1 of input \(2, 6, 3\) is not divisible by "
                                         r"pieces=4"):
        F.maxout(x, 4)
    with pytest.raises(ValueError, match="maxout: pieces"):
        F.maxout(x, 0)
    with pytest.raises(ValueError, match="maxout: dim 3 out of range"):
        F.maxout(x, 2, dim=3)


OPTS = {"leaky_relu": {"negative_slope": 0.2}, "elu": {"alpha": 1.3}, "celu": {"alpha": 0.7},
        "gelu": {"approximate": "tanh"}, "softplus": {"beta": 1.5, "threshold": 2.0},
        "hardtanh": {"min_val": -2.0, "max_val": 0.5}}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("with_opts", [False, True])
def test_derivative_equals_autograd(name, with_opts):
    """derivative(name, x) is the slope autograd uses: compare with d sum f(x) / dx, kinks included."""
    opts = OPTS.get(name, {}) if with_opts else {}
    x = np.concatenate([np.linspace(-7, 7, 57), [-3.0, 0.0, 0.5, 3.0, 6.0, -2.0]])
    fn = ACTIVATIONS[name][0]
    t = cp.Tensor(x, requires_grad=True)
    if name == "prelu":
        w = 0.3 if with_opts else 0.25
        fn(t, cp.tensor([w], dtype=np.float64)).sum().backward()
        d = derivative(name, x, weight=w)
    else:
        fn(t, **opts).sum().backward()
        d = derivative(name, x, **opts)
    np.testing.assert_allclose(d, t.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert d.dtype == np.float64


def test_derivative_of_integers_and_unknown_name():
    np.testing.assert_array_equal(derivative("relu", np.array([-1, 0, 2])), [0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="derivative: unknown activation 'swishy'"):
        derivative("swishy", np.zeros(2))


def test_registry_functions_are_the_public_ones():
    for name, (fn, _) in ACTIVATIONS.items():
        assert getattr(F, name) is fn
    assert "maxout" not in ACTIVATIONS and "softmax" not in ACTIVATIONS


def test_float32_stays_float32():
    x = cp.Tensor(randn(3, 4).astype(np.float32), requires_grad=True)
    for name, (fn, _) in ACTIVATIONS.items():
        y = fn(x, cp.tensor([0.25])) if name == "prelu" else fn(x)
        assert y.dtype == np.float32, name
