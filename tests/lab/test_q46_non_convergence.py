"""q46: decide exactly at every threshold; the label-noise and remedy helpers; the real run against PyTorch."""

import numpy as np
import torch

from cvprimer.lab._deepmlp import DeepMLP
from cvprimer.lab.common import Data, load_data
from cvprimer.lab.experiments.q46_non_convergence import BASE as NET
from cvprimer.lab.experiments.q46_non_convergence import CAUSES, names_cause, with_noisy_labels
from cvprimer.lab.experiments.q46_non_convergence import NonConvergence as E
from labcheck import edges, reached, run_tiny

T = E.thresholds
LISTED = [c for c, (s, _) in CAUSES.items() if s]


def figs(**kw):
    f = {"train_acc_baseline": 0.99, "lr_too_high_diverged": 1.0, "lr_too_high_oscillation": 0.0}
    f.update({f"train_acc_{c}": 0.1 for c in LISTED})
    f.update(kw)
    return f


def test_declaration_complete():
    E.check()
    assert E.completeness() == [] and len(LISTED) == 5


def test_edges_baseline():
    edges(E, lambda v: figs(train_acc_baseline=v), "baseline_min_acc", "refuted", "confirmed", "confirmed")


def test_edges_drop_every_listed_cause():
    # a cause hurts when its accuracy is at most baseline - hurt_min_drop (the point compared, computed as decide does)
    at = 1.0 - T["hurt_min_drop"]
    for c in LISTED:
        edges(E, lambda v, c=c: figs(train_acc_baseline=1.0, **{f"train_acc_{c}": v}), "hurt_min_drop",
              "confirmed", "confirmed", "nuanced", value=at)
    # every listed cause harmless but one: that one's edge separates nuanced from refuted
    rest = {f"train_acc_{c}": 1.0 for c in LISTED[1:]}
    edges(E, lambda v: figs(train_acc_baseline=1.0, **rest, **{f"train_acc_{LISTED[0]}": v}),
          "hurt_min_drop", "nuanced", "nuanced", "refuted", value=at)


def test_reached_and_evidence():
    spared = figs(train_acc_model_too_small=0.99)
    reached(E, [figs(), spared, figs(train_acc_baseline=0.5), figs(**{f"train_acc_{c}": 0.99 for c in LISTED})])
    v, ev = E.decide(spared, T)
    assert v == "nuanced" and "model_too_small did not" in ev["en"] and "4 of the seed's 5" in ev["en"]
    assert "rather than oscillate" in E.decide(figs(), T)[1]["en"]
    assert "rather than oscillate" not in E.decide(figs(lr_too_high_oscillation=1.0), T)[1]["en"]


def test_beyond_sentences():
    t = E.explain_beyond({"train_acc_labels_shuffled_bug": 0.27, "train_acc_zero_initialization": 0.1,
                          "diagnosis_names_cause": 5 / 7, "baseline_findings": 0.0})
    assert "71.4%" in t["en"] and "0.27" in t["zh"]


def test_helpers():
    d = Data(np.zeros((1000, 1, 2, 2), np.float32), np.zeros(1000, np.int64), np.zeros((2, 1, 2, 2)),
             np.array([0, 9]))
    n = with_noisy_labels(d, 0.5, np.random.default_rng(0))
    changed = np.mean(n.y_train != 0)
    assert 0.4 < changed < 0.5 and n.y_train.max() <= 9 and d.y_train.max() == 0  # 1/10 of the draws keep 0
    assert names_cause(["Lower the learning rate (e.g. by 10x)"], "lower the learning rate")
    assert not names_cause(["train longer"], "initialisation")


def test_run_tiny_lr_too_low_matches_the_untrained_net_in_pytorch():
    """At lr 1e-5 the weights hardly move, so the run's training accuracy is that of its initial network,
    recomputed here by PyTorch from the same initial weights and data (the run's own draws, replayed)."""
    res = run_tiny(E, seed=0)
    f, b = res.values(), res.beyond_values()
    rng = np.random.default_rng(0)
    d = load_data("digits", 200, 100, rng, standardize=True)
    rng.integers(2**63)  # the run's child_rng
    seed = int(rng.integers(2**31))
    net = DeepMLP(rng=np.random.default_rng(seed), **NET)
    h = torch.tensor(d.x_train.reshape(len(d.y_train), -1), dtype=torch.float64)
    for i, lin in enumerate(net.linears()):
        h = h @ torch.tensor(lin.weight.data, dtype=torch.float64).T + torch.tensor(lin.bias.data, dtype=torch.float64)
        h = torch.relu(h) if i < len(net.linears()) - 1 else h
    acc0 = float((h.argmax(1).numpy() == d.y_train).mean())
    assert abs(f["train_acc_lr_too_low"] - acc0) <= 0.02
    # all-zero weights: every logit equal but the output bias, so the net predicts one class everywhere
    assert b["train_acc_zero_initialization"] <= np.bincount(d.y_train).max() / len(d.y_train) + 1e-12
