"""q47: decide on both sides of every threshold; epochs_to and the dead-ReLU helper."""

import numpy as np

from cvprimer import nn
from cvprimer.lab._deepmlp import dead_fraction
from cvprimer.lab.experiments.q47_relu_vs_sigmoid import ReluVsSigmoid as E
from cvprimer.lab.experiments.q47_relu_vs_sigmoid import epochs_to

T = E.thresholds


def figs(**kw):
    f = {"log10_grad_ratio_relu": -0.32, "log10_grad_ratio_relu_default_init": -1.79,
         "log10_grad_ratio_sigmoid": -5.3, "epoch_speedup_3": 2.0, "epoch_speedup_5": 1.75, "relu_sparsity": 0.741,
         "dead_fraction": 0.043, "dead_fraction_lr_x3": 0.754, "compute_speedup": 12.1,
         "epochs_to_target_sigmoid_5": 7.0, "epochs_run": 6.0}
    f.update(kw)
    return f


def test_nuanced_by_dead_units():
    v, ev = E.decide(figs(), T)
    assert v == "nuanced" and "75.4%" in ev["en"] and "-5.3" in ev["en"] and "12.1" in ev["zh"]
    assert "weight scale must match" in ev["en"] and "lower bound" in ev["en"]
    _, ev = E.decide(figs(epochs_to_target_sigmoid_5=6.0), T)
    assert "lower bound" not in ev["en"]


def test_confirmed_when_no_unit_dies_and_relu_is_cheaper():
    v, _ = E.decide(figs(dead_fraction_lr_x3=T["max_dead"] - 0.01), T)
    assert v == "confirmed"
    assert E.decide(figs(dead_fraction_lr_x3=T["max_dead"]), T)[0] == "nuanced"


def test_compute_threshold():
    v, _ = E.decide(figs(dead_fraction_lr_x3=0.0, compute_speedup=T["min_compute_speedup"] - 0.01), T)
    assert v == "nuanced"


def test_refuted_when_a_core_claim_fails():
    assert E.decide(figs(log10_grad_ratio_sigmoid=-0.32 - T["grad_gap_log10"] + 0.01), T)[0] == "refuted"
    assert E.decide(figs(epoch_speedup_5=T["min_epoch_speedup"] - 0.01), T)[0] == "refuted"
    assert E.decide(figs(relu_sparsity=T["min_sparsity"] - 0.01), T)[0] == "refuted"


def test_scale_sentence_threshold():
    _, ev = E.decide(figs(log10_grad_ratio_relu_default_init=-0.32 - T["scale_gap_log10"] + 0.01), T)
    assert "weight scale must match" not in ev["en"]


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
