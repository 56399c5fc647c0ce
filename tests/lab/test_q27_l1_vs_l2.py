"""q27: decide on both sides of every threshold; the constrained-minimum helper."""

import numpy as np
import pytest

from cvprimer.lab.experiments.q27_l1_vs_l2 import L1VersusL2 as E
from cvprimer.lab.experiments.q27_l1_vs_l2 import constrained_minimum

T = E.thresholds


def figs(**kw):
    f = {"zero_frac_l1_proximal": 0.46, "zero_frac_l1_subgradient": 0.0, "zero_frac_l2": 0.0,
         "near_zero_frac_l1_subgradient": 0.53, "val_acc_none": 0.85, "val_acc_l1_proximal": 0.848,
         "ball_l1_min_abs_coord": 0.0, "ball_l2_min_abs_coord": 0.27}
    f.update(kw)
    return f


def test_nuanced_when_only_the_proximal_step_gives_zeros():
    v, ev = E.decide(figs(), T)
    assert v == "nuanced" and "46%" in ev["en"] and "53%" in ev["en"] and "46%" in ev["zh"]


def test_confirmed_when_subgradient_also_gives_zeros():
    v, ev = E.decide(figs(zero_frac_l1_subgradient=T["min_zero_frac"] + 0.01), T)
    assert v == "confirmed" and "also" in ev["en"]


@pytest.mark.parametrize("kw", [{"zero_frac_l1_proximal": T["min_zero_frac"] - 0.01},
                                {"zero_frac_l2": T["max_l2_zero_frac"] + 0.01},
                                {"val_acc_l1_proximal": 0.85 - T["max_acc_drop"] - 0.01}])
def test_refuted_beyond_each_threshold(kw):
    assert E.decide(figs(**kw), T)[0] == "refuted"


def test_constrained_minimum_corner_for_l1_not_for_l2():
    c, h = np.array([1.8, 0.5]), np.array([[1.5, 0.3], [0.3, 1.0]])
    w1, w2 = constrained_minimum(c, h, "l1"), constrained_minimum(c, h, "l2")
    assert w1.tolist() == [1.0, 0.0] and np.abs(w2).min() > 0.1
    assert np.linalg.norm(w2) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        constrained_minimum(c, h, "linf")
