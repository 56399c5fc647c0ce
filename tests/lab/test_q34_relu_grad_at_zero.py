"""q34: decide exactly at both thresholds; the zero-counting ReLU and the model builder; the real run's share of
exact zeros recomputed in closed form with SciPy."""

import numpy as np
from scipy import ndimage

import cvprimer as cp
from cvprimer.lab.common import load_data
from cvprimer.lab.experiments.q34_relu_grad_at_zero import CountingReLU, max_weight_difference, small_cnn
from cvprimer.lab.experiments.q34_relu_grad_at_zero import ReLUGradAtZero as E
from labcheck import edges, reached, run_tiny

T = E.thresholds
BASE = {"zero_pct_conv1_no_bias": 68.2, "zero_pct_conv2_no_bias": 38.1, "zero_pct_conv1_zero_bias_first_step": 67.7,
        "zero_pct_zero_bias_after_first_epoch": 0.0, "zero_pct_default_bias": 0.0, "zero_pct_fc_zero_bias": 0.0,
        "max_zero_pct": 68.2, "weight_diff_no_bias": 0.0, "weight_diff_zero_bias": 0.03, "acc_spread_pts": 0.67,
        "reshuffle_spread_pts": 4.33, "slope_excess_pts": -3.66, "val_acc_slope0": 71.3}
RARE = {**BASE, "zero_pct_conv1_no_bias": 0.0, "zero_pct_conv2_no_bias": 0.0, "max_zero_pct": 0.0,
        "zero_pct_conv1_zero_bias_first_step": 0.0}


def test_edges_rare():
    edges(E, lambda v: {**BASE, "max_zero_pct": v}, "rare_pct", below="confirmed", at="nuanced", above="nuanced")


def test_edges_matter():
    for base, quiet in ((BASE, "nuanced"), (RARE, "confirmed")):
        edges(E, lambda v, b=base: {**b, "slope_excess_pts": v}, "matter_pts", below=quiet, at="refuted",
              above="refuted")


def test_reachable_and_evidence():
    reached(E, [BASE, RARE, {**BASE, "acc_spread_pts": 10.0, "slope_excess_pts": 5.67}])
    v, ev = E.decide(BASE, T)
    assert v == "nuanced"
    assert "but common with bias-free convolutions and with zero-initialized conv biases" in ev["en"]
    for s in ("68.2", "38.1", "0.67", "4.33"):
        assert s in ev["en"] and s in ev["zh"]
    assert "rare in every setting" in E.decide(RARE, T)[1]["en"]
    assert "37.3" in E.explain_beyond({"zero_pct_relu_after_relu": 37.3})["zh"]


def test_counting_relu_records_exact_zeros_only_in_training():
    r = CountingReLU(0.5)
    r(cp.tensor(np.array([0.0, -0.0, 1.0, -2.0])))
    r.eval()
    r(cp.tensor(np.zeros(4)))
    assert r.fractions == [0.5]


def test_builder_gives_the_same_weights_whatever_the_slope():
    a, b = small_cnn("zero", 0.0, seed=3, widths=(2, 2)), small_cnn("zero", 1.0, seed=3, widths=(2, 2))
    assert max_weight_difference(a, b) == 0.0
    assert not a[0].bias.data.any() and small_cnn("none", 0.0, 3, (2, 2))[0].bias is None
    assert a[1].grad_at_zero == 0.0 and b[1].grad_at_zero == 1.0


def test_run_zero_share_matches_the_all_zero_patches():
    """A bias-free 3x3 convolution (padding 1) outputs exactly 0 where its whole input patch is 0, whatever its
    weights: the run's conv1 share must equal the share of all-zero 3x3 patches in the training images (SciPy's
    maximum filter), up to the unequal batches (64 and 56 images: a mean of per-batch shares moves by
    (64/120 - 1/2) times their difference, well under 0.2 points)."""
    f = run_tiny(E, seed=1).values()
    x = load_data("mnist_sample", 120, 60, np.random.default_rng(1)).x_train
    patches = ndimage.maximum_filter(np.abs(x), size=(1, 1, 3, 3), mode="constant", cval=0.0) == 0
    assert len(x) == 120 and abs(f["zero_pct_conv1_no_bias"] - 100 * patches.mean()) < 0.2
    assert f["max_zero_pct"] >= f["zero_pct_conv1_no_bias"] and f["weight_diff_no_bias"] == 0.0
    assert abs(f["slope_excess_pts"] - (f["acc_spread_pts"] - f["reshuffle_spread_pts"])) < 1e-8
