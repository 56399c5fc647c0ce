"""Pointwise activations: PyTorch parity (forward + gradient), gradcheck, kinks, extremes."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cvprimer as cp
import cvprimer.functional as F
from parity import check_grad, parity, randn

# name -> (ours, torch's); options chosen off their defaults where an option exists
CASES = {
    "relu6": (F.relu6, TF.relu6),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
    "leaky_relu_neg": (lambda x: F.leaky_relu(x, -0.3), lambda x: TF.leaky_relu(x, -0.3)),
    "elu": (lambda x: F.elu(x, 1.7), lambda x: TF.elu(x, 1.7)),
    "selu": (F.selu, TF.selu),
    "celu": (lambda x: F.celu(x, 0.6), lambda x: TF.celu(x, 0.6)),
    "gelu": (F.gelu, TF.gelu),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh")),
    "silu": (F.silu, TF.silu),
    "mish": (F.mish, TF.mish),
    "softplus": (lambda x: F.softplus(x, beta=2.0, threshold=3.0),
                 lambda x: TF.softplus(x, beta=2.0, threshold=3.0)),
    "softplus_default": (F.softplus, TF.softplus),
    "softsign": (F.softsign, TF.softsign),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 1.5), lambda x: TF.hardtanh(x, -0.5, 1.5)),
    "hardsigmoid": (F.hardsigmoid, TF.hardsigmoid),
    "hardswish": (F.hardswish, TF.hardswish),
    "relu": (F.relu, TF.relu),
    "sigmoid": (F.sigmoid, torch.sigmoid),
    "tanh": (F.tanh, torch.tanh),
}
# kinks of each function, kept clear of by the random inputs
KINKS = {"relu6": [0, 6], "leaky_relu": [0], "leaky_relu_neg": [0], "elu": [0], "selu": [0],
         "celu": [0], "softplus": [1.5], "hardtanh": [-0.5, 1.5], "hardsigmoid": [-3, 3],
         "hardswish": [-3, 3], "relu": [0]}


def spread(*shape, seed=0, kinks=()):
    """Normal samples scaled to cover all branches (x4), pushed >= 0.05 away from the kinks."""
    a = randn(*shape, seed=seed) * 4
    for k in kinks:
        a = np.where(np.abs(a - k) < 0.05, k + 0.05 * np.sign(a - k + 1e-12), a)
    return a


def torch_f64_tol(name):
    # PyTorch's float64 backward of these two uses float32 constants: hardsigmoid multiplies
    # by float32(1/6) = 0.16666667163... (3e-8 relative off), celu's uses 1/float32(alpha)
    # (alpha = 0.6 here: ~1e-7 relative off); we use the exact values.
    return dict(rtol=1e-6) if name in ("hardsigmoid", "celu") else {}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("shape", [(7,), (3, 4, 5), (2, 3, 4, 5)])
def test_parity(name, shape):
    ours, theirs = CASES[name]
    a = spread(*shape, seed=len(shape), kinks=KINKS.get(name, ()))
    parity(ours, theirs, a, dtypes=[np.float32])
    parity(ours, theirs, a, dtypes=[np.float64], noncontig=True, **torch_f64_tol(name))


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck(name):
    check_grad(CASES[name][0], spread(2, 3, seed=11, kinks=KINKS.get(name, ())))


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_at_kinks_match_torch(name):
    """Gradients exactly at the kinks are PyTorch's choices (e.g. relu6'(0) = relu6'(6) = 0)."""
    ours, theirs = CASES[name]
    pts = np.array(sorted(set(KINKS.get(name, [0]) + [0.0, -1.0, 1.0])), dtype=np.float64)
    parity(ours, theirs, pts, **torch_f64_tol(name))


@pytest.mark.parametrize("name", sorted(CASES))
def test_extreme_inputs_finite_and_match_torch(name):
    ours, theirs = CASES[name]
    a = np.array([-1e4, -1e3, -50.0, -20.0, 20.0, 50.0, 1e3, 1e4])
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"), cp.detect_anomaly():
        warnings.simplefilter("error")
        parity(ours, theirs, a, **torch_f64_tol(name))
        for dt in (np.float32, np.float64):
            x = cp.Tensor(a.astype(dt), requires_grad=True)
            y = ours(x)
            y.sum().backward()
            assert np.isfinite(y.data).all() and np.isfinite(x.grad.data).all()
            assert y.dtype == dt and x.grad.dtype == dt


def test_erf_accuracy_against_math_erf():
    import math

    x = np.concatenate([np.linspace(-7, 7, 20001), [0.0, 1e-300, -1e-10, 2.5, -2.5, 30.0, -1e4]])
    ref = np.array([math.erf(v) for v in x])
    refc = np.array([math.erfc(v) for v in x])
    ours = F.activation.erf(x)
    assert np.all(np.abs(ours - ref) <= 4e-15 * np.maximum(np.abs(ref), 1e-300))
    ours_c = F.activation.erfc(x)
    tiny = refc > 1e-300  # erfc underflows past x ~ 26.5
    # below x = 2 erfc is 1 - erf, losing up to log10(1 / erfc(2)) ~ 2.3 digits: ~2e-13 bound
    assert np.all(np.abs(ours_c - refc)[tiny] <= 3e-13 * refc[tiny])
    assert F.activation.erf(np.array([np.inf, -np.inf, np.nan])).tolist()[:2] == [1.0, -1.0]
    assert np.isnan(F.activation.erf(np.array([np.nan]))[0])
    assert F.activation.erf(x.astype(np.float32)).dtype == np.float32


def test_gelu_matches_torch_in_float64_to_full_precision():
    """The NumPy erf is good enough that exact GELU meets the float64 default tolerance."""
    a = np.linspace(-8, 8, 1601)
    parity(F.gelu, TF.gelu, a, dtypes=[np.float64])


def test_relu_and_friends_are_the_core_ops():
    from cvprimer.core.api import relu, sigmoid, tanh
    from cvprimer.core.ops.unary import ReLUFn

    assert F.sigmoid is sigmoid and F.tanh is tanh and F.swish is F.silu
    # F.relu adds the grad_at_zero choice; at its default it is the core op itself (same node, same saves)
    x = cp.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    assert type(F.relu(x)._node) is ReLUFn and type(relu(x)._node) is ReLUFn
    assert F.activation.relu is F.relu


def test_option_errors():
    x = cp.tensor([1.0, -1.0])
    with pytest.raises(ValueError, match="hardtanh: min_val"):
        F.hardtanh(x, 1.0, -1.0)
    with pytest.raises(ValueError, match="gelu: approximate"):
        F.gelu(x, approximate="erf")
    with pytest.raises(ValueError, match="softplus: beta"):
        F.softplus(x, beta=0)
    with pytest.raises(ValueError, match="celu: alpha"):
        F.celu(x, alpha=0.0)
    with pytest.raises(TypeError, match="leaky_relu: negative_slope"):
        F.leaky_relu(x, "0.1")
    with pytest.raises(TypeError, match="floating"):
        F.elu(cp.tensor([1, 2]))
