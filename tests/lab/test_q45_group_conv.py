"""q45: decide on both sides of its threshold; the group-dependency helper."""

import numpy as np

from cvprimer.lab.experiments.q45_group_conv import GroupConv as E
from cvprimer.lab.experiments.q45_group_conv import group_dependency

T = E.thresholds
BASE = {"split_concat_err": 0.0, "cost_div_g_err": 0.0, "time_speedup_g8": 1.19, "time_speedup_g64": 3.52,
        "cross_group_dependencies": 0.0, "shuffle_reach": 1.0}


def test_confirmed():
    v, ev = E.decide(BASE, T)
    assert v == "confirmed" and "1.19x" in ev["en"] and "3.52" in ev["zh"] and "100%" in ev["en"]


def test_refuted_cases():
    assert E.decide({**BASE, "split_concat_err": 2 * T["exact_tol"]}, T)[0] == "refuted"
    assert E.decide({**BASE, "cost_div_g_err": 2 * T["exact_tol"]}, T)[0] == "refuted"
    assert E.decide({**BASE, "cross_group_dependencies": 1.0}, T)[0] == "refuted"


def test_group_dependency():
    rng = np.random.default_rng(0)
    assert np.array_equal(group_dependency(8, 4, False, rng), np.eye(4))
    assert group_dependency(16, 4, True, rng).all()  # full reach needs C/g >= g
