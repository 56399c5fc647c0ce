"""q03: decide exactly at its threshold for every check that uses it; the verdicts it declares; the real run's
fields recomputed independently with PyTorch autograd and the closed form d (k - 1) + 1."""

import numpy as np
import torch

from cvprimer.lab._fields import conv_stack, measured_support, positive_weights_
from cvprimer.lab.experiments.q03_dilated_rf import DilatedField as E
from labcheck import edges, reached, run_tiny


def figs(**kw):
    f = {"rf_single_d1": 3, "rf_single_d2": 5, "rf_single_d3": 7, "same_size_d1": 1, "same_size_d2": 1,
         "same_size_d3": 1}
    f.update(kw)
    return f


def test_every_threshold_edge():
    t = E.thresholds["tol_px"]
    # a quoted field counts as right up to tol_px away (d = 3 quoted as 8, d = 1 quoted as 3)
    edges(E, lambda v: figs(rf_single_d3=v), "tol_px", "confirmed", "confirmed", "nuanced", value=8 + t)
    edges(E, lambda v: figs(rf_single_d3=v), "tol_px", "nuanced", "confirmed", "confirmed", value=8 - t)
    edges(E, lambda v: figs(rf_single_d1=v, rf_single_d3=8), "tol_px", "confirmed", "confirmed", "nuanced",
          value=3 + t)
    # the field must widen by more than tol_px from one dilation to the next
    edges(E, lambda v: figs(rf_single_d3=v), "tol_px", "refuted", "refuted", "nuanced", value=5 + t)
    edges(E, lambda v: figs(rf_single_d2=v), "tol_px", "refuted", "refuted", "nuanced", value=3 + t)


def test_reachable_verdicts_and_evidence():
    reached(E, [figs(rf_single_d3=8), figs(), figs(same_size_d2=0), figs(rf_single_d1=4, rf_single_d2=6,
                                                                           rf_single_d3=9)])
    v, ev = E.decide(figs(), E.thresholds)
    assert v == "nuanced" and "measured 7 px, the seed says 8" in ev["en"] and "fails for d = 3" in ev["en"]
    assert "d = 3 时不成立" in ev["zh"]
    assert E.decide(figs(same_size_d1=0, rf_single_d3=8), E.thresholds)[0] == "refuted"


def torch_field(d: int, hw: int = 33) -> tuple[int, int, tuple[int, int]]:
    """Field side, pixels read and output size of one 3x3 conv with dilation d, padding d, by torch autograd."""
    x = torch.ones(1, 1, hw, hw, dtype=torch.float64, requires_grad=True)
    w = torch.ones(1, 1, 3, 3, dtype=torch.float64)
    y = torch.nn.functional.conv2d(x, w, padding=d, dilation=d)
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    nz = np.argwhere(x.grad[0, 0].numpy() != 0)
    return int(nz[:, 0].max() - nz[:, 0].min() + 1), len(nz), tuple(y.shape[-2:])


def test_run_matches_torch_and_closed_form():
    res = run_tiny(E)
    f, b = res.values(), res.beyond_values()
    for d in (1, 2, 3):
        side, count, out = torch_field(d)
        assert f[f"rf_single_d{d}"] == side == d * (3 - 1) + 1
        assert f[f"same_size_d{d}"] == float(out == (33, 33))
        assert b[f"pixels_read_d{d}"] == count == 9
    assert b["rf_stack_124"] == 1 + 2 * (1 + 2 + 4) and b["rf_stack_222"] == 1 + 2 * 6
    assert E.decide(f, E.thresholds)[0] == "nuanced"


def test_support_of_dilated_layer_has_holes():
    rng = np.random.default_rng(0)
    s = measured_support(positive_weights_(conv_stack([("conv", 3, 1, 2, 2)], rng=rng), rng), (11, 11))
    assert (s.height, s.width, s.count) == (5, 5, 9)
