"""In-place tensor ops with PyTorch's rules (issue 26): values, gradients, refusals and the version counter,
each compared with PyTorch computed in the same test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import cvprimer as cp

RNG = np.random.default_rng(7)
X = RNG.uniform(0.5, 2.0, (3, 4)) * RNG.choice([-1.0, 1.0], (3, 4))  # away from 0 (relu, abs)
W = RNG.uniform(0.5, 1.5, (4,))

# (name, the in-place call given (tensor, other, library), whether the input must be positive)
CASES: list[tuple[str, Callable[[Any, Any, Any], Any], bool]] = [
    ("add_", lambda t, w, lib: t.add_(w, alpha=0.5), False),
    ("sub_", lambda t, w, lib: t.sub_(w), False),
    ("mul_", lambda t, w, lib: t.mul_(w), False),
    ("div_", lambda t, w, lib: t.div_(w), False),
    ("pow_", lambda t, w, lib: t.pow_(2), False),
    ("clamp_", lambda t, w, lib: t.clamp_(-1.0, 1.0), False),
    ("fill_", lambda t, w, lib: t.fill_(w.sum()), False),
    ("copy_", lambda t, w, lib: t.copy_(w), False),
    ("zero_", lambda t, w, lib: t.zero_(), False),
    ("neg_", lambda t, w, lib: t.neg_(), False),
    ("abs_", lambda t, w, lib: t.abs_(), False),
    ("exp_", lambda t, w, lib: t.exp_(), False),
    ("log_", lambda t, w, lib: t.log_(), True),
    ("sqrt_", lambda t, w, lib: t.sqrt_(), True),
    ("relu_", lambda t, w, lib: t.relu_(), False),
    ("sigmoid_", lambda t, w, lib: t.sigmoid_(), False),
    ("tanh_", lambda t, w, lib: t.tanh_(), False),
]


def _graph(lib: Any, x: Any, w: Any, op: Callable[[Any, Any, Any], Any], positive: bool) -> Any:
    h = x * 1.5 if not positive else x.abs() * 1.5  # a non-leaf: in place is recorded
    out = op(h, w, lib)
    assert out is h  # in-place ops return the tensor itself
    return (h * h.tanh()).sum() + h.mean()  # uses h after the change, nonlinearly


@pytest.mark.parametrize("name,op,positive", CASES, ids=[c[0] for c in CASES])
def test_recorded_inplace_on_non_leaf_matches_torch(name: str, op: Callable[[Any, Any, Any], Any],
                                                   positive: bool) -> None:
    x, w = cp.tensor(X, requires_grad=True), cp.tensor(W, requires_grad=True)
    tx, tw = torch.tensor(X, requires_grad=True), torch.tensor(W, requires_grad=True)
    y = _graph(cp, x, w, op, positive)
    ty = _graph(torch, tx, tw, op, positive)
    np.testing.assert_allclose(y.item(), ty.item(), rtol=1e-12)
    y.backward()
    ty.backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-14)
    if tw.grad is None:
        assert w.grad is None
    else:
        np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name,op,positive", CASES, ids=[c[0] for c in CASES])
def test_under_no_grad_changes_in_place_and_bumps_the_version(name: str, op: Callable[[Any, Any, Any], Any],
                                                              positive: bool) -> None:
    a = np.abs(X) if positive else X
    x, tx = cp.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    alias = x.detach()  # shares storage and version counter
    data_before = x.data
    with cp.no_grad():
        out = op(x, cp.tensor(W), cp)
    with torch.no_grad():
        op(tx, torch.tensor(W), torch)
    assert out is x and x.data is data_before and x.is_leaf and x.requires_grad
    np.testing.assert_allclose(x.data, tx.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(alias.data, tx.detach().numpy(), rtol=1e-12)
    assert x._version == 1 and alias._version == 1
    assert tx._version >= 1


@pytest.mark.parametrize("name,op,positive", CASES, ids=[c[0] for c in CASES])
def test_leaf_that_requires_grad_is_refused_like_torch(name: str, op: Callable[[Any, Any, Any], Any],
                                                       positive: bool) -> None:
    x, tx = cp.tensor(np.abs(X), requires_grad=True), torch.tensor(np.abs(X), requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        op(tx, torch.tensor(W), torch)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        op(x, cp.tensor(W), cp)
    assert x._version == 0
    np.testing.assert_array_equal(x.data, np.abs(X))  # untouched


def test_changing_a_saved_tensor_makes_backward_fail_like_torch() -> None:
    for lib in (torch, cp):
        x = lib.tensor(X, requires_grad=True)
        y = x.exp()  # exp saves its output
        y.add_(1.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
        h = x * 2.0
        z = h * h  # mul saves its inputs
        h.mul_(3.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.sum().backward()


def test_inplace_on_plain_tensor_with_grad_argument_joins_the_graph() -> None:
    """``buf.add_(w)`` where only ``w`` requires grad: ``buf`` becomes a non-leaf, as in PyTorch."""
    w, tw = cp.tensor(W, requires_grad=True), torch.tensor(W, requires_grad=True)
    buf, tbuf = cp.zeros(3, 4, dtype=np.float64), torch.zeros(3, 4, dtype=torch.float64)
    buf.add_(w).mul_(w)
    tbuf.add_(tw).mul_(tw)
    assert buf.requires_grad and not buf.is_leaf and tbuf.requires_grad and not tbuf.is_leaf
    (buf * buf).sum().backward()
    (tbuf * tbuf).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12)


def test_dtype_and_shape_rules_match_torch() -> None:
    i, ti = cp.tensor([1, 2, 3]), torch.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        ti.add_(0.5)
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        i.add_(0.5)
    i.add_(2)
    ti.add_(2)
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    assert i.dtype == np.int64
    i.fill_(1.7)  # fill_ and copy_ convert like an assignment
    ti.fill_(1.7)
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    f, tf = cp.zeros(3), torch.zeros(3)
    f.add_(cp.tensor([1.0, 2.0, 3.0], dtype=np.float64))  # float64 into float32: same kind, allowed
    tf.add_(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    assert f.dtype == np.float32
    np.testing.assert_array_equal(f.numpy(), tf.numpy())
    with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the broadcast shape \[2, 3\]"):
        tf.add_(torch.ones(2, 3))
    with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the broadcast shape \[2, 3\]"):
        f.add_(cp.ones(2, 3))
    e = cp.zeros(1).expand(3)
    with pytest.raises(RuntimeError, match="clone"):
        e.add_(1.0)


def test_view_sharing_storage_is_refused_when_recorded_and_fine_under_no_grad() -> None:
    x = cp.tensor(X, requires_grad=True)
    h = x * 2.0
    v = h.reshape(12)
    with pytest.raises(RuntimeError, match="shares its storage with a view"):
        h.mul_(3.0)
    with cp.no_grad():
        v.mul_(3.0)
    np.testing.assert_allclose(h.data, X * 6.0, rtol=1e-12)  # the base sees the change
    assert h._version == v._version == 1


def test_optimizer_style_update_and_sgd_step_match_torch() -> None:
    w, tw = cp.tensor(W, requires_grad=True), torch.tensor(W, requires_grad=True)
    for lib, p in ((cp, w), (torch, tw)):
        (p * p).sum().backward()
        with lib.no_grad():
            p.sub_(p.grad, alpha=0.1)
            p.grad.zero_()
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-12)
    np.testing.assert_array_equal(w.grad.numpy(), tw.grad.numpy())
