"""q14: decide exactly at its threshold for every layer shape, each declared verdict reached, and the real
run() recomputed by closed form and with PyTorch."""

import numpy as np
import torch

from cvprimer.lab.experiments.q14_separable_conv import LAYERS, _layer_costs, shape_key
from cvprimer.lab.experiments.q14_separable_conv import SeparableConv as E
from labcheck import edges, reached, run_tiny

KEYS = [shape_key(*s) for s in LAYERS]
BASE = {**{f"formula_err_{k}": 0.0 for k in KEYS}, **{f"channel_err_{k}": 0.0 for k in KEYS}}


def test_edges_at_the_tolerance_for_every_shape_and_check():
    for k in KEYS:
        for kind in ("formula_err", "channel_err"):
            edges(E, lambda v, k=k, kind=kind: {**BASE, f"{kind}_{k}": v}, "formula_rel_tol", below="confirmed",
                  at="confirmed", above="nuanced")


def test_reaches_its_verdicts():
    everywhere = {k: 1.0 for k in BASE}
    reached(E, [BASE, {**BASE, f"formula_err_{KEYS[0]}": 0.5}, everywhere])
    v, ev = E.decide({**BASE, f"channel_err_{KEYS[2]}": 1.0}, E.thresholds)
    assert v == "nuanced" and f"fails for {KEYS[2]}" in ev["en"]


def test_run_recomputed_by_closed_form_and_torch():
    res = run_tiny(E)
    f, b = res.values(), res.beyond_values()
    assert all(f[f"formula_err_{k}"] == 0.0 and f[f"channel_err_{k}"] == 0.0 for k in KEYS)
    # the separable pair's MACs by closed form, and the channel counts of PyTorch's own layers
    for ci, co, k, hw in LAYERS:
        c = _layer_costs(ci, co, k, hw)
        assert c["sep_macs"] == k * k * ci * hw * hw + ci * co * hw * hw
        h = torch.nn.Conv2d(ci, ci, k, padding=k // 2, groups=ci)(torch.zeros(1, ci, hw, hw))
        assert h.shape[1] == ci and torch.nn.Conv2d(ci, co, 1)(h).shape[1] == co
    assert np.isclose(b["mac_speedup"], 1 / (1 / 16 + 1 / 9))  # the tiny timing uses 16 channels
    # parameters of the two digits nets, by hand: stem 1*8*9+8, blocks, BN pairs, the linear 64->10
    stem, lin = 8 * 9 + 8, 64 * 10 + 10
    std = stem + (8 * 16 * 9 + 2 * 16) + (16 * 16 * 9 + 2 * 16) + lin
    sep = stem + (8 * 9 + 2 * 8 + 8 * 16 + 2 * 16) + (16 * 9 + 2 * 16 + 16 * 16 + 2 * 16) + lin
    assert (b["params_standard"], b["params_separable"]) == (std, sep)
    assert 0.0 <= b["acc_separable"] <= 1.0
