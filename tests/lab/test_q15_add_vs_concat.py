"""q15: decide exactly at its threshold, each declared verdict reached, and the real run() recomputed with
PyTorch (its shape rules and its concatenation) and closed forms."""

import numpy as np
import pytest
import torch

import cvprimer as cp
from cvprimer.lab.experiments.q15_add_vs_concat import RULES, TwoBranch
from cvprimer.lab.experiments.q15_add_vs_concat import AddVsConcat as E
from labcheck import edges, reached, run_tiny

BASE = {**{f"rule_{k}": 1.0 for k in RULES if k != "concat_copy"}, "concat_copy_err": 0.0}


def test_edges_of_the_copy_tolerance():
    edges(E, lambda v: {**BASE, "concat_copy_err": v}, "copy_tol", below="confirmed", at="confirmed",
          above="nuanced")


def test_reaches_its_verdicts_and_names_the_failing_rule():
    none = {**{k: 0.0 for k in BASE}, "concat_copy_err": 1.0}
    reached(E, [BASE, {**BASE, "rule_add_hw_differ": 0.0}, none])
    v, ev = E.decide({**BASE, "rule_concat_hw_differ": 0.0}, E.thresholds)
    assert v == "nuanced" and "1 fail (concatenation of 8x8 and 4x4" in ev["en"] and "不能拼接" in ev["zh"]


def test_run_recomputed_with_torch():
    res = run_tiny(E)
    f, b = res.values(), res.beyond_values()
    # PyTorch's own verdict on the same merges
    a, b16, small = torch.zeros(1, 32, 8, 8), torch.zeros(1, 16, 8, 8), torch.zeros(1, 32, 4, 4)
    with pytest.raises(RuntimeError):
        a + b16
    with pytest.raises(RuntimeError):
        a + small
    with pytest.raises(RuntimeError):
        torch.cat([a, small], 1)
    assert torch.cat([a, b16], 1).shape == (1, 48, 8, 8) and (a + a).shape == a.shape
    assert all(f[f"rule_{k}"] == 1.0 for k in RULES if k != "concat_copy") and f["concat_copy_err"] == 0.0
    assert b["next_params_ratio"] == 2.0 and b["next_macs_ratio"] == 2.0  # 2C input channels, same kernel
    assert abs(b["add_recover_err"] - 2 ** -0.5) < 0.05  # E|x1 - (x1+x2)/2| / |x1| = 1/sqrt(2) for iid maps
    assert 0.0 <= b["acc_add"] <= 1.0 and b["add_broadcasts_1ch"] == 1.0


def test_two_branch_shapes():
    x = cp.tensor(np.zeros((2, 4, 6, 6), np.float32))
    for mode in ("add", "concat"):
        m = TwoBranch(4, 8, mode)
        assert m(x).shape == (2, 8, 6, 6)
        assert m.next.weight.shape[1] == (4 if mode == "add" else 8)
