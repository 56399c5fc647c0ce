"""q44: decide exactly at each threshold for every branch; the blocks' receptive-field helper; the real run against
closed forms and PyTorch's autograd."""

import numpy as np
import torch

from cvprimer import nn
from cvprimer.lab.experiments.q44_stacked_3x3 import Stacked3x3 as E
from cvprimer.lab.experiments.q44_stacked_3x3 import _support_side, big_block, stacked_block
from labcheck import edges, reached, run_tiny

T = E.thresholds
BASE = {"rf_two_3x3": 5, "rf_one_5x5": 5, "support_two_3x3": 5, "support_one_5x5": 5, "param_ratio": 0.72,
        "acc_two_3x3": 0.99, "acc_one_5x5": 0.90}
NONE = {**BASE, "rf_two_3x3": 3, "param_ratio": 1.2, "acc_two_3x3": 0.5}  # every claim failing


def test_declaration_complete():
    E.check()
    assert E.completeness() == []


def test_edges_param_ratio():
    edges(E, lambda v: {**BASE, "param_ratio": v}, "max_param_ratio", "confirmed", "nuanced", "nuanced")
    edges(E, lambda v: {**NONE, "param_ratio": v}, "max_param_ratio", "nuanced", "refuted", "refuted")


def test_edges_accuracy_gain():
    # acc_one_5x5 = 0 makes the gain exactly acc_two_3x3
    edges(E, lambda v: {**BASE, "acc_two_3x3": v, "acc_one_5x5": 0.0}, "min_acc_gain",
          "nuanced", "confirmed", "confirmed")
    edges(E, lambda v: {**NONE, "acc_two_3x3": v, "acc_one_5x5": 0.0}, "min_acc_gain",
          "refuted", "nuanced", "nuanced")


def test_receptive_field_equality():
    assert E.decide({**BASE, "rf_two_3x3": 3}, T)[0] == "nuanced"
    assert E.decide({**BASE, "support_one_5x5": 7}, T)[0] == "nuanced"
    assert E.decide({**NONE, "rf_two_3x3": 5}, T)[0] == "nuanced"


def test_reached_and_evidence():
    small = {**BASE, "acc_two_3x3": 0.91}
    reached(E, [BASE, small, NONE])
    v, ev = E.decide(small, T)
    assert v == "nuanced" and "'more discriminative' fails" in ev["en"] and "2 of the seed's 3" in ev["en"]
    assert "0.72" in ev["zh"] and "不成立" in ev["zh"]
    assert "0.72x" in E.explain_beyond({"mac_ratio": 0.72})["en"]


def test_support_side_and_blocks():
    # eval mode: batch statistics would couple every pixel
    assert _support_side(nn.Sequential(*stacked_block(2, 2)).eval(), 2) == 5
    assert _support_side(nn.Sequential(*big_block(2, 2)).eval(), 2) == 5
    assert _support_side(nn.Conv2d(2, 2, 3, padding=1), 2) == 3


def _torch_support(kernels):
    """Side of the input region reaching the centre output of stacked convs (with ReLUs), by PyTorch's autograd."""
    torch.manual_seed(0)
    x = torch.randn(1, 4, 15, 15, dtype=torch.float64, requires_grad=True)
    h = x
    for i, k in enumerate(kernels):
        h = torch.nn.functional.conv2d(h, torch.randn(4, 4, k, k, dtype=torch.float64), padding=k // 2)
        h = torch.relu(h) if i < len(kernels) - 1 else h
    h[0, 0, 7, 7].backward()
    rows, cols = np.nonzero(x.grad.abs().sum((0, 1)).numpy() > 0)
    return max(rows.max() - rows.min(), cols.max() - cols.min()) + 1


def test_run_tiny_matches_closed_forms_and_pytorch():
    f = run_tiny(E).values()
    assert f["rf_two_3x3"] == 1 + 2 * (3 - 1) and f["rf_one_5x5"] == 5  # r = 1 + sum (k - 1)
    assert f["support_two_3x3"] == _torch_support([3, 3]) and f["support_one_5x5"] == _torch_support([5])
    assert f["param_ratio"] == (2 * 9 * 64 * 64) / (25 * 64 * 64)
    assert 0 <= f["acc_two_3x3"] <= 1 and 0 <= f["acc_one_5x5"] <= 1
