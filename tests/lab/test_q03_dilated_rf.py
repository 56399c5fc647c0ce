"""q03: decide on both sides of its thresholds; the support helper on a known layer."""

import numpy as np

from cvprimer.lab._fields import conv_stack, measured_support, positive_weights_
from cvprimer.lab.experiments.q03_dilated_rf import DilatedField as E

T = E.thresholds


def figs(**kw):
    f = {"rf_single_d1": 3, "rf_single_d2": 5, "rf_single_d3": 7, "same_size_d1": 1, "same_size_d2": 1,
         "same_size_d3": 1, "rf_stack_124": 15, "fill_stack_124": 1.0, "rf_stack_222": 13, "fill_stack_222": 0.29,
         "rf_stack_111": 7, "fill_stack_111": 1.0, "analyzer_vs_autograd": 0.0}
    f.update(kw)
    return f


def test_nuanced_when_d3_field_is_7_not_8():
    v, ev = E.decide(figs(), T)
    assert v == "nuanced" and "7 px, not 8" in ev["en"] and "0.29" in ev["en"] and "0.29" in ev["zh"]


def test_confirmed_when_all_seed_values_within_tolerance():
    v, _ = E.decide(figs(rf_single_d3=8 - T["tol_px"] / 2), T)
    assert v == "confirmed"


def test_refuted_when_size_not_kept_or_two_values_wrong():
    assert E.decide(figs(same_size_d2=0), T)[0] == "refuted"
    assert E.decide(figs(rf_single_d2=7), T)[0] == "refuted"
    assert E.decide(figs(analyzer_vs_autograd=T["tol_px"] * 2), T)[0] == "refuted"


def test_gridding_sentence_follows_dense_fill_threshold():
    assert "not shown" not in E.decide(figs(), T)[1]["en"]
    assert "not shown" in E.decide(figs(fill_stack_222=T["dense_fill"]), T)[1]["en"]


def test_support_of_dilated_layer_has_holes():
    rng = np.random.default_rng(0)
    s = measured_support(positive_weights_(conv_stack([("conv", 3, 1, 2, 2)], rng=rng), rng), (11, 11))
    assert (s.height, s.width, s.count) == (5, 5, 9)
