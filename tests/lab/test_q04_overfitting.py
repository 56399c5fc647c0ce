"""q04/q22: decide exactly at every threshold; the verdicts it declares; the remedy rule; the real run's baseline
retrained independently in PyTorch (same initial weights, same batches, Adam) and its accuracies compared."""

import tempfile

import numpy as np
import torch

from cvprimer import manual_seed
from cvprimer.lab.experiment import Context
from cvprimer.lab.experiments.q04_overfitting import REMEDIES, SEED_REMEDIES, flip_labels, helps, mlp, prepare
from cvprimer.lab.experiments.q04_overfitting import OverfittingRemedies as E
from labcheck import edges, reached, run_tiny

T = E.thresholds


def figs(gap0=0.25, acc0=0.75, helped=REMEDIES, **kw):
    f = {"gap_baseline": gap0, "val_acc_baseline": acc0}
    for r in REMEDIES:
        f[f"gap_{r}"], f[f"val_acc_{r}"] = (0.05, 0.8) if r in helped else (gap0, acc0)
    f.update(kw)
    return f


def test_every_threshold_edge():
    # the baseline must over-fit
    edges(E, lambda v: figs(gap0=v), "min_base_gap", "refuted", "confirmed", "confirmed")
    # accuracy gain alone (the gap unchanged): dropout is the only remedy under test
    others = tuple(r for r in REMEDIES if r != "dropout")
    edges(E, lambda v: figs(acc0=0.0, helped=others, val_acc_dropout=v), "min_acc_gain",
          "nuanced", "confirmed", "confirmed")
    # gap cut at no accuracy cost: the gap at (1 - cut) x baseline gap, with the baseline gap 1
    edges(E, lambda v: figs(gap0=1.0, acc0=0.5, helped=others, gap_dropout=v, val_acc_dropout=0.5),
          "min_gap_cut", "confirmed", "confirmed", "nuanced", value=1 - T["min_gap_cut"])
    # the accuracy a gap cut may cost (baseline accuracy 0)
    edges(E, lambda v: figs(gap0=1.0, acc0=0.0, helped=others, gap_dropout=0.0, val_acc_dropout=-v),
          "max_acc_loss", "confirmed", "confirmed", "nuanced")
    # L2 helps when either form helps
    rest = tuple(r for r in REMEDIES if r not in ("l2_coupled", "l2_decoupled"))
    for form in ("l2_coupled", "l2_decoupled"):
        edges(E, lambda v, form=form: figs(acc0=0.0, helped=rest, **{f"val_acc_{form}": v}), "min_acc_gain",
              "nuanced", "confirmed", "confirmed")


def test_reachable_verdicts_and_evidence():
    reached(E, [figs(), figs(helped=REMEDIES[:3]), figs(helped=())])
    v, ev = E.decide(figs(helped=tuple(r for r in REMEDIES if r != "batch_norm")), T)
    assert v == "nuanced" and "8 of 9 help" in ev["en"] and "Not helping: batch norm (0.75, gap 0.25)" in ev["en"]
    assert "无效：批归一化（0.75，差距 0.25）" in ev["zh"]
    assert len(SEED_REMEDIES) == 9 and E.decide(figs(helped=("l2_decoupled",) + SEED_REMEDIES), T)[0] == "confirmed"


def test_helps_rule_on_both_sides():
    th = T
    assert helps(0.2, 0.8, 0.2, 0.8 + th["min_acc_gain"], th)
    assert not helps(0.2, 0.8, 0.2, 0.8 + th["min_acc_gain"] / 2, th)
    assert not helps(0.2, 0.8, 0.2 * (1 - th["min_gap_cut"]) + 0.01, 0.8, th)


def test_flip_labels_changes_exactly_the_share_to_other_classes():
    y = np.repeat(np.arange(10), 20)
    y2, idx = flip_labels(y, 0.15, 10, np.random.default_rng(0))
    assert len(idx) == 30 and np.all(y2[idx] != y[idx]) and np.array_equal(np.delete(y2, idx), np.delete(y, idx))


def torch_baseline(seed: int = 0) -> tuple[float, float]:
    """Train the baseline in PyTorch from the same initial weights on the same batches; (train acc, val acc)."""
    with tempfile.TemporaryDirectory() as d:
        st = prepare(Context(d, quick=True, seed=seed, save_plots=False, tiny=True))
    manual_seed(st.init_seed)
    np.random.seed(st.init_seed)  # noqa: NPY002 - the run seeds it the same way
    ours = [m for m in mlp() if type(m).__name__ == "Linear"]
    layers = []
    for m in ours:
        lin = torch.nn.Linear(m.weight.data.shape[1], m.weight.data.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.asarray(m.weight.data, np.float32)))
            lin.bias.copy_(torch.from_numpy(np.asarray(m.bias.data, np.float32)))
        layers += [lin, torch.nn.ReLU()]
    net = torch.nn.Sequential(torch.nn.Flatten(), *layers[:-1])
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    x, y = torch.from_numpy(st.small.x_train), torch.from_numpy(st.small.y_train.astype(np.int64))
    gen = np.random.default_rng(st.order_seed)
    for _ in range(st.epochs):
        order = gen.permutation(len(y))
        gen.integers(0, 2**63 - 1)  # the loader's per-epoch augmentation seed
        for s in range(0, len(order), 64):
            idx = torch.from_numpy(order[s:s + 64])
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
            opt.step()
    with torch.no_grad():
        train = (net(x).argmax(1) == y).float().mean().item()
        val = (net(torch.from_numpy(st.small.x_val)).argmax(1).numpy() == st.small.y_val).mean()
    return float(train), float(val)


def test_run_baseline_matches_torch():
    f = run_tiny(E, seed=0).values()
    train, val = torch_baseline(0)
    assert abs(f["val_acc_baseline"] - val) <= 0.02 and abs(f["gap_baseline"] - (train - val)) <= 0.03
