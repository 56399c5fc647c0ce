"""q15: decide on both sides of each threshold; the two-branch module's next layer doubles under concat."""

import numpy as np

import cvprimer as cp
from cvprimer.lab.experiments.q15_add_vs_concat import AddVsConcat as E
from cvprimer.lab.experiments.q15_add_vs_concat import TwoBranch

T = E.thresholds
BASE = {"shape_rules_hold": 1.0, "next_params_ratio": 2.0, "next_macs_ratio": 2.0, "add_grad_err": 0.0,
        "concat_grad_err": 0.0, "concat_branch_grad_diff": 3.2, "concat_emulates_add_err": 1e-16,
        "acc_add": 0.975, "acc_concat": 0.981}


def test_confirmed():
    v, ev = E.decide(BASE, T)
    assert v == "confirmed" and "0.975" in ev["en"] and "0.981" in ev["zh"] and "2x" in ev["en"]


def test_nuanced_when_a_net_fails_to_learn():
    v, ev = E.decide({**BASE, "acc_concat": T["min_acc"] - 0.01}, T)
    assert v == "nuanced" and "did not learn" in ev["en"]


def test_refuted_when_rules_or_gradients_break():
    assert E.decide({**BASE, "shape_rules_hold": 0.0}, T)[0] == "refuted"
    assert E.decide({**BASE, "add_grad_err": 10 * T["grad_tol"]}, T)[0] == "refuted"
    assert E.decide({**BASE, "concat_grad_err": 10 * T["grad_tol"]}, T)[0] == "refuted"
    assert E.decide({**BASE, "concat_branch_grad_diff": 0.0}, T)[0] == "refuted"
    assert E.decide({**BASE, "concat_emulates_add_err": 10 * T["grad_tol"]}, T)[0] == "refuted"


def test_two_branch_shapes():
    x = cp.tensor(np.zeros((2, 4, 6, 6), np.float32))
    for mode in ("add", "concat"):
        m = TwoBranch(4, 8, mode)
        assert m(x).shape == (2, 8, 6, 6)
        assert m.next.weight.shape[1] == (4 if mode == "add" else 8)
