"""q08: decide on both sides of every threshold; the parameter-budget helpers."""

import pytest

from cvprimer.lab.experiments.q08_depth_width import BUDGETS, DEPTHS, mlp, mlp_params, width_for
from cvprimer.lab.experiments.q08_depth_width import DepthVersusWidth as E

T = E.thresholds


def figs(deep_step=-0.03, wide=0.06, sp=1.0, odd=1.0):
    f = {"mult8_speedup": sp, "odd_slowdown": odd}
    for i, b in enumerate(BUDGETS):
        for d in DEPTHS:
            f[f"val_acc_b{b // 1000}k_d{d}"] = 0.85 + i * wide + (d - 1) * deep_step
    return f


def test_nuanced_when_width_helps_and_depth_hurts():
    v, ev = E.decide(figs(), T)
    assert v == "nuanced" and "-0.09" in ev["en"] and "0.06" in ev["en"] and "narrower, deeper" in ev["en"]
    assert "更窄更深" in ev["zh"]


def test_confirmed_when_both_help():
    assert E.decide(figs(deep_step=0.01), T)[0] == "confirmed"


def test_refuted_when_depth_hurts_and_width_does_not_help():
    assert E.decide(figs(wide=T["min_acc_gain"] / 2), T)[0] == "refuted"
    assert E.decide(figs(deep_step=0.0, wide=0.0), T)[0] == "nuanced"


def test_multiple_of_eight_wording():
    assert "no multiple-of-8 effect" in E.decide(figs(sp=T["max_mult8_speedup"]), T)[1]["en"]
    assert "a multiple-of-8 effect" in E.decide(figs(sp=T["max_mult8_speedup"] + 0.01), T)[1]["en"]


@pytest.mark.parametrize("depth", DEPTHS)
def test_width_for_hits_the_budget(depth):
    for b in BUDGETS:
        w = width_for(b, depth)
        assert abs(mlp_params(depth, w) - b) / b < 0.05
        assert sum(p.data.size for p in mlp(depth, w).parameters()) == mlp_params(depth, w)
