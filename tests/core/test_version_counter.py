"""The version counter (issue 25, point 5): an in-place change of a tensor that backward needs raises."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import cvprimer as cp
from cvprimer import nn, optim

MSG = "modified by an inplace operation"


def test_issue_repro_setitem_on_saved_plain_tensor_raises() -> None:
    a = cp.tensor([1.0, 2.0, 3.0])
    w = cp.tensor([1.0, 1.0, 1.0], requires_grad=True)
    y = (a * w).sum()
    a[0] = 100
    with pytest.raises(RuntimeError, match=rf"mul: .*{MSG}.*shape \(3,\).* is at version 1; expected version 0"):
        y.backward()
    assert w.grad is None  # no wrong gradient was delivered


def test_same_case_raises_in_pytorch_too() -> None:
    a = torch.tensor([1.0, 2.0, 3.0])
    w = torch.ones(3, requires_grad=True)
    y = (a * w).sum()
    a[0] = 100
    with pytest.raises(RuntimeError, match=MSG):
        y.backward()


def test_setitem_before_forward_and_unsaved_inputs_are_fine() -> None:
    a = cp.tensor([1.0, 2.0, 3.0])
    a[0] = 5  # before the forward: the graph saved the new values
    w = cp.tensor([1.0, 1.0, 1.0], requires_grad=True)
    y = (a * w).sum()
    b = cp.tensor([1.0, 2.0, 3.0])
    z = (w + b).sum()  # add saves nothing: writing b afterwards is harmless
    b[0] = 7
    y.backward()
    z.backward()
    np.testing.assert_allclose(w.grad.data, [6.0, 3.0, 4.0])


def test_version_counts_and_is_shared_with_detach_and_views() -> None:
    a = cp.tensor(np.arange(6.0, dtype=np.float32))
    assert a._version == 0
    a[1] = 0
    assert a._version == 1
    d = a.detach()
    v = a.reshape(2, 3)
    d[0] = 1
    v[1, 1] = 2
    assert a._version == d._version == v._version == 3


def test_write_through_a_view_is_seen() -> None:
    a = cp.tensor([1.0, 2.0, 3.0, 4.0])
    w = cp.tensor([1.0, 1.0, 1.0, 1.0], requires_grad=True)
    y = (a * w).sum()
    a.reshape(2, 2)[0, 0] = 10
    with pytest.raises(RuntimeError, match=MSG):
        y.backward()


def test_saved_output_modified_under_no_grad_raises() -> None:
    x = cp.tensor([0.5, 1.0], requires_grad=True)
    y = x.exp()  # exp saves its output
    with cp.no_grad():
        y[0] = 0
    with pytest.raises(RuntimeError, match=rf"exp: .*{MSG}.*output 0"):
        y.sum().backward()


def test_optimizer_step_between_forward_and_backward_raises() -> None:
    lin = nn.Linear(3, 2)
    opt = optim.SGD(lin.parameters(), lr=0.1)
    x = cp.tensor(np.ones((4, 3), np.float32), requires_grad=True)
    loss = lin(x).sum()
    loss.backward(retain_graph=True)
    v = lin.weight._version
    opt.step()
    assert lin.weight._version == v + 1
    with pytest.raises(RuntimeError, match=MSG):
        loss.backward()  # x's gradient needs the weight as it was


def test_load_state_dict_bumps_the_version() -> None:
    lin = nn.Linear(3, 2)
    v = lin.weight._version
    lin.load_state_dict(nn.Linear(3, 2).state_dict())
    assert lin.weight._version == v + 1


def test_training_loop_unaffected() -> None:
    cp.manual_seed(0)
    lin = nn.Linear(3, 1)
    opt = optim.SGD(lin.parameters(), lr=0.1)
    x = cp.tensor(np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32))
    for _ in range(3):
        opt.zero_grad()
        (lin(x) ** 2).mean().backward()
        opt.step()
    assert lin.weight._version == 3


def test_user_function_without_declaration_is_checked() -> None:
    from cvprimer.core.function import Function

    class SquareFn(Function):
        @staticmethod
        def forward(ctx, x):  # type: ignore[no-untyped-def]
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, gy):  # type: ignore[no-untyped-def]
            (x,) = ctx.saved_tensors
            return 2 * x * gy

    x = cp.tensor([1.0, 2.0], requires_grad=True)
    y = SquareFn.apply(x).sum()
    with cp.no_grad():
        x[0] = 3
    with pytest.raises(RuntimeError, match=rf"square: .*{MSG}.*input 0"):
        y.backward()
