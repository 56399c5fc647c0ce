"""relu's settable slope at exactly 0 (``grad_at_zero``): gradcheck away from 0, the exact value at 0,
PyTorch parity for the default, and the ``nn.ReLU`` layer passing the option on."""

import numpy as np
import pytest
import torch

import cvprimer as cp
from cvprimer import nn
from cvprimer.core.gradcheck import gradcheck
from cvprimer.core.ops.unary import ReLUFn
from cvprimer.functional.activation.rectifier import ReLUAtZeroFn, relu, relu_slope

X = np.array([[-2.0, -0.0, 0.0, 1e-300, 3.5], [0.0, -1e-300, 0.25, -4.0, 0.0]])


def _grad(x: np.ndarray, g: float, dtype=np.float64) -> np.ndarray:
    t = cp.tensor(x.astype(dtype), requires_grad=True)
    relu(t, grad_at_zero=g).sum().backward()
    return t.grad.numpy()


@pytest.mark.parametrize("g", [0.0, 0.5, 1.0, 0.3])
def test_gradcheck_away_from_zero(g):
    x = np.random.default_rng(1).standard_normal((3, 5))
    x[np.abs(x) < 0.05] = 0.5  # keep clear of the kink
    assert gradcheck(lambda t: relu(t, grad_at_zero=g), [cp.tensor(x, requires_grad=True)])


@pytest.mark.parametrize("g", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exact_slope_at_zero_and_elsewhere(g, dtype):
    x = X.astype(dtype)  # +-1e-300 underflow to +-0 in float32: then they are zeros too
    gx = _grad(x, g, dtype)
    want = np.where(x > 0, 1.0, np.where(x == 0, g, 0.0))  # -0.0 == 0: both zeros take the chosen slope
    assert gx.dtype == dtype
    np.testing.assert_array_equal(gx, want.astype(dtype))
    np.testing.assert_array_equal(relu_slope(x, g), want.astype(dtype))


@pytest.mark.parametrize("g", [0.0, 0.5, 1.0])
def test_forward_does_not_depend_on_the_slope(g):
    np.testing.assert_array_equal(relu(cp.tensor(X), grad_at_zero=g).numpy(), np.maximum(X, 0))


def test_upstream_gradient_is_scaled_at_zero():
    x = cp.tensor(np.zeros(4), requires_grad=True)
    relu(x, grad_at_zero=0.25).backward(cp.tensor([1.0, -2.0, 4.0, 0.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [0.25, -0.5, 1.0, 0.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_default_matches_torch_including_zeros(dtype):
    rng = np.random.default_rng(0)
    x = np.round(rng.standard_normal((4, 6)), 0).astype(dtype)  # many exact zeros
    assert (x == 0).any()
    up = rng.standard_normal(x.shape).astype(dtype)
    ours = cp.tensor(x, requires_grad=True)
    relu(ours).backward(cp.tensor(up))
    theirs = torch.tensor(x, requires_grad=True)
    torch.relu(theirs).backward(torch.tensor(up))
    np.testing.assert_array_equal(relu(cp.tensor(x)).numpy(), torch.relu(torch.tensor(x)).numpy())
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


def test_default_runs_the_core_op_and_others_the_subgradient_op():
    x = cp.tensor(X, requires_grad=True)
    assert isinstance(relu(x).grad_fn, ReLUFn)
    assert isinstance(relu(x, grad_at_zero=1.0).grad_fn, ReLUAtZeroFn)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), float("inf")])
def test_values_outside_the_subdifferential_are_refused(bad):
    with pytest.raises(ValueError, match="grad_at_zero"):
        relu(cp.tensor(X), grad_at_zero=bad)
    with pytest.raises(ValueError, match="grad_at_zero"):
        nn.ReLU(grad_at_zero=bad)


def test_non_number_is_refused():
    with pytest.raises(TypeError):
        relu(cp.tensor(X), grad_at_zero="half")


def test_layer_passes_the_option_and_keeps_torch_repr_by_default():
    assert repr(nn.ReLU()) == "ReLU()"
    layer = nn.ReLU(grad_at_zero=0.5)
    assert repr(layer) == "ReLU(grad_at_zero=0.5)"
    x = cp.tensor(X, requires_grad=True)
    layer(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.where(X > 0, 1.0, np.where(X == 0, 0.5, 0.0)))
    assert layer.state_dict() == {} or len(layer.state_dict()) == 0


def test_layer_option_can_be_changed_after_construction():
    layer = nn.ReLU()
    layer.grad_at_zero = 1.0
    x = cp.tensor(np.zeros(3), requires_grad=True)
    layer(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(3))
