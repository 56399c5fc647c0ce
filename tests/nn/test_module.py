"""Module semantics: registration, traversal, shared params, buffers, modes, hooks, state_dict, repr."""

import numpy as np
import pytest
import torch

import cvprimer as cp
from cvprimer import nn

R = np.random.default_rng


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4, rng=R(0))
        self.bn = nn.BatchNorm1d(4)
        self.register_buffer("scratch", cp.zeros(2), persistent=False)
        self.plain = cp.ones(2)  # a plain Tensor attribute is not state

    def forward(self, x):
        return self.bn(self.fc(x)).relu()


def test_registration_and_names():
    m = nn.Sequential(Block(), nn.Linear(4, 2, rng=R(1)))
    assert [n for n, _ in m.named_parameters()] == ["0.fc.weight", "0.fc.bias", "0.bn.weight", "0.bn.bias",
                                                     "1.weight", "1.bias"]
    # pre-order, a module's own state before its children's (as torch)
    assert [n for n, _ in m.named_buffers()] == ["0.scratch", "0.bn.running_mean", "0.bn.running_var",
                                                  "0.bn.num_batches_tracked"]
    assert list(m.state_dict()) == ["0.fc.weight", "0.fc.bias", "0.bn.weight", "0.bn.bias", "0.bn.running_mean",
                                    "0.bn.running_var", "0.bn.num_batches_tracked", "1.weight", "1.bias"]
    assert [n for n, _ in m.named_modules()] == ["", "0", "0.fc", "0.bn", "1"]
    assert [n for n, _ in m.named_children()] == ["0", "1"]
    assert isinstance(m[0].fc.weight, nn.Parameter)


def test_matches_torch_names_and_counts():
    ours = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4, 2))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                                 torch.nn.Flatten(), torch.nn.Linear(4, 2))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    del ours[1], theirs[1]  # BatchNorm's repr differs (torch 2.13 adds bias=...); the rest is identical
    assert repr(ours) == repr(theirs)


def test_shared_parameter_yielded_once():
    lin = nn.Linear(3, 3, rng=R(0))
    m = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(m.parameters())) == 2
    m2 = nn.Module()
    m2.a = nn.Linear(2, 2)
    m2.b = nn.Linear(2, 2)
    m2.b.weight = m2.a.weight  # tied weights
    assert len(list(m2.parameters())) == 3


def test_reassign_and_delete():
    m = Block()
    m.fc = nn.Identity()
    assert "fc.weight" not in m.state_dict()
    with pytest.raises(TypeError, match="parameter 'weight'"):
        nn.Linear(2, 2).weight = cp.ones(2, 2)
    lin = nn.Linear(2, 2)
    del lin.bias
    assert [n for n, _ in lin.named_parameters()] == ["weight"]
    with pytest.raises(AttributeError, match="before Module.__init__"):
        class Bad(nn.Module):
            def __init__(self):
                self.w = nn.Parameter(np.ones(2))
        Bad()


def test_train_eval_zero_grad_apply():
    m = nn.Sequential(Block(), nn.Dropout(0.5))
    m.eval()
    assert not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    m(cp.randn(5, 3)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.data.any() for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "BatchNorm1d", "Block", "Dropout", "Sequential"]


def test_forward_hooks_and_remove():
    m = nn.Linear(3, 2, rng=R(0))
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, inp: calls.append(("pre", inp[0].shape)))
    h2 = m.register_forward_hook(lambda mod, inp, out: calls.append(("post", out.shape)))
    x = cp.randn(4, 3)
    m(x)
    assert calls == [("pre", (4, 3)), ("post", (4, 2))]
    h3 = m.register_forward_hook(lambda mod, inp, out: out * 0)  # a hook may replace the output
    assert not m(x).data.any()
    for h in (h1, h2, h3):
        h.remove()
    calls.clear()
    m(x)
    assert calls == []


