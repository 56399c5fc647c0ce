"""q37: decide exactly at every threshold; the hand-written backward against central differences; the real run's
loss and gradient descent recomputed with PyTorch."""

import numpy as np
import torch

from cvprimer.lab.common import load_data
from cvprimer.lab.experiments.q37_backprop_by_hand import LR, STEPS, backward, forward, numeric
from cvprimer.lab.experiments.q37_backprop_by_hand import BackpropByHand as E
from labcheck import edges, reached, run_tiny

T = E.thresholds


def figs(**kw):
    f = {"max_rel_err_autograd": 3e-16, "max_rel_err_numeric": 1.2e-9, "gradcheck_passed": 1.0, "loss": 6.8,
         "loss_after_descent": 0.14, "loss_ratio": 0.0205, "loss_diff_autograd": 0.0}
    f.update(kw)
    return f


def test_edges_of_every_threshold():
    for k in ("max_rel_err_autograd", "max_rel_err_numeric"):
        edges(E, lambda v, k=k: figs(**{k: v}), k, below="confirmed", at="confirmed", above="refuted")
    edges(E, lambda v: figs(loss_ratio=v), "max_loss_ratio", below="confirmed", at="confirmed", above="refuted")


def test_reachable_and_evidence():
    reached(E, [figs(), figs(gradcheck_passed=0.0), figs(loss_ratio=1.2)])
    v, ev = E.decide(figs(), T)
    assert v == "confirmed" and "3e-16" in ev["en"] and "0.0205" in ev["en"] and "6.8" in ev["zh"]
    assert "fails" in E.decide(figs(gradcheck_passed=0.0), T)[1]["en"]
    b = E.explain_beyond({"speedup_vs_numeric": 224.0, "n_params": 310})
    assert "224" in b["en"] and "620" in b["zh"]


def test_hand_backward_matches_central_differences():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((2, 1, 8, 8)), np.array([1, 7])
    p = {"W1": rng.normal(0, 0.5, (3, 1, 3, 3)), "b1": rng.normal(0, 0.1, 3), "W2": rng.normal(0, 0.3, (10, 27)),
         "b2": rng.normal(0, 0.1, 10)}
    g = backward(x, y, p, forward(x, y, p)[1])
    num = numeric(x, y, {k: v.copy() for k, v in p.items()})
    for k in num:
        np.testing.assert_allclose(g[k], num[k], atol=1e-7, rtol=1e-5)
    assert g["x"].shape == x.shape


def test_run_matches_torch():
    """The tiny run's loss before and after gradient descent, recomputed with torch autograd and torch.optim.SGD
    from the same draws (digits, jitter, weights from ctx.rng in this order)."""
    res = run_tiny(E, seed=4)
    rng = np.random.default_rng(4)
    data = load_data("digits", 200, 50, rng, standardize=True)
    x = data.x_train[:4].astype(np.float64) + rng.normal(0, 0.01, data.x_train[:4].shape)
    y = torch.tensor(data.y_train[:4])
    w = [torch.tensor(rng.normal(0, s, shape), requires_grad=True)
         for s, shape in ((0.5, (3, 1, 3, 3)), (0.1, 3), (0.3, (10, 27)), (0.1, 10))]
    xt = torch.tensor(x)

    def loss() -> torch.Tensor:
        h = torch.nn.functional.max_pool2d(torch.relu(torch.nn.functional.conv2d(xt, w[0], w[1])), 2)
        return torch.nn.functional.cross_entropy(h.reshape(4, -1) @ w[2].T + w[3], y)

    opt = torch.optim.SGD(w, lr=LR)
    l0 = loss().item()
    for _ in range(STEPS):
        opt.zero_grad()
        loss().backward()
        opt.step()
    f = res.values()
    assert abs(f["loss"] - l0) < 1e-10 and abs(f["loss_after_descent"] - loss().item()) < 1e-8
    assert E.decide(f, T)[0] == "confirmed" and res.beyond_values()["n_params"] == 310
