"""PyTorch's overloads and edge-case semantics of the core ops (issue 29): each case runs through cvprimer and
PyTorch on the same inputs (forward and every input gradient, float32 and float64)."""

import itertools
import warnings

import numpy as np
import pytest
import torch

import cvprimer as cp
from cvprimer.core.ops.arith import result_type
from parity import parity, randn


# -- 1, 2: var/std overloads ------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["var", "std"])
@pytest.mark.parametrize("unbiased", [True, False])
def test_var_std_positional_unbiased(op, unbiased):
    a = randn(4, 5, seed=1)
    parity(lambda x: getattr(cp, op)(x, unbiased), lambda x: getattr(torch, op)(x, unbiased), a)
    parity(lambda x: getattr(x, op)(unbiased), lambda x: getattr(x, op)(unbiased), a)
    parity(lambda x: getattr(cp, op)(x, 1, unbiased, True), lambda x: getattr(torch, op)(x, 1, unbiased, True), a)


@pytest.mark.parametrize("op", ["var", "std"])
@pytest.mark.parametrize("correction", [0.5, 1.3, 2, 0])
def test_var_std_real_correction(op, correction):
    a = randn(5, 3, seed=2)
    parity(lambda x: getattr(cp, op)(x, correction=correction),
           lambda x: getattr(torch, op)(x, correction=correction), a)
    parity(lambda x: getattr(cp, op)(x, 0, correction=correction, keepdim=True),
           lambda x: getattr(torch, op)(x, 0, correction=correction, keepdim=True), a)


def test_var_unbiased_and_correction_together_is_refused():
    with pytest.raises(TypeError, match="var: give unbiased or correction"):
        cp.var(cp.ones(3), 0, True, correction=1)


# -- 3, 8: max/min(a, b) with a tensor b --------------------------------------------------------------
@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("sa,sb", [((3, 4), (1,)), ((3, 4), ()), ((3, 4), (3, 4)), ((), (2, 3)), ((2, 1), (3,))])
def test_max_min_of_two_tensors_is_elementwise(op, sa, sb):
    a = np.asarray(np.round(randn(*sa, seed=3)))  # whole numbers: the old code read b as a dim
    b = np.asarray(np.round(randn(*sb, seed=4)))
    parity(lambda x, y: getattr(cp, op)(x, y), lambda x, y: getattr(torch, op)(x, y), a, b)
    parity(lambda x, y: getattr(x, op)(y), lambda x, y: getattr(x, op)(y), a, b)
    parity(lambda x, y: getattr(cp, op)(x, other=y), lambda x, y: getattr(torch, op)(x, other=y), a, b)


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_of_two_tensors_splits_ties_in_half(op):
    a = np.array([1.0, 2.0, 3.0, -1.0])
    b = np.array([1.0, 3.0, 2.0, -1.0])
    parity(lambda x, y: getattr(cp, op)(x, y), lambda x, y: getattr(torch, op)(x, y), a, b)
    parity(lambda x, y: getattr(cp, op)(x, y), lambda x, y: getattr(torch, op)(x, y), a, b,
           requires_grad=[False, True])


def test_max_with_a_number_second_argument_is_a_clear_error():
    with pytest.raises(TypeError, match=r"max: dim must be an int, got 1.5 \(float\)"):
        cp.max(cp.ones(3, 4), 1.5)
    with pytest.raises(TypeError, match="min: the elementwise form"):
        cp.min(cp.ones(3), cp.ones(3), keepdim=True)


# -- 4, 7: clamp with tensor bounds -----------------------------------------------------------------
CLAMP_SHAPES = [((3, 4), (3, 4), (3, 4)), ((3, 4), (4,), ()), ((4,), (3, 4), None), ((3, 1), None, (1, 4)),
                ((), (2, 3), (2, 3))]


@pytest.mark.parametrize("sx,slo,shi", CLAMP_SHAPES)
def test_clamp_tensor_bounds_get_gradients(sx, slo, shi):
    x = np.asarray(randn(*sx, seed=5))
    lo = None if slo is None else np.asarray(randn(*slo, seed=6) - 0.5)
    hi = None if shi is None else np.asarray(randn(*shi, seed=7) + 0.5)  # some hi < lo too: then every output is hi
    arrays = [v for v in (x, lo, hi) if v is not None]

    def call(mod, *ts):
        it = iter(ts)
        t = next(it)
        return mod.clamp(t, next(it) if lo is not None else None, next(it) if hi is not None else None)

    parity(lambda *t: call(cp, *t), lambda *t: call(torch, *t), *arrays)
    # x without grad, bounds with grad (the old backward failed to unpack)
    parity(lambda *t: call(cp, *t), lambda *t: call(torch, *t), *arrays,
           requires_grad=[False] + [True] * (len(arrays) - 1))


def test_clamp_ties_and_crossed_bounds_route_like_torch():
    x = np.array([0.0, 1.0, 2.0, 1.0, 1.0, 3.0, 1.5])
    lo = np.array([1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0])
    hi = np.array([2.0, 1.0, 1.0, 1.0, 1.0, 2.0, 1.0])
    parity(lambda a, b, c: cp.clamp(a, b, c), lambda a, b, c: torch.clamp(a, b, c), x, lo, hi)
    parity(lambda a: cp.clamp(a, 2.0, 1.0), lambda a: torch.clamp(a, 2.0, 1.0), x)


def test_clamp_nan_input_gets_no_gradient():
    x = np.array([np.nan, 0.0, 2.0])
    lo, hi = np.array([0.5, 0.5, 0.5]), np.array(1.0)
    parity(lambda a, b, c: cp.clamp(a, b, c), lambda a, b, c: torch.clamp(a, b, c), x, lo, hi)
    parity(lambda a: cp.clamp(a, 0.5, 1.0), lambda a: torch.clamp(a, 0.5, 1.0), x)


