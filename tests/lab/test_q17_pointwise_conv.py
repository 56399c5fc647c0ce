"""q17: decide on both sides of each threshold; the least-squares residual helper."""

import numpy as np

from cvprimer.lab.experiments.q17_pointwise_conv import PointwiseConv as E
from cvprimer.lab.experiments.q17_pointwise_conv import best_linear_residual, bottleneck, two_3x3

T = E.thresholds
BASE = {"linear_equiv_err": 1e-7, "mixed_channel_share": 1.0, "support_pixels": 1, "bottleneck_param_saving": 16.9,
        "bottleneck_mac_saving": 16.9, "linear_stack_collapse_err": 1e-15, "linear_stack_residual": 4e-15,
        "relu_stack_residual": 0.239}


def test_confirmed():
    v, ev = E.decide(BASE, T)
    assert v == "confirmed" and "16.9x" in ev["en"] and "0.239" in ev["en"] and "0.239" in ev["zh"]


def test_nuanced_when_the_activation_adds_nothing_measurable():
    v, ev = E.decide({**BASE, "relu_stack_residual": T["min_nonlinear_residual"] / 2}, T)
    assert v == "nuanced" and "too little" in ev["en"]


def test_refuted_cases():
    assert E.decide({**BASE, "linear_equiv_err": 2 * T["equiv_rel_tol"]}, T)[0] == "refuted"
    assert E.decide({**BASE, "mixed_channel_share": 0.5}, T)[0] == "refuted"
    assert E.decide({**BASE, "support_pixels": 9}, T)[0] == "refuted"
    assert E.decide({**BASE, "bottleneck_param_saving": T["min_saving"] - 0.1}, T)[0] == "refuted"
    assert E.decide({**BASE, "linear_stack_collapse_err": 2 * T["equiv_rel_tol"]}, T)[0] == "refuted"


def test_best_linear_residual():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 3, 5, 5))
    y = np.einsum("oc,nchw->nohw", rng.standard_normal((2, 3)), x) + 1.0
    assert best_linear_residual(x, y) < 1e-12
    assert best_linear_residual(x, np.maximum(y, 1.0)) > 0.05


def test_block_shapes():
    assert [m.weight.shape for m in bottleneck() if hasattr(m, "weight")][0] == (64, 256, 1, 1)
    assert len([m for m in two_3x3() if hasattr(m, "weight")]) == 2
