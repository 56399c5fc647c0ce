"""q45: decide exactly at each threshold; the group-dependency helper; the real run against PyTorch."""

import numpy as np
import torch

from cvprimer.lab.experiments.q45_group_conv import GroupConv as E
from cvprimer.lab.experiments.q45_group_conv import group_dependency
from labcheck import edges, reached, run_tiny

BASE = {"split_concat_err": 0.0, "cross_group_dependencies": 0.0}


def test_declaration_complete():
    E.check()
    assert E.completeness() == [] and set(E.reachable) == {"confirmed", "refuted"}


def test_edges():
    edges(E, lambda v: {**BASE, "split_concat_err": v}, "exact_tol", "confirmed", "confirmed", "refuted")
    edges(E, lambda v: {**BASE, "cross_group_dependencies": v}, "max_cross_dependencies",
          "confirmed", "confirmed", "refuted")


def test_reached_and_evidence():
    reached(E, [BASE, {**BASE, "cross_group_dependencies": 3.0}, {**BASE, "split_concat_err": 0.5}])
    v, ev = E.decide({"split_concat_err": 2.2e-16, "cross_group_dependencies": 0.0}, E.thresholds)
    assert v == "confirmed" and "2.2e-16" in ev["en"] and "2.2e-16" in ev["zh"]
    assert "not convolved" in E.decide({**BASE, "cross_group_dependencies": 1.0}, E.thresholds)[1]["en"]


def test_beyond_sentences():
    b = {"cost_div_g_err": 0.0, "time_speedup_g8": 1.19, "time_speedup_g64": 3.52, "shuffle_reach": 1.0}
    t = E.explain_beyond(b)
    assert "1.19x" in t["en"] and "3.52" in t["zh"] and "100%" in t["en"] and "fell less than" in t["en"]
    t = E.explain_beyond({**b, "time_speedup_g8": 9.0, "cost_div_g_err": 0.1})
    assert "not always less than" in t["en"] and "do not fall exactly" in t["en"] and "并不严格" in t["zh"]


def test_group_dependency():
    rng = np.random.default_rng(0)
    assert np.array_equal(group_dependency(8, 4, False, rng), np.eye(4))
    assert group_dependency(16, 4, True, rng).all()  # full reach needs C/g >= g


def _torch_dependency(c, g, shuffle, rng):
    """The same dependency matrix by PyTorch's autograd (grouped conv, optional channel shuffle, grouped conv)."""
    w1, w2 = (torch.tensor(rng.standard_normal((c, c // g, 1, 1))) for _ in range(2))
    per, dep = c // g, np.zeros((g, g))
    for j in range(g):
        x = torch.tensor(rng.standard_normal((1, c, 1, 1)), requires_grad=True)
        h = torch.nn.functional.conv2d(x, w1, groups=g)
        if shuffle:
            h = h.reshape(1, g, per, 1, 1).transpose(1, 2).reshape(1, c, 1, 1)
        torch.nn.functional.conv2d(h, w2, groups=g)[:, j * per:(j + 1) * per].sum().backward()
        dep[j] = np.abs(x.grad.numpy()[0, :, 0, 0]).reshape(g, per).sum(1) > 0
    return dep


def test_run_tiny_matches_pytorch():
    res = run_tiny(E)
    f = res.values()
    assert E.decide(f, E.thresholds)[0] == "confirmed"
    # the split-and-concatenate identity recomputed with PyTorch on the run's own inputs (generator seeded 45)
    rng = np.random.default_rng(45)
    x = rng.standard_normal((2, 64, 9, 9))
    worst = 0.0
    for g in (2, 4, 8):
        w = rng.standard_normal((32, 64 // g, 3, 3))
        tx, tw = torch.tensor(x), torch.tensor(w)
        whole = torch.nn.functional.conv2d(tx, tw, padding=1, groups=g)
        pi, po = 64 // g, 32 // g
        parts = torch.cat([torch.nn.functional.conv2d(tx[:, i * pi:(i + 1) * pi], tw[i * po:(i + 1) * po], padding=1)
                           for i in range(g)], 1)
        worst = max(worst, float((whole - parts).abs().max() / whole.abs().max()))
    assert worst < 1e-12 and f["split_concat_err"] < 1e-12
    assert f["cross_group_dependencies"] == _torch_dependency(16, 4, False, np.random.default_rng(1)).sum() - 4
    assert res.beyond_values()["shuffle_reach"] == _torch_dependency(16, 4, True, np.random.default_rng(1)).mean()
