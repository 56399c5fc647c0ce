"""q04/q22: decide on both sides of every threshold; the label flipper and the remedy rule."""

import numpy as np

from cvprimer.lab.experiments.q04_overfitting import REMEDIES, flip_labels, helps, mlp, weight_stats
from cvprimer.lab.experiments.q04_overfitting import OverfittingRemedies as E

T = E.thresholds


def figs(gap0=0.25, acc0=0.75, helped=REMEDIES):
    f = {"gap_baseline": gap0, "val_acc_baseline": acc0, "diag_overfit_baseline": 1.0, "diag_underfit_tiny": 1.0,
         "weight_norm_baseline": 14.0, "weight_norm_l2_decoupled": 8.4, "weight_small_frac_baseline": 0.02,
         "weight_small_frac_l2_decoupled": 0.06, "weight_small_frac_l1": 0.87}
    for r in REMEDIES:
        f[f"gap_{r}"], f[f"val_acc_{r}"] = (0.05, 0.8) if r in helped else (gap0, acc0)
    return f


def test_confirmed_when_every_remedy_helps():
    v, ev = E.decide(figs(), T)
    assert v == "confirmed" and "0.25" in ev["en"] and "10 of 10" in ev["en"] and "87%" in ev["zh"]


def test_nuanced_when_most_help_refuted_when_few():
    assert E.decide(figs(helped=REMEDIES[:-1]), T)[0] == "nuanced"
    assert E.decide(figs(helped=REMEDIES[:5]), T)[0] == "nuanced"
    assert E.decide(figs(helped=REMEDIES[:4]), T)[0] == "refuted"


def test_refuted_when_baseline_does_not_overfit():
    assert E.decide(figs(gap0=T["min_base_gap"] - 0.01), T)[0] == "refuted"


def test_helps_rule_on_both_sides():
    th = T
    assert helps(0.2, 0.8, 0.2, 0.8 + th["min_acc_gain"], th)
    assert not helps(0.2, 0.8, 0.2, 0.8 + th["min_acc_gain"] / 2, th)
    cut = (1 - th["min_gap_cut"]) * 0.2
    assert helps(0.2, 0.8, cut - 1e-9, 0.8 - th["max_acc_loss"] + 1e-9, th)
    assert not helps(0.2, 0.8, cut + 0.01, 0.8, th)
    assert not helps(0.2, 0.8, cut - 0.01, 0.8 - th["max_acc_loss"] - 0.01, th)


def test_flip_labels_changes_exactly_the_share_to_other_classes():
    y = np.repeat(np.arange(10), 20)
    y2, idx = flip_labels(y, 0.15, 10, np.random.default_rng(0))
    assert len(idx) == 30 and np.all(y2[idx] != y[idx]) and np.array_equal(np.delete(y2, idx), np.delete(y, idx))
    assert y2.min() >= 0 and y2.max() <= 9


def test_mlp_shapes_and_weight_stats():
    m = mlp((8,), dropout=0.5, batch_norm=True)
    assert [type(x).__name__ for x in m] == ["Flatten", "Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
    norm, small = weight_stats(m)
    assert norm > 0 and 0 <= small <= 1
