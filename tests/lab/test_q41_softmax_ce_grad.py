"""q41: decide on both sides of every threshold; the helpers on tiny inputs."""

import numpy as np

from cvprimer.lab.experiments.q41_softmax_ce_grad import SoftmaxCrossEntropyGrad as E
from cvprimer.lab.experiments.q41_softmax_ce_grad import autograd_grad, losses_three_ways, p_minus_y

T = E.thresholds


def figs(**kw):
    f = {"max_err_float64": 1.1e-16, "max_err_network_float32": 2.6e-7, "nonfinite_naive": 1.0,
         "nonfinite_softmax_then_log": 0.871, "nonfinite_fused": 0.0, "nonfinite_grad_two_step": 1.0,
         "nonfinite_grad_fused": 0.0, "largest_scale": 1e4, "first_naive_failure_scale": 31.6}
    f.update(kw)
    return f


def test_confirmed():
    v, ev = E.decide(figs(), T)
    assert v == "confirmed" and "1.1e-16" in ev["en"] and "87.1%" in ev["en"] and "31.6" in ev["zh"]


def test_refuted_when_either_gradient_differs():
    assert E.decide(figs(max_err_float64=T["tol_float64"] * 2), T)[0] == "refuted"
    assert E.decide(figs(max_err_network_float32=T["tol_float32"] * 2), T)[0] == "refuted"
    assert E.decide(figs(max_err_network_float32=T["tol_float32"]), T)[0] == "confirmed"


def test_nuanced_when_the_fused_form_overflows():
    v, ev = E.decide(figs(nonfinite_fused=0.01), T)
    assert v == "nuanced" and "not always finite" in ev["en"]
    assert E.decide(figs(nonfinite_grad_fused=0.01), T)[0] == "nuanced"


def test_helpers():
    z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    y = np.array([2, 0])
    np.testing.assert_allclose(autograd_grad(z, y), p_minus_y(z, y), atol=1e-15)
    np.testing.assert_allclose(p_minus_y(z, y).sum(1), 0, atol=1e-15)
    big = np.array([[1000.0, 0.0, -1000.0]], np.float32)
    out = losses_three_ways(big, np.array([2]))
    assert not np.isfinite(out["naive"][0]) and not np.isfinite(out["softmax_then_log"][0])
    assert out["fused"][0] == 2000.0
