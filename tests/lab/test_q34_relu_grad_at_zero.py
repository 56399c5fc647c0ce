"""q34: decide on both sides of both thresholds; the zero-counting ReLU and the model builder."""

import numpy as np

import cvprimer as cp
from cvprimer.lab.experiments.q34_relu_grad_at_zero import CountingReLU, max_weight_difference, small_cnn
from cvprimer.lab.experiments.q34_relu_grad_at_zero import ReLUGradAtZero as E

T = E.thresholds
BASE = {"zero_pct_conv1_no_bias": 68.2, "zero_pct_conv2_no_bias": 38.1, "zero_pct_conv1_zero_bias_first_step": 67.7,
        "zero_pct_zero_bias_after_first_epoch": 0.0, "zero_pct_default_bias": 0.0, "zero_pct_fc_zero_bias": 0.0,
        "zero_pct_relu_after_relu": 24.8, "max_zero_pct": 68.2, "weight_diff_no_bias": 0.0,
        "weight_diff_zero_bias": 0.03, "acc_spread_pts": 0.67, "reshuffle_spread_pts": 4.33, "val_acc_slope0": 71.3}


def test_nuanced_when_zeros_are_common_but_the_slope_does_not_matter():
    v, ev = E.decide(BASE, T)
    assert v == "nuanced"
    for s in ("68.2", "38.1", "24.8", "0.67", "4.33"):
        assert s in ev["en"] and s in ev["zh"]
    assert "not rare" in ev["en"]


def test_confirmed_when_zeros_are_rare_and_the_slope_does_not_matter():
    f = dict(BASE, max_zero_pct=T["rare_pct"] / 2)
    v, ev = E.decide(f, T)
    assert v == "confirmed" and "are rare" in ev["en"]


def test_refuted_when_the_slope_changes_accuracy_beyond_the_noise():
    f = dict(BASE, acc_spread_pts=BASE["reshuffle_spread_pts"] + T["matter_pts"] + 0.1)
    assert E.decide(f, T)[0] == "refuted"
    f = dict(BASE, max_zero_pct=0.0, acc_spread_pts=BASE["reshuffle_spread_pts"] + T["matter_pts"])
    assert E.decide(f, T)[0] == "refuted"


def test_just_below_the_matter_threshold_is_not_refuted():
    f = dict(BASE, acc_spread_pts=BASE["reshuffle_spread_pts"] + T["matter_pts"] - 0.01)
    assert E.decide(f, T)[0] == "nuanced"


def test_counting_relu_records_exact_zeros_only_in_training():
    r = CountingReLU(0.5)
    r(cp.tensor(np.array([0.0, -0.0, 1.0, -2.0])))
    r.eval()
    r(cp.tensor(np.zeros(4)))
    assert r.fractions == [0.5]


def test_builder_gives_the_same_weights_whatever_the_slope():
    a, b = small_cnn("zero", 0.0, seed=3, widths=(2, 2)), small_cnn("zero", 1.0, seed=3, widths=(2, 2))
    assert max_weight_difference(a, b) == 0.0
    assert not a[0].bias.data.any() and small_cnn("none", 0.0, 3, (2, 2))[0].bias is None
    assert a[1].grad_at_zero == 0.0 and b[1].grad_at_zero == 1.0
