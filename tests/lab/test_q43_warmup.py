"""q43: decide exactly at every threshold in both branches; classify_steps; the real run's held-out probe loss
recomputed by PyTorch from the same initial weights and images."""

import numpy as np
import torch

from cvprimer.lab._deepmlp import DeepMLP
from cvprimer.lab.common import load_data
from cvprimer.lab.experiments.q43_warmup import CLAIM_FIGURES, classify_steps
from cvprimer.lab.experiments.q43_warmup import WarmUp as E
from labcheck import edges, reached, run_tiny

T = E.thresholds
OK = {"early_overfit_frac": 0.5, "warm_early_overfit_frac": 0.1, "bn_var_change_none": 0.22,
      "bn_var_change_warm": 0.08, "bn_var_ratio": 2.75, "spike_none_0.08": 33.0, "spike_warm_0.08": 1.07,
      "spike_ratio_top_lr": 30.9}
NONE = {**OK, "warm_early_overfit_frac": 0.5, "bn_var_ratio": 1.0, "spike_ratio_top_lr": 1.0}


def test_declaration_complete():
    E.check()
    assert E.completeness() == [] and set(OK) == set(CLAIM_FIGURES)


def test_edges_overfit_drop():
    at = 0.5 - T["min_overfit_drop"]  # warm-up's share compared with the share without it minus the margin
    edges(E, lambda v: {**OK, "warm_early_overfit_frac": v}, "min_overfit_drop", "confirmed", "confirmed", "nuanced",
          value=at)
    edges(E, lambda v: {**NONE, "warm_early_overfit_frac": v}, "min_overfit_drop", "nuanced", "nuanced", "refuted",
          value=at)


def test_edges_variance_and_spike():
    for fig, th in (("bn_var_ratio", "min_var_ratio"), ("spike_ratio_top_lr", "min_spike_ratio")):
        edges(E, lambda v, fig=fig: {**OK, fig: v}, th, "nuanced", "confirmed", "confirmed")
        edges(E, lambda v, fig=fig: {**NONE, fig: v}, th, "refuted", "nuanced", "nuanced")


def test_reached_and_evidence():
    measured = {**OK, "early_overfit_frac": 0.183, "warm_early_overfit_frac": 0.367}
    reached(E, [OK, measured, NONE])
    v, ev = E.decide(measured, T)
    assert v == "nuanced" and "18.3%" in ev["en"] and "36.7%" in ev["en"] and "2 of the seed's 3" in ev["en"]
    assert "30.9" in ev["zh"] and "不成立" in ev["zh"]


def test_beyond_sentences():
    b = {"largest_stable_lr_warm": 0.04, "largest_stable_lr_none": 0.02, "lr_ratio": 2.0, "early_overshoot_frac": 0.25,
         "warm_early_overshoot_frac": 0.1, "adam_first_update_over_lr_sqrtP": 0.888,
         "adam_update_norm_ratio_first10": 3.26}
    t = E.explain_beyond(b)
    assert "25%" in t["en"] and "0.888" in t["zh"] and "3.26x" in t["en"]


def test_classify_steps():
    rows = [{"batch_before": 1.0, "batch_after": 2.0, "probe_before": 1.0, "probe_after": 2.0},   # overshoot
            {"batch_before": 1.0, "batch_after": 0.5, "probe_before": 1.0, "probe_after": 1.5},   # over-fit
            {"batch_before": 1.0, "batch_after": 0.5, "probe_before": 1.0, "probe_after": 0.9},   # healthy
            {"batch_before": 1.0, "batch_after": 0.5, "probe_before": 1.0, "probe_after": 0.8}]
    assert classify_steps(rows) == (0.25, 0.25)


def test_run_tiny_probe_loss_matches_pytorch():
    res = run_tiny(E, seed=0)
    f, b = res.values(), res.beyond_values()
    assert set(f) == set(CLAIM_FIGURES) and 0 <= f["early_overfit_frac"] <= 1
    assert f["bn_var_ratio"] == f["bn_var_change_none"] / f["bn_var_change_warm"]
    # replay the run's draws: its data split, then its first inner seed, which builds the untrained net
    rng = np.random.default_rng(0)
    d = load_data("digits", 400, 200, rng, standardize=True)
    seed = int(rng.integers(2**31, size=1)[0])
    net = DeepMLP(8, 64, "relu", "he", rng=np.random.default_rng(seed))
    x, y = d.x_val[:200], d.y_val[:200]
    h = torch.tensor(x.reshape(len(x), -1), dtype=torch.float64)
    lins = net.linears()
    for i, lin in enumerate(lins):
        h = h @ torch.tensor(lin.weight.data, dtype=torch.float64).T + torch.tensor(lin.bias.data, dtype=torch.float64)
        h = torch.relu(h) if i < len(lins) - 1 else h
    want = float(torch.nn.functional.cross_entropy(h, torch.tensor(y)))
    assert abs(b["probe_loss_init"] - want) < 1e-4 * max(1.0, want)
