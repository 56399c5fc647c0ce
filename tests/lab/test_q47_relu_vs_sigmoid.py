"""q47: decide exactly at every threshold, in each combination of the other parts; epochs_to and the dead-ReLU
helper; the real run at a tiny size with its gradient ratios recomputed by PyTorch from the same weights."""

import numpy as np
import pytest
import torch

from cvprimer import nn
from cvprimer.lab._deepmlp import DeepMLP, dead_fraction
from cvprimer.lab.common import load_data
from cvprimer.lab.experiments.q47_relu_vs_sigmoid import ReluVsSigmoid as E
from cvprimer.lab.experiments.q47_relu_vs_sigmoid import epochs_to
from labcheck import edges, reached, run_tiny

T = E.thresholds
BASE = {"log10_grad_ratio_relu": 0.0, "log10_grad_ratio_sigmoid": -5.3, "relu_sparsity": 0.741,
        "compute_speedup": 1.6}
FAIL = {"gradient": {"log10_grad_ratio_sigmoid": -0.5}, "cost": {"compute_speedup": 1.0},
        "sparsity": {"relu_sparsity": 0.1}}


def _others(skip):
    """Figures where every part but ``skip`` holds, and where every part but ``skip`` fails."""
    fail = {k: v for part, d in FAIL.items() if part != skip for k, v in d.items()}
    return {**BASE}, {**BASE, **fail}


def test_gradient_gap_edges():  # gap = relu - sigmoid with relu = 0, so the gap is exact
    hold, fail = _others("gradient")
    edges(E, lambda v: {**hold, "log10_grad_ratio_sigmoid": -v}, "grad_gap_log10",
          below="nuanced", at="confirmed", above="confirmed")
    edges(E, lambda v: {**fail, "log10_grad_ratio_sigmoid": -v}, "grad_gap_log10",
          below="refuted", at="nuanced", above="nuanced")


def test_sparsity_edges():
    hold, fail = _others("sparsity")
    edges(E, lambda v: {**hold, "relu_sparsity": v}, "min_sparsity", below="nuanced", at="confirmed", above="confirmed")
    edges(E, lambda v: {**fail, "relu_sparsity": v}, "min_sparsity", below="refuted", at="nuanced", above="nuanced")


def test_compute_edges():
    hold, fail = _others("cost")
    edges(E, lambda v: {**hold, "compute_speedup": v}, "min_compute_speedup",
          below="nuanced", at="confirmed", above="confirmed")
    edges(E, lambda v: {**fail, "compute_speedup": v}, "min_compute_speedup",
          below="refuted", at="nuanced", above="nuanced")


def test_reached_and_evidence():
    reached(E, [BASE, {**BASE, **FAIL["cost"]}, {**BASE, **FAIL["cost"], **FAIL["gradient"], **FAIL["sparsity"]}])
    v, ev = E.decide({**BASE, **FAIL["cost"]}, T)
    assert v == "nuanced" and "not measured here: cheaper derivative" in ev["en"] and "导数更便宜" in ev["zh"]
    assert "-5.3" in ev["en"] and "74.1%" in ev["zh"]
    b = E.explain_beyond({"log10_grad_ratio_relu_default_init": -1.79, "epoch_speedup_3": 2.0, "epoch_speedup_5": 1.75,
                          "epochs_to_target_sigmoid_5": 7.0, "epochs_run": 6.0, "dead_fraction": 0.043,
                          "dead_fraction_lr_x3": 0.754})
    assert "lower bound" in b["en"] and "75.4%" in b["en"] and "-1.79" in b["zh"]


def test_epochs_to():
    assert epochs_to(np.array([0.5, 0.86, 0.9]), 0.85) == 2.0
    assert epochs_to(np.array([0.5, 0.6]), 0.85) == 3.0


def test_dead_fraction_counts_units_never_active():
    lin = nn.Linear(2, 3)
    lin.weight.data[...] = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.0]], np.float32)
    lin.bias.data[...] = np.array([0.0, 0.0, -1.0], np.float32)
    model = nn.Sequential(lin, nn.ReLU())
    x = np.array([[1.0, 0.0], [2.0, 1.0]], np.float32)  # unit 0 active; unit 1 and 2 never
    out = dead_fraction(model, x)
    assert list(out) == ["1"] and abs(out["1"] - 2 / 3) < 1e-12


def _torch_ratio(ours, x, y, act):
    """log10(||dL/dW_first|| / ||dL/dW_last||) of the same weights in a PyTorch MLP."""
    lins = ours.linears()
    layers = []
    for i, lin in enumerate(lins):
        t = torch.nn.Linear(*lin.weight.data.shape[::-1])
        with torch.no_grad():
            t.weight.copy_(torch.tensor(lin.weight.data))
            t.bias.copy_(torch.tensor(lin.bias.data))
        layers += [t] + ([act()] if i < len(lins) - 1 else [])
    net = torch.nn.Sequential(*layers)
    torch.nn.functional.cross_entropy(net(torch.tensor(x).reshape(len(x), -1)), torch.tensor(y)).backward()
    g = [float(m.weight.grad.double().norm()) for m in net if isinstance(m, torch.nn.Linear)]
    return np.log10(g[0] / g[-1])


def test_run_gradient_ratios_match_torch():
    s = 2
    res = run_tiny(E, seed=s)
    rng = np.random.default_rng(s)  # the run's draws from ctx.rng: the data, then the weights' seed
    data = load_data("digits", 200, 100, rng, standardize=True)
    wseed = int(rng.integers(2**31))
    x, y = data.x_train[:256], data.y_train[:256]
    f = res.values()
    for name, act, init, tact in (("relu", "relu", "he", torch.nn.ReLU), ("sigmoid", "sigmoid", "xavier",
                                                                          torch.nn.Sigmoid)):
        ours = DeepMLP(10, 64, act, init, rng=np.random.default_rng(wseed))
        assert f[f"log10_grad_ratio_{name}"] == pytest.approx(_torch_ratio(ours, x, y, tact), abs=1e-3)
    assert 0 <= f["relu_sparsity"] <= 1 and f["compute_speedup"] > 0
    assert set(res.beyond) >= {"dead_fraction", "epoch_speedup_5"} and E.decide(f, T)[0] in E.reachable
