"""q44: decide on both sides of each threshold; the blocks' receptive-field helper."""

from cvprimer import nn
from cvprimer.lab.experiments.q44_stacked_3x3 import Stacked3x3 as E
from cvprimer.lab.experiments.q44_stacked_3x3 import _support_side, big_block, stacked_block

T = E.thresholds
BASE = {"rf_two_3x3": 5, "rf_one_5x5": 5, "support_two_3x3": 5, "support_one_5x5": 5, "param_ratio": 0.72,
        "mac_ratio": 0.72, "acc_two_3x3": 0.93, "acc_one_5x5": 0.91}


def test_confirmed_when_stacked_gains_accuracy():
    v, ev = E.decide(BASE, T)
    assert v == "confirmed" and "0.93" in ev["en"] and "0.72" in ev["zh"]


def test_nuanced_when_gain_below_threshold():
    v, ev = E.decide({**BASE, "acc_two_3x3": 0.91 + T["min_acc_gain"] / 2}, T)
    assert v == "nuanced" and "not visible" in ev["en"]
    assert E.decide({**BASE, "acc_two_3x3": 0.85}, T)[0] == "nuanced"


def test_refuted_when_geometry_differs():
    assert E.decide({**BASE, "rf_two_3x3": 3}, T)[0] == "refuted"
    assert E.decide({**BASE, "support_one_5x5": 7}, T)[0] == "refuted"
    assert E.decide({**BASE, "param_ratio": 0.8}, T)[0] == "refuted"


def test_support_side_and_blocks():
    # eval mode: batch statistics would couple every pixel
    assert _support_side(nn.Sequential(*stacked_block(2, 2)).eval(), 2) == 5
    assert _support_side(nn.Sequential(*big_block(2, 2)).eval(), 2) == 5
    assert _support_side(nn.Conv2d(2, 2, 3, padding=1), 2) == 3
