"""Tensor hooks as PyTorch has them (issue 26): ``register_hook`` on leaves and non-leaves, and
``register_post_accumulate_grad_hook`` on leaves; each checked against PyTorch computed in the same test."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import cvprimer as cp


def _pair(shape: tuple[int, ...], seed: int) -> tuple[cp.Tensor, torch.Tensor]:
    a = np.random.default_rng(seed).standard_normal(shape)
    return cp.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _run(lib: object, x: object, w: object, log: list) -> object:
    """The same graph in both libraries: hooks scale a non-leaf's gradient, record, and chain."""
    h = x @ w  # type: ignore[operator]
    h.register_hook(lambda g: g * 3.0)          # replaces the gradient
    h.register_hook(lambda g: log.append(np.array(g.detach().numpy(), copy=True)))  # sees the replaced one
    a = h.tanh()
    y = (a * a).sum() + (x * x).sum()  # x is used twice: its hook must see the sum
    return y


def test_register_hook_matches_torch_on_leaves_and_non_leaves() -> None:
    x, tx = _pair((3, 4), 0)
    w, tw = _pair((4, 2), 1)
    mine: list = []
    theirs: list = []
    leaf_seen: list = []
    torch_leaf_seen: list = []
    x.register_hook(lambda g: leaf_seen.append(np.array(g.numpy(), copy=True)))
    tx.register_hook(lambda g: torch_leaf_seen.append(g.detach().numpy().copy()))
    w.register_hook(lambda g: g + 1.0)
    tw.register_hook(lambda g: g + 1.0)
    _run(cp, x, w, mine).backward()
    _run(torch, tx, tw, theirs).backward()
    assert len(mine) == len(theirs) == 1
    np.testing.assert_allclose(mine[0], theirs[0], rtol=1e-12)
    assert len(leaf_seen) == len(torch_leaf_seen) == 1  # once, with the summed gradient
    np.testing.assert_allclose(leaf_seen[0], torch_leaf_seen[0], rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12)
    # the hooks really changed something: PyTorch without them gives another w.grad
    tx2, tw2 = tx.detach().requires_grad_(), tw.detach().requires_grad_()
    (((tx2 @ tw2).tanh() ** 2).sum() + (tx2 * tx2).sum()).backward()
    assert not np.allclose(w.grad.numpy(), tw2.grad.numpy(), rtol=1e-3)


def test_retain_grad_sees_hooked_gradient_and_remove_unregisters() -> None:
    x, tx = _pair((5,), 2)
    out = []
    for lib_x in (x, tx):
        h = lib_x * 2.0
        h.retain_grad()
        handle = h.register_hook(lambda g: g * 0.5)
        (h * h).sum().backward()
        first = h.grad.detach().numpy().copy() if isinstance(h, torch.Tensor) else h.grad.numpy().copy()
        handle.remove()
        handle.remove()  # twice is harmless, as in PyTorch
        lib_x.grad = None
        h2 = lib_x * 2.0
        h2.retain_grad()
        (h2 * h2).sum().backward()
        second = h2.grad.detach().numpy().copy() if isinstance(h2, torch.Tensor) else h2.grad.numpy().copy()
        out.append((first, second, np.array(lib_x.grad.detach().numpy() if isinstance(lib_x, torch.Tensor)
                                            else lib_x.grad.numpy(), copy=True)))
    for a, b in zip(out[0], out[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(out[0][0] * 2, out[0][1], rtol=1e-12)  # the removed hook no longer halves


def test_post_accumulate_grad_hook_sees_accumulated_grad_in_torch_order() -> None:
    x, tx = _pair((3,), 3)
    events: list = []
    torch_events: list = []
    x.register_hook(lambda g: events.append(("hook", g.numpy().copy())))
    x.register_post_accumulate_grad_hook(lambda t: events.append(("post", t.grad.numpy().copy())))
    tx.register_hook(lambda g: torch_events.append(("hook", g.numpy().copy())))
    tx.register_post_accumulate_grad_hook(lambda t: torch_events.append(("post", t.grad.numpy().copy())))
    for _ in range(2):  # the second backward accumulates onto the first
        (x.exp() * x).sum().backward()
        (tx.exp() * tx).sum().backward()
    assert [e[0] for e in events] == [e[0] for e in torch_events] == ["hook", "post", "hook", "post"]
    for (_, a), (_, b) in zip(events, torch_events, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(events[3][1], 2 * events[1][1], rtol=1e-12)


def test_post_accumulate_hooks_fire_for_every_parameter_once_per_backward() -> None:
    """What a data-parallel gradient bucket relies on: every parameter that got a gradient reports once,
    and its .grad is final when it does."""
    cp.manual_seed(0)
    from cvprimer import nn

    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    ready: list = []
    for p in model.parameters():
        p.register_post_accumulate_grad_hook(lambda t: ready.append((id(t), t.grad.numpy().copy())))
    model(cp.randn(5, 4)).sum().backward()
    assert sorted(i for i, _ in ready) == sorted(id(p) for p in model.parameters())
    for i, g in ready:
        p = next(q for q in model.parameters() if id(q) == i)
        np.testing.assert_array_equal(g, p.grad.numpy())


def test_hook_errors_are_clear() -> None:
    x = cp.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        x.register_hook(lambda g: g)
    y = cp.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (y * 2).register_post_accumulate_grad_hook(lambda t: None)
    y.register_hook(lambda g: cp.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(RuntimeError, match="changed the size"):
        (y * 2).sum().backward()
    ty = torch.tensor([1.0, 2.0], requires_grad=True)
    ty.register_hook(lambda g: torch.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(RuntimeError, match="changed the size"):
        (ty * 2).sum().backward()
