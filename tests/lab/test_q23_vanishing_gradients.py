"""q23: decide exactly at every threshold for each setting that uses it; every verdict reached; the diagnosis
label helper; the real run at tiny size checked against the same gradient norms computed with PyTorch."""

import numpy as np
import pytest
import torch

from cvprimer.lab._deepmlp import DeepMLP, weight_grad_norms
from cvprimer.lab.common import load_data
from cvprimer.lab.experiments.q23_vanishing_gradients import CHECKS, CONFIGS, _diagnosed
from cvprimer.lab.experiments.q23_vanishing_gradients import VanishingGradients as E
from labcheck import edges, reached, run_tiny

T = E.thresholds


def figs(**kw):
    f = {"log10_ratio_sigmoid_deep": -11.5, "log10_ratio_relu_he_deep": 0.2, "log10_ratio_relu_default_deep": -5.8,
         "log10_max_norm_relu_large_deep": 6.2, "log10_max_norm_sigmoid_large_deep": 4.0,
         "log10_ratio_sigmoid_large_deep": -3.8}
    f.update(kw)
    return f


@pytest.mark.parametrize("key", ["log10_ratio_sigmoid_deep", "log10_ratio_relu_default_deep"])
def test_vanish_edge(key):
    edges(E, lambda v: figs(**{key: v}), "vanish_log10", below="confirmed", at="nuanced", above="nuanced")


def test_healthy_edge():
    edges(E, lambda v: figs(log10_ratio_relu_he_deep=v), "healthy_log10", below="nuanced", at="nuanced",
          above="confirmed")


@pytest.mark.parametrize("key", ["log10_max_norm_relu_large_deep", "log10_max_norm_sigmoid_large_deep"])
def test_explode_edge(key):
    edges(E, lambda v: figs(**{key: v}), "explode_log10", below="nuanced", at="nuanced", above="confirmed")


def test_every_verdict_reached_and_the_boundary_named():
    none = figs(log10_ratio_sigmoid_deep=0.0, log10_ratio_relu_default_deep=0.0, log10_max_norm_relu_large_deep=0.0,
                log10_max_norm_sigmoid_large_deep=0.0)
    reached(E, [figs(), figs(log10_max_norm_sigmoid_large_deep=0.3), none])
    v, ev = E.decide(figs(log10_max_norm_sigmoid_large_deep=0.3), T)
    assert v == "nuanced" and "Not as claimed: large weights, sigmoid." in ev["en"] and "saturate" in ev["en"]
    assert "大权重（sigmoid）" in ev["zh"] and "-3.8" in ev["zh"]


def test_diagnosed_labels():
    assert _diagnosed(["divergence"]) == "exploding"
    assert _diagnosed(["underfitting", "vanishing_gradients"]) == "vanishing"
    assert _diagnosed(["underfitting"]) == "none"


def torch_grad_norms(model, act, x, y):
    """PyTorch oracle: the same network (weights and biases copied) and the same loss; ||dL/dW|| per layer."""
    lins = model.linears()
    ts = [torch.nn.Linear(lin.weight.shape[1], lin.weight.shape[0]).double() for lin in lins]
    with torch.no_grad():
        for t, lin in zip(ts, lins, strict=True):
            t.weight.copy_(torch.tensor(lin.weight.data, dtype=torch.float64))
            t.bias.copy_(torch.tensor(lin.bias.data, dtype=torch.float64))
    act = {"sigmoid": torch.sigmoid, "relu": torch.relu}[act]
    h = torch.tensor(x.reshape(len(x), -1), dtype=torch.float64)
    for t in ts[:-1]:
        h = act(t(h))
    torch.nn.functional.cross_entropy(ts[-1](h), torch.tensor(y)).backward()
    return np.array([float(t.weight.grad.norm()) for t in ts])


def test_tiny_run_gradient_norms_match_torch():
    f = run_tiny(E, seed=0).values()
    assert set(CHECKS) <= set(f)
    # the run's own data and network seed: load_data, then one integer from the same generator
    rng = np.random.default_rng(0)
    data = load_data("digits", 300, 360, rng, standardize=True)
    seed = int(rng.integers(2**31))
    x, y = data.x_train[:256], data.y_train[:256]
    for name in ("sigmoid_deep", "relu_large_deep"):
        kw = CONFIGS[name][0]
        g = torch_grad_norms(DeepMLP(rng=np.random.default_rng(seed), **kw), kw["act"], x, y)
        key = f"log10_ratio_{name}" if name == "sigmoid_deep" else f"log10_max_norm_{name}"
        want = np.log10(g[0] / g[-1]) if name == "sigmoid_deep" else np.log10(g.max())
        assert f[key] == pytest.approx(want, abs=1e-3), (name, f[key], want)
    assert E.decide(f, T)[0] == "nuanced"


def test_deep_sigmoid_vanishes_and_he_relu_does_not():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 64)).astype(np.float32), rng.integers(0, 10, 32)
    g_sig = weight_grad_norms(DeepMLP(12, 16, "sigmoid", "xavier", rng=np.random.default_rng(1)), x, y)
    g_relu = weight_grad_norms(DeepMLP(12, 16, "relu", "he", rng=np.random.default_rng(1)), x, y)
    assert len(g_sig) == 12 and g_sig[0] / g_sig[-1] < 1e-4 and g_relu[0] / g_relu[-1] > 1e-2
