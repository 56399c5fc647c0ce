"""Tensor-level PyTorch habits (issue 26): ``==``/``!=`` elementwise with identity hashing; each behaviour
checked against PyTorch computed in the same test."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import cvprimer as cp


@pytest.mark.parametrize("other", [
    np.array([[1.0], [3.0]]),        # broadcasts (2, 1) against (3,)
    2.0,                             # a Python number
    np.array([1.0, 0.0, 3.0]),
])
def test_eq_ne_are_elementwise_like_torch(other: object) -> None:
    a = np.array([1.0, 2.0, 3.0])
    mine = cp.tensor(a)
    theirs = torch.tensor(a)
    o_mine = cp.tensor(other) if isinstance(other, np.ndarray) else other
    o_theirs = torch.tensor(other) if isinstance(other, np.ndarray) else other
    for got, want in ((mine == o_mine, theirs == o_theirs), (mine != o_mine, theirs != o_theirs),
                      (o_mine == mine, o_theirs == theirs)):
        assert isinstance(got, cp.Tensor) and got.dtype == np.bool_
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_accuracy_idioms_match_torch() -> None:
    rng = np.random.default_rng(0)
    logits, y = rng.standard_normal((50, 4)), rng.integers(0, 4, 50)
    pred, tpred = cp.tensor(logits).argmax(1), torch.tensor(logits).argmax(1)
    acc = (pred == cp.tensor(y)).float().mean()
    tacc = (tpred == torch.tensor(y)).float().mean()
    assert acc.dtype == np.float32
    assert abs(acc.item() - tacc.item()) < 1e-7
    assert 0.0 < acc.item() < 1.0  # not a degenerate comparison
    assert (pred == cp.tensor(y)).sum().item() == (tpred == torch.tensor(y)).sum().item()
    # an ndarray on the left defers to the Tensor, as with torch
    np.testing.assert_array_equal(np.asarray(y == pred), (y == tpred).numpy())


def test_non_tensor_operands_compare_by_identity_like_torch() -> None:
    t, tt = cp.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0])
    for other in (None, "cpu", object()):
        assert (t == other) is (tt == other) is False
        assert (t != other) is (tt != other) is True


def test_tensors_stay_hashable_by_identity() -> None:
    a, b = cp.tensor([1.0, 2.0]), cp.tensor([1.0, 2.0])  # equal values, different tensors
    d = {a: "a", b: "b"}
    assert d[a] == "a" and d[b] == "b" and len({a, b, a}) == 2
    assert hash(a) == id(a)
    ta, tb = torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0])
    assert len({ta, tb, ta}) == 2  # the same in PyTorch


def test_truth_value_of_many_elements_raises_like_torch() -> None:
    a, b = cp.tensor([1.0, 2.0]), cp.tensor([1.0, 3.0])
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is ambiguous"):
        bool(a == b)
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is ambiguous"):
        bool(torch.tensor([1.0, 2.0]) == torch.tensor([1.0, 3.0]))
    assert bool(cp.tensor([2.0]) == 2.0) is bool(torch.tensor([2.0]) == 2.0) is True
    assert bool(cp.tensor(0.0)) is bool(torch.tensor(0.0)) is False
    with pytest.raises(RuntimeError, match=r"__eq__: shapes \(2,\) and \(3,\) do not broadcast"):
        _ = a == cp.tensor([1.0, 2.0, 3.0])


def test_parameters_are_found_by_identity_in_optimizers_and_modules() -> None:
    """Two parameters with equal values must stay distinct everywhere (state, groups, named lookups)."""
    from cvprimer import nn, optim

    lin = nn.Linear(2, 2)
    with cp.no_grad():
        lin.weight.data[...] = 0.5
        lin.bias.data[...] = 0.5
    twin = nn.Linear(2, 2)
    with cp.no_grad():
        twin.weight.data[...] = 0.5
    opt = optim.SGD(lin.parameters(), lr=0.1, momentum=0.9)
    opt.add_param_group({"params": [twin.weight]})  # equal values, different tensor: accepted
    with pytest.raises(ValueError):
        opt.add_param_group({"params": [lin.weight]})  # the same tensor twice: refused
    lin(cp.ones(3, 2)).sum().backward()
    twin(cp.ones(3, 2)).sum().backward()
    opt.step()
    assert len(opt.state) == 3
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"]
