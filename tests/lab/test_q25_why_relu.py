"""q25: decide on both sides of every threshold; the activation statistics helper."""

import numpy as np
import pytest

from cvprimer import nn
from cvprimer.lab.experiments.q25_why_relu import WhyReLU as E
from cvprimer.lab.experiments.q25_why_relu import activation_stats

T = E.thresholds


def figs(**kw):
    f = {"ns_per_elem_relu": 2.0, "ns_per_elem_sigmoid": 14.0, "ns_per_elem_tanh": 13.0, "grad_ratio_relu": 0.02,
         "grad_ratio_sigmoid": 1e-7, "val_acc_relu": 0.84, "val_acc_leaky_relu": 0.838, "zero_frac_relu": 0.21,
         "zero_frac_leaky_relu": 0.0, "relu_zero_grad_frac": 0.21, "relu_dead_frac": 0.09}
    f.update(kw)
    return f


def test_nuanced_when_cheap_and_flowing_but_sparsity_does_not_help():
    v, ev = E.decide(figs(), T)
    assert v == "nuanced" and "7x" in ev["en"] and "0.838" in ev["en"] and "21%" in ev["zh"]


def test_confirmed_when_sparsity_also_helps():
    assert E.decide(figs(val_acc_relu=0.838 + T["min_sparsity_gain"] + 1e-9), T)[0] == "confirmed"


@pytest.mark.parametrize("kw,verdict", [
    ({"ns_per_elem_sigmoid": 2.0 * T["min_cost_ratio"] * 0.99}, "nuanced"),
    ({"grad_ratio_sigmoid": 0.02 / T["min_grad_ratio"] * 1.01}, "nuanced"),
    ({"ns_per_elem_sigmoid": 2.0, "grad_ratio_sigmoid": 0.02}, "refuted"),
])
def test_each_threshold(kw, verdict):
    assert E.decide(figs(**kw), T)[0] == verdict


def test_activation_stats_counts_zeros_and_dead_units():
    lin = nn.Linear(2, 3)
    lin.weight.data[...] = np.array([[1, 0], [-1, 0], [0, -1]], np.float32)
    lin.bias.data[...] = 0
    model = nn.Sequential(nn.Flatten(), lin, nn.ReLU(), nn.Linear(3, 2))
    x = np.array([[1.0, 1.0], [2.0, 0.5]], np.float32)
    st = activation_stats(model, x)
    assert st["zero_frac"] == pytest.approx(2 / 3) and st["nonpos_frac"] == pytest.approx(2 / 3)
    assert st["dead_frac"] == pytest.approx(2 / 3)
