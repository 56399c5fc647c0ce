"""q08: decide exactly at every threshold for every width and depth comparison, each verdict reached, and the real
run() recomputed independently (PyTorch's cross-entropy of the same kind of net; closed-form parameter counts)."""

import numpy as np
import torch

from cvprimer.lab.experiments.q08_depth_width import DEPTHS, WIDTHS, mlp, mlp_params
from cvprimer.lab.experiments.q08_depth_width import DepthVersusWidth as E
from labcheck import edges, reached, run_tiny

BASE = {**{f"val_acc_w{w}": 0.0 + 0.05 * i for i, w in enumerate(WIDTHS)},
        **{f"train_loss_d{d}": 1.0 - 0.2 * i for i, d in enumerate(DEPTHS)}}


def test_edges_of_every_threshold_in_every_comparison():
    for w in WIDTHS[1:]:  # the narrowest net scores 0: the gain equals v exactly
        edges(E, lambda v, w=w: {**BASE, f"val_acc_w{WIDTHS[0]}": 0.0, f"val_acc_w{w}": v}, "min_acc_gain",
              below="nuanced", at="confirmed", above="confirmed")
    for d in DEPTHS[1:]:  # the shallow net's loss is 1: the ratio equals v exactly
        edges(E, lambda v, d=d: {**BASE, f"train_loss_d{d}": v}, "max_loss_ratio", below="confirmed",
              at="confirmed", above="nuanced")


def test_reaches_its_verdicts_and_names_the_boundary():
    none = {**{f"val_acc_w{w}": 0.9 for w in WIDTHS}, **{f"train_loss_d{d}": 1.0 for d in DEPTHS}}
    reached(E, [BASE, {**BASE, "train_loss_d4": 1.2}, none])
    v, ev = E.decide({**BASE, "train_loss_d4": 1.2}, E.thresholds)
    assert v == "nuanced" and "Fails: depth 4 vs 1." in ev["en"] and "1.2x" in ev["en"] and "depth 4 vs 1" in ev["zh"]
    assert E.quick_provisional and set(E.reasons) == set(E.thresholds)


def test_mlp_parameter_count_by_closed_form_and_torch():
    for d, w in ((1, 8), (2, 32), (4, 32)):
        t = torch.nn.Sequential(torch.nn.Linear(784, w), *[torch.nn.Linear(w, w) for _ in range(d - 1)],
                                torch.nn.Linear(w, 10))
        assert sum(p.data.size for p in mlp(d, w).parameters()) == mlp_params(d, w) == \
            sum(p.numel() for p in t.parameters())


def test_run_recomputed_with_torch(monkeypatch):
    """The run's training loss of the 2-layer net equals PyTorch's cross-entropy of the same weights on the same
    training images (the weights are copied out of the trained model)."""
    from cvprimer.lab import common
    from cvprimer.lab.experiments import q08_depth_width as q

    kept = {}
    real_fit = common.fit

    def spy(model, data, *a, **k):
        out = real_fit(model, data, *a, **k)
        kept[len([m for m in model.modules() if type(m).__name__ == "Linear"])] = (model, data)
        return out

    monkeypatch.setattr(q, "fit", spy)
    res = run_tiny(E)
    f = res.values()
    model, data = kept[3]  # 2 hidden layers + the output layer
    lins = [m for m in model.modules() if type(m).__name__ == "Linear"]
    h = torch.from_numpy(data.x_train.reshape(len(data.x_train), -1).astype(np.float64))
    for i, lin in enumerate(lins):
        w, b = (torch.from_numpy(t.data.astype(np.float64)) for t in (lin.weight, lin.bias))
        h = h @ w.T + b
        if i < len(lins) - 1:
            h = torch.relu(h)
    ref = torch.nn.functional.cross_entropy(h, torch.from_numpy(data.y_train.astype(np.int64))).item()
    assert abs(f["train_loss_d2"] - ref) < 1e-4
    assert all(0.0 <= f[f"val_acc_w{w}"] <= 1.0 for w in WIDTHS)
