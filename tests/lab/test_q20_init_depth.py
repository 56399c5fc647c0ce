"""q20: decide exactly at every threshold for each activation; every verdict reached; the initializers and the
per-layer statistics; the real run at tiny size checked against the closed-form shrink of a small init."""

import numpy as np
import pytest

import cvprimer as cp
from cvprimer import nn
from cvprimer.lab.experiments.q20_init_depth import ACTS, DEPTH, NAMED, WIDTH, deep_mlp, init_model, layer_stats
from cvprimer.lab.experiments.q20_init_depth import InitAcrossDepth as E
from labcheck import edges, reached, run_tiny

T = E.thresholds


def figs(**over):
    f = {}
    for a in ACTS:
        for s in ("small_normal", *NAMED):
            f[f"act_ratio_{s}_{a}"], f[f"grad_ratio_{s}_{a}"], f[f"acc_{s}_{a}"] = 1.0, 1.0, 0.9
        f[f"act_ratio_small_normal_{a}"], f[f"grad_rel_small_normal_{a}"] = 1e-20, 1e-21
        f[f"acc_small_normal_{a}"] = 0.1
        f[f"act_ratio_xavier_{a}"], f[f"acc_xavier_{a}"] = 0.001, 0.3  # only Kaiming keeps the scale
    f.update(over)
    return f


@pytest.mark.parametrize("a", list(ACTS))
def test_vanish_edges(a):
    for key in (f"act_ratio_small_normal_{a}", f"grad_rel_small_normal_{a}"):
        edges(E, lambda v, k=key: figs(**{k: v}), "vanish_ratio", below="confirmed", at="nuanced", above="nuanced")


@pytest.mark.parametrize("a", list(ACTS))
def test_healthy_band_edges(a):
    k = f"act_ratio_kaiming_{a}"
    edges(E, lambda v: figs(**{k: v}), "healthy_ratio", below="nuanced", at="confirmed", above="confirmed")
    edges(E, lambda v: figs(**{k: v}), "healthy_ratio", below="confirmed", at="confirmed", above="nuanced",
          value=1 / T["healthy_ratio"])


@pytest.mark.parametrize("a", list(ACTS))
def test_accuracy_edges(a):
    edges(E, lambda v: figs(**{f"acc_small_normal_{a}": v}), "chance_margin", below="confirmed", at="confirmed",
          above="nuanced", value=0.1 + T["chance_margin"])
    edges(E, lambda v: figs(**{f"acc_kaiming_{a}": v}), "trains_acc", below="nuanced", at="confirmed",
          above="confirmed")


def test_every_verdict_reached_and_named():
    reached(E, [figs(), figs(acc_small_normal_relu=0.5), figs(acc_small_normal_relu=0.5, acc_kaiming_tanh=0.2)])
    v, ev = E.decide(figs(acc_small_normal_relu=0.5), T)
    assert v == "nuanced" and "holds with tanh but not with relu" in ev["en"] and "对 relu 不成立" in ev["zh"]
    assert "1e-20" in ev["en"] and "1e-21" in ev["zh"]


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


def test_tiny_run_matches_the_closed_form_shrink():
    res = run_tiny(E)
    f = res.values()
    # N(0, 0.01^2) at width 64: each layer multiplies the std by 0.01 * sqrt(64) = 0.08 (tanh is linear near 0;
    # ReLU keeps half the power, a further 1/sqrt(2)); 18 steps from the first to the last hidden layer
    steps = DEPTH - 2
    for a, gain in (("tanh", 0.08), ("relu", 0.08 / np.sqrt(2))):
        expected = np.log10(gain) * steps
        assert abs(np.log10(f[f"act_ratio_small_normal_{a}"]) - expected) < 1.0, (a, f[f"act_ratio_small_normal_{a}"])
        assert f[f"grad_rel_small_normal_{a}"] < T["vanish_ratio"]
    assert 0.1 < f["act_ratio_kaiming_relu"] < 10 and WIDTH == 64
    assert set(res.beyond) == {f"{k}_{s}_{a}" for k in ("act_ratio", "grad_ratio") for s in ("orthogonal", "lsuv")
                               for a in ACTS}
