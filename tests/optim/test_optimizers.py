"""Parity of every optimizer with torch.optim: same gradient sequence, parameters at every step."""

import numpy as np
import pytest
import torch

import cvprimer as cp
from cvprimer import optim

SHAPES = [(3, 4), (5,), (2, 3, 2)]
STEPS = 200

CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.02)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("Adamax", dict(lr=0.01, weight_decay=0.01)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.01, momentum_decay=0.01)),
    ("RAdam", dict(lr=0.01)),
    ("RAdam", dict(lr=0.01, weight_decay=0.01, betas=(0.9, 0.9))),
    ("NAdam", dict(lr=0.01, weight_decay=0.05, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.01, weight_decay=0.05, decoupled_weight_decay=True)),
]


@pytest.fixture(autouse=True)
def _float64_scalars():
    # torch keeps scalar state (NAdam's mu_product, step) in the default dtype; float32 there
    # would put a 1e-10 rounding difference into a float64 comparison, so use float64 throughout
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _grads(seed):
    rng = np.random.default_rng(seed)
    # gradients of a drifting quadratic plus noise: signs change, magnitudes vary
    return [[rng.standard_normal(s) * (1 + (t % 7)) for s in SHAPES] for t in range(STEPS)]


def _run_pair(name, kw, grads, split_at=None, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    init = [rng.standard_normal(s) for s in SHAPES]
    ours = [cp.Tensor(a.copy(), requires_grad=True) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    o = getattr(optim, name)(ours, **kw)
    t = getattr(torch.optim, name)(theirs, **kw)
    for step, gs in enumerate(grads):
        if split_at is not None and step == split_at:
            sd = o.state_dict()
            fresh = [cp.Tensor(p.data.copy(), requires_grad=True) for p in ours]
            o = getattr(optim, name)(fresh, lr=123.0)  # different hyper-parameters, then restored
            o.load_state_dict(sd)
            ours = fresh
        for p, q, g in zip(ours, theirs, gs, strict=True):
            p.grad = cp.Tensor(g.copy())
            q.grad = torch.tensor(g.copy())
        o.step()
        t.step()
        for p, q in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-10, atol=1e-12,
                                       err_msg=f"{name} {kw} step {step}")


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_parity_every_step(name, kw):
    _run_pair(name, kw, _grads(1))


@pytest.mark.parametrize("name,kw", [c for c in CASES if c[1]], ids=lambda c: str(c))
def test_state_dict_round_trip_mid_run(name, kw):
    _run_pair(name, kw, _grads(2)[:60], split_at=30)


def test_param_groups_own_hyperparameters():
    a, b = np.ones((2, 2)), np.ones(3)
    pa, pb = cp.Tensor(a.copy(), requires_grad=True), cp.Tensor(b.copy(), requires_grad=True)
    ta, tb = torch.tensor(a.copy(), requires_grad=True), torch.tensor(b.copy(), requires_grad=True)
    o = optim.SGD([{"params": [pa]}, {"params": [pb], "lr": 0.5, "momentum": 0.9}], lr=0.1)
    t = torch.optim.SGD([{"params": [ta]}, {"params": [tb], "lr": 0.5, "momentum": 0.9}], lr=0.1)
    for k in range(5):
        g1, g2 = np.full((2, 2), k + 1.0), np.full(3, -k - 0.5)
        pa.grad, pb.grad = cp.Tensor(g1), cp.Tensor(g2)
        ta.grad, tb.grad = torch.tensor(g1), torch.tensor(g2)
        o.step()
        t.step()
    np.testing.assert_allclose(pa.data, ta.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(pb.data, tb.detach().numpy(), rtol=1e-12)
    assert o.param_groups[0]["lr"] == 0.1 and o.param_groups[1]["lr"] == 0.5


def test_add_param_group_and_skip_params_without_grad():
    p, q = cp.Tensor(np.ones(2), requires_grad=True), cp.Tensor(np.ones(2), requires_grad=True)
    o = optim.Adam([p], lr=0.1)
    o.add_param_group({"params": [q], "lr": 0.0})
    p.grad = cp.Tensor(np.ones(2))
    o.step()  # q has no grad: untouched, no state
    assert q not in o.state and np.all(q.data == 1) and np.all(p.data < 1)


def test_zero_grad():
    p = cp.Tensor(np.ones(2), requires_grad=True)
    o = optim.SGD([p], lr=0.1)
    p.grad = cp.Tensor(np.ones(2))
    o.zero_grad(set_to_none=False)
    assert p.grad is not None and not p.grad.data.any()
    o.zero_grad()
    assert p.grad is None


def test_l1_decay_adds_sign():
    w = np.array([0.5, -2.0, 0.0])
    p = cp.Tensor(w.copy(), requires_grad=True)
    o = optim.SGD([p], lr=0.1, l1_decay=0.3, weight_decay=0.2)
    g = np.array([1.0, 1.0, 1.0])
    p.grad = cp.Tensor(g)
    o.step()
    np.testing.assert_allclose(p.data, w - 0.1 * (g + 0.2 * w + 0.3 * np.sign(w)), rtol=1e-15)


def test_state_dict_is_copy_and_json_hyperparameters():
    import json

    p = cp.Tensor(np.ones(3), requires_grad=True)
    o = optim.Adam([p], lr=0.1)
    p.grad = cp.Tensor(np.ones(3))
    o.step()
    sd = o.state_dict()
    json.dumps(sd["param_groups"])
    sd["state"][0]["exp_avg"][...] = 99
    assert not (o.state[p]["exp_avg"] == 99).any()


def test_float32_params_stay_float32():
    p = cp.Tensor(np.ones(3, np.float32), requires_grad=True)
    for cls in (optim.SGD, optim.Adam, optim.RMSprop, optim.Adagrad, optim.NAdam, optim.RAdam):
        o = cls([p], lr=0.01)
        p.grad = cp.Tensor(np.ones(3, np.float32))
        o.step()
        assert p.dtype == np.float32


@pytest.mark.parametrize("make,match", [
    (lambda p: optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda p: optim.SGD([p, p], lr=0.1), "more than once"),
    (lambda p: optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1), "more than one param group"),
    (lambda p: optim.SGD([p], lr=-1.0), "learning rate"),
    (lambda p: optim.SGD([p], lr=0.1, nesterov=True), "nesterov"),
    (lambda p: optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    (lambda p: optim.SGD([p], lr=0.1, momentum=-0.5), "momentum"),
    (lambda p: optim.Adam([p], betas=(1.0, 0.9)), "betas"),
    (lambda p: optim.Adam([p], betas=(0.9, -0.1)), "betas"),
    (lambda p: optim.Adam([p], eps=-1e-8), "eps"),
    (lambda p: optim.RMSprop([p], momentum=-1), "momentum"),
    (lambda p: optim.Adadelta([p], rho=1.5), "rho"),
    (lambda p: optim.Adam([p], weight_decay=-1), "weight_decay"),
])
def test_clear_errors(make, match):
    p = cp.Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match=match):
        make(p)


def test_single_tensor_is_type_error():
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(cp.Tensor(np.ones(2), requires_grad=True), lr=0.1)


def test_load_state_dict_layout_mismatch():
    p, q = (cp.Tensor(np.ones(2), requires_grad=True) for _ in range(2))
    sd = optim.SGD([p, q], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="group sizes"):
        optim.SGD([p], lr=0.1).load_state_dict(sd)


def test_closure_returns_loss():
    p = cp.Tensor(np.array([3.0]), requires_grad=True)
    o = optim.SGD([p], lr=0.25)

    def closure():
        o.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = o.step(closure)
    assert float(loss.item()) == 9.0 and p.data[0] == 3.0 - 0.25 * 6.0
