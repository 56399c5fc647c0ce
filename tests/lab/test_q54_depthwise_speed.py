"""q54: decide exactly at both thresholds (each with the other part holding and failing); the layer table; the real
run at a tiny size with its MAC ratio and arithmetic intensities recomputed by formula."""

from cvprimer.lab.experiments.q54_depthwise_speed import DepthwiseSpeed as E
from cvprimer.lab.experiments.q54_depthwise_speed import cpu_name, layers
from labcheck import edges, reached, run_tiny

T = E.thresholds
BASE = {"mac_ratio": 256.0, "measured_speedup": 36.0, "realized_share": 36.0 / 256, "slowdown_vs_equal_macs": 2.7,
        "intensity_standard": 271.0, "intensity_depthwise": 2.24, "intensity_small": 33.6, "gmacs_standard": 35.0,
        "gmacs_depthwise": 5.1, "channels": 256, "peak_gflops": 88.2, "bandwidth_gbs": 29.3}
SLOW_FAILS = {"slowdown_vs_equal_macs": 1.0}
SHARE_FAILS = {"realized_share": 0.5}


def test_share_edges():
    edges(E, lambda v: {**BASE, "realized_share": v}, "max_realized_share",
          below="confirmed", at="confirmed", above="nuanced")
    edges(E, lambda v: {**BASE, **SLOW_FAILS, "realized_share": v}, "max_realized_share",
          below="nuanced", at="nuanced", above="refuted")


def test_slowdown_edges():
    edges(E, lambda v: {**BASE, "slowdown_vs_equal_macs": v}, "min_slowdown_equal_macs",
          below="nuanced", at="confirmed", above="confirmed")
    edges(E, lambda v: {**BASE, **SHARE_FAILS, "slowdown_vs_equal_macs": v}, "min_slowdown_equal_macs",
          below="refuted", at="nuanced", above="nuanced")


def test_reached_and_evidence_names_the_hardware():
    reached(E, [BASE, {**BASE, **SLOW_FAILS}, {**BASE, **SLOW_FAILS, **SHARE_FAILS}])
    v, ev = E.decide(BASE, T)
    assert v == "confirmed" and "36x" in ev["en"] and "2.24" in ev["zh"] and "14.1%" in ev["en"]
    assert "88.2 GFLOP/s" in ev["en"] and "29.3 GB/s" in ev["zh"] and "CPU" in ev["en"]


def test_layers_match_the_seed():
    spec = layers(256)
    assert spec["standard"] == (256, 256, 3, 1) and spec["depthwise"] == (256, 256, 3, 256)
    assert spec["standard 16ch"] == (16, 16, 3, 1)
    assert cpu_name()


def test_run_counts_match_the_formulas():
    res = run_tiny(E)
    f = res.values()
    c, hw = 16, 8  # the tiny size
    n = hw * hw
    assert f["channels"] == c and f["mac_ratio"] == (9 * c * c * n) / (9 * c * n)
    # intensity = 2 MACs / bytes (float32 input, output and weights moved once)
    assert abs(f["intensity_depthwise"] - 2 * 9 * c * n / (4 * (2 * c * n + 9 * c))) < 1e-9
    assert abs(f["intensity_standard"] - 2 * 9 * c * c * n / (4 * (2 * c * n + 9 * c * c))) < 1e-9
    assert abs(f["intensity_small"] - 2 * 9 * 16 * n / (4 * (2 * 4 * n + 9 * 16))) < 1e-9  # sqrt(16) = 4 channels
    assert abs(f["realized_share"] - f["measured_speedup"] / f["mac_ratio"]) < 1e-12
    assert f["peak_gflops"] > 0 and f["bandwidth_gbs"] > 0 and "one thread" in res.notes["en"]
