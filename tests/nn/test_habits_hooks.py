"""Module.register_full_backward_hook / register_full_backward_pre_hook vs PyTorch's: what the hooks
see layer by layer in a small MLP, in which order, replacements of grad_input / grad_output, inputs that
need no gradient, and handle.remove()."""

import numpy as np
import pytest
import torch

import cvprimer as cp
from cvprimer import nn
from parity import assert_close

pytestmark = pytest.mark.filterwarnings("ignore:Full backward hook is firing")
TOL = dict(rtol=1e-12, atol=1e-14)


def _np(g):
    if g is None:
        return None
    return g.detach().numpy() if isinstance(g, torch.Tensor) else np.asarray(g.data)


def _mlps(seed=0):
    torch.manual_seed(seed)
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 5), torch.nn.ReLU(),
                                 torch.nn.Linear(5, 3)).double()
    ours = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3)).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _record(model, log, kind="full"):
    handles = []
    for name, sub in model.named_children():
        if kind == "full":
            def fn(m, gi, go, name=name):
                log.append((name, [_np(g) for g in gi], [_np(g) for g in go]))

            handles.append(sub.register_full_backward_hook(fn))
        else:
            handles.append(sub.register_full_backward_pre_hook(
                lambda m, go, name=name: log.append((name, [], [_np(g) for g in go]))))
    return handles


def _same_logs(a, b):
    assert [n for n, *_ in a] == [n for n, *_ in b]  # same layers, same order (output side first)
    for (name, gi, go), (_, gi_t, go_t) in zip(a, b, strict=True):
        assert len(gi) == len(gi_t) and len(go) == len(go_t), name
        for g, h in zip(gi + go, gi_t + go_t, strict=True):
            assert (g is None) == (h is None), f"{name}: None pattern differs"
            if g is not None:
                assert_close(g, h, f"layer {name}", **TOL)


@pytest.mark.parametrize("x_requires_grad", [False, True])
@pytest.mark.parametrize("kind", ["full", "pre"])
def test_per_layer_backward_gradients_match_torch(x_requires_grad, kind):
    ours, theirs = _mlps()
    x = np.random.default_rng(1).standard_normal((7, 4))
    log, log_t = [], []
    _record(ours, log, kind)
    _record(theirs, log_t, kind)
    gy = np.random.default_rng(2).standard_normal((7, 3))
    ours(cp.Tensor(x.copy(), requires_grad=x_requires_grad)).backward(gy)
    theirs(torch.tensor(x.copy(), requires_grad=x_requires_grad)).backward(torch.from_numpy(gy))
    assert len(log) == 5
    _same_logs(log, log_t)
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        assert_close(p.grad.data, q.grad.numpy(), f"grad {n}", **TOL)


def test_returned_grad_input_and_grad_output_replace_the_gradients():
    ours, theirs = _mlps(seed=3)
    for model in (ours, theirs):
        model[1].register_full_backward_hook(lambda m, gi, go: (gi[0] * 3.0,))
        model[3].register_full_backward_pre_hook(lambda m, go: (go[0] * -0.5,))
    x = np.random.default_rng(4).standard_normal((5, 4))
    xc, xt = cp.Tensor(x.copy(), requires_grad=True), torch.tensor(x.copy(), requires_grad=True)
    ours(xc).sum().backward()
    theirs(xt).sum().backward()
    assert_close(xc.grad.data, xt.grad.numpy(), "grad x", **TOL)
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        assert_close(p.grad.data, q.grad.numpy(), f"grad {n}", **TOL)


class _Pair(nn.Module):
    def forward(self, a, b):
        return a * b + a, b.sum()


class _PairT(torch.nn.Module):
    def forward(self, a, b):
        return a * b + a, b.sum()


def test_two_inputs_two_outputs_one_input_without_grad():
    a, b = np.random.default_rng(5).standard_normal((2, 3, 2))
    log, log_t = [], []
    m, mt = _Pair(), _PairT()
    m.register_full_backward_hook(lambda mm, gi, go: log.append(("pair", [_np(g) for g in gi], [_np(g) for g in go])))
    mt.register_full_backward_hook(lambda mm, gi, go: log_t.append(("pair", [_np(g) for g in gi],
                                                                          [_np(g) for g in go])))
    ya, yb = m(cp.Tensor(a.copy(), requires_grad=True), cp.Tensor(b.copy()))
    ta, tb = mt(torch.tensor(a.copy(), requires_grad=True), torch.tensor(b.copy()))
    (ya.sum() * 2).backward()
    (ta.sum() * 2).backward()
    (_, gi, go), (_, gi_t, go_t) = log[0], log_t[0]
    assert len(gi) == len(gi_t) == 2 and len(go) == len(go_t) == 2
    assert_close(gi[0], gi_t[0], "grad_input a", **TOL)
    # b needs no gradient: None (PyTorch hands zeros here: its identity node made b's copy differentiable)
    assert gi[1] is None
    assert_close(go[0], go_t[0], "grad_output 0", **TOL)
    assert go[1] is None and go_t[1] is None  # b.sum() needs no gradient


def test_remove_and_context_manager():
    lin = nn.Linear(3, 2)
    calls = []
    h = lin.register_full_backward_hook(lambda m, gi, go: calls.append(1))
    x = cp.Tensor(np.ones((1, 3), np.float32), requires_grad=True)
    lin(x).sum().backward()
    h.remove()
    lin(x).sum().backward()
    with lin.register_full_backward_pre_hook(lambda m, go: calls.append(2)):
        lin(x).sum().backward()
    lin(x).sum().backward()
    assert calls == [1, 2]
    assert not lin._backward_hooks and not lin._backward_pre_hooks


def test_hook_returning_the_wrong_number_of_gradients_is_refused():
    lin = nn.Linear(3, 2)
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    out = lin(cp.Tensor(np.ones((1, 3), np.float32), requires_grad=True))
    with pytest.raises(ValueError, match="Linear full_backward_hook: the hook returned 2 gradients; expected 1"):
        out.sum().backward()


def test_no_hooks_under_no_grad():
    lin = nn.Linear(3, 2)
    lin.register_full_backward_hook(lambda m, gi, go: pytest.fail("hook must not run"))
    with cp.no_grad():
        out = lin(np.ones((1, 3), np.float32))
    assert not out.requires_grad
