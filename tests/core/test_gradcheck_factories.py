"""gradcheck catches wrong backwards; factories and seeding."""

import numpy as np
import pytest

import cvprimer as cp
from cvprimer.core.function import Function


class _WrongSquare(Function):
    """y = x^2 with a deliberately wrong backward (3x instead of 2x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return gy * 3 * x


class _RightSquare(_WrongSquare):
    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return gy * 2 * x


def test_gradcheck_passes_a_correct_op_and_reports_a_wrong_one():
    x = cp.tensor(np.array([[0.5, -1.2], [2.0, 0.3]]), requires_grad=True)
    assert cp.gradcheck(_RightSquare.apply, [x])
    with pytest.raises(cp.GradcheckError, match=r"op _wrongsquare: input 0 \(shape \(2, 2\)\), worst element"):
        cp.gradcheck(_WrongSquare.apply, [x])
    assert cp.gradcheck(_WrongSquare.apply, [x], raise_exception=False) is False


def test_directional_gradcheck():
    x = cp.tensor(np.random.default_rng(0).standard_normal((6, 7)), requires_grad=True)
    assert cp.directional_gradcheck(lambda t: (t @ t.T).tanh(), [x])
    with pytest.raises(cp.GradcheckError, match="directional gradcheck failed"):
        cp.directional_gradcheck(_WrongSquare.apply, [x])


def test_gradcheck_casts_float32_inputs_to_float64_and_leaves_originals():
    x = cp.tensor([0.3, 0.7], requires_grad=True)
    assert cp.gradcheck(lambda t: t.sigmoid(), [x])
    assert x.dtype == np.float32 and x.grad is None


def test_gradcheck_needs_a_differentiable_input():
    with pytest.raises(ValueError, match="no input has requires_grad"):
        cp.gradcheck(lambda t: t * 2, [cp.tensor([1.0])])


def test_factories_shapes_and_dtypes():
    assert cp.zeros(2, 3).shape == (2, 3) and cp.zeros((2, 3)).dtype == np.float32
    assert cp.ones(4, dtype=np.float64).dtype == np.float64
    assert cp.full((2, 2), 7.0).tolist() == [[7.0, 7.0], [7.0, 7.0]]
    assert cp.eye(3).numpy().trace() == 3
    assert cp.arange(5).dtype == np.int64 and cp.arange(0, 1, 0.25).dtype == np.float32
    assert cp.linspace(0, 1, 5).shape == (5,)
    assert cp.zeros_like(cp.ones(2, 2, dtype=np.float64)).dtype == np.float64
    assert cp.tensor(3).dtype == np.int64 and cp.tensor(True).dtype == np.bool_
    assert cp.tensor([1.5]).dtype == np.float32
    assert cp.tensor(np.array([1.5])).dtype == np.float64


def test_random_factories_are_reproducible_from_a_generator_or_the_seed():
    a = cp.randn(3, 4, rng=np.random.default_rng(5))
    b = cp.randn(3, 4, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    cp.manual_seed(11)
    c = cp.rand(5)
    cp.manual_seed(11)
    np.testing.assert_array_equal(c.numpy(), cp.rand(5).numpy())
    assert ((c.numpy() >= 0) & (c.numpy() < 1)).all()
    r = cp.randint(0, 3, (100,), rng=np.random.default_rng(1)).numpy()
    assert set(np.unique(r)) <= {0, 1, 2} and r.dtype == np.int64


def test_tensor_copies_but_Tensor_wraps():
    a = np.zeros(3, np.float32)
    t, w = cp.tensor(a), cp.Tensor(a)
    a[0] = 1
    assert t.data[0] == 0 and w.data[0] == 1
