"""q35: decide exactly at its tolerance for each check; the gradient-sum and tie helpers on tiny maps; the real run
recomputed with PyTorch and a closed form."""

import numpy as np
import torch

from cvprimer.lab.experiments.q35_pool_backward import PoolingBackward as E
from cvprimer.lab.experiments.q35_pool_backward import split_error, sum_ratio, tie_stats
from labcheck import edges, reached, run_tiny

T = E.thresholds
BASE = {"worst_error_conserving_configs": 2e-16, "sum_err_include_pad": 0.306, "avg_split_error": 0.0,
        "sum_ratio_avg_include_pad_28": 0.953, "sum_ratio_avg_include_pad_7": 0.819,
        "sum_ratio_avg_exclude_pad_7": 1.0, "sum_ratio_avg_ceil_include_pad_7": 0.694}


def test_edges_of_each_check():
    for k in ("worst_error_conserving_configs", "avg_split_error"):  # the settings without padded cells
        edges(E, lambda v, k=k: {**BASE, k: v}, "conserve_tol", below="nuanced", at="nuanced", above="refuted")
        edges(E, lambda v, k=k: {**BASE, "sum_err_include_pad": 0.0, k: v}, "conserve_tol",
              below="confirmed", at="confirmed", above="refuted")
    edges(E, lambda v: {**BASE, "sum_err_include_pad": v}, "conserve_tol",  # padded cells in the divisor
          below="confirmed", at="confirmed", above="nuanced")


def test_reachable_and_evidence():
    reached(E, [BASE, {**BASE, "sum_err_include_pad": 0.0}, {**BASE, "avg_split_error": 0.25}])
    v, ev = E.decide(BASE, T)
    assert v == "nuanced" and "not conserved" in ev["en"]
    for s in ("0.953", "0.819", "0.694", "0.306"):
        assert s in ev["en"] and s in ev["zh"]
    b = E.explain_beyond({"avg_overlap_spread": 4.0, "gap_inputs_without_gradient": 58.7, "tied_window_share": 74.5,
                          "tied_gradient_to_first": 100.0})
    assert "58.7" in b["en"] and "74.5" in b["zh"]


def test_sum_ratio_on_small_maps():
    assert abs(sum_ratio("max", {"kernel_size": 2}, 4)[0] - 1) < 1e-12
    r, dead, _ = sum_ratio("avg", {"kernel_size": 3, "stride": 1, "padding": 1, "count_include_pad": True}, 3)
    assert abs(r - (2 + 3 + 2) ** 2 / 9 / 9) < 1e-12 and dead == 0  # a 3x3 map: window sizes 2, 3, 2 per axis
    assert sum_ratio("max", {"kernel_size": 2}, 4)[1] == 0.75
    assert split_error(4) < 1e-15


def test_ties_go_to_the_first_maximum():
    fmap = np.zeros((1, 1, 2, 4))
    fmap[0, 0, 1, 3] = 1.0  # second window has a unique max, first window is an all-zero tie
    share, first = tie_stats(fmap)
    assert share == 0.5 and first == 1.0


def test_run_matches_torch_and_the_closed_form():
    """The padded average pooling's gradient sum from torch on the same map, and (82/84)^2 on 28x28, (19/21)^2 on
    7x7; the unpadded settings' worst error recomputed with torch."""
    f = run_tiny(E).values()
    for size, closed in ((28, (82 / 84) ** 2), (7, (19 / 21) ** 2)):
        x = torch.tensor(np.random.default_rng(0).standard_normal((1, 1, size, size)), requires_grad=True)
        torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=True).sum().backward()
        ratio = x.grad.sum().item() / size ** 2
        assert abs(ratio - closed) < 1e-12 and abs(f[f"sum_ratio_avg_include_pad_{size}"] - ratio) < 1e-12
    worst = 0.0
    for k, s, p, excl in ((2, 2, 0, False), (3, 2, 0, False), (2, 3, 0, False), (3, 1, 1, True)):
        for size in (28, 7):
            for op in ("max", "avg"):
                x = torch.tensor(np.random.default_rng(0).standard_normal((1, 1, size, size)), requires_grad=True)
                if op == "max":
                    y = torch.nn.functional.max_pool2d(x, k, s, p)
                else:
                    y = torch.nn.functional.avg_pool2d(x, k, s, p, count_include_pad=not excl)
                y.sum().backward()
                worst = max(worst, abs(x.grad.sum().item() / y.numel() - 1))
    assert worst < 1e-12 and f["worst_error_conserving_configs"] < 1e-12
    assert f["sum_err_include_pad"] >= 1 - (82 / 84) ** 2 - 1e-12
    assert E.decide(f, T)[0] == "nuanced"
