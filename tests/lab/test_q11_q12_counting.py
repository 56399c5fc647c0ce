"""q11/q12: decide on both sides of each threshold."""

from cvprimer.lab.experiments.q11_q12_counting import FlopCount, ParameterCount

P = {"plain_conv": 0.0, "conv_bias": 0.0017, "grouped_conv": 3.0, "depthwise_conv": 127.0, "linear_bias": 0.002,
     "batch_norm": 1.0, "model_resnet18": 0.001, "model_mobilenet_v2": 11.6, "buffers_resnet18": 9620.0}


def test_q11_nuanced_when_only_the_plain_conv_is_exact():
    v, ev = ParameterCount.decide(P, ParameterCount.thresholds)
    assert v == "nuanced" and "11.6" in ev["en"] and "mobilenet_v2" in ev["zh"]


def test_q11_confirmed_when_every_layer_matches_and_refuted_when_even_plain_fails():
    exact = {**P, "conv_bias": 0.0, "grouped_conv": 0.0, "depthwise_conv": 0.0, "batch_norm": 0.0}
    assert ParameterCount.decide(exact, ParameterCount.thresholds)[0] == "confirmed"
    assert ParameterCount.decide({**P, "plain_conv": 0.5}, ParameterCount.thresholds)[0] == "refuted"


F = {"conv_formula_vs_macs": 0.0, "resnet18_formula_vs_macs": 0.0, "resnet18_gmacs": 1.814, "flops_per_mac": 2.01,
     "equal_mac_time_ratio": 1.8, "equal_mac_check": 0.0}


def test_q12_nuanced_when_the_formula_counts_macs():
    v, ev = FlopCount.decide(F, FlopCount.thresholds)
    assert v == "nuanced" and "2.01" in ev["en"] and "not set by MACs alone" in ev["en"]
    v, ev = FlopCount.decide({**F, "equal_mac_time_ratio": 1.1}, FlopCount.thresholds)
    assert v == "nuanced" and "close this time" in ev["en"]


def test_q12_refuted_when_the_formula_misses_the_macs_or_a_mac_is_one_flop():
    assert FlopCount.decide({**F, "conv_formula_vs_macs": 0.1}, FlopCount.thresholds)[0] == "refuted"
    assert FlopCount.decide({**F, "flops_per_mac": 1.0}, FlopCount.thresholds)[0] == "refuted"
