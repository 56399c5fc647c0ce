"""q38: decide on both sides of its threshold."""

from cvprimer.lab.experiments.q38_conv_vs_math import ConvIsCorrelation as E

T = E.thresholds


def test_confirmed_when_correlation_and_flipped_convolution_match():
    v, ev = E.decide({"err_vs_correlate": 1e-7, "err_vs_convolve_flipped": 1e-7, "err_vs_convolve_unflipped": 0.4}, T)
    assert v == "confirmed" and "1e-07" in ev["en"] and ev["zh"]


def test_refuted_when_correlation_differs_beyond_tolerance():
    v, _ = E.decide({"err_vs_correlate": 2 * T["max_rel_err"], "err_vs_convolve_flipped": 0.0,
                     "err_vs_convolve_unflipped": 0.4}, T)
    assert v == "refuted"


def test_refuted_when_unflipped_convolution_also_matches():
    v, _ = E.decide({"err_vs_correlate": 0.0, "err_vs_convolve_flipped": 0.0,
                     "err_vs_convolve_unflipped": T["max_rel_err"] / 2}, T)
    assert v == "refuted"
