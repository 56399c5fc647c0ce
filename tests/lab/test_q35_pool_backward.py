"""q35: decide on both sides of its threshold; the gradient-sum and tie helpers on tiny maps."""

import numpy as np

from cvprimer.lab.experiments.q35_pool_backward import PoolingBackward as E
from cvprimer.lab.experiments.q35_pool_backward import sum_ratio, tie_stats

T = E.thresholds
BASE = {"worst_error_conserving_configs": 2e-16, "sum_ratio_avg_include_pad_28": 0.953,
        "sum_ratio_avg_include_pad_7": 0.819, "sum_ratio_avg_exclude_pad_7": 1.0,
        "sum_ratio_avg_ceil_include_pad_7": 0.694, "avg_overlap_spread": 4.0, "gap_inputs_without_gradient": 58.7,
        "tied_window_share": 74.5, "tied_gradient_to_first": 100.0}


def test_nuanced_when_padding_loses_part_of_the_sum():
    v, ev = E.decide(BASE, T)
    assert v == "nuanced"
    for s in ("0.953", "0.819", "0.694", "74.5", "4x"):
        assert s in ev["en"]
    assert "0.953" in ev["zh"] and "74.5" in ev["zh"]


def test_confirmed_when_every_setting_conserves():
    f = dict(BASE, sum_ratio_avg_include_pad_28=1.0, sum_ratio_avg_include_pad_7=1.0,
             sum_ratio_avg_ceil_include_pad_7=1.0 - T["conserve_tol"] / 2)
    assert E.decide(f, T)[0] == "confirmed"


def test_refuted_when_even_the_plain_settings_lose_gradient():
    f = dict(BASE, worst_error_conserving_configs=10 * T["conserve_tol"])
    assert E.decide(f, T)[0] == "refuted"


def test_sum_ratio_on_small_maps():
    assert abs(sum_ratio("max", {"kernel_size": 2}, 4)[0] - 1) < 1e-12
    r, dead, _ = sum_ratio("avg", {"kernel_size": 3, "stride": 1, "padding": 1}, 3)
    assert abs(r - (2 + 3 + 2) ** 2 / 9 / 9) < 1e-12 and dead == 0  # a 3x3 map: window sizes 2, 3, 2 per axis
    assert sum_ratio("max", {"kernel_size": 2}, 4)[1] == 0.75


def test_ties_go_to_the_first_maximum():
    fmap = np.zeros((1, 1, 2, 4))
    fmap[0, 0, 1, 3] = 1.0  # second window has a unique max, first window is an all-zero tie
    share, first = tie_stats(fmap)
    assert share == 0.5 and first == 1.0
