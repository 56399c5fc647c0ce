"""Result dtypes of the elementwise binary ops follow PyTorch's type promotion (issue 29: one path,
``arith.promote``, instead of NumPy's rules): every pair of bool/int/float dtypes as dimensioned and 0-d
tensors and Python numbers, for add, sub, mul, div, pow, maximum, minimum and where, against torch on the
same inputs; gradients of mixed-dtype calls come back in each input's own dtype."""

import itertools

import numpy as np
import pytest
import torch

import cvprimer as cp
from cvprimer.core.ops.arith import result_type
from parity import parity

DTYPES = [np.bool_, np.uint8, np.int8, np.int32, np.int64, np.float16, np.float32, np.float64]
# (dtype, ndim) for tensors; ("py", value) for Python numbers
OPERANDS = [(dt, nd) for dt in DTYPES for nd in (0, 1)] + [("py", 2), ("py", 2.5), ("py", True)]
OPS = {
    "add": (cp.add, torch.add), "sub": (cp.sub, torch.sub), "mul": (cp.mul, torch.mul),
    "div": (cp.div, torch.div), "pow": (cp.pow, torch.pow),
    "maximum": (cp.maximum, torch.maximum), "minimum": (cp.minimum, torch.minimum),
}


def _pair(spec, lib):
    kind, v = spec
    if kind == "py":
        return v
    a = np.array([1, 2, 3], dtype=kind)[: 1 if v == 0 else 3]
    a = a.reshape(()) if v == 0 else a
    return cp.tensor(a) if lib == "cp" else torch.from_numpy(a)


def _torch_dtype(t):
    return np.dtype(str(t.dtype).replace("torch.", ""))


@pytest.mark.parametrize("name", list(OPS))
def test_binary_result_dtype_and_values_match_torch(name):
    ours, theirs = OPS[name]
    compared = 0
    for a, b in itertools.product(OPERANDS, OPERANDS):
        if a[0] == "py" and b[0] == "py":
            continue
        if name in ("maximum", "minimum") and "py" in (a[0], b[0]):
            continue  # torch.maximum takes tensors only
        if name == "pow" and a[0] is np.bool_ and b == ("py", True):
            continue  # torch: bool tensor ** True is bool, bool ** a bool tensor fails; we refuse both (documented)
        try:
            ref = theirs(_pair(a, "torch"), _pair(b, "torch"))
        except RuntimeError:
            with pytest.raises((TypeError, ValueError), match=name):
                ours(_pair(a, "cp"), _pair(b, "cp"))
            continue
        got = ours(_pair(a, "cp"), _pair(b, "cp"))
        assert got.dtype == _torch_dtype(ref), f"{name}{a, b}: {got.dtype} vs torch {ref.dtype}"
        np.testing.assert_allclose(got.data.astype(np.float64), ref.numpy().astype(np.float64), rtol=1e-3,
                                   err_msg=f"{name}{a, b}")
        compared += 1
    assert compared > 150


def test_result_type_matches_torch_result_type():
    for a, b in itertools.product(OPERANDS, OPERANDS):
        if a[0] == "py" and b[0] == "py":
            continue
        ours = result_type(*(x.data if isinstance(x, cp.Tensor) else x for x in (_pair(a, "cp"), _pair(b, "cp"))))
        assert ours == _torch_dtype(torch.empty(0, dtype=torch.result_type(_pair(a, "torch"), _pair(b, "torch")))), (
            a, b)


@pytest.mark.parametrize("a_spec", [(np.float32, 1), (np.int64, 1), (np.bool_, 0), (np.float64, 0)])
@pytest.mark.parametrize("b_spec", [(np.float16, 1), (np.int32, 0), ("py", 0.5), ("py", 3)])
def test_where_promotes_like_torch(a_spec, b_spec):
    cond = np.array([True, False, True])
    ref = torch.where(torch.from_numpy(cond), _pair(a_spec, "torch"), _pair(b_spec, "torch"))
    got = cp.where(cond, _pair(a_spec, "cp"), _pair(b_spec, "cp"))
    assert got.dtype == _torch_dtype(ref)
    np.testing.assert_allclose(got.data.astype(np.float64), ref.numpy().astype(np.float64), rtol=1e-3)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "maximum", "minimum"])
def test_mixed_float_gradients_come_back_in_each_inputs_dtype(name):
    ours, theirs = OPS[name]
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = np.float64(rng.standard_normal() + 3.0)  # a float64 0-d tensor: the result stays float32
    ca, cb = cp.tensor(a, requires_grad=True), cp.tensor(np.array(b), requires_grad=True)
    ta, tb = torch.from_numpy(a).requires_grad_(), torch.tensor(b, dtype=torch.float64, requires_grad=True)
    y, ty = ours(ca, cb), theirs(ta, tb)
    assert y.dtype == np.float32 and ty.dtype == torch.float32
    g = rng.standard_normal((3, 4)).astype(np.float32)
    y.backward(cp.tensor(g))
    ty.backward(torch.from_numpy(g))
    assert ca.grad.dtype == np.float32 and cb.grad.dtype == np.float64
    np.testing.assert_allclose(ca.grad.data, ta.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cb.grad.data, tb.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_int_tensor_with_float_tensor_that_requires_grad():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5))
    k = rng.integers(1, 4, size=(5,))
    for op in ("add", "mul", "div", "pow"):
        parity(lambda t, op=op: OPS[op][0](t, cp.tensor(k)), lambda t, op=op: OPS[op][1](t, torch.from_numpy(k)),
               np.abs(x) + 0.5)
    assert cp.div(cp.tensor(np.array([7, -7])), 2).dtype == np.float32  # true division of ints: float32


def test_int_to_negative_int_power_is_refused():
    with pytest.raises(ValueError, match="pow: integer base int64 to a negative integer power"):
        cp.pow(cp.tensor(np.array([2, 3])), -1)
    with pytest.raises(RuntimeError):
        torch.pow(torch.tensor([2, 3]), -1)