def test_state_dict_round_trip_and_errors():
    a, b = Block(), Block()
    b.fc.reset_parameters(R(5))
    a.train()
    a(cp.randn(8, 3))  # moves running stats
    missing_before = b.load_state_dict(a.state_dict())
    assert missing_before == ([], [])
    for (k, v), (_, w) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        np.testing.assert_array_equal(v, w, err_msg=k)
    assert int(b.bn.num_batches_tracked.item()) == 1
    sd = a.state_dict()
    sd["fc.weight"][...] = 7  # a copy: the model is untouched
    assert not (a.fc.weight.data == 7).any()
    bad = dict(sd)
    del bad["fc.bias"]
    bad["extra"] = np.zeros(1)
    with pytest.raises(ValueError, match=r"missing keys \['fc.bias'\], unexpected keys \['extra'\]"):
        b.load_state_dict(bad)
    res = b.load_state_dict(bad, strict=False)
    assert res.missing_keys == ["fc.bias"] and res.unexpected_keys == ["extra"]
    wrong = dict(sd)
    wrong["fc.weight"] = np.zeros((3, 3))
    with pytest.raises(ValueError, match=r"shape mismatch for 'fc.weight': checkpoint \(3, 3\), model \(4, 3\)"):
        b.load_state_dict(wrong, strict=False)


def test_load_state_dict_from_torch():
    t = torch.nn.Linear(3, 2)
    m = nn.Linear(3, 2)
    m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(m(cp.Tensor(x)).data, t(torch.from_numpy(x)).detach().numpy(), rtol=1e-6)


def test_save_load_helpers(tmp_path):
    a, b = Block(), Block()
    b.fc.reset_parameters(R(9))
    a.save(tmp_path / "m.npz")
    b.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(a.fc.weight.data, b.fc.weight.data)


def test_to_double():
    m = Block().double()
    assert all(p.dtype == np.float64 for p in m.parameters())
    assert m.bn.running_mean.dtype == np.float64 and m.bn.num_batches_tracked.dtype == np.int64


def test_containers():
    s = nn.Sequential(nn.ReLU(), nn.Tanh())
    s.append(nn.Sigmoid())
    assert len(s) == 3 and isinstance(s[-1], nn.Sigmoid) and isinstance(s[1:], nn.Sequential) and len(s[1:]) == 2
    with pytest.raises(IndexError):
        s[3]
    with pytest.raises(TypeError, match="expected a Module"):
        nn.Sequential(nn.ReLU(), lambda x: x)
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.insert(0, nn.Linear(2, 5))
    assert [m.out_features for m in ml] == [5, 2, 2, 2] and len(list(ml.parameters())) == 8
    del ml[0]
    assert [n for n, _ in ml.named_children()] == ["0", "1", "2"]
    md = nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.ReLU()})
    md["c"] = nn.Tanh()
    assert list(md) == ["a", "b", "c"] and "a" in md and len(list(md.parameters())) == 2
    with pytest.raises(KeyError, match="no module 'z'"):
        md["z"]
    from collections import OrderedDict

    named = nn.Sequential(OrderedDict([("conv", nn.Conv2d(1, 2, 3)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["conv.weight", "conv.bias"]


def test_repr_nested():
    m = nn.Sequential(nn.Sequential(nn.Linear(2, 3)), nn.MaxPool2d(2), nn.Conv2d(2, 4, 3, stride=2, groups=2))
    t = torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(2, 3)), torch.nn.MaxPool2d(2),
                            torch.nn.Conv2d(2, 4, 3, stride=2, groups=2))
    assert repr(m) == repr(t)


def test_parameter_and_deepcopy():
    import copy

    p = nn.Parameter(np.ones((2, 3), np.float32))
    assert p.requires_grad and p.is_leaf and isinstance(p, cp.Tensor) and repr(p).startswith("Parameter containing")
    assert not nn.Parameter(np.ones(2), requires_grad=False).requires_grad
    m = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    m2 = copy.deepcopy(m)  # e.g. keeping the best model during training
    m2[0].weight.data[...] = 0
    assert m[0].weight.data.any() and isinstance(m2[0].weight, nn.Parameter)
    assert len(list(m2.parameters())) == 4
