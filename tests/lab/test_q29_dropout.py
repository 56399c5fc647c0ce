"""q29: decide exactly at every threshold, each verdict reached; the loss gap recomputed with PyTorch from the
trained weights; the co-adaptation helpers."""

import numpy as np
import pytest

import cvprimer.lab.experiments.q29_dropout as q29
from cvprimer.lab.experiments.q29_dropout import DropoutWhy as E
from cvprimer.lab.experiments.q29_dropout import log_loss, mean_abs_corr, mlp, softmax
from labcheck import edges, reached, run_tiny

T = E.thresholds
G = {"gap_plain": 0.2, "gap_dropout": 0.1, "loss_gap_plain": 0.6, "loss_gap_dropout": 0.3,
     "val_acc_plain": 0.83, "val_acc_dropout": 0.85, "train_acc_plain": 1.0, "train_acc_dropout": 0.99,
     "half_units_acc_plain": 0.8, "half_units_acc_dropout": 0.84}
NONE = {"gap_dropout": 0.2, "loss_gap_dropout": 0.6, "half_units_acc_dropout": 0.8}


def figs(**kw):
    return {**G, **kw}


def test_declaration():
    E.check()
    assert not E.completeness()


def test_confirmed_evidence_quotes_the_figures():
    v, ev = E.decide(G, T)
    assert v == "confirmed" and "0.84" in ev["en"] and "yes" in ev["en"] and "0.84" in ev["zh"]
    v, ev = E.decide(figs(**NONE), T)
    assert v == "refuted" and "yes" not in ev["en"]


def test_edges_of_every_threshold():
    # g1 <= ratio * g0 with g0 = 1 and g1 = v is exactly v <= ratio
    edges(E, lambda v: figs(gap_plain=1.0, gap_dropout=v), "max_gap_ratio", "confirmed", "confirmed", "nuanced")
    edges(E, lambda v: figs(gap_plain=1.0, gap_dropout=v, loss_gap_dropout=0.6, half_units_acc_dropout=0.8),
          "max_gap_ratio", "nuanced", "nuanced", "refuted")
    edges(E, lambda v: figs(loss_gap_plain=1.0, loss_gap_dropout=v), "max_loss_gap_ratio",
          "confirmed", "confirmed", "nuanced")
    edges(E, lambda v: figs(half_units_acc_plain=0.0, half_units_acc_dropout=v), "min_robust_gain",
          "nuanced", "confirmed", "confirmed")
    edges(E, lambda v: figs(half_units_acc_plain=0.0, half_units_acc_dropout=v, gap_dropout=0.2,
                            loss_gap_dropout=0.6), "min_robust_gain", "refuted", "nuanced", "nuanced")
    edges(E, lambda v: figs(loss_gap_plain=1.0, loss_gap_dropout=v, gap_dropout=0.2,
                            half_units_acc_dropout=0.8), "max_loss_gap_ratio", "nuanced", "nuanced", "refuted")


def test_reachable():
    reached(E, [G, figs(gap_dropout=0.2), figs(**NONE)])


def test_run_tiny_loss_gap_matches_torch(monkeypatch):
    torch = pytest.importorskip("torch")
    seen = []
    real = q29.fit

    def fit(model, data, *a, **k):
        out = real(model, data, *a, **k)
        seen.append((model, data))
        return out

    monkeypatch.setattr(q29, "fit", fit)
    res = run_tiny(E)
    for name, (model, data) in zip(("plain", "dropout"), seen, strict=True):
        lins = [model[i] for i in (1, 4, 7)]
        ts = []
        for lin in lins:
            t = torch.nn.Linear(lin.weight.data.shape[1], lin.weight.data.shape[0]).double()
            with torch.no_grad():
                t.weight.copy_(torch.from_numpy(lin.weight.data.astype(np.float64)))
                t.bias.copy_(torch.from_numpy(lin.bias.data.astype(np.float64)))
            ts.append(t)
        net = torch.nn.Sequential(torch.nn.Flatten(), ts[0], torch.nn.ReLU(), ts[1], torch.nn.ReLU(), ts[2])

        def ce(x, y, net=net):
            with torch.no_grad():
                return float(torch.nn.functional.cross_entropy(net(torch.from_numpy(x.astype(np.float64))),
                                                               torch.from_numpy(y.astype(np.int64))))

        want = ce(data.x_val, data.y_val) - ce(data.x_train, data.y_train)
        assert res.figures[f"loss_gap_{name}"].value == pytest.approx(want, rel=1e-3, abs=1e-4), name
    assert set(res.beyond) >= {"val_acc_mc_64", "corr_plain"} and "0" in E.explain_beyond(res.beyond_values())["en"]


def test_helpers():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((200, 1))
    h = np.hstack([a, 2 * a, np.zeros((200, 1))])  # the constant unit is ignored
    assert mean_abs_corr(h) == pytest.approx(1.0)
    p = softmax(np.array([[0.0, 0.0], [10.0, 0.0]]))
    assert p[0].tolist() == [0.5, 0.5] and log_loss(p, np.array([0, 0])) == pytest.approx(-np.log(0.5) / 2, rel=1e-3)
    assert [type(m).__name__ for m in mlp(0.0)][3] == "Identity" and type(mlp(0.5)[3]).__name__ == "Dropout"
