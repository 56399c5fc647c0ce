"""q53: decide on both sides of its threshold and of the loss check; the hand gradients vs central differences."""

import numpy as np

from cvprimer.lab.experiments.q53_weight_update import NAMES, hand_grads
from cvprimer.lab.experiments.q53_weight_update import WeightUpdate as E

T = E.thresholds


def figs(**kw):
    f = {"err_grad_autograd": 0.0, "err_sgd": 0.0, "err_momentum": 0.0, "err_adam_step1": 2.8e-17,
         "err_adam_step2": 5.55e-17, "loss_before": 1.49, "loss_after_sgd": 1.09, "adam_step1_min_over_lr": 0.999999,
         "adam_step1_max_over_lr": 0.99999999}
    f.update(kw)
    return f


def test_confirmed():
    v, ev = E.decide(figs(), T)
    assert v == "confirmed" and "5.55e-17" in ev["en"] and "1.49" in ev["en"] and "0.999999" in ev["zh"]


def test_refuted_when_any_number_differs():
    for k in ("err_grad_autograd", "err_sgd", "err_momentum", "err_adam_step1", "err_adam_step2"):
        assert E.decide(figs(**{k: T["tol"] * 2}), T)[0] == "refuted"
        assert E.decide(figs(**{k: T["tol"]}), T)[0] == "confirmed"


def test_refuted_when_the_step_does_not_lower_the_loss():
    assert E.decide(figs(loss_after_sgd=1.5), T)[0] == "refuted"


def test_hand_grads_match_central_differences():
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    p = {"W1": rng.normal(size=(4, 3)), "b1": rng.normal(size=4), "W2": rng.normal(size=(2, 4)),
         "b2": rng.normal(size=2)}
    _, g = hand_grads(x, t, p)
    for k in NAMES:
        flat = p[k].reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + 1e-6
            hi = hand_grads(x, t, p)[0]
            flat[i] = old - 1e-6
            lo = hand_grads(x, t, p)[0]
            flat[i] = old
            assert abs((hi - lo) / 2e-6 - g[k].reshape(-1)[i]) < 1e-7
