"""q28: decide exactly at every threshold, each verdict reached; the stump split and the clean line fit
recomputed independently (scikit-learn's CART stump / closed-form least squares); the gradient and line-fit helpers."""

import numpy as np
import pytest

import cvprimer.functional as F
import cvprimer.lab.experiments.q28_losses as q28
from cvprimer.lab.experiments.q28_losses import LossFunctions as E
from cvprimer.lab.experiments.q28_losses import best_split, fit_line, logit_grad_norm, mse_on_softmax
from labcheck import edges, reached, run_tiny

T = E.thresholds
G = {"line_err_mse_clean": 0.02, "val_acc_mlp_cross_entropy": 0.86, "val_acc_mlp_mse_softmax": 0.86,
     "val_acc_linear_cross_entropy": 0.82, "val_acc_linear_hinge": 0.83, "split_err": 0.01}
NONE = {"line_err_mse_clean": 1.0, "val_acc_mlp_cross_entropy": 0.5, "val_acc_linear_hinge": 0.5, "split_err": 1.0}


def figs(**kw):
    return {**G, **kw}


def test_declaration():
    E.check()
    assert not E.completeness()


def test_evidence_quotes_the_figures():
    v, ev = E.decide(G, T)
    assert v == "confirmed" and "0.02 from the true one" in ev["en"] and "0.83" in ev["zh"]
    v, ev = E.decide(figs(split_err=1.0), T)
    assert v == "nuanced" and "split fails" in ev["en"]


def test_edges_of_every_threshold():
    # each part at its threshold, once with every other part holding (confirmed <-> nuanced) and once with every
    # other part failing (nuanced <-> refuted)
    parts = [("max_line_err", lambda v: {"line_err_mse_clean": v}),
             ("max_split_err", lambda v: {"split_err": v}),
             ("max_acc_deficit", lambda v: {"val_acc_mlp_cross_entropy": 0.0, "val_acc_mlp_mse_softmax": v}),
             ("max_acc_deficit", lambda v: {"val_acc_linear_hinge": 0.0, "val_acc_linear_cross_entropy": v})]
    for name, part in parts:
        edges(E, lambda v, p=part: {**G, **p(v)}, name, "confirmed", "confirmed", "nuanced")
        edges(E, lambda v, p=part: {**G, **NONE, "val_acc_mlp_cross_entropy": 0.0, "val_acc_linear_hinge": 0.0,
                                    **p(v)}, name, "nuanced", "nuanced", "refuted")


def test_reachable():
    reached(E, [G, figs(split_err=1.0), figs(**NONE)])


def test_run_tiny_split_and_line_recomputed_independently(monkeypatch):
    seen = {}
    real_split, real_line = q28.best_split, q28.fit_line

    def split(x, y):
        seen["split"] = (x, y)
        return real_split(x, y)

    def line(x, y, loss, steps, lr=0.1):
        seen.setdefault("line", (x, y, loss, steps))
        return real_line(x, y, loss, steps, lr)

    monkeypatch.setattr(q28, "best_split", split)
    monkeypatch.setattr(q28, "fit_line", line)
    res = run_tiny(E)
    tree = pytest.importorskip("sklearn.tree")
    x, y = seen["split"]
    stump = tree.DecisionTreeRegressor(max_depth=1, criterion="squared_error").fit(x[:, None], y)
    want = abs(stump.tree_.threshold[0] - q28.STEP)
    assert res.figures["split_err"].value == pytest.approx(want, abs=1e-6)  # sklearn keeps float32 thresholds
    x, y, loss, steps = seen["line"]
    assert loss == "mse"
    slope, icpt = np.polyfit(x, y, 1)  # least squares in closed form: what minimizing the squared loss gives
    ols_err = float(np.hypot(slope - 2, icpt - 1))
    assert res.figures["line_err_mse_clean"].value == pytest.approx(ols_err, abs=0.01)


def test_best_split_finds_a_clean_step():
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    assert best_split(x, np.array([0.0, 0.0, 0.0, 5.0, 5.0])) == 2.5


def test_saturated_gradients():
    ce = logit_grad_norm(F.cross_entropy, 12.0)
    mse = logit_grad_norm(mse_on_softmax, 12.0)
    assert ce == pytest.approx(np.sqrt(2), rel=1e-3) and mse < 1e-3
    assert logit_grad_norm(mse_on_softmax, 0.0) > 10 * mse


def test_fit_line_recovers_a_clean_line():
    x = np.linspace(-3, 3, 50)
    w, b = fit_line(x, 2 * x + 1, "mse", 300)
    assert w == pytest.approx(2, abs=0.05) and b == pytest.approx(1, abs=0.05)
