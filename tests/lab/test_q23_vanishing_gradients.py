"""q23: decide on both sides of every threshold; the diagnosis label helper; one tiny gradient-norm check."""

import numpy as np

from cvprimer.lab._deepmlp import DeepMLP, weight_grad_norms
from cvprimer.lab.experiments.q23_vanishing_gradients import VanishingGradients as E
from cvprimer.lab.experiments.q23_vanishing_gradients import _diagnosed

T = E.thresholds


def figs(**kw):
    f = {"log10_ratio_sigmoid_shallow": -0.9, "log10_ratio_sigmoid_deep": -11.5, "log10_ratio_relu_he_deep": 0.27,
         "log10_ratio_relu_default_deep": -5.8, "log10_max_norm_relu_large_deep": 6.2,
         "log10_ratio_sigmoid_bn_deep": 0.17, "log10_ratio_sigmoid_residual_deep": -1.57,
         "log10_ratio_sigmoid_large_deep": -3.8, "diagnosis_agreement": 0.875,
         "residual_diverged": 1.0, "log10_max_norm_sigmoid_residual_deep": 1.45}
    f.update(kw)
    return f


def test_nuanced_when_weight_scale_matters_too():
    v, ev = E.decide(figs(), T)
    assert v == "nuanced" and "-11.5" in ev["en"] and "-5.8" in ev["en"] and "87.5" in ev["en"] and ev["zh"]
    assert "saturate" in ev["en"] and "diverged" in ev["en"] and "1.45" in ev["zh"]
    _, ev = E.decide(figs(residual_diverged=0.0), T)
    assert "diverged" not in ev["en"]


def test_confirmed_when_only_the_activation_matters():
    v, ev = E.decide(figs(log10_ratio_relu_default_deep=T["vanish_log10"] + 0.1,
                          log10_max_norm_relu_large_deep=T["explode_log10"] - 0.1), T)
    assert v == "confirmed" and "not the whole cause" not in ev["en"]


def test_scale_alone_on_either_side():
    v, _ = E.decide(figs(log10_ratio_relu_default_deep=T["vanish_log10"] + 0.1), T)  # explosion still counts
    assert v == "nuanced"
    v, _ = E.decide(figs(log10_max_norm_relu_large_deep=T["explode_log10"] - 0.1), T)  # vanishing still counts
    assert v == "nuanced"


def test_refuted_when_sigmoid_does_not_vanish_or_relu_does():
    v, _ = E.decide(figs(log10_ratio_sigmoid_deep=T["vanish_log10"] + 0.1), T)
    assert v == "refuted"
    v, _ = E.decide(figs(log10_ratio_relu_he_deep=T["healthy_log10"] - 0.1), T)
    assert v == "refuted"


def test_shallow_depth_threshold():
    v, _ = E.decide(figs(log10_ratio_relu_default_deep=0.0, log10_max_norm_relu_large_deep=0.0,
                         log10_ratio_sigmoid_shallow=T["healthy_log10"] - 0.1), T)
    assert v == "nuanced"


def test_fixes_and_large_sigmoid_sentences():
    _, ev = E.decide(figs(log10_ratio_sigmoid_bn_deep=T["healthy_log10"] - 0.1), T)
    assert "do not fix" in ev["en"]
    _, ev = E.decide(figs(log10_ratio_sigmoid_large_deep=T["vanish_log10"] + 0.1), T)
    assert "saturate" not in ev["en"]


def test_diagnosed_labels():
    assert _diagnosed(["divergence"]) == "exploding"
    assert _diagnosed(["underfitting", "vanishing_gradients"]) == "vanishing"
    assert _diagnosed(["underfitting"]) == "none"


def test_deep_sigmoid_vanishes_and_he_relu_does_not():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 64)).astype(np.float32), rng.integers(0, 10, 32)
    g_sig = weight_grad_norms(DeepMLP(12, 16, "sigmoid", "xavier", rng=np.random.default_rng(1)), x, y)
    g_relu = weight_grad_norms(DeepMLP(12, 16, "relu", "he", rng=np.random.default_rng(1)), x, y)
    assert len(g_sig) == 12 and g_sig[0] / g_sig[-1] < 1e-4 and g_relu[0] / g_relu[-1] > 1e-2
