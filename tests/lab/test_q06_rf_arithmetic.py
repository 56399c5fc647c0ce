"""q06: decide exactly at its threshold for every check that uses it; the verdicts it declares; the real run's
fields recomputed independently with PyTorch autograd."""

import numpy as np
import torch

from cvprimer.lab.experiments.q06_rf_arithmetic import FieldArithmetic as E
from cvprimer.lab.experiments.q06_rf_arithmetic import rf_recurrence, specs
from labcheck import edges, reached, run_tiny

FORMULA = {1: 5, 2: 14, 3: 24, 4: 32}


def figs(**kw):
    f = {}
    for n, r in FORMULA.items():
        f.update({f"rf_formula_L{n}": r, f"rf_nopad_L{n}": r, f"rf_pad_L{n}": r})
    f.update(kw)
    return f


def test_every_threshold_edge():
    t = E.thresholds["tol_px"]
    # padding: the field with padding may differ from the one without by tol_px (at the last layer: nuanced)
    edges(E, lambda v: figs(rf_pad_L4=v, rf_formula_L4=32 + t / 2), "tol_px", "confirmed", "confirmed",
          "nuanced", value=32 + t / 2 + t / 2)
    # the formula: measured within tol_px of it
    edges(E, lambda v: figs(rf_formula_L3=v), "tol_px", "confirmed", "confirmed", "nuanced", value=24 + t)
    edges(E, lambda v: figs(rf_formula_L2=v), "tol_px", "nuanced", "confirmed", "confirmed", value=14 - t)
    # growth: wider than the previous convolution by more than tol_px (and than one pixel at the first)
    edges(E, lambda v: figs(rf_formula_L2=v, rf_nopad_L2=v, rf_pad_L2=v), "tol_px", "nuanced", "nuanced",
          "confirmed", value=5 + t)
    edges(E, lambda v: figs(rf_formula_L1=v, rf_nopad_L1=v, rf_pad_L1=v), "tol_px", "nuanced", "nuanced",
          "confirmed", value=1 + t)


def test_reachable_verdicts_and_evidence():
    bad = {f"rf_pad_L{n}": r + 2 for n, r in FORMULA.items()}
    reached(E, [figs(), figs(rf_pad_L3=26), figs(**bad)])
    v, ev = E.decide(figs(rf_pad_L3=26), E.thresholds)
    assert v == "nuanced" and "depends on padding" in ev["en"] and "fails at conv 3" in ev["en"]
    assert "随 padding 改变" in ev["zh"]


def torch_fields(pad: bool, hw: int = 64) -> list[int]:
    """Centre-unit field side after each conv of the stack, by torch autograd (ones weights, ones input)."""
    out, layers = [], []
    for kind, k, s, p, _ in specs(pad):
        if kind == "avg":
            layers.append(lambda x, k=k, s=s: torch.nn.functional.avg_pool2d(x, k, s))
            continue
        w = torch.ones(1, 1, k, k, dtype=torch.float64)
        layers.append(lambda x, w=w, p=p: torch.relu(torch.nn.functional.conv2d(x, w, padding=p)))
        x = torch.ones(1, 1, hw, hw, dtype=torch.float64, requires_grad=True)
        y = x
        for f in layers:
            y = f(y)
        y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
        rows = np.argwhere(x.grad[0, 0].numpy() != 0)[:, 0]
        out.append(int(rows.max() - rows.min() + 1))
    return out


def test_run_matches_torch():
    f = run_tiny(E).values()
    for pad, tag in ((False, "nopad"), (True, "pad")):
        assert [f[f"rf_{tag}_L{n}"] for n in FORMULA] == torch_fields(pad)
    assert [f[f"rf_formula_L{n}"] for n in FORMULA] == list(FORMULA.values())
    assert E.decide(f, E.thresholds)[0] == "confirmed"


def test_recurrence_ignores_padding_and_uses_dilation():
    assert rf_recurrence(specs(True)) == rf_recurrence(specs(False)) == [5, 6, 14, 16, 24, 32]
    assert rf_recurrence([("conv", 3, 1, 0, 1), ("conv", 3, 1, 0, 2), ("conv", 3, 1, 0, 4)]) == [3, 7, 15]
