"""q19: decide exactly at its threshold for each activation; every verdict reached; the init schemes and the rank
helper; the real run at tiny size checked against closed forms and a PyTorch oracle."""

import numpy as np
import pytest
import torch

from cvprimer import nn
from cvprimer.lab.common import load_data
from cvprimer.lab.experiments.q19_zero_init import ACTS, SCHEMES, apply_scheme, linears, mlp, numerical_rank
from cvprimer.lab.experiments.q19_zero_init import ZeroInit as E
from labcheck import edges, reached, run_tiny

T = E.thresholds


def figs(spread=(0.0, 0.0, 0.5), acc=(0.1, 0.1, 0.2)):
    f = {}
    for i, a in enumerate(ACTS):
        f[f"spread_all_zero_{a}"], f[f"acc_all_zero_{a}"] = spread[i], acc[i]
    return f


@pytest.mark.parametrize("i", range(len(ACTS)))
def test_same_output_edge_for_each_activation(i):
    def make(v, others):
        s = [others] * len(ACTS)
        s[i] = v
        return figs(spread=tuple(s))

    edges(E, lambda v: make(v, 0.0), "same_output_tol", below="confirmed", at="confirmed", above="nuanced")
    edges(E, lambda v: make(v, 1.0), "same_output_tol", below="nuanced", at="nuanced", above="refuted")


def test_every_verdict_reached_with_its_evidence():
    reached(E, [figs(spread=(0, 0, 0)), figs(), figs(spread=(0.3, 0.4, 0.5))])
    v, ev = E.decide(figs(), T)
    assert v == "nuanced" and "With relu, tanh every input still gets the same output" in ev["en"]
    assert "With sigmoid the outputs do depend" in ev["en"] and "sigmoid 时输出确实随输入变化" in ev["zh"]


def test_explain_beyond_quotes_the_figures():
    b = {f"acc_{s}_{a}": 0.5 for a in ACTS for s in SCHEMES if s != "all_zero"}
    b.update({f"moved_all_zero_{a}": 1.0 for a in ACTS} | {f"hidden_rank_constant_{a}": 1.0 for a in ACTS})
    b["acc_zero_last_tanh"] = 0.937
    text = E.explain_beyond(b)
    assert "tanh 0.937" in text["en"] and "tanh 0.937" in text["zh"]


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


def torch_zero_mlp_spread(act, x, y, steps=5):
    """PyTorch oracle: the same all-zero MLP trained a few Adam steps (lr 1e-2); the largest output std."""
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(64, 32), act(), torch.nn.Linear(32, 32), act(), torch.nn.Linear(32, 10))
    for p in m.parameters():
        torch.nn.init.zeros_(p)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    xt, yt = torch.tensor(x.reshape(len(x), -1), dtype=torch.float32), torch.tensor(y)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(m(xt), yt).backward()
        opt.step()
    with torch.no_grad():
        return float(m(xt).std(0).max())


def test_tiny_run_against_closed_form_and_torch():
    res = run_tiny(E, seed=0)
    f = res.values()
    data = load_data("digits", 200, 360, np.random.default_rng(0), standardize=True)  # the run's own split
    shares = {float(np.mean(data.y_val == c)) for c in range(10)}
    for a in ("relu", "tanh"):  # f(0) = 0: only the output bias moves, so the net predicts one class everywhere
        assert f[f"spread_all_zero_{a}"] == 0.0 and f[f"acc_all_zero_{a}"] in shares
        assert res.beyond[f"moved_all_zero_{a}"].value == 1 and res.beyond[f"hidden_rank_all_zero_{a}"].value == 0
    assert f["spread_all_zero_sigmoid"] > T["same_output_tol"] and res.beyond["hidden_rank_all_zero_sigmoid"].value == 1
    # the same mechanism in PyTorch: outputs identical for every input with ReLU and tanh, not with sigmoid
    x, y = data.x_train[:64], data.y_train[:64]
    assert torch_zero_mlp_spread(torch.nn.ReLU, x, y) == 0.0 and torch_zero_mlp_spread(torch.nn.Tanh, x, y) == 0.0
    assert torch_zero_mlp_spread(torch.nn.Sigmoid, x, y) > T["same_output_tol"]
    assert E.decide(f, T)[0] == "nuanced"
