"""Issue 28, point 3: an activation is declared once, and ``F``, ``nn`` and the registry derive from that.

This module is the proof that a new activation lives in one file plus its test: the toy "signed square"
below (its ``PointwiseFn`` with ``f`` and ``df``, its public function, one ``@activation``) is defined here and
nowhere else, and is then found as ``F.signed_square``, ``nn.SignedSquare`` and in ``ACTIVATIONS`` with its
derivative, its gradient checked against PyTorch and by finite differences.
"""

import sys

import numpy as np
import pytest
import torch

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.core.cost import elementwise_cost
from cvprimer.core.function import Function
from cvprimer.core.pointwise import PointwiseFn
from cvprimer.functional.activation import ACTIVATIONS, derivative, registry
from cvprimer.functional.activation.registry import activation
from parity import check_grad, parity, randn


class SignedSquareFn(PointwiseFn):
    r"""y = a x |x|.  y' = 2 a |x|. Saves x."""

    cost = staticmethod(elementwise_cost(3))

    @staticmethod
    def f(x, a=1.0):
        return a * x * np.abs(x)

    @staticmethod
    def df(x, y, a=1.0):
        return 2 * a * np.abs(x)


def signed_square(x, a: float = 1.0):
    """The toy activation y = a x |x|."""
    return SignedSquareFn.apply(x, a=float(a))


@pytest.fixture
def toy():
    """Register the toy (as its module would with ``@activation``) and take it out again afterwards, so that
    the other tests see the package's own registry."""
    fn = activation(layer="SignedSquare")(signed_square)
    yield fn
    registry.unregister("signed_square")


def test_a_registered_activation_is_found_in_F_nn_and_the_registry(toy):
    assert F.signed_square is toy
    assert F.activation.signed_square is toy and "signed_square" in F.activation.__all__
    assert ACTIVATIONS["signed_square"][0] is toy
    layer = nn.SignedSquare(a=0.5)
    assert isinstance(layer, nn.Module) and "SignedSquare" in nn.__all__
    assert repr(layer) == "SignedSquare(a=0.5)"
    x = randn(3, 4)
    np.testing.assert_array_equal(layer(cp.tensor(x)).numpy(), 0.5 * x * np.abs(x))
    assert nn.SignedSquare().a == 1.0
    with pytest.raises(TypeError, match="SignedSquare"):
        nn.SignedSquare(1.0, 2.0)


def test_the_toy_derivative_and_gradient(toy):
    x = np.concatenate([np.linspace(-3, 3, 13), [0.0]])
    np.testing.assert_allclose(derivative("signed_square", x, a=1.5), 3.0 * np.abs(x), rtol=1e-15, atol=0)
    parity(lambda t: F.signed_square(t, 0.7), lambda t: 0.7 * t * t.abs(), randn(4, 5), noncontig=True)
    check_grad(lambda t: F.signed_square(t, 2.0), randn(3, 3, seed=1))


def test_unregister_takes_it_out_everywhere(toy):
    registry.unregister("signed_square")
    assert not hasattr(F, "signed_square") and not hasattr(nn, "SignedSquare")
    assert "signed_square" not in ACTIVATIONS and "SignedSquare" not in nn.__all__
    assert "signed_square" not in F.activation.__all__
    activation(layer="SignedSquare")(signed_square)  # back for the fixture's teardown
    with pytest.raises(ValueError, match="unregister: unknown activation 'nope'"):
        registry.unregister("nope")


def test_a_name_cannot_be_registered_twice():
    with pytest.raises(ValueError, match=r"activation: 'gelu' is already registered \(by .*smooth.gelu\)"):
        activation("gelu")(lambda x: x)
    assert F.gelu is ACTIVATIONS["gelu"][0] and F.gelu.__module__.endswith("smooth")


def test_F_and_nn_exports_are_the_registrations():
    recs = registry.records()
    names = {n for r in recs for n in (r.name, *r.aliases)}
    assert {"relu", "gelu", "swish", "sigmoid", "tanh", "softmax", "log_softmax", "maxout", "prelu"} <= names
    for r in recs:
        for n in (r.name, *r.aliases):
            assert getattr(F, n) is r.function
        if r.layer is not None:
            assert getattr(nn, r.layer).__name__ == r.layer and r.layer in nn.__all__
    # the pointwise ones have derivative entries; softmax, log_softmax and maxout do not
    assert {n for r in recs if r.pointwise for n in (r.name, *r.aliases)} == set(ACTIVATIONS)
    assert len(ACTIVATIONS) == 18


def test_generated_layers_match_the_functions():
    x = randn(2, 6, 3)
    t = cp.tensor(x)
    for layer, want in [(nn.GELU(approximate="tanh"), F.gelu(t, approximate="tanh")),
                        (nn.Softplus(2.0, 5.0), F.softplus(t, 2.0, 5.0)), (nn.Softmax(1), F.softmax(t, 1)),
                        (nn.Maxout(3), F.maxout(t, 3)), (nn.Sigmoid(), F.sigmoid(t))]:
        np.testing.assert_array_equal(layer(t).numpy(), want.numpy())
    xt = torch.tensor(x)
    np.testing.assert_allclose(nn.CELU(0.7)(t).numpy(), torch.nn.CELU(0.7)(xt).numpy(), rtol=1e-12)
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)" and repr(nn.Softmax()) == "Softmax(dim=-1)"


def test_every_single_tensor_pointwise_op_is_one_style():
    """The core unary ops and the activations are PointwiseFn subclasses; the Function subclasses left in
    those modules are the ones with tensor operands or a non-pointwise output."""
    mods = [sys.modules[f"cvprimer.{m}"] for m in ("core.ops.unary", "functional.activation.rectifier",
                                                   "functional.activation.exponential", "functional.activation.smooth",
                                                   "functional.activation.hard", "functional.activation.maxout",
                                                   "functional.activation.softmax")]
    classes = {c for m in mods for c in vars(m).values()
               if isinstance(c, type) and issubclass(c, Function) and c.__module__ == m.__name__}
    others = {c.__name__ for c in classes if not issubclass(c, PointwiseFn)}
    assert others == {"ClampFn", "PReLUFn", "MaxoutFn", "SoftmaxFn", "LogSoftmaxFn"}
    assert len(classes) - len(others) == 9 + 11  # core: neg .. tanh; activations: hardtanh .. hardswish
