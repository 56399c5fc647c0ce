"""Schedules: boundary values from the formulas, and full-run parity with torch.optim.lr_scheduler."""

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import cvprimer as cp
from cvprimer import optim
from cvprimer.optim import lr_scheduler as L
from cvprimer.optim import schedules as S

BASE = [0.1, 0.02]  # two param groups with different base lrs


def _pair(groups_lr=BASE, opt="SGD", **kw):
    ps = [cp.Tensor(np.zeros(2), requires_grad=True) for _ in groups_lr]
    ts = [torch.zeros(2, requires_grad=True) for _ in groups_lr]
    o = getattr(optim, opt)([{"params": [p], "lr": lr} for p, lr in zip(ps, groups_lr, strict=True)], **kw)
    t = getattr(torch.optim, opt)([{"params": [p], "lr": lr} for p, lr in zip(ts, groups_lr, strict=True)], **kw)
    return o, t


def _run(ours_cls, torch_cls, steps, opt="SGD", opt_kw=None, **kw):
    o, t = _pair(opt=opt, **(opt_kw or {}))
    so, st = getattr(L, ours_cls)(o, **kw), getattr(torch.optim.lr_scheduler, torch_cls)(t, **kw)
    for k in range(steps + 1):
        lo, lt = [g["lr"] for g in o.param_groups], [g["lr"] for g in t.param_groups]
        # closed form vs PyTorch's recursion: equal up to accumulated rounding (1e-12 of base lr)
        np.testing.assert_allclose(lo, lt, rtol=1e-10, atol=1e-12, err_msg=f"{ours_cls} step {k}")
        if opt != "SGD" or "momentum" in (opt_kw or {}):
            mo = [g.get("momentum", g.get("betas", (None,))[0]) for g in o.param_groups]
            mt = [g.get("momentum", g.get("betas", (None,))[0]) for g in t.param_groups]
            np.testing.assert_allclose(mo, mt, rtol=1e-10, err_msg=f"{ours_cls} momentum step {k}")
        if k < steps:
            o.step()
            t.step()
            so.step()
            st.step()
        np.testing.assert_allclose(so.get_last_lr(), st.get_last_lr(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,steps,kw", [
    ("StepLR", 40, dict(step_size=7, gamma=0.5)),
    ("MultiStepLR", 40, dict(milestones=[5, 12, 12, 30], gamma=0.3)),
    ("ExponentialLR", 60, dict(gamma=0.95)),
    ("CosineAnnealingLR", 50, dict(T_max=50, eta_min=0.001)),
    ("CosineAnnealingLR", 30, dict(T_max=30)),
    ("CosineAnnealingWarmRestarts", 100, dict(T_0=7)),
    ("CosineAnnealingWarmRestarts", 150, dict(T_0=5, T_mult=2, eta_min=0.001)),
    ("PolynomialLR", 30, dict(total_iters=20, power=2.0)),
    ("LinearLR", 20, dict(start_factor=0.25, end_factor=0.9, total_iters=11)),
])
def test_torch_parity_full_run(name, steps, kw):
    # torch warns about the step order of its schedulers; not what is tested here
    with warnings.catch_warnings(action="ignore"):
        _run(name, name, steps, **kw)


@pytest.mark.parametrize("kw", [
    dict(max_lr=0.5, total_steps=100),
    dict(max_lr=[0.5, 0.05], total_steps=61, pct_start=0.25, anneal_strategy="linear"),
    dict(max_lr=0.3, total_steps=80, three_phase=True, div_factor=10, final_div_factor=100),
])
@pytest.mark.parametrize("opt,opt_kw", [("SGD", dict(momentum=0.9)), ("Adam", {})])
def test_one_cycle_parity_with_momentum(kw, opt, opt_kw):
    with warnings.catch_warnings(action="ignore"):
        _run("OneCycleLR", "OneCycleLR", kw["total_steps"], opt=opt, opt_kw=opt_kw, **kw)


def test_one_cycle_past_end_is_error_and_needs_momentum():
    o, _ = _pair(momentum=0.9)
    s = L.OneCycleLR(o, max_lr=0.1, total_steps=5)
    for _ in range(5):
        s.step()
    with pytest.raises(ValueError, match="total_steps is 5"):
        s.step()
    o2, _ = _pair(opt="Adagrad")
    with pytest.raises(ValueError, match="momentum"):
        L.OneCycleLR(o2, max_lr=0.1, total_steps=5)


