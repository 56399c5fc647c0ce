"""q25: decide exactly at every threshold, each verdict reached; the gradient-flow figure recomputed with
PyTorch from the same weights; the activation statistics helper."""

import numpy as np
import pytest

import cvprimer.lab.experiments.q25_why_relu as q25
from cvprimer import nn
from cvprimer.lab.experiments.q25_why_relu import WhyReLU as E
from cvprimer.lab.experiments.q25_why_relu import activation_stats
from labcheck import edges, reached, run_tiny

T = E.thresholds
G = {"ns_per_elem_relu": 1.0, "ns_per_elem_sigmoid": 2.0, "grad_ratio_relu": 0.02, "grad_ratio_sigmoid": 1e-7,
     "val_acc_relu": 0.86, "val_acc_leaky_relu": 0.84, "zero_frac_relu": 0.21, "zero_frac_leaky_relu": 0.0}


def figs(**kw):
    return {**G, **kw}


def test_declaration():
    E.check()
    assert not E.completeness() and "cheap" not in E.t("title")


def test_evidence_follows_the_figures():
    v, ev = E.decide(figs(ns_per_elem_sigmoid=0.9), T)
    assert v == "nuanced" and "Cost fails" in ev["en"] and "0.9x" in ev["en"] and "21%" in ev["zh"]
    assert "Cost holds" in E.decide(G, T)[1]["en"]


def test_edges_of_every_threshold():
    for base, below in ((G, "nuanced"), (figs(grad_ratio_relu=1e-7, val_acc_relu=0.84), "refuted")):
        at_above = "confirmed" if below == "nuanced" else "nuanced"
        edges(E, lambda v, b=base: {**b, "ns_per_elem_relu": 1.0, "ns_per_elem_sigmoid": v}, "min_cost_ratio",
              below, at_above, at_above)
    edges(E, lambda v: figs(grad_ratio_sigmoid=1.0, grad_ratio_relu=v), "min_grad_ratio",
          "nuanced", "confirmed", "confirmed")
    edges(E, lambda v: figs(grad_ratio_sigmoid=1.0, grad_ratio_relu=v, ns_per_elem_sigmoid=1.0,
                            val_acc_relu=0.84), "min_grad_ratio", "refuted", "nuanced", "nuanced")
    edges(E, lambda v: figs(val_acc_relu=v, val_acc_leaky_relu=0.0), "min_sparsity_gain",
          "nuanced", "confirmed", "confirmed")
    edges(E, lambda v: figs(val_acc_relu=v, val_acc_leaky_relu=0.0, ns_per_elem_sigmoid=1.0, grad_ratio_relu=1e-7),
          "min_sparsity_gain", "refuted", "nuanced", "nuanced")


def test_reachable():
    reached(E, [G, figs(val_acc_relu=0.84),
                figs(val_acc_relu=0.84, ns_per_elem_sigmoid=1.0, grad_ratio_relu=1e-7)])


def test_run_tiny_gradient_ratio_matches_torch(monkeypatch):
    torch = pytest.importorskip("torch")
    seen = []
    real = q25.weight_grad_norms

    def capture(model, x, y):
        g = real(model, x, y)
        seen.append((model, x, y, g))
        return g

    monkeypatch.setattr(q25, "weight_grad_norms", capture)
    res = run_tiny(E)
    acts = {"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh}
    for name, (model, x, y, _) in zip(q25.TIMED, seen, strict=True):
        lins = model.linears()
        layers = []
        for i, lin in enumerate(lins):
            t = torch.nn.Linear(*lin.weight.data.T.shape).double()
            with torch.no_grad():
                t.weight.copy_(torch.from_numpy(lin.weight.data.astype(np.float64)))
                t.bias.copy_(torch.from_numpy(lin.bias.data.astype(np.float64)))
            layers += [t] if i == len(lins) - 1 else [t, acts[name]()]
        net = torch.nn.Sequential(*layers)
        torch.nn.functional.cross_entropy(net(torch.from_numpy(x.astype(np.float64))),
                                          torch.from_numpy(np.asarray(y, np.int64))).backward()
        g = [float(layers[i].weight.grad.norm()) for i in range(0, len(layers), 2)]
        ratio = g[0] / g[-1]
        got = res.figures[f"grad_ratio_{name}"].value if name != "tanh" else res.beyond["grad_ratio_tanh"].value
        assert got == pytest.approx(ratio, rel=1e-3), name
    assert res.figures["zero_frac_leaky_relu"].value == 0.0 and 0 < res.figures["zero_frac_relu"].value < 1


def test_activation_stats_counts_zeros_and_dead_units():
    lin = nn.Linear(2, 3)
    lin.weight.data[...] = np.array([[1, 0], [-1, 0], [0, -1]], np.float32)
    lin.bias.data[...] = 0
    model = nn.Sequential(nn.Flatten(), lin, nn.ReLU(), nn.Linear(3, 2))
    x = np.array([[1.0, 1.0], [2.0, 0.5]], np.float32)
    st = activation_stats(model, x)
    assert st["zero_frac"] == pytest.approx(2 / 3) and st["nonpos_frac"] == pytest.approx(2 / 3)
    assert st["dead_frac"] == pytest.approx(2 / 3)
