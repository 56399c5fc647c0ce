"""q01: decide on both sides of each threshold; feature sets, scalers fitted on the training split, cond."""

import numpy as np

from cvprimer.lab.common import Data
from cvprimer.lab.experiments.q01_input_scaling import InputScaling as E
from cvprimer.lab.experiments.q01_input_scaling import condition_number, feature_sets, preprocess

T = E.thresholds


def figs(raw=0.35, z=0.95, c_raw=1e9, c_z=300.0, a_raw=0.4, a_z=0.95):
    return {"best_acc_mixed_raw": raw, "best_acc_mixed_minmax": 0.9, "best_acc_mixed_zscore": z,
            "best_acc_same_raw": 0.87, "best_acc_same_zscore": z, "cond_mixed_raw": c_raw, "cond_mixed_zscore": c_z,
            "adam_acc_mixed_raw": a_raw, "adam_acc_mixed_zscore": a_z}


def test_confirmed_and_quotes_numbers():
    v, ev = E.decide(figs(), T)
    assert v == "confirmed" and "0.35" in ev["en"] and "1,000,000,000" in ev["zh"]
    assert "do not make it unnecessary" in ev["en"]
    assert "largely" in E.decide(figs(a_raw=0.94), T)[1]["en"]


def test_gain_threshold_both_sides():
    g = T["min_acc_gain"]
    assert E.decide(figs(raw=0.95 - 1.1 * g), T)[0] == "confirmed"
    assert E.decide(figs(raw=0.95 - 0.9 * g), T)[0] == "nuanced"


def test_cond_threshold_both_sides():
    c = T["min_cond_ratio"]
    assert E.decide(figs(c_raw=300.0 * c * 1.1), T)[0] == "confirmed"
    assert E.decide(figs(c_raw=300.0 * c * 0.9), T)[0] == "nuanced"


def test_refuted_when_nothing_changes():
    assert E.decide(figs(raw=0.95, c_raw=301.0), T)[0] == "refuted"


def test_features_scalers_and_condition_number():
    rng = np.random.default_rng(0)
    x = rng.random((40, 1, 8, 8)).astype(np.float32)
    x[:, 0, 0, 0] = 0  # constant on the training split: dropped
    d = Data(x[:30], np.zeros(30, np.int64), x[30:], np.zeros(10, np.int64))
    sets = feature_sets(d, rng)
    same, mixed = sets["same-scale"], sets["mixed-scale"]
    assert same[0].shape == (30, 63) and same[1].shape == (10, 63)
    assert np.sum(np.isclose(mixed[0][0] / same[0][0], 100)) == 63 // 4
    ztr, zva = preprocess(*mixed, "z-score")
    np.testing.assert_allclose(ztr.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(ztr.std(0), 1, atol=1e-4)
    np.testing.assert_allclose(zva, preprocess(*same, "z-score")[1], rtol=1e-4, atol=1e-4)  # scale-free
    mtr, _ = preprocess(*mixed, "min-max")
    assert mtr.min() == 0 and mtr.max() == 1
    assert condition_number(np.diag([1.0, 10.0])[np.r_[0, 1, 0, 1]] * [[1], [1], [-1], [-1]]) > 1
    assert condition_number(rng.standard_normal((5000, 2))) < 1.2