@pytest.mark.parametrize("kw,metrics_seed", [
    (dict(), 0),
    (dict(mode="max", factor=0.5, patience=2, threshold=0.01, cooldown=2, min_lr=[0.001, 0.0]), 1),
    (dict(patience=1, threshold=0.05, threshold_mode="abs", cooldown=1, eps=1e-3), 2),
])
def test_reduce_on_plateau_parity(kw, metrics_seed):
    o, t = _pair()
    so, st = L.ReduceLROnPlateau(o, **kw), torch.optim.lr_scheduler.ReduceLROnPlateau(t, **kw)
    rng = np.random.default_rng(metrics_seed)
    # a noisy metric that plateaus: improvements early, then mostly flat
    metrics = np.concatenate([np.linspace(1, 0.5, 10), 0.5 + 0.02 * rng.standard_normal(80)])
    for m in metrics:
        so.step(float(m))
        st.step(float(m))
        np.testing.assert_allclose([g["lr"] for g in o.param_groups], [g["lr"] for g in t.param_groups],
                                   rtol=1e-12)
    assert o.param_groups[0]["lr"] < BASE[0]  # the run does reduce


def test_boundaries_warmup_then_cosine():
    lr, w, total = 0.4, 10, 110
    s = S.warmup("linear", w, lr).then(S.cosine(lr, total - w, eta_min=0.01))
    assert s(0) == 0.0
    assert s(w - 1) == pytest.approx(lr * (w - 1) / w, rel=1e-15)
    assert s(w) == pytest.approx(lr, rel=1e-15)
    assert s(w + (total - w) // 2) == pytest.approx(0.01 + (lr - 0.01) / 2, rel=1e-12)
    assert s(total) == pytest.approx(0.01, rel=1e-12)
    with pytest.raises(ValueError, match="beyond the end"):
        s(total + 1)


def test_exponential_warmup_and_hold_decay():
    s = S.warmup("exponential", 4, 1.0, start_factor=0.01)
    assert [s(t) for t in range(5)] == pytest.approx([0.01 ** (1 - t / 4) for t in range(5)], rel=1e-14)
    whd = S.warmup_hold_decay(0.2, warmup_steps=5, hold_steps=3, decay_steps=10, final_lr=0.02, decay="linear")
    assert whd(0) == 0.0 and whd(5) == pytest.approx(0.2) and whd(7) == pytest.approx(0.2)
    assert whd(8) == pytest.approx(0.2) and whd(13) == pytest.approx(0.2 + (0.02 - 0.2) * 5 / 10)
    assert whd(18) == pytest.approx(0.02) and whd(1000) == pytest.approx(0.02)


def test_polynomial_and_linear_hold_their_tail():
    p = S.polynomial(0.1, 10, power=2.0)
    assert p(10) == 0.0 and p(50) == 0.0 and p(5) == pytest.approx(0.1 * 0.25)
    lin = S.linear(1.0, 0.5, 1.0, 4)
    assert lin(0) == 0.5 and lin(3) == pytest.approx(0.875) and lin(4) == 1.0 and lin(99) == 1.0


def test_cosine_warm_restarts_restart_points():
    s = S.cosine_warm_restarts(1.0, T_0=3, T_mult=2)
    for t in (0, 3, 9, 21):  # periods 3, 6, 12
        assert s(t) == 1.0
    assert s(3 + 3) == pytest.approx(0.5)  # middle of the 6-step period
    assert S.step_decay(1.0, 3, 0.5)(8) == 0.25
    assert S.multistep(1.0, [2, 5], 0.1)(5) == pytest.approx(0.01)
    assert S.exponential(2.0, 0.5)(3) == 0.25
    assert S.constant(0.3)(10**6) == 0.3
    assert S.cosine(1.0, 4)(2) == pytest.approx(0.5) and math.isclose(S.cosine(1.0, 4)(4), 0.0, abs_tol=1e-16)


@pytest.mark.parametrize("make,match", [
    (lambda: S.cosine(0.1, 10)(11), "beyond the end"),
    (lambda: S.one_cycle(0.1, 10)(11), "beyond the end"),
    (lambda: S.warmup("linear", 5, 0.1)(6), "beyond the end"),
    (lambda: S.warmup("cubic", 5, 0.1), "kind"),
    (lambda: S.warmup("exponential", 5, 0.1, start_factor=0.0), "start_factor"),
    (lambda: S.constant(0.1)(-1), "step must be"),
    (lambda: S.constant(0.1).then(S.constant(0.2)), "unbounded"),
    (lambda: S.Plateau(0.1, factor=1.5), "factor"),
    (lambda: S.Plateau(0.1, mode="up"), "mode"),
    (lambda: S.cosine_warm_restarts(0.1, 5, T_mult=0), "T_mult"),
])
def test_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_schedule_lr_driver_and_lambda():
    o, _ = _pair()
    s = L.ScheduleLR(o, lambda lr: S.warmup("linear", 4, lr).then(S.constant(lr)))
    seen = []
    for _ in range(6):
        seen.append(o.param_groups[1]["lr"])
        s.step()
    assert seen == pytest.approx([0.0, 0.005, 0.01, 0.015, 0.02, 0.02])
    o2, t2 = _pair()
    a, b = L.LambdaLR(o2, lambda e: 0.9**e), torch.optim.lr_scheduler.LambdaLR(t2, lambda e: 0.9**e)
    with warnings.catch_warnings(action="ignore"):  # torch's step-order warning
        for _ in range(10):
            a.step()
            b.step()
    assert a.get_last_lr() == pytest.approx(b.get_last_lr(), rel=1e-12)


def test_scheduler_state_dict_resume_and_end():
    o, _ = _pair()
    s = L.CosineAnnealingLR(o, T_max=10, eta_min=0.001)
    for _ in range(4):
        s.step()
    sd = s.state_dict()
    o2, _ = _pair()
    for g, g2 in zip(o.param_groups, o2.param_groups, strict=True):
        g2["initial_lr"] = g["initial_lr"]
    s2 = L.CosineAnnealingLR(o2, T_max=10, eta_min=0.001, last_epoch=3)  # resumes at step 4
    s2.load_state_dict(sd)
    for _ in range(6):
        s.step()
        s2.step()
        assert s.get_last_lr() == s2.get_last_lr()
    with pytest.raises(ValueError, match="beyond the end"):
        s.step()  # step 11 of a 10-step cosine: no defined tail
    with pytest.raises(KeyError, match="initial_lr"):
        L.StepLR(_pair()[0], 3, last_epoch=5)


@settings(max_examples=40, deadline=None)
@given(total=st.integers(2, 500), pct=st.floats(0.05, 0.95), three=st.booleans(),
       strategy=st.sampled_from(["cos", "linear"]), frac=st.floats(0, 1))
def test_one_cycle_stays_in_range_and_hits_ends(total, pct, three, strategy, frac):
    valid = pct * total - 1 > 0 and (not three or 2 * pct * total - 2 < total - 1)
    if not valid:  # a phase shorter than one step: refused with a clear error
        with pytest.raises(ValueError, match="more than one step"):
            S.one_cycle(1.0, total, pct_start=pct, three_phase=three)
        return
    s = S.one_cycle(1.0, total, pct_start=pct, anneal_strategy=strategy, three_phase=three)
    lo, hi = 1.0 / 25 / 1e4, 1.0
    t = int(frac * (total - 1))
    assert lo - 1e-12 <= s(t) <= hi + 1e-12
    assert s(0) == pytest.approx(1.0 / 25) and s(total - 1) == pytest.approx(lo)


@settings(max_examples=40, deadline=None)
@given(t0=st.integers(1, 20), mult=st.integers(1, 3), t=st.integers(0, 2000))
def test_warm_restarts_in_range(t0, mult, t):
    v = S.cosine_warm_restarts(0.5, t0, mult, eta_min=0.01)(t)
    assert 0.01 - 1e-15 <= v <= 0.5


def test_reduce_on_plateau_state_dict_resume():
    import json

    metrics = [1.0, 0.9, 0.95, 0.96, 0.97, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97]
    o, _ = _pair()
    a = L.ReduceLROnPlateau(o, patience=2, cooldown=1)
    for m in metrics[:5]:
        a.step(m)
    sd = json.loads(json.dumps(a.state_dict()))  # JSON round trip, as a checkpoint does
    o2, _ = _pair()
    for g, g2 in zip(o.param_groups, o2.param_groups, strict=True):
        g2["lr"] = g["lr"]
    b = L.ReduceLROnPlateau(o2, patience=2, cooldown=1)
    b.load_state_dict(sd)
    for m in metrics[5:]:
        a.step(m)
        b.step(m)
        assert a.get_last_lr() == b.get_last_lr()
    assert a.get_last_lr()[0] < BASE[0] * 0.1  # reduced twice over the run


def test_make_scheduler_by_name():
    import numpy as np

    import cvprimer as cp
    from cvprimer.optim import SGD
    from cvprimer.optim.lr_scheduler import SCHEDULE_KINDS, make_scheduler

    def opt():
        return SGD([cp.tensor(np.zeros(2), requires_grad=True)], lr=0.1)

    got = {k: make_scheduler(k, opt(), total_steps=30, warmup_steps=0) for k in SCHEDULE_KINDS}
    assert got["constant"] == (None, "epoch")
    assert got["plateau"][1] == "epoch" and getattr(got["plateau"][0], "steps_on_metric", False)
    assert {got[k][1] for k in ("step", "cosine", "onecycle")} == {"step"}
    o = opt()
    sched, interval = make_scheduler("constant", o, total_steps=30, warmup_steps=10)
    assert interval == "step" and o.param_groups[0]["lr"] == 0.0  # linear warm-up from 0
    for _ in range(10):
        sched.step()
    assert o.param_groups[0]["lr"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="unknown kind"):
        make_scheduler("exp", opt(), total_steps=3)
