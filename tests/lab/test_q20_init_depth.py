"""q20: decide on both sides of each threshold; the initializers and the per-layer statistics."""

import numpy as np

import cvprimer as cp
from cvprimer import nn
from cvprimer.lab.experiments.q20_init_depth import ACTS, SCHEMES, deep_mlp, init_model, layer_stats
from cvprimer.lab.experiments.q20_init_depth import InitAcrossDepth as E

T = E.thresholds


def figs(**over):
    f = {}
    for a in ACTS:
        for s in SCHEMES:
            f[f"act_ratio_{s}_{a}"] = 1.0
            f[f"grad_ratio_{s}_{a}"] = 1.0
            f[f"acc_{s}_{a}"] = 0.9
        f[f"act_ratio_small_normal_{a}"] = 1e-20
        f[f"acc_small_normal_{a}"] = 0.1
    f["act_ratio_xavier_relu"], f["acc_xavier_relu"] = 0.003, 0.3
    f.update(over)
    return f


def test_confirmed_with_numbers():
    v, ev = E.decide(figs(), T)
    assert v == "confirmed" and "1e-20" in ev["en"] and "0.003" in ev["zh"]


def test_vanish_threshold_both_sides():
    t = T["vanish_ratio"]
    assert E.decide(figs(act_ratio_small_normal_tanh=0.9 * t), T)[0] == "confirmed"
    assert E.decide(figs(act_ratio_small_normal_tanh=1.1 * t), T)[0] == "nuanced"


def test_healthy_band_both_sides():
    h = T["healthy_ratio"]
    assert E.decide(figs(act_ratio_lsuv_relu=1.1 * h), T)[0] == "confirmed"
    assert E.decide(figs(act_ratio_lsuv_relu=0.9 * h), T)[0] == "nuanced"
    assert E.decide(figs(act_ratio_kaiming_tanh=0.9 / h), T)[0] == "confirmed"
    assert E.decide(figs(act_ratio_kaiming_tanh=1.1 / h), T)[0] == "nuanced"


def test_accuracy_thresholds_both_sides():
    m, g = T["chance_margin"], T["trains_acc"]
    assert E.decide(figs(acc_small_normal_relu=0.1 + 1.1 * m), T)[0] == "nuanced"
    low = {f"acc_{s}_relu": 0.95 * g for s in ("kaiming", "orthogonal", "lsuv")}
    assert E.decide(figs(**low), T)[0] == "nuanced"
    low["acc_orthogonal_relu"] = 1.05 * g
    assert E.decide(figs(**low), T)[0] == "confirmed"


def test_refuted_when_nothing_vanishes_and_nothing_is_kept():
    assert E.decide(figs(act_ratio_small_normal_tanh=0.5, act_ratio_small_normal_relu=0.5,
                         act_ratio_lsuv_relu=1e-4), T)[0] == "refuted"


def test_lsuv_gives_unit_output_variance_and_small_normal_vanishes():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    m = init_model(deep_mlp(nn.ReLU, depth=6, width=16), "lsuv", "relu", x, rng)
    outs = []
    for lin in (mm for mm in m.modules() if isinstance(mm, nn.Linear)):
        lin.register_forward_hook(lambda mod, i, o: outs.append(float(o.data.std())))
    m(cp.tensor(x))
    np.testing.assert_allclose(outs, 1.0, rtol=1e-3)
    acts, grads = layer_stats(init_model(deep_mlp(nn.Tanh, depth=6, width=16), "small_normal", "tanh", x, rng), x, y)
    assert acts.shape == (5,) and grads.shape == (6,) and acts[-1] / acts[0] < 1e-4
