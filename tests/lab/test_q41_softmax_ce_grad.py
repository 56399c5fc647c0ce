"""q41: decide exactly at each threshold; the helpers on tiny inputs; the real run against PyTorch."""

import numpy as np
import torch

from cvprimer.lab.experiments.q41_softmax_ce_grad import SoftmaxCrossEntropyGrad as E
from cvprimer.lab.experiments.q41_softmax_ce_grad import autograd_grad, losses_three_ways, p_minus_y
from labcheck import edges, reached, run_tiny

T = E.thresholds
BASE = {"max_err_float64": 1.1e-16, "max_err_network_float32": 2.6e-7}


def test_declaration_complete():
    E.check()
    assert E.completeness() == []


def test_edges():
    edges(E, lambda v: {**BASE, "max_err_float64": v}, "tol_float64", "confirmed", "confirmed", "refuted")
    edges(E, lambda v: {**BASE, "max_err_network_float32": v}, "tol_float32", "confirmed", "confirmed", "refuted")


def test_reached_and_evidence():
    reached(E, [BASE, {**BASE, "max_err_float64": 0.3}])
    v, ev = E.decide(BASE, T)
    assert v == "confirmed" and "1.1e-16" in ev["en"] and "2.6e-07" in ev["zh"]
    assert "beyond the tolerance" in E.decide({**BASE, "max_err_network_float32": 0.1}, T)[1]["en"]


def test_beyond_sentences():
    b = {"nonfinite_naive": 1.0, "nonfinite_softmax_then_log": 0.871, "nonfinite_fused": 0.0,
         "nonfinite_grad_two_step": 1.0, "nonfinite_grad_fused": 0.0, "largest_scale": 1e4,
         "first_naive_failure_scale": 31.6}
    t = E.explain_beyond(b)
    assert "87.1%" in t["en"] and "31.6" in t["zh"] and "always finite" in t["en"]
    assert "not always finite" in E.explain_beyond({**b, "nonfinite_grad_fused": 0.01})["en"]


def test_helpers():
    z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    y = np.array([2, 0])
    np.testing.assert_allclose(autograd_grad(z, y), p_minus_y(z, y), atol=1e-15)
    np.testing.assert_allclose(p_minus_y(z, y).sum(1), 0, atol=1e-15)
    big = np.array([[1000.0, 0.0, -1000.0]], np.float32)
    out = losses_three_ways(big, np.array([2]))
    assert not np.isfinite(out["naive"][0]) and not np.isfinite(out["softmax_then_log"][0])
    assert out["fused"][0] == 2000.0


def test_run_tiny_matches_pytorch():
    res = run_tiny(E, seed=0)
    f = res.values()
    # the run's float64 logits, drawn again from the same seeded generator, differentiated by PyTorch
    rng = np.random.default_rng(0)
    worst = 0.0
    for c in (2, 10, 1000):
        for scale in (1.0, 30.0):
            z, y = rng.normal(0, scale, (64, c)), rng.integers(0, c, 64)
            t = torch.tensor(z, requires_grad=True)
            torch.nn.functional.cross_entropy(t, torch.tensor(y), reduction="sum").backward()
            closed = torch.softmax(torch.tensor(z), 1) - torch.nn.functional.one_hot(torch.tensor(y), c)
            assert float((t.grad - closed).abs().max()) < 1e-12
            np.testing.assert_allclose(autograd_grad(z, y), t.grad.numpy(), atol=1e-12)
            worst = max(worst, float(np.abs(autograd_grad(z, y) - closed.numpy()).max()))
    assert abs(f["max_err_float64"] - worst) < 1e-15 and f["max_err_network_float32"] < 1e-6
    assert E.decide(f, T)[0] == "confirmed"
    assert res.beyond_values()["nonfinite_fused"] == 0.0
