"""q29: decide on both sides of every threshold; the co-adaptation helpers."""

import numpy as np
import pytest

from cvprimer.lab.experiments.q29_dropout import DropoutWhy as E
from cvprimer.lab.experiments.q29_dropout import log_loss, mean_abs_corr, mlp, softmax

T = E.thresholds


def figs(**kw):
    f = {"gap_plain": 0.2, "gap_dropout": 0.1, "loss_gap_plain": 0.6, "loss_gap_dropout": 0.3,
         "val_acc_plain": 0.83, "val_acc_dropout": 0.85, "corr_plain": 0.33, "corr_dropout": 0.32,
         "half_units_acc_plain": 0.8, "half_units_acc_dropout": 0.84, "val_acc_weight_scaling": 0.85,
         "val_acc_mc_64": 0.846}
    f.update(kw)
    return f


def test_confirmed_when_both_gaps_shrink_and_units_are_robust():
    v, ev = E.decide(figs(), T)
    assert v == "confirmed" and "0.846" in ev["en"] and "barely moves" in ev["en"] and "0.846" in ev["zh"]


@pytest.mark.parametrize("kw", [{"gap_dropout": 0.2 * (1 - T["min_gap_cut"]) + 0.01},
                                {"loss_gap_dropout": 0.6 * (1 - T["min_loss_gap_cut"]) + 0.01},
                                {"half_units_acc_dropout": 0.8 + T["min_robust_gain"] / 2}])
def test_nuanced_when_one_criterion_fails(kw):
    assert E.decide(figs(**kw), T)[0] == "nuanced"


def test_refuted_when_nothing_improves():
    v, ev = E.decide(figs(gap_dropout=0.2, loss_gap_dropout=0.6, half_units_acc_dropout=0.8), T)
    assert v == "refuted" and "no" in ev["en"]


def test_ensemble_flag_and_correlation_wording():
    _, ev = E.decide(figs(val_acc_mc_64=0.85 - T["max_mc_diff"] - 0.005, corr_dropout=0.2), T)
    assert "within 0.01: no" in ev["en"] and "falls" in ev["en"]


def test_helpers():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((200, 1))
    h = np.hstack([a, 2 * a, np.zeros((200, 1))])  # the constant unit is ignored
    assert mean_abs_corr(h) == pytest.approx(1.0)
    p = softmax(np.array([[0.0, 0.0], [10.0, 0.0]]))
    assert p[0].tolist() == [0.5, 0.5] and log_loss(p, np.array([0, 0])) == pytest.approx(-np.log(0.5) / 2, rel=1e-3)
    assert [type(m).__name__ for m in mlp(0.0)][3] == "Identity" and type(mlp(0.5)[3]).__name__ == "Dropout"
