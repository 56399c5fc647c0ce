"""q14: decide on both sides of each threshold; the cost helper matches the seed's formulas."""

from cvprimer.lab.experiments.q14_separable_conv import SeparableConv as E
from cvprimer.lab.experiments.q14_separable_conv import _layer_costs

T = E.thresholds
BASE = {"formula_max_rel_err": 0.0, "mac_ratio_128": 0.1189, "measured_speedup": 2.2, "mac_speedup": 7.89,
        "acc_standard": 0.93, "acc_separable": 0.91, "params_standard": 17002, "params_separable": 5242}


def test_confirmed_when_formula_exact_and_accuracy_close():
    v, ev = E.decide(BASE, T)
    assert v == "confirmed" and "0.119" in ev["en"] and "0.91" in ev["en"] and "2.2" in ev["zh"]


def test_nuanced_when_accuracy_drops_beyond_allowance():
    v, ev = E.decide({**BASE, "acc_separable": 0.93 - T["max_acc_drop"] - 0.01}, T)
    assert v == "nuanced" and "allowance" in ev["en"]


def test_refuted_when_formula_disagrees():
    v, _ = E.decide({**BASE, "formula_max_rel_err": 10 * T["formula_rel_tol"] + 1e-9}, T)
    assert v == "refuted"


def test_layer_costs_match_seed_formulas():
    c = _layer_costs(32, 64, 3, 8)
    assert c["std_macs"] == c["seed_std"] and c["sep_macs"] == c["seed_sep"]
    assert abs(c["sep_macs"] / c["std_macs"] - c["theory_ratio"]) < 1e-12
