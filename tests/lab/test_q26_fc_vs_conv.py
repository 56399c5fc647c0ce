"""q26: decide exactly at every threshold, each verdict reached, and the real run checked against closed forms."""

import numpy as np
import pytest

from cvprimer.lab.experiments.q26_fc_vs_conv import FcVersusConv as E
from labcheck import edges, reached, run_tiny

T = E.thresholds
G = {"conv_dependence_frac": 9 / 676, "fc_dependence_frac": 1.0, "fc_as_conv_error": 2.5e-16,
     "params_fc": 54090.0, "params_conv": 54090.0}


def test_declaration():
    E.check()
    assert not E.completeness()


def test_confirmed_evidence_quotes_the_figures():
    v, ev = E.decide(G, T)
    assert v == "confirmed" and "54,090" in ev["en"] and "0.0133" in ev["en"] and "0.0133" in ev["zh"]


def test_edges_of_every_threshold():
    edges(E, lambda v: {**G, "conv_dependence_frac": v}, "max_local_frac", "confirmed", "confirmed", "nuanced")
    edges(E, lambda v: {**G, "fc_dependence_frac": v}, "min_global_frac", "nuanced", "confirmed", "confirmed")
    edges(E, lambda v: {**G, "fc_as_conv_error": v}, "exact", "confirmed", "confirmed", "nuanced")
    # the same thresholds when the other half of the claim already fails: nuanced <-> refuted
    broken = {**G, "params_conv": 54100.0}
    edges(E, lambda v: {**broken, "conv_dependence_frac": v}, "max_local_frac", "nuanced", "nuanced", "refuted")
    edges(E, lambda v: {**broken, "fc_dependence_frac": v}, "min_global_frac", "refuted", "nuanced", "nuanced")
    nonlocal_ = {**G, "conv_dependence_frac": 1.0}
    edges(E, lambda v: {**nonlocal_, "fc_as_conv_error": v}, "exact", "nuanced", "nuanced", "refuted")


def test_reachable():
    reached(E, [G, {**G, "params_conv": 54100.0}, {**G, "params_conv": 1.0, "conv_dependence_frac": 0.5}])


def test_run_tiny_matches_closed_forms():
    res = run_tiny(E)
    f, b = res.values(), res.beyond_values()
    c, h, w = 8, 26, 26  # 8 channels of a 3x3 valid conv on 28x28
    assert f["conv_dependence_frac"] == pytest.approx(9 / (h * w))  # a 3x3 window of a 26x26 map
    assert f["fc_dependence_frac"] == 1.0
    assert f["params_fc"] == 10 * c * h * w + 10 == f["params_conv"]
    assert f["fc_as_conv_error"] < 1e-12 and b["pointwise_as_fc_error"] < 1e-12 and b["conv_shift_error"] < 1e-12
    assert b["fc_shift_change"] > 0.05
    assert E.decide(f, T)[0] == "confirmed"
    assert np.isfinite(b["fc_shift_change"]) and "0" in E.explain_beyond(b)["zh"]
