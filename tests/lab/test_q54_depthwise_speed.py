"""q54: decide on both sides of both thresholds; the layer table."""

from cvprimer.lab.experiments.q54_depthwise_speed import DepthwiseSpeed as E
from cvprimer.lab.experiments.q54_depthwise_speed import layers

T = E.thresholds
BASE = {"mac_ratio": 64.0, "measured_speedup": 2.9, "realized_share": 2.9 / 64, "slowdown_vs_equal_macs": 2.7,
        "intensity_standard": 112.0, "intensity_depthwise": 2.24, "intensity_small": 17.4, "gmacs_standard": 19.8,
        "gmacs_depthwise": 0.9, "channels": 64}


def test_confirmed():
    v, ev = E.decide(BASE, T)
    assert v == "confirmed" and "2.9x" in ev["en"] and "2.24" in ev["zh"] and "4.53%" in ev["en"]


def test_nuanced_when_only_one_part_holds():
    assert E.decide({**BASE, "slowdown_vs_equal_macs": T["min_slowdown_equal_macs"] - 0.1}, T)[0] == "nuanced"
    assert E.decide({**BASE, "realized_share": T["max_realized_share"] + 0.01}, T)[0] == "nuanced"


def test_refuted_when_neither_holds():
    v, _ = E.decide({**BASE, "realized_share": T["max_realized_share"] + 0.01,
                     "slowdown_vs_equal_macs": T["min_slowdown_equal_macs"] - 0.1}, T)
    assert v == "refuted"


def test_layers_match_the_seed():
    spec = layers(256)
    assert spec["standard"] == (256, 256, 3, 1) and spec["depthwise"] == (256, 256, 3, 256)
    assert spec["standard 16ch"] == (16, 16, 3, 1)
