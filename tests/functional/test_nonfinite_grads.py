"""Gradients at non-finite inputs follow PyTorch's conventions (issue 29, point 5), on the NumPy path and the
compiled one: relu passes the gradient at NaN, abs and sign treat sign(NaN) as 0. Where PyTorch has no single
rule (hardtanh/relu6 and elu/celu/selu at NaN: its vectorized loop and its scalar tail disagree within one
tensor) we keep the vectorized loop's answer, documented in the op's docstring, and test that. Also softmax and
log_softmax over an empty dimension (point 10)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.core import jit
from cvprimer.core.settings import settings
from cvprimer.functional.activation.rectifier import relu as relu_at
from parity import parity

NUMBA = [False, True] if jit.available() else [False]
# every value a non-finite convention can touch, and ordinary ones around the kinks
SPECIAL = np.array([np.inf, -np.inf, np.nan, 0.0, 1.0, -1.0, 7.0, 6.0, -0.5, 0.5, 3.0, -3.0])

# PyTorch's rule is the same for every tensor size here, NaN included
OPS = {
    "relu": (cp.relu, torch.relu),
    "F.relu": (F.relu, TF.relu),
    "abs": (cp.abs, torch.abs),
    "sign": (cp.sign, torch.sign),
    "leaky_relu": (F.leaky_relu, TF.leaky_relu),
}
# PyTorch's NaN gradient depends on the element's position (vectorized loop or scalar tail); +-inf do not
SPLIT = {
    "hardtanh": (F.hardtanh, TF.hardtanh),
    "hardtanh(-2,3)": (lambda x: F.hardtanh(x, -2.0, 3.0), lambda x: TF.hardtanh(x, -2.0, 3.0)),
    "relu6": (F.relu6, TF.relu6),
    "elu": (F.elu, TF.elu),
    "elu(0.5)": (lambda x: F.elu(x, 0.5), lambda x: TF.elu(x, 0.5)),
    "celu(2)": (lambda x: F.celu(x, 2.0), lambda x: TF.celu(x, 2.0)),
    "selu": (F.selu, TF.selu),
}
NAN_GRAD = {"hardtanh": 0.0, "hardtanh(-2,3)": 0.0, "relu6": 0.0, "elu": np.nan, "elu(0.5)": np.nan,
            "celu(2)": np.nan, "selu": np.nan}


@pytest.fixture(params=NUMBA, ids=lambda v: f"numba={v}")
def path(request):
    # numba_min_elements=0: the compiled kernels run even on these few values
    with settings.override(numba=request.param, numba_min_elements=0):
        yield request.param


@pytest.mark.parametrize("name", list(OPS))
def test_nonfinite_inputs_forward_and_gradient_match_torch(name, path):
    ours, theirs = OPS[name]
    parity(ours, theirs, SPECIAL)


@pytest.mark.parametrize("name", list(SPLIT))
def test_split_convention_ops_match_torch_at_infinities(name, path):
    ours, theirs = SPLIT[name]
    parity(ours, theirs, SPECIAL[~np.isnan(SPECIAL)])


@pytest.mark.parametrize("name", list(SPLIT))
def test_split_convention_ops_nan_gradient_is_torch_vectorized_loops(name, path):
    ours, theirs = SPLIT[name]
    x = cp.Tensor(np.full(64, np.nan), requires_grad=True)
    ours(x).backward(cp.ones(64, dtype=np.float64))
    xt = torch.full((64,), np.nan, dtype=torch.float64, requires_grad=True)
    theirs(xt).backward(torch.ones(64, dtype=torch.float64))
    np.testing.assert_array_equal(x.grad.data, np.full(64, NAN_GRAD[name]))
    np.testing.assert_array_equal(x.grad.data[0], xt.grad.numpy()[0])  # the vectorized loop's element


@pytest.mark.parametrize("g0", [0.0, 0.5, 1.0])
def test_relu_with_grad_at_zero_passes_nan_like_torch_relu(g0, path):
    x = cp.Tensor(SPECIAL, requires_grad=True)
    relu_at(x, grad_at_zero=g0).backward(cp.ones(len(SPECIAL), dtype=np.float64))
    want = np.where(SPECIAL < 0, 0.0, np.where(SPECIAL == 0, g0, 1.0))  # NaN compares false: passes
    xt = torch.tensor(SPECIAL, requires_grad=True)
    torch.relu(xt).backward(torch.ones(len(SPECIAL), dtype=torch.float64))
    np.testing.assert_array_equal(x.grad.data[SPECIAL != 0], xt.grad.numpy()[SPECIAL != 0])
    np.testing.assert_array_equal(x.grad.data, want)


# -- issue 29, point 10: softmax/log_softmax over an empty dimension -----------------------------------------
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,dim", [((2, 0), 1), ((2, 0, 3), 1), ((0, 3), 1), ((0,), 0), ((2, 0), -1)])
def test_softmax_over_an_empty_dim_is_empty_like_torch(op, shape, dim, path):
    parity(lambda x: getattr(F, op)(x, dim), lambda x: getattr(TF, op)(x, dim), np.zeros(shape))
