"""q30: decide on both sides of each threshold; the sharpness and gradient-statistics helpers."""

import numpy as np

from cvprimer.lab._gradstats import batch_gradient_stats, loss_on, sharpness
from cvprimer.lab.experiments.q30_batch_size import SIZES, mlp
from cvprimer.lab.experiments.q30_batch_size import BatchSize as E

T = E.thresholds
LO, HI = SIZES[0], SIZES[-1]


def figs(ratio=50.0, acc_c=(0.97, 0.96, 0.93, 0.89), acc_s=(0.96, 0.96, 0.95, 0.94)):
    f = {}
    for i, b in enumerate(SIZES):
        f[f"noise_same_point_b{b}"] = 1.0 / b
        f[f"cosine_same_point_b{b}"] = 0.1 + 0.2 * i
        for rule, acc in (("constant", acc_c), ("scaled", acc_s)):
            f.update({f"val_acc_{rule}_b{b}": acc[i], f"gap_{rule}_b{b}": 0.03, f"sharpness_{rule}_b{b}": 0.02,
                      f"noise_{rule}_b{b}": 0.1, f"cpu_{rule}_b{b}": 0.1})
    f[f"noise_same_point_b{LO}"] = ratio * f[f"noise_same_point_b{HI}"]
    return f


def test_nuanced_when_scaling_recovers_the_large_batch():
    v, ev = E.decide(figs(), T)
    assert v == "nuanced" and "not from local optima" in ev["en"] and "50x" in ev["en"] and "0.08" in ev["zh"]


def test_noise_ratio_threshold_both_sides():
    r = T["min_noise_ratio"]
    assert E.decide(figs(ratio=1.1 * r), T)[0] == "nuanced"
    v, ev = E.decide(figs(ratio=0.9 * r), T)
    assert v == "refuted" and "did not give" in ev["en"]


def test_drop_threshold_both_sides():
    d = T["acc_drop"]
    low = 0.97 - 1.1 * d
    both_ends = figs(acc_c=(low, 0.97, 0.97, 0.97 - 2 * d), acc_s=(low, 0.97, 0.97, low))
    assert E.decide(both_ends, T)[0] == "confirmed"
    small_ok = figs(acc_c=(0.97 - 0.9 * d, 0.97, 0.97, 0.97 - 2 * d), acc_s=(0.97, 0.97, 0.97, 0.97 - 1.1 * d))
    v, ev = E.decide(small_ok, T)
    assert v == "nuanced" and "linear rule stops working" in ev["en"]
    recovered = figs(acc_c=(0.97, 0.97, 0.97, 0.97 - 1.1 * d), acc_s=(0.97, 0.97, 0.97, 0.97 - 0.9 * d))
    assert "not from local optima" in E.decide(recovered, T)[1]["en"]
    no_drop = figs(acc_c=(0.97, 0.97, 0.97, 0.97 - 0.9 * d), acc_s=(0.97, 0.97, 0.97, 0.97))
    assert "not from local optima" not in E.decide(no_drop, T)[1]["en"]


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
