"""q37: decide on both sides of every threshold; the hand-written backward against central differences."""

import numpy as np

from cvprimer.lab.experiments.q37_backprop_by_hand import BackpropByHand as E
from cvprimer.lab.experiments.q37_backprop_by_hand import backward, forward, numeric

T = E.thresholds


def figs(**kw):
    f = {"max_rel_err_autograd": 3e-16, "max_rel_err_numeric": 1.2e-9, "gradcheck_passed": 1.0, "n_params": 310,
         "speedup_vs_numeric": 224.0}
    f.update(kw)
    return f


def test_confirmed_when_exact_and_fast():
    v, ev = E.decide(figs(), T)
    assert v == "confirmed" and "3e-16" in ev["en"] and "224" in ev["en"] and "310" in ev["zh"]


def test_refuted_on_each_error_threshold_and_gradcheck():
    assert E.decide(figs(max_rel_err_autograd=T["max_rel_err_autograd"] * 2), T)[0] == "refuted"
    assert E.decide(figs(max_rel_err_numeric=T["max_rel_err_numeric"] * 2), T)[0] == "refuted"
    v, ev = E.decide(figs(gradcheck_passed=0.0), T)
    assert v == "refuted" and "fails" in ev["en"]


def test_nuanced_when_backprop_is_not_faster_enough():
    assert E.decide(figs(speedup_vs_numeric=T["min_speedup"] * 0.9), T)[0] == "nuanced"
    assert E.decide(figs(speedup_vs_numeric=T["min_speedup"]), T)[0] == "confirmed"


def test_hand_backward_matches_central_differences():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((2, 1, 8, 8)), np.array([1, 7])
    p = {"W1": rng.normal(0, 0.5, (3, 1, 3, 3)), "b1": rng.normal(0, 0.1, 3), "W2": rng.normal(0, 0.3, (10, 27)),
         "b2": rng.normal(0, 0.1, 10)}
    g = backward(x, y, p, forward(x, y, p)[1])
    num = numeric(x, y, {k: v.copy() for k, v in p.items()})
    for k in num:
        np.testing.assert_allclose(g[k], num[k], atol=1e-7, rtol=1e-5)
    assert g["x"].shape == x.shape
