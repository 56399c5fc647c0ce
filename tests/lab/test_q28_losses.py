"""q28: decide on both sides of every threshold; the gradient and line-fit helpers."""

import numpy as np
import pytest

import cvprimer.functional as F
from cvprimer.lab.experiments.q28_losses import LossFunctions as E
from cvprimer.lab.experiments.q28_losses import fit_line, logit_grad_norm, mse_on_softmax

T = E.thresholds


def figs(**kw):
    f = {"grad_at_margin_12_cross_entropy": 1.41, "grad_at_margin_12_mse_softmax": 1.3e-4,
         "val_acc_cross_entropy": 0.854, "val_acc_mse_softmax": 0.86, "line_err_mse": 2.0, "line_err_smooth_l1": 0.12,
         "kl_ce_grad_diff": 0.0}
    f.update(kw)
    return f


def test_nuanced_when_ce_wins_but_mse_regression_is_fragile():
    v, ev = E.decide(figs(), T)
    assert v == "nuanced" and "1.41" in ev["en"] and "0.00013" in ev["en"] and "0.12" in ev["zh"]


def test_confirmed_when_mse_regression_is_robust_enough():
    assert E.decide(figs(line_err_mse=0.12 * T["min_robust_ratio"] * 0.99), T)[0] == "confirmed"


@pytest.mark.parametrize("kw", [{"grad_at_margin_12_mse_softmax": 1.41 / T["min_grad_ratio"] * 1.01},
                                {"val_acc_cross_entropy": 0.86 - T["max_acc_deficit"] - 0.001}])
def test_refuted_when_cross_entropy_has_no_edge(kw):
    assert E.decide(figs(**kw), T)[0] == "refuted"


def test_saturated_gradients():
    ce = logit_grad_norm(F.cross_entropy, 12.0)
    mse = logit_grad_norm(mse_on_softmax, 12.0)
    assert ce == pytest.approx(np.sqrt(2), rel=1e-3) and mse < 1e-3
    assert logit_grad_norm(mse_on_softmax, 0.0) > 10 * mse


def test_fit_line_recovers_a_clean_line():
    x = np.linspace(-3, 3, 50)
    w, b = fit_line(x, 2 * x + 1, "mse", 300)
    assert w == pytest.approx(2, abs=0.05) and b == pytest.approx(1, abs=0.05)
