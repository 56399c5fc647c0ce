"""q17: decide exactly at every threshold for each part that uses it; every verdict reached; the least-squares
residual helper; the real run at tiny size checked against closed-form counts and a NumPy recomputation."""

import numpy as np
import pytest

from cvprimer.lab.common import sample_photo
from cvprimer.lab.experiments.q17_pointwise_conv import PointwiseConv as E
from cvprimer.lab.experiments.q17_pointwise_conv import best_linear_residual, bottleneck, two_3x3
from labcheck import edges, reached, run_tiny

T = E.thresholds
BASE = {"linear_equiv_err": 0.0, "mixed_channel_share": 1.0, "support_pixels": 1, "bottleneck_param_saving": 16.9,
        "bottleneck_mac_saving": 16.9, "widen_param_saving": 9.0, "same_size": 1.0,
        "linear_stack_collapse_err": 0.0, "linear_stack_residual": 0.0, "relu_stack_residual": 0.239}


@pytest.mark.parametrize("key", ["linear_equiv_err", "linear_stack_collapse_err", "linear_stack_residual"])
def test_equiv_tolerance_edge(key):
    edges(E, lambda v: {**BASE, key: v}, "equiv_rel_tol", below="confirmed", at="confirmed", above="nuanced")


@pytest.mark.parametrize("key", ["bottleneck_param_saving", "bottleneck_mac_saving", "widen_param_saving"])
def test_min_saving_edge(key):
    edges(E, lambda v: {**BASE, key: v}, "min_saving", below="nuanced", at="nuanced", above="confirmed")


def test_nonlinear_residual_edge():
    edges(E, lambda v: {**BASE, "relu_stack_residual": v}, "min_nonlinear_residual", below="nuanced",
          at="confirmed", above="confirmed")


def test_every_verdict_reached_and_parts_named():
    none = {**BASE, "bottleneck_param_saving": 0.5, "widen_param_saving": 0.5, "same_size": 0.0,
            "relu_stack_residual": 0.0}
    reached(E, [BASE, {**BASE, "support_pixels": 9}, none])
    v, ev = E.decide({**BASE, "mixed_channel_share": 0.5}, T)
    assert v == "nuanced" and "does not hold: channel mixing at the same size" in ev["en"] and "16.9x" in ev["en"]
    assert "不成立：不改变尺寸的通道混合" in ev["zh"]


def test_best_linear_residual():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 3, 5, 5))
    y = np.einsum("oc,nchw->nohw", rng.standard_normal((2, 3)), x) + 1.0
    assert best_linear_residual(x, y) < 1e-12
    assert best_linear_residual(x, np.maximum(y, 1.0)) > 0.05


def test_block_shapes():
    assert [m.weight.shape for m in bottleneck() if hasattr(m, "weight")][0] == (64, 256, 1, 1)
    assert len([m for m in two_3x3() if hasattr(m, "weight")]) == 2


def test_tiny_run_against_closed_forms_and_numpy():
    f = run_tiny(E).values()
    # closed-form counts: two 3x3 convs at 256 channels vs 1x1 256->64, 3x3 64->64, 1x1 64->256 (no bias)
    two, bott = 2 * 9 * 256 * 256, 256 * 64 + 9 * 64 * 64 + 64 * 256
    assert f["bottleneck_param_saving"] == pytest.approx(two / bott) and f["bottleneck_mac_saving"] == pytest.approx(
        two / bott)  # the same spatial size for every layer: MACs scale like the weights
    assert f["widen_param_saving"] == pytest.approx(9.0)
    assert (f["mixed_channel_share"], f["support_pixels"], f["same_size"]) == (1.0, 1.0, 1.0)
    # the ReLU stack's residual recomputed with NumPy from the run's own weights (rng 17) and photo (tiny: every
    # 8th pixel)
    rng = np.random.default_rng(17)
    rng.standard_normal((16, 3, 1, 1)), rng.standard_normal(16)  # the equivalence check's weights
    w1, b1 = rng.standard_normal((16, 3, 1, 1)), rng.standard_normal(16)
    w2, b2 = rng.standard_normal((3, 16, 1, 1)), rng.standard_normal(3)
    x = sample_photo(1)[:, ::8, ::8].astype(np.float32).astype(np.float64).reshape(3, -1).T  # (pixels, 3)
    y = np.maximum(x @ w1[:, :, 0, 0].T + b1, 0) @ w2[:, :, 0, 0].T + b2
    a = np.hstack([x, np.ones((len(x), 1))])
    res = np.linalg.norm(y - a @ np.linalg.lstsq(a, y, rcond=None)[0]) / np.linalg.norm(y - y.mean(0))
    assert f["relu_stack_residual"] == pytest.approx(res, rel=1e-9)
    assert E.decide(f, T)[0] == "confirmed"
