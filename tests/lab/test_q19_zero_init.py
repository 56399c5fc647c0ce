"""q19: decide on both sides of each threshold; the init schemes and the rank helper; one real step."""

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn, optim
from cvprimer.lab.experiments.q19_zero_init import ACTS, SCHEMES, apply_scheme, linears, mlp, numerical_rank
from cvprimer.lab.experiments.q19_zero_init import ZeroInit as E

T = E.thresholds


def figs(zero=(0.1, 0.1, 0.25), last=(0.93, 0.95, 0.2), base=(0.93, 0.95, 0.8)):
    f = {}
    for i, a in enumerate(ACTS):
        f.update({f"acc_all_zero_{a}": zero[i], f"acc_zero_last_{a}": last[i], f"acc_random_{a}": base[i],
                  f"acc_zero_hidden_{a}": 0.1, f"acc_constant_{a}": 0.1, f"moved_all_zero_{a}": 1.0,
                  f"hidden_rank_all_zero_{a}": 0.0, f"hidden_rank_constant_{a}": 1.0})
    return f


def test_nuanced_when_relu_tanh_stuck_but_zero_last_trains():
    v, ev = E.decide(figs(), T)
    assert v == "nuanced" and "0.25" in ev["en"] and "0.93" in ev["zh"] and "sigmoid it learns above" in ev["en"]


def test_rank_sentence_follows_the_measured_rank():
    f = figs()
    f["hidden_rank_all_zero_sigmoid"] = 5.0
    ev = E.decide(f, T)[1]
    assert "reach rank 5" in ev["en"] and "秩却达到 5" in ev["zh"]


def test_chance_margin_both_sides():
    m = T["chance_margin"]
    stuck = figs(zero=(0.1, 0.1, 0.1 + 0.9 * m), last=(0.1, 0.1, 0.1))
    assert E.decide(stuck, T)[0] == "confirmed"
    above = figs(zero=(0.1, 0.1, 0.1 + 1.1 * m), last=(0.1, 0.1, 0.1))
    assert E.decide(above, T)[0] == "nuanced"


def test_trains_gap_both_sides():
    g = T["trains_gap"]
    stuck = (0.1, 0.1, 0.1)
    assert E.decide(figs(zero=stuck, last=(0.95 - 1.1 * g, 0.1, 0.1), base=(0.95, 0.95, 0.9)), T)[0] == "confirmed"
    assert E.decide(figs(zero=stuck, last=(0.95 - 0.9 * g, 0.1, 0.1), base=(0.95, 0.95, 0.9)), T)[0] == "nuanced"


def test_refuted_when_all_zero_trains_everywhere():
    v, ev = E.decide(figs(zero=(0.9, 0.9, 0.8), base=(0.93, 0.95, 0.85)), T)
    assert v == "refuted" and "0.9" in ev["en"]


def test_schemes_and_rank():
    for s in SCHEMES:
        m = apply_scheme(mlp(nn.ReLU), s)
        w = [lin.weight.data for lin in linears(m)]
        if s == "all_zero":
            assert all(not x.any() for x in w)
        if s == "zero_last":
            assert not w[-1].any() and w[0].any()
        if s == "constant":
            assert [numerical_rank(x) for x in w] == [1, 1, 1]
    assert numerical_rank(np.zeros((3, 3))) == 0 and numerical_rank(np.eye(4)) == 4


def test_all_zero_relu_only_last_bias_moves_and_sigmoid_stays_rank_one():
    rng = np.random.default_rng(0)
    x, y = cp.tensor(rng.random((16, 1, 8, 8), np.float32)), cp.tensor(rng.integers(0, 10, 16))
    for act, moved_expected in ((nn.ReLU, {"5.bias"}), (nn.Sigmoid, None)):
        m = apply_scheme(mlp(act), "all_zero")
        before = {n: p.data.copy() for n, p in m.named_parameters()}
        opt = optim.SGD(m.parameters(), lr=0.5)
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(m(x), y).backward()
            opt.step()
        moved = {n for n, p in m.named_parameters() if not np.array_equal(p.data, before[n])}
        if moved_expected is not None:
            assert moved == moved_expected
        else:
            assert len(moved) == 6 and max(numerical_rank(lin.weight.data) for lin in linears(m)) == 1