@pytest.mark.parametrize("bound_dtype", [np.int32, np.int64])
def test_clamp_integer_bound_keeps_float_dtype(bound_dtype):
    x = randn(3, 4, seed=8)
    lo = np.array([-1, 0, 0, 1], bound_dtype)
    parity(lambda a, b: cp.clamp(a, min=b), lambda a, b: torch.clamp(a, min=b), x, lo)


def test_clamp_integer_input_with_float_scalar_is_float32():
    x = np.arange(-3, 4)
    parity(lambda a: cp.clamp(a, -1.5, 2.5), lambda a: torch.clamp(a, -1.5, 2.5), x)


def test_clamp_bounds_that_do_not_broadcast_name_the_shapes():
    with pytest.raises(ValueError, match=r"clamp: input \(3, 4\), min \(5,\)"):
        cp.clamp(cp.ones(3, 4), cp.ones(5))


# -- type promotion (PyTorch's result_type) ------------------------------------------------------------
_OPERANDS = [np.ones(2, np.float32), np.ones(2, np.float64), np.ones(2, np.int32), np.ones(2, np.int64),
             np.ones(2, bool), np.ones(2, np.float16), np.ones(2, np.uint8), np.array(1.0), np.array(1, np.int32),
             np.array(True), np.array(1.0, np.float32), 0.5, 2, True]


def test_result_type_is_torch_result_type():
    def th(v):
        return torch.from_numpy(v) if isinstance(v, np.ndarray) else v

    for a, b in itertools.product(_OPERANDS, _OPERANDS):
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            want = str(torch.result_type(th(a), th(b))).replace("torch.", "")
            assert result_type(a, b).name == want, (a, b)


# -- 9, 10: 0-d tensors and empty dims in reductions --------------------------------------------------------
@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin", "max", "min", "logsumexp", "var", "std"])
@pytest.mark.parametrize("dim", [0, -1, (0,)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_reductions_accept_dim_0_on_a_0d_tensor(op, dim, keepdim):
    a = np.array(1.7)
    if op in ("max", "min"):  # (values, indices) along one int dim, as torch.max(x, dim); a tuple is refused
        if isinstance(dim, tuple):
            with pytest.raises(TypeError, match=f"{op}: dim must be an int"):
                getattr(cp, op)(cp.tensor(a), dim, keepdim=keepdim)
            return
        parity(lambda x: getattr(cp, op)(x, dim, keepdim=keepdim).values,
               lambda x: getattr(torch, op)(x, dim, keepdim=keepdim).values, a)
        assert getattr(cp, op)(cp.tensor(a), dim, keepdim=keepdim).indices.item() == 0
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch: var/std of one element has <= 0 degrees of freedom
        parity(lambda x: getattr(cp, op)(x, dim, keepdim=keepdim),
               lambda x: getattr(torch, op)(x, dim, keepdim=keepdim), a)


def test_reduction_dim_out_of_range_on_0d_is_a_clear_error():
    with pytest.raises(ValueError, match=r"sum: dim 1 is out of range for a tensor with 0 dims"):
        cp.sum(cp.tensor(1.0), 1)


def test_argmax_on_0d_tensor():
    assert cp.argmax(cp.tensor(3.0), 0).item() == torch.argmax(torch.tensor(3.0), 0).item() == 0


@pytest.mark.parametrize("keepdim", [False, True])
def test_logsumexp_over_an_empty_dim_is_minus_inf(keepdim):
    a = np.zeros((2, 0, 3))
    parity(lambda x: cp.logsumexp(x, 1, keepdim), lambda x: torch.logsumexp(x, 1, keepdim), a)


# -- 6: linspace precision, Python-number arithmetic dtypes ---------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linspace_computes_in_the_requested_dtype(dtype):
    start = cp.tensor(np.float32(0.1))
    ours = cp.linspace(start, 1, 50, dtype=dtype)
    theirs = torch.linspace(torch.tensor(0.1, dtype=torch.float32), 1, 50, dtype=getattr(torch, np.dtype(dtype).name))
    assert ours.dtype == dtype
    tol = 1e-15 if dtype == np.float64 else 1e-7
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=0, atol=tol)


def test_linspace_rejects_a_non_scalar_endpoint():
    with pytest.raises(ValueError, match=r"linspace: start must be a real number or a 0-d tensor, got shape \(2,\)"):
        cp.linspace(cp.ones(2), 1, 5)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("a,b", [(1.5, 2.5), (1, 2), (1, 2.5), (3, 0.5)])
def test_two_python_numbers_give_torch_dtype(op, a, b):
    ours, theirs = getattr(cp, op)(a, b), getattr(torch, op)(a, b)
    assert isinstance(ours, cp.Tensor) and ours.shape == ()
    assert ours.dtype == np.dtype(str(theirs.dtype).replace("torch.", ""))
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-7)


@pytest.mark.parametrize("op", ["add", "sub"])
@pytest.mark.parametrize("alpha", [2, -0.5, 1])
def test_add_sub_alpha(op, alpha):
    a, b = randn(3, 4, seed=9), randn(4, seed=10)
    parity(lambda x, y: getattr(cp, op)(x, y, alpha=alpha), lambda x, y: getattr(torch, op)(x, y, alpha=alpha), a, b)
    parity(lambda x: getattr(cp, op)(x, 1.5, alpha=alpha), lambda x: getattr(torch, op)(x, 1.5, alpha=alpha), a)
