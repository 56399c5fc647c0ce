"""q33: decide exactly at its margin for each of the seed's remedies; the imbalancing helper and the metrics wrapper;
the real run's balanced accuracies recomputed with a PyTorch copy of each trained MLP and scikit-learn."""

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score

from cvprimer.lab.common import Data
from cvprimer.lab.experiments import q33_class_imbalance as q33
from cvprimer.lab.experiments.q33_class_imbalance import METHODS, SEED_REMEDIES, SLUG, imbalance, scores
from cvprimer.lab.experiments.q33_class_imbalance import ClassImbalance as E
from labcheck import edges, reached, run_tiny

T = E.thresholds
H = T["help_pts"]


def figures(**gain):
    b = {"none": 84.4, "over-sampling": 85.6, "under-sampling": 83.6, "SMOTE": 85.1, "focal loss": 84.4}
    f = {f"bal_acc_{SLUG[k]}": v for k, v in b.items()}
    f.update({f"gain_{SLUG[k]}": round(b[k] - b["none"], 9) for k in SEED_REMEDIES})
    f.update({f"gain_{k}": v for k, v in gain.items()})
    return f


def test_edges_for_each_remedy():
    for k in SEED_REMEDIES:
        def make(v, k=k, all_help=False):
            f = figures(**{SLUG[r]: (50.0 if all_help else 0.0) for r in SEED_REMEDIES})
            return {**f, f"gain_{SLUG[k]}": v}
        edges(E, make, "help_pts", below="refuted", at="nuanced", above="nuanced")
        edges(E, lambda v, make=make: make(v, all_help=True), "help_pts", below="nuanced", at="confirmed",
              above="confirmed")


def test_reachable_and_evidence():
    every = figures(**{SLUG[k]: 5.0 for k in SEED_REMEDIES})
    none = figures(**{SLUG[k]: -0.4 for k in SEED_REMEDIES})
    reached(E, [figures(), every, none])
    v, ev = E.decide(figures(), T)
    assert v == "nuanced" and "1 of 4" in ev["en"] and "(over-sampling), while under-sampling, SMOTE" in ev["en"]
    assert "84.4" in ev["zh"] and "欠采样" in ev["zh"]
    assert E.decide(every, T)[1]["en"].endswith("help by at least 1 points.")
    b = {f"bal_acc_{SLUG[k]}": 80.0 + i for i, k in enumerate(METHODS)}
    b.update({"minority_recall_none": 61.0, "minority_recall_undersample": 73.0, "minority_train_images": 30})
    out = E.explain_beyond(b)
    assert "best: threshold moving" in out["en"] and "73" in out["zh"]


def test_imbalance_keeps_the_ratio_and_the_validation_split():
    y = np.repeat(np.arange(4), 20)
    d = Data(np.zeros((80, 1, 2, 2), np.float32), y, np.zeros((8, 1, 2, 2), np.float32), np.arange(8) % 4)
    out = imbalance(d, 10, (1, 3), 5, np.random.default_rng(0))
    assert np.bincount(out.y_train).tolist() == [10, 2, 10, 2] and out.x_val is d.x_val


def test_scores_in_percent():
    logits = np.eye(3)[[0, 1, 2, 2]]
    s = scores(logits, np.array([0, 1, 2, 1]), (1,))
    assert s["minority_recall"] == 50.0 and s["acc"] == 75.0 and abs(s["balanced_acc"] - 100 * 2.5 / 3) < 1e-9


def test_run_balanced_accuracy_matches_torch_and_sklearn(monkeypatch):
    """Each trained MLP is copied into torch, its validation logits recomputed, and scikit-learn's balanced
    accuracy compared with the run's figure (the calls come in the order of the run's model dict)."""
    calls = []
    real = q33.predict

    def record(model, x):
        calls.append((model, x))
        return real(model, x)

    monkeypatch.setattr(q33, "predict", record)
    res = run_tiny(E, seed=1)
    f, b = res.values(), res.beyond_values()
    y_val = None
    order = [k for k in METHODS if k != "threshold moving"]
    assert len(calls) == len(order)
    for name, (model, x) in zip(order, calls, strict=True):
        lin1, lin2 = model[1], model[3]
        h = torch.relu(torch.tensor(x.reshape(len(x), -1), dtype=torch.float64)
                       @ torch.tensor(lin1.weight.data, dtype=torch.float64).T + torch.tensor(lin1.bias.data))
        logits = (h @ torch.tensor(lin2.weight.data, dtype=torch.float64).T + torch.tensor(lin2.bias.data)).numpy()
        if y_val is None:
            from cvprimer.lab.common import load_data
            y_val = load_data("mnist_sample", 600, 200, np.random.default_rng(1)).y_val
        want = 100 * balanced_accuracy_score(y_val, logits.argmax(1))
        got = {**f, **b}[f"bal_acc_{SLUG[name]}"]
        assert abs(got - want) <= 100 / 20 / 10 + 1e-9, name  # one float32 argmax flip at most (20 per class)
    want_keys = {f"bal_acc_{SLUG[k]}" for k in ("none", *SEED_REMEDIES)} | {f"gain_{SLUG[k]}" for k in SEED_REMEDIES}
    assert set(f) == want_keys
    for k in SEED_REMEDIES:
        assert abs(f[f"gain_{SLUG[k]}"] - (f[f"bal_acc_{SLUG[k]}"] - f["bal_acc_none"])) < 1e-8
