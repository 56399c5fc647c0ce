"""q30: decide exactly at every threshold, each verdict reached; the batch-gradient cosines recomputed with
PyTorch on the same batches; the sharpness and gradient-statistics helpers."""

import copy

import numpy as np
import pytest

import cvprimer.lab.experiments.q30_batch_size as q30
from cvprimer.lab._gradstats import batch_gradient_stats, loss_on, sharpness
from cvprimer.lab.experiments.q30_batch_size import SIZES, mlp
from cvprimer.lab.experiments.q30_batch_size import BatchSize as E
from labcheck import edges, reached, run_tiny

T = E.thresholds
LO, HI = SIZES[0], SIZES[-1]


def figs(cos=(0.1, 0.9), acc_c=(0.97, 0.96, 0.93, 0.89), acc_s=(0.96, 0.96, 0.95, 0.94)):
    f = {}
    for i, b in enumerate(SIZES):
        f[f"cosine_same_point_b{b}"] = cos[0] + (cos[1] - cos[0]) * i / (len(SIZES) - 1)
        for rule, acc in (("constant", acc_c), ("scaled", acc_s)):
            f[f"val_acc_{rule}_b{b}"] = acc[i]
    f[f"cosine_same_point_b{LO}"], f[f"cosine_same_point_b{HI}"] = cos
    return f


FLAT = (0.5, 0.5, 0.5, 0.5)  # no batch size better than another


def test_declaration():
    E.check()
    assert not E.completeness()


def test_evidence_quotes_the_figures():
    v, ev = E.decide(figs(), T)
    assert v == "nuanced" and "holds" in ev["en"] and "0.9 at B=512" in ev["en"] and "0.08" in ev["en"]


def test_edges_of_every_threshold():
    # direction: cos_hi - cos_lo equals v exactly with cos_lo = 0
    edges(E, lambda v: figs(cos=(0.0, v), acc_c=FLAT, acc_s=FLAT), "min_cos_gain", "refuted", "nuanced", "nuanced")
    both_ends = {"acc_c": (0.5, 1.0, 1.0, 0.0), "acc_s": (0.0, 1.0, 1.0, 0.0)}
    edges(E, lambda v: figs(cos=(0.0, v), **both_ends), "min_cos_gain", "nuanced", "confirmed", "confirmed")
    # too large alone: best scaled run v, scaled B=512 at 0, so the drop is v exactly; B=16 also at v (no small drop)
    edges(E, lambda v: figs(cos=(0.5, 0.5), acc_c=(0.0, 0.0, 0.0, 0.0), acc_s=(v, v, 0.0, 0.0)), "acc_drop",
          "refuted", "nuanced", "nuanced")
    # too small: the best run is v, the smallest batch's runs 0 (B=512 scaled also v: no large-batch drop)
    edges(E, lambda v: figs(cos=(0.5, 0.5), acc_c=(0.0, v, 0.0, 0.0), acc_s=(0.0, 0.0, 0.0, v)), "acc_drop",
          "refuted", "nuanced", "nuanced")
    # with the direction holding, each end's edge moves nuanced -> confirmed when the other end already drops
    edges(E, lambda v: figs(cos=(0.0, 1.0), acc_c=(0.0, 1.0, 0.0, 0.0), acc_s=(0.0, v, 0.0, 0.0)), "acc_drop",
          "nuanced", "confirmed", "confirmed")
    edges(E, lambda v: figs(cos=(0.0, 1.0), acc_c=(0.0, v, 0.0, 0.0), acc_s=(0.0, 0.0, 0.0, -1.0)), "acc_drop",
          "nuanced", "confirmed", "confirmed")


def test_reachable():
    reached(E, [figs(acc_c=FLAT, acc_s=FLAT), figs(cos=(0.1, 0.95), acc_c=(0.8, 0.97, 0.97, 0.8),
                                                   acc_s=(0.8, 0.97, 0.97, 0.8)),
                figs(cos=(0.5, 0.5), acc_c=FLAT, acc_s=FLAT)])


def test_run_tiny_cosines_match_torch(monkeypatch):
    torch = pytest.importorskip("torch")
    seen = {}
    real = q30.batch_gradient_stats

    def capture(model, x, y, sizes, draws, rng):
        seen.update(model=model, x=x, y=y, sizes=sizes, draws=draws, rng=copy.deepcopy(rng))
        return real(model, x, y, sizes, draws, rng)

    monkeypatch.setattr(q30, "batch_gradient_stats", capture)
    res = run_tiny(E)
    m = seen["model"]
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 64), torch.nn.ReLU(),
                              torch.nn.Linear(64, 10)).double()
    with torch.no_grad():
        for t, c in ((net[1], m[1]), (net[3], m[3])):
            t.weight.copy_(torch.from_numpy(c.weight.data.astype(np.float64)))
            t.bias.copy_(torch.from_numpy(c.bias.data.astype(np.float64)))
    x, y = seen["x"].astype(np.float64), seen["y"].astype(np.int64)

    def grad(i):
        net.zero_grad()
        torch.nn.functional.cross_entropy(net(torch.from_numpy(x[i])), torch.from_numpy(y[i])).backward()
        return torch.cat([p.grad.flatten() for p in net.parameters()]).numpy().copy()

    g = grad(np.arange(len(y)))
    rng = seen["rng"]
    for b in seen["sizes"]:
        cos = [float(gb @ g / (np.linalg.norm(g) * np.linalg.norm(gb)))
               for gb in (grad(rng.choice(len(y), b, replace=False)) for _ in range(seen["draws"]))]
        assert res.figures[f"cosine_same_point_b{b}"].value == pytest.approx(np.mean(cos), rel=1e-4, abs=1e-5), b
    n = len(y)
    assert res.beyond["noise_ratio_theory"].value == pytest.approx((n - LO) / LO * HI / (n - HI))


def test_helpers():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 10, 200)
    m = mlp()
    before = [p.data.copy() for p in m.parameters()]
    base = loss_on(m, x, y)
    s_small, s_big = sharpness(m, x, y, 0.05, 5, rng), sharpness(m, x, y, 0.5, 5, rng)
    assert all(np.array_equal(a, p.data) for a, p in zip(before, m.parameters(), strict=True))
    assert loss_on(m, x, y) == base and s_big > s_small
    st = batch_gradient_stats(m, x, y, [4, 200], 5, rng)
    assert st["noise"][1] < 1e-10 and abs(st["cosine"][1] - 1) < 1e-6 and st["cosine"][0] < 0.9
