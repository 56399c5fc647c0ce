"""SequentialLR and ChainedScheduler vs torch.optim.lr_scheduler: the lr of every param group after
construction and after each step, for warm-up + cosine and other compositions."""

import warnings

import numpy as np
import pytest
import torch

import cvprimer as cp
from cvprimer import optim
from cvprimer.optim import lr_scheduler as L

TL = torch.optim.lr_scheduler
BASE = [0.1, 0.02]  # two param groups with different base lrs


def _pair():
    ps = [cp.Tensor(np.zeros(2), requires_grad=True) for _ in BASE]
    ts = [torch.zeros(2, requires_grad=True) for _ in BASE]
    o = optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(ps, BASE, strict=True)])
    t = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(ts, BASE, strict=True)])
    return o, t


def _lrs(opt):
    return [g["lr"] for g in opt.param_groups]


def _compare(build, steps, resume_at=None):
    """``build(module, optimizer) -> scheduler`` for both libraries; lrs compared at every step."""
    o, t = _pair()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's SequentialLR calls step(0), which it deprecates
        so, st = build(L, o), build(TL, t)
        seq_o, seq_t = [_lrs(o)], [_lrs(t)]
        for k in range(steps):
            t.step()
            st.step()
            so.step()
            if resume_at == k:  # a fresh scheduler tree loaded from the state_dict continues identically
                sd = so.state_dict()
                o2 = optim.SGD([{"params": [g["params"][0]], "lr": g["lr"], "initial_lr": g["initial_lr"]}
                                for g in o.param_groups])
                so = build(L, o2)
                so.load_state_dict(sd)
                for g2, g in zip(o2.param_groups, o.param_groups, strict=True):
                    g2["lr"] = g["lr"]
                o = o2
            seq_o.append(_lrs(o))
            seq_t.append(_lrs(t))
            assert so.get_last_lr() == _lrs(o)
    np.testing.assert_allclose(seq_o, seq_t, rtol=1e-10, atol=1e-13)
    return np.asarray(seq_o)


def _warmup_cosine(M, opt):
    return M.SequentialLR(opt, [M.LinearLR(opt, start_factor=0.1, total_iters=5),
                                M.CosineAnnealingLR(opt, T_max=20, eta_min=1e-3)], milestones=[5])


def test_sequential_warmup_then_cosine():
    seq = _compare(_warmup_cosine, 25)
    np.testing.assert_allclose(seq[0], np.array(BASE) * 0.1)  # warm-up starts at start_factor * base
    np.testing.assert_allclose(seq[5], BASE)  # the cosine restarts from the base lr at the milestone


def test_sequential_three_stages():
    _compare(lambda M, o: M.SequentialLR(o, [M.ExponentialLR(o, gamma=0.9), M.StepLR(o, step_size=3, gamma=0.5),
                                             M.MultiStepLR(o, milestones=[2, 4], gamma=0.3)], milestones=[4, 10]), 16)


def test_sequential_constant_warmup_then_step():
    _compare(lambda M, o: M.SequentialLR(o, [M.ConstantLR(o, factor=0.25, total_iters=3),
                                             M.StepLR(o, step_size=2, gamma=0.5)], milestones=[3]), 10)


def test_chained_constant_and_exponential():
    _compare(lambda M, o: M.ChainedScheduler([M.ConstantLR(o, factor=0.5, total_iters=4),
                                              M.ExponentialLR(o, gamma=0.9)]), 8)


def test_sequential_state_dict_resume():
    _compare(_warmup_cosine, 20, resume_at=7)


@pytest.mark.parametrize("case", ["linear_exponential", "linear_cosine_eta_min", "step_lambda", "poly_multistep"])
def test_chained(case):
    build = {
        "linear_exponential": lambda M, o: M.ChainedScheduler([M.LinearLR(o, start_factor=0.2, total_iters=4),
                                                               M.ExponentialLR(o, gamma=0.95)]),
        # cosine with eta_min is affine, not multiplicative: PyTorch's recursion is followed
        "linear_cosine_eta_min": lambda M, o: M.ChainedScheduler([M.LinearLR(o, start_factor=0.5, total_iters=3),
                                                                  M.CosineAnnealingLR(o, T_max=10, eta_min=0.005)]),
        # LambdaLR is not chainable: it overwrites what the schedulers before it produced
        "step_lambda": lambda M, o: M.ChainedScheduler([M.StepLR(o, step_size=3, gamma=0.5),
                                                        M.LambdaLR(o, lambda t: 0.9 ** t)]),
        "poly_multistep": lambda M, o: M.ChainedScheduler([M.PolynomialLR(o, total_iters=8, power=2.0),
                                                           M.MultiStepLR(o, milestones=[3, 5], gamma=0.5)]),
    }[case]
    steps = 10
    seq = _compare(build, steps)
    assert len(np.unique(seq[:, 0])) > 3  # the lr actually moves


def test_chained_is_the_product_of_multiplicative_schedules():
    o, _ = _pair()
    s = L.ChainedScheduler([L.LinearLR(o, start_factor=0.2, total_iters=4), L.ExponentialLR(o, gamma=0.9)])
    for t in range(8):
        warm = 0.2 + 0.8 * min(t, 4) / 4
        np.testing.assert_allclose(_lrs(o), np.array(BASE) * warm * 0.9 ** t, rtol=1e-12)
        s.step()


def test_bad_arguments():
    o, _ = _pair()
    a, b = L.LinearLR(o, total_iters=3), L.ExponentialLR(o, gamma=0.9)
    with pytest.raises(ValueError, match="SequentialLR: expected 1 milestones"):
        L.SequentialLR(o, [a, b], milestones=[3, 6])
    with pytest.raises(ValueError, match="strictly increasing"):
        L.SequentialLR(o, [a, b, L.StepLR(o, 2)], milestones=[5, 5])
    with pytest.raises(TypeError, match="ReduceLROnPlateau steps on a metric"):
        L.ChainedScheduler([a, L.ReduceLROnPlateau(o)])
    o2, _ = _pair()
    with pytest.raises(ValueError, match="schedulers\\[1\\] drives a different optimizer"):
        L.ChainedScheduler([a, L.ExponentialLR(o2, gamma=0.5)])
