"""q02: decide on both sides of each threshold; the moment and KS helpers."""

import numpy as np

from cvprimer.lab.experiments.q02_normalization_methods import NormalizationMethods as E
from cvprimer.lab.experiments.q02_normalization_methods import ks_normal, moments

T = E.thresholds


def figs(ks=0.47, shape=5e-15, ms=1e-7):
    return {"max_ks": ks, "max_shape_change": shape, "max_mean_std_error": ms, "skew_heavy": 1.7,
            "skew_heavy_log1p": 0.86, "inlier_span_minmax_outlier": 0.0047, "val_outside_unit_range": 2e-4,
            "val_max_after_train_minmax": 1.33, "val_outside_fixed_range": 0.0, "expsquash_share_0_6": 0.9975}


def test_refuted_when_shape_kept_and_far_from_normal():
    v, ev = E.decide(figs(), T)
    assert v == "refuted" and "0.47" in ev["en"] and "0.0047" in ev["zh"] and "not standard normal" in ev["en"]


def test_ks_threshold_both_sides():
    k = T["max_ks"]
    assert E.decide(figs(ks=1.1 * k), T)[0] == "refuted"
    assert E.decide(figs(ks=0.9 * k), T)[0] == "confirmed"


def test_shape_tolerance_both_sides():
    t = T["moment_tol"]
    assert E.decide(figs(shape=0.9 * t), T)[0] == "refuted"
    assert E.decide(figs(shape=1.1 * t), T)[0] == "nuanced"


def test_moments_and_ks():
    rng = np.random.default_rng(0)
    x = rng.exponential(size=20000)
    m, s, sk, ku = moments(x)
    assert abs(m - 1) < 0.05 and abs(s - 1) < 0.05 and abs(sk - 2) < 0.2 and abs(ku - 6) < 1.0
    z = (x - x.mean()) / x.std()
    np.testing.assert_allclose(moments(z)[2:], (sk, ku), rtol=1e-10)  # z-scoring keeps the shape
    assert ks_normal(z) > 0.05 and ks_normal(rng.standard_normal(20000)) < 0.02


def test_ks_by_hand():
    assert ks_normal(np.array([0.0])) == 0.5  # F_n jumps 0 -> 1 where Phi = 1/2
    assert abs(ks_normal(np.array([-1.0, 1.0])) - (0.5 - 0.15865525393145707)) < 1e-12
