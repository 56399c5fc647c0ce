"""q27: decide exactly at every threshold, each verdict reached; the proximal run checked against torch's
soft-threshold; the constrained-minimum helper."""

import numpy as np
import pytest

import cvprimer.lab.experiments.q27_l1_vs_l2 as q27
from cvprimer.lab.experiments.q27_l1_vs_l2 import L1VersusL2 as E
from cvprimer.lab.experiments.q27_l1_vs_l2 import constrained_minimum
from labcheck import edges, reached, run_tiny

T = E.thresholds
G = {"zero_frac_l1_proximal": 0.46, "zero_frac_l2": 0.0, "val_acc_none": 0.85, "val_acc_l1_proximal": 0.848,
     "l2_norm_none": 2.0, "l2_norm_l2": 1.0, "zero_frac_none": 0.0, "val_acc_l2": 0.85, "l2_norm_l1_proximal": 1.5}


def figs(**kw):
    return {**G, **kw}


def test_declaration():
    E.check()
    assert not E.completeness()


def test_confirmed_evidence():
    v, ev = E.decide(G, T)
    assert v == "confirmed" and "46%" in ev["en"] and "0.5 times" in ev["en"] and "46%" in ev["zh"]


def test_edges_of_every_threshold():
    edges(E, lambda v: figs(zero_frac_l1_proximal=v), "min_zero_frac", "nuanced", "confirmed", "confirmed")
    edges(E, lambda v: figs(zero_frac_l2=v), "max_l2_zero_frac", "confirmed", "confirmed", "nuanced")
    edges(E, lambda v: figs(val_acc_none=v, val_acc_l1_proximal=0.0), "max_acc_drop",
          "confirmed", "confirmed", "nuanced")  # the drop acc0 - accp equals v exactly
    edges(E, lambda v: figs(l2_norm_none=1.0, l2_norm_l2=v), "max_l2_norm_ratio", "confirmed", "confirmed", "nuanced")
    # with the other half failing, the same edges separate nuanced from refuted
    dense = {"zero_frac_l2": 0.5}
    edges(E, lambda v: figs(zero_frac_l1_proximal=v, **dense), "min_zero_frac", "refuted", "nuanced", "nuanced")
    no_l1 = {"zero_frac_l1_proximal": 0.0}
    edges(E, lambda v: figs(zero_frac_l2=v, **no_l1), "max_l2_zero_frac", "nuanced", "nuanced", "refuted")
    edges(E, lambda v: figs(l2_norm_none=1.0, l2_norm_l2=v, **no_l1), "max_l2_norm_ratio",
          "nuanced", "nuanced", "refuted")


def test_reachable():
    reached(E, [G, figs(zero_frac_l1_proximal=0.0), figs(zero_frac_l1_proximal=0.0, l2_norm_l2=2.0)])


def test_run_tiny_proximal_weights_match_torch_softshrink(monkeypatch):
    """Pixels that are black in every training image get no data gradient, so after k proximal steps their
    weights must equal torch's softshrink of the initial weights by k * lr * lambda."""
    torch = pytest.importorskip("torch")
    seen = []
    real_fit = q27.fit

    def fit(model, data, epochs, rng, optimizer, batch_size):
        w0 = model[1].weight.data.copy()
        out = real_fit(model, data, epochs, rng, optimizer=optimizer, batch_size=batch_size)
        seen.append((optimizer, w0, model[1].weight.data.copy(), data, epochs, batch_size))
        return out

    monkeypatch.setattr(q27, "fit", fit)
    res = run_tiny(E)
    opt, w0, w1, data, epochs, bs = next(s for s in seen if s[0].param_groups[0].get("l1_mode") == "proximal")
    steps = epochs * int(np.ceil(len(data.y_train) / bs))
    black = data.x_train.reshape(len(data.y_train), -1).max(0) == 0
    assert black.sum() > 50
    want = torch.nn.functional.softshrink(torch.from_numpy(w0[:, black].astype(np.float64)),
                                          steps * q27.LR * q27.L1).numpy()
    np.testing.assert_allclose(w1[:, black], want, atol=1e-6)
    assert res.figures["zero_frac_l1_proximal"].value == pytest.approx(float(np.mean(w1 == 0)))
    l2_none = np.sqrt((seen[0][2].astype(np.float64) ** 2).sum())
    assert res.figures["l2_norm_none"].value == pytest.approx(l2_none)


def test_constrained_minimum_corner_for_l1_not_for_l2():
    c, h = np.array([1.8, 0.5]), np.array([[1.5, 0.3], [0.3, 1.0]])
    w1, w2 = constrained_minimum(c, h, "l1"), constrained_minimum(c, h, "l2")
    assert w1.tolist() == [1.0, 0.0] and np.abs(w2).min() > 0.1
    assert np.linalg.norm(w2) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        constrained_minimum(c, h, "linf")
