"""Parity and gradcheck for the elementwise ops (binary with broadcasting, unary)."""

import numpy as np
import pytest
import torch

import cvprimer as cp
from parity import away_from_zero, check_grad, parity, randn

BCAST = [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((2, 1, 4), (3, 1)), ((5,), (1,)), ((), (2, 3))]


@pytest.mark.parametrize("sa,sb", BCAST)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_binary_parity(op, sa, sb):
    a, b = randn(*sa, seed=1), randn(*sb, seed=2)
    if op == "div":
        b = np.where(np.abs(b) < 0.3, 0.3, b)
    f = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
         "div": lambda x, y: x / y}[op]
    parity(f, f, a, b)
    parity(f, f, a, b, noncontig=True)
    check_grad(f, a, b)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow"])
def test_scalar_operands_keep_dtype(op):
    f = {"add": lambda x: 2.5 + x - 1, "sub": lambda x: 3 - x, "mul": lambda x: x * 0.5,
         "div": lambda x: 1.5 / x, "pow": lambda x: x ** 3}[op]
    a = away_from_zero(4, 3, seed=3)
    parity(f, f, a)
    check_grad(f, a)
    assert f(cp.Tensor(a.astype(np.float32))).dtype == np.float32
    assert (cp.Tensor(a.astype(np.float32)) * np.float64(2.0)).dtype == np.float32


@pytest.mark.parametrize("p", [2, 3, 0.5, -1.5, 0])
def test_pow_scalar_exponent(p):
    a = np.abs(randn(3, 5, seed=4)) + 0.2
    parity(lambda x: x ** p, lambda x: x ** p, a)
    check_grad(lambda x: x ** p, a)


def test_pow_tensor_exponent_broadcast():
    a = np.abs(randn(3, 4, seed=5)) + 0.2
    b = randn(4, seed=6)
    parity(lambda x, y: x ** y, lambda x, y: x ** y, a, b)
    check_grad(lambda x, y: cp.pow(x, y), a, b)


def test_pow_zero_base_gradient_is_finite_like_torch():
    a = np.array([0.0, 1.0, 2.0])
    b = np.array([2.0, 3.0, 0.5])
    parity(lambda x, y: x ** y, lambda x, y: x ** y, a, b, dtypes=[np.float64])


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "abs", "sign", "neg", "relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("shape", [(7,), (3, 4, 5)])
def test_unary_parity_and_gradcheck(name, shape):
    a = away_from_zero(*shape, seed=7)
    if name in ("log", "sqrt"):
        a = np.abs(a)
    ours = {"neg": lambda x: -x}.get(name, lambda x: getattr(cp, name)(x))
    theirs = {"neg": lambda x: -x}.get(name, lambda x: getattr(torch, name)(x))
    parity(ours, theirs, a)
    parity(ours, theirs, a, noncontig=True)
    check_grad(ours, a)


def test_sigmoid_extreme_inputs_are_stable():
    a = np.array([-1e4, -50.0, 0.0, 50.0, 1e4])
    with cp.detect_anomaly():
        parity(cp.sigmoid, torch.sigmoid, a)


def test_relu_subgradient_at_zero_is_zero():
    x = cp.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    cp.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 1.0])


def test_abs_subgradient_at_zero_is_zero():
    x = cp.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    cp.abs(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-1.0, 0.0, 1.0])


@pytest.mark.parametrize("lo,hi", [(-0.5, 0.5), (None, 0.2), (-0.1, None)])
def test_clamp(lo, hi):
    a = randn(4, 6, seed=8)
    a = np.where(np.isclose(a, lo or 9, atol=1e-3) | np.isclose(a, hi or 9, atol=1e-3), a + 0.01, a)
    parity(lambda x: cp.clamp(x, lo, hi), lambda x: torch.clamp(x, lo, hi), a)
    check_grad(lambda x: x.clamp(lo, hi), a)


def test_clamp_gradient_passes_on_closed_interval_like_torch():
    a = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    parity(lambda x: cp.clamp(x, -0.5, 0.5), lambda x: torch.clamp(x, -0.5, 0.5), a)


@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_minimum(op):
    a, b = randn(3, 4, seed=9), randn(4, seed=10)
    parity(getattr(cp, op), getattr(torch, op), a, b)
    check_grad(getattr(cp, op), a, b)


@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_ties_split_gradient_like_torch(op):
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([1.0, 5.0, 3.0])
    parity(getattr(cp, op), getattr(torch, op), a, b)


def test_where_broadcast():
    cond = randn(3, 1, seed=11) > 0
    a, b = randn(3, 4, seed=12), randn(4, seed=13)
    parity(lambda c, x, y: cp.where(c, x, y), lambda c, x, y: torch.where(c, x, y), cond, a, b)
    check_grad(lambda c, x, y: cp.where(c, x, y), cond, a, b)


def test_binary_shape_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\)"):
        cp.randn(2, 3) + cp.randn(4)
    with pytest.raises(ValueError, match=r"mul: shapes"):
        cp.randn(2, 3) * cp.randn(3, 2)


def test_integer_tensor_rejected_where_float_needed():
    with pytest.raises(TypeError, match="exp: expected floating-point"):
        cp.exp(cp.arange(4))
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients"):
        cp.Tensor(np.arange(3), requires_grad=True)
