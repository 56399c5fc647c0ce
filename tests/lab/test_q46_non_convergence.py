"""q46: decide on both sides of every threshold; the label-noise and remedy helpers."""

import numpy as np

from cvprimer.lab.common import Data
from cvprimer.lab.experiments.q46_non_convergence import CAUSES, names_cause, with_noisy_labels
from cvprimer.lab.experiments.q46_non_convergence import NonConvergence as E

T = E.thresholds


def figs(**kw):
    f = {"train_acc_baseline": 0.997, "baseline_findings": 0, "lr_too_high_diverged": 1.0,
         "lr_too_high_oscillation": 0.0, "diagnosis_names_cause": 5 / 7}
    f.update({f"train_acc_{c}": 0.1 for c in CAUSES})
    f.update(kw)
    return f


def test_nuanced_when_omitted_causes_also_fail():
    v, ev = E.decide(figs(), T)
    assert v == "nuanced" and "0.997" in ev["en"] and "71.4%" in ev["en"] and "diverge" in ev["en"] and ev["zh"]


def test_confirmed_when_only_the_seed_causes_hurt():
    v, _ = E.decide(figs(train_acc_labels_shuffled_bug=0.997 - T["hurt_min_drop"] + 0.01,
                         train_acc_zero_initialization=0.99), T)
    assert v == "confirmed"


def test_hurt_threshold_both_sides():
    base = 0.997
    v, ev = E.decide(figs(train_acc_noisy_labels=base - T["hurt_min_drop"] + 0.01,
                          train_acc_lr_too_low=base - T["hurt_min_drop"] + 0.01,
                          train_acc_model_too_small=base), T)
    assert v == "refuted" and "2 of the seed's 5" in ev["en"]
    v, _ = E.decide(figs(train_acc_noisy_labels=base - T["hurt_min_drop"] + 0.01,
                         train_acc_lr_too_low=base - T["hurt_min_drop"] + 0.01), T)
    assert v == "nuanced"


def test_refuted_when_the_baseline_does_not_converge():
    assert E.decide(figs(train_acc_baseline=T["baseline_min_acc"] - 0.01), T)[0] == "refuted"


def test_oscillation_sentence_only_when_diverged_not_oscillating():
    _, ev = E.decide(figs(lr_too_high_oscillation=1.0), T)
    assert "rather than oscillate" not in ev["en"]


def test_helpers():
    d = Data(np.zeros((1000, 1, 2, 2), np.float32), np.zeros(1000, np.int64), np.zeros((2, 1, 2, 2)),
             np.array([0, 9]))
    n = with_noisy_labels(d, 0.5, np.random.default_rng(0))
    changed = np.mean(n.y_train != 0)
    assert 0.4 < changed < 0.5 and n.y_train.max() <= 9 and d.y_train.max() == 0  # 1/10 of the draws keep 0
    assert names_cause(["Lower the learning rate (e.g. by 10x)"], "lower the learning rate")
    assert not names_cause(["train longer"], "initialisation")
