"""q53: decide at its threshold and at the loss check; the hand gradients vs central differences; the real run
recomputed with PyTorch."""

import numpy as np
import torch

from cvprimer.lab.experiments.q53_weight_update import NAMES, hand_grads
from cvprimer.lab.experiments.q53_weight_update import WeightUpdate as E
from labcheck import edges, reached, run_tiny

T = E.thresholds


def figs(**kw):
    f = {"err_grad_autograd": 0.0, "err_sgd": 0.0, "err_momentum": 0.0, "err_adam_step1": 2.8e-17,
         "err_adam_step2": 5.55e-17, "loss_before": 1.49, "loss_after_sgd": 1.09}
    f.update(kw)
    return f


def test_tolerance_edges_core_and_variants():
    for k in ("err_grad_autograd", "err_sgd"):  # the core: refuted beyond the tolerance
        edges(E, lambda v, k=k: figs(**{k: v}), "tol", below="confirmed", at="confirmed", above="refuted")
    for k in ("err_momentum", "err_adam_step1", "err_adam_step2"):  # a variant only: nuanced
        edges(E, lambda v, k=k: figs(**{k: v}), "tol", below="confirmed", at="confirmed", above="nuanced")


def test_loss_must_fall():
    edges(E, lambda v: figs(loss_after_sgd=v), "tol", below="confirmed", at="refuted", above="refuted", value=1.49)


def test_reachable_and_evidence():
    reached(E, [figs(), figs(err_adam_step2=1e-3), figs(err_sgd=1e-3)])
    v, ev = E.decide(figs(), T)
    assert v == "confirmed" and "5.55e-17" in ev["en"] and "1.49" in ev["en"] and "1.09" in ev["zh"]
    b = E.explain_beyond({"adam_step1_min_over_lr": 0.999999, "adam_step1_max_over_lr": 0.9999995})
    assert "0.999999" in b["en"] and "0.9999995" in b["zh"]


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


def test_run_matches_torch():
    """The real run's losses before and after one SGD step, recomputed with PyTorch from the same draws."""
    res = run_tiny(E, seed=3)
    rng = np.random.default_rng(3)  # the run draws x, t and the weights from ctx.rng in this order
    x, t = torch.tensor(rng.standard_normal((4, 3))), torch.tensor(rng.standard_normal((4, 2)))
    p = {"W1": rng.normal(0, 0.6, (4, 3)), "b1": rng.normal(0, 0.1, 4), "W2": rng.normal(0, 0.6, (2, 4)),
         "b2": rng.normal(0, 0.1, 2)}
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    with torch.no_grad():
        for lin, w, b in ((net[0], "W1", "b1"), (net[2], "W2", "b2")):
            lin.weight.copy_(torch.tensor(p[w]))
            lin.bias.copy_(torch.tensor(p[b]))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    loss = torch.nn.functional.mse_loss(net(x), t)
    loss.backward()
    opt.step()
    after = torch.nn.functional.mse_loss(net(x), t).item()
    f = res.values()
    assert abs(f["loss_before"] - loss.item()) < 1e-12 and abs(f["loss_after_sgd"] - after) < 1e-12
    assert E.decide(f, T)[0] == "confirmed"
    assert 0.99 < res.beyond_values()["adam_step1_min_over_lr"] <= res.beyond_values()["adam_step1_max_over_lr"]
