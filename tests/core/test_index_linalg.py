"""Indexing (basic, integer arrays with repeats, boolean masks) and matmul."""

import numpy as np
import pytest
import torch

import cvprimer as cp
from parity import check_grad, parity, randn

INDICES = [
    (slice(1, 3),),
    (0,),
    (Ellipsis, 1),
    (slice(None), None, slice(None, None, 2)),
    (-1, slice(2, None)),
    (np.array([0, 2, 2, 1]),),  # repeated rows: gradients must add up
    (np.array([0, 1, 1]), np.array([2, 2, 0])),
    (slice(None), np.array([3, 3, 0])),
]


@pytest.mark.parametrize("idx", INDICES)
def test_getitem(idx):
    a = randn(3, 4, 5, seed=1)
    tidx = tuple(torch.from_numpy(i) if isinstance(i, np.ndarray) else i for i in idx)
    parity(lambda x: x[idx], lambda x: x[tidx], a)
    parity(lambda x: x[idx], lambda x: x[tidx], a, noncontig=True)
    check_grad(lambda x: x[idx], a)


def test_getitem_boolean_mask_and_tensor_index():
    a = randn(4, 5, seed=2)
    mask = a > 0.1
    parity(lambda x: x[mask], lambda x: x[torch.from_numpy(mask)], a)
    idx = cp.tensor(np.array([3, 0, 3]))
    parity(lambda x: x[idx], lambda x: x[torch.tensor([3, 0, 3])], a)


def test_repeated_index_accumulates():
    x = cp.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0])


def test_getitem_out_of_range_names_shape():
    with pytest.raises(IndexError, match=r"tensor shape \(3,\)"):
        cp.zeros(3)[5]


MATMUL = [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)),
          ((4,), (2, 4, 3)), ((2, 1, 3, 4), (5, 4, 2)), ((3, 4), (2, 4, 6)), ((2, 3, 4), (4,))]


@pytest.mark.parametrize("sa,sb", MATMUL)
def test_matmul(sa, sb):
    a, b = randn(*sa, seed=3), randn(*sb, seed=4)
    parity(lambda x, y: x @ y, lambda x, y: x @ y, a, b)
    parity(lambda x, y: cp.matmul(x, y), torch.matmul, a, b, noncontig=True)
    check_grad(lambda x, y: x @ y, a, b)


def test_matmul_with_numpy_constant_operand():
    a, b = randn(3, 4, seed=5), randn(4, 2, seed=6)
    parity(lambda x: b.astype(x.dtype).T @ x.T, lambda x: torch.from_numpy(b.astype(np.float64) if x.dtype
           == torch.float64 else b.astype(np.float32)).T @ x.T, a)


def test_matmul_errors_name_shapes():
    with pytest.raises(ValueError, match=r"matmul: inner dimensions differ: a \(3, 4\) has 4 columns, b \(5, 2\)"):
        cp.zeros(3, 4) @ cp.zeros(5, 2)
    with pytest.raises(ValueError, match="batch shapes"):
        cp.zeros(2, 3, 4) @ cp.zeros(3, 4, 2)
