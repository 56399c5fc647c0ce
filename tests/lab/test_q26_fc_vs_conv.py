"""q26: decide on both sides of each threshold."""

from cvprimer.lab.experiments.q26_fc_vs_conv import FcVersusConv as E

T = E.thresholds
G = {"fc_as_conv_error": 2.5e-16, "pointwise_as_fc_error": 0.0, "params_fc": 54090.0, "params_conv": 54090.0,
     "conv_shift_error": 0.0, "fc_shift_change": 0.31}


def test_confirmed_when_equal_and_only_the_conv_is_equivariant():
    v, ev = E.decide(G, T)
    assert v == "confirmed" and "54,090" in ev["en"] and "0.31" in ev["zh"]


def test_nuanced_when_the_fc_output_barely_moves():
    assert E.decide({**G, "fc_shift_change": T["moved"] / 2}, T)[0] == "nuanced"
    assert E.decide({**G, "conv_shift_error": 10 * T["exact"]}, T)[0] == "nuanced"


def test_refuted_when_the_special_case_does_not_hold():
    assert E.decide({**G, "fc_as_conv_error": 10 * T["exact"]}, T)[0] == "refuted"
    assert E.decide({**G, "params_conv": 54100.0}, T)[0] == "refuted"
    assert E.decide({**G, "pointwise_as_fc_error": 1e-3}, T)[0] == "refuted"
