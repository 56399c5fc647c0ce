"""Augmented assignment on a leaf that requires grad (issue 25, point 17): refused at once outside ``no_grad``
with PyTorch's message, done in place (version bumped) inside it, out of place everywhere else."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import cvprimer as cp

LEAF_MSG = "a leaf Variable that requires grad is being used in an in-place operation."


def _apply(t, op, x):
    if op == "+=":
        t += x
    elif op == "-=":
        t -= x
    elif op == "*=":
        t *= x
    elif op == "/=":
        t /= x
    elif op == "**=":
        t **= x
    return t


OPS = ["+=", "-=", "*=", "/=", "**="]


@pytest.mark.parametrize("op", OPS)
def test_outside_no_grad_a_leaf_that_requires_grad_is_refused_as_in_pytorch(op):
    w = cp.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=rf"^{LEAF_MSG}") as ours:
        _apply(w, op, 2.0)
    tw = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError) as theirs:
        _apply(tw, op, 2.0)
    assert str(ours.value).startswith(str(theirs.value))
    assert np.array_equal(w.data, [1.0, 2.0]) and w._version == 0


def test_matmul_assignment_on_a_leaf_is_refused_too():
    w = cp.tensor(np.eye(2, dtype=np.float32), requires_grad=True)
    with pytest.raises(RuntimeError, match=LEAF_MSG):
        w @= cp.tensor(np.eye(2, dtype=np.float32))


def test_the_hand_written_sgd_step_under_no_grad_matches_pytorch():
    w = cp.tensor([1.0, -2.0, 3.0], requires_grad=True)
    tw = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    for _ in range(3):
        (w * w * w).sum().backward()
        (tw * tw * tw).sum().backward()
        before = w
        with cp.no_grad():
            w -= 0.01 * w.grad
        with torch.no_grad():
            tw -= 0.01 * tw.grad
        assert w is before and w.requires_grad and w.is_leaf
        w.grad, tw.grad = None, None
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-6)
    assert w._version == 3


@pytest.mark.parametrize("op", OPS)
def test_in_place_under_no_grad_keeps_identity_dtype_and_matches_pytorch(op):
    w = cp.tensor([1.0, 2.0, 4.0], requires_grad=True)
    tw = torch.tensor([1.0, 2.0, 4.0], requires_grad=True)
    with cp.no_grad():
        out = _apply(w, op, cp.tensor([2.0, 0.5, 1.0]))
    with torch.no_grad():
        _apply(tw, op, torch.tensor([2.0, 0.5, 1.0]))
    assert out is w and w.dtype == np.float32
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-6)


def test_an_update_that_would_change_the_shape_is_a_clear_error():
    w = cp.tensor([1.0, 2.0], requires_grad=True)
    with cp.no_grad(), pytest.raises(ValueError, match=r"Tensor.__iadd__: cannot update a tensor of shape \(2,\)"):
        w += cp.ones(3, 2)


def test_non_leaves_and_tensors_without_grad_stay_out_of_place():
    w = cp.tensor([1.0, 2.0], requires_grad=True)
    y = w * 2
    y_before = y
    y += 1  # a non-leaf: out of place, the graph stays right
    assert y is not y_before
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.data, [2.0, 2.0])
    a = cp.tensor([1.0, 2.0])
    b = a
    b += 1
    assert b is not a and np.array_equal(a.data, [1.0, 2.0])
