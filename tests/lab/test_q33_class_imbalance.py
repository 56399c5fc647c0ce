"""q33: decide on both sides of its threshold; the imbalancing helper and the metrics wrapper."""

import numpy as np

from cvprimer.lab.common import Data
from cvprimer.lab.experiments.q33_class_imbalance import METHODS, imbalance, scores
from cvprimer.lab.experiments.q33_class_imbalance import ClassImbalance as E

T = E.thresholds
SLUG = {"none": "none", "over-sampling": "oversample", "under-sampling": "undersample", "SMOTE": "smote",
        "class weights": "class_weights", "focal loss": "focal", "focal loss + alpha": "focal_alpha",
        "balanced sampler": "balanced_sampler", "threshold moving": "threshold"}
BAL = {"none": 65.5, "over-sampling": 70.9, "under-sampling": 60.7, "SMOTE": 70.8, "class weights": 71.7,
       "focal loss": 66.4, "focal loss + alpha": 71.9, "balanced sampler": 71.2, "threshold moving": 75.3}


def figures(**bal):
    b = dict(BAL, **bal)
    f = {f"bal_acc_{SLUG[k]}": v for k, v in b.items()}
    f.update({f"minority_recall_{SLUG[k]}": 20.0 for k in METHODS})
    f.update({f"macro_f1_{SLUG[k]}": 60.0 for k in METHODS})
    f["minority_recall_none"], f["minority_recall_undersample"] = 0.667, 45.7
    return f


def test_nuanced_when_some_seed_remedies_help():
    v, ev = E.decide(figures(), T)
    assert v == "nuanced"
    for s in ("65.5", "+5.4", "-4.8", "+0.9", "2 of 4", "threshold moving", "75.3", "45.7"):
        assert s in ev["en"]
    assert "65.5" in ev["zh"] and "-4.8" in ev["zh"]


def test_confirmed_when_all_four_help_by_the_threshold():
    h = T["help_pts"]
    f = figures(**{"under-sampling": 65.5 + h, "focal loss": 65.5 + h})
    assert E.decide(f, T)[0] == "confirmed"


def test_refuted_when_none_helps_enough():
    h = T["help_pts"]
    f = figures(**{"over-sampling": 65.5 + h - 0.01, "SMOTE": 65.5 + h - 0.01})
    v, ev = E.decide(f, T)
    assert v == "refuted" and "0 of 4" in ev["en"]


def test_imbalance_keeps_the_ratio_and_the_validation_split():
    y = np.repeat(np.arange(4), 20)
    d = Data(np.zeros((80, 1, 2, 2), np.float32), y, np.zeros((8, 1, 2, 2), np.float32), np.arange(8) % 4)
    out = imbalance(d, 10, (1, 3), 5, np.random.default_rng(0))
    assert np.bincount(out.y_train).tolist() == [10, 2, 10, 2] and out.x_val is d.x_val


def test_scores_in_percent():
    logits = np.eye(3)[[0, 1, 2, 2]]
    s = scores(logits, np.array([0, 1, 2, 1]), (1,))
    assert s["minority_recall"] == 50.0 and s["acc"] == 75.0 and abs(s["balanced_acc"] - 100 * 2.5 / 3) < 1e-9
