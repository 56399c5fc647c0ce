"""multi_margin_loss, kl_div and the L1/L2 weight penalties."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cvprimer as cp
import cvprimer.functional as F
from parity import away_from_zero, check_grad, parity, randn


def _margin_scores(n, c, seed, margin):
    """Scores whose hinge terms margin - x_y + x_j stay away from 0 (the kink)."""
    rng = np.random.default_rng(seed)
    t = rng.integers(0, c, n)
    x = rng.standard_normal((n, c)) * 2
    h = margin - x[np.arange(n), t][:, None] + x
    x = np.where(np.abs(h) < 0.05, x + 0.1, x)
    return x, t


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("p,margin,weighted", [(1, 1.0, False), (2, 1.0, False), (1, 0.5, True), (2, 2.0, True)])
def test_multi_margin(p, margin, weighted, reduction):
    x, t = _margin_scores(6, 4, seed=p, margin=margin)
    w = np.array([0.5, 2.0, 1.0, 1.5])
    parity(lambda a, b, ww: F.multi_margin_loss(a, b, p, margin, ww if weighted else None, reduction),
           lambda a, b, ww: TF.multi_margin_loss(a, b, p, margin, ww if weighted else None, reduction=reduction),
           x, t, w, requires_grad=[True, False, False], noncontig=True)
    check_grad(lambda a: F.multi_margin_loss(a, t[:3], p, margin, cp.tensor(w) if weighted else None), x[:3])


def test_multi_margin_unbatched():
    x, t = _margin_scores(1, 5, seed=3, margin=1.0)
    parity(lambda a, b: F.multi_margin_loss(a, b), lambda a, b: TF.multi_margin_loss(a, b), x[0], t[:1].reshape(()))


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")  # torch's notice about 'mean'
@pytest.mark.parametrize("reduction", ["none", "mean", "sum", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    logq = np.log(np.random.default_rng(4).dirichlet(np.ones(5), size=3))
    pt = np.random.default_rng(5).dirichlet(np.ones(5), size=3)
    t = np.log(pt) if log_target else pt
    parity(lambda a, b: F.kl_div(a, b, reduction, log_target), lambda a, b: TF.kl_div(a, b, reduction=reduction,
           log_target=log_target), logq, t, noncontig=True)
    check_grad(lambda a, b: F.kl_div(a, b, reduction, log_target), logq[:2], t[:2])


def test_kl_div_zero_target_is_zero_like_torch():
    logq = np.log(np.array([[0.2, 0.3, 0.5]]))
    t = np.array([[0.0, 0.4, 0.6]])
    parity(lambda a, b: F.kl_div(a, b, "sum"), lambda a, b: TF.kl_div(a, b, reduction="sum"), logq, t,
           requires_grad=[True, False])
    val = F.kl_div(cp.tensor(logq), cp.tensor(t), "batchmean").item()
    assert val == pytest.approx(float(np.sum(t[:, 1:] * (np.log(t[:, 1:]) - logq[:, 1:]))), rel=1e-5)


@pytest.mark.parametrize("p", [1, 2])
def test_penalties(p):
    ws = [away_from_zero(3, 4, seed=6), away_from_zero(5, seed=7), away_from_zero(2, 1, 2, seed=8)]
    ours = F.l1_penalty if p == 1 else F.l2_penalty

    def theirs(*t):
        return sum(x.abs().sum() for x in t) if p == 1 else sum((x * x).sum() for x in t)

    parity(lambda *t: ours(t), theirs, *ws)
    check_grad(lambda *t: ours(list(t)), *ws)
    gen = (cp.tensor(w) for w in ws)  # any iterable, e.g. model.parameters()
    assert ours(gen).item() == pytest.approx(float(theirs(*[torch.from_numpy(w) for w in ws])), rel=1e-5)


def test_l1_penalty_subgradient_at_zero_and_empty():
    w = cp.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    F.l1_penalty([w]).backward()
    np.testing.assert_array_equal(w.grad.data, [-1.0, 0.0, 1.0])
    assert F.l2_penalty([]).item() == 0.0


def test_l2_penalty_gradient_is_weight_decay():
    w = cp.tensor(randn(4, seed=9), requires_grad=True)
    (0.5 * 0.01 * F.l2_penalty([w])).backward()
    np.testing.assert_allclose(w.grad.data, 0.01 * w.data, rtol=1e-6)


def test_errors():
    x = cp.randn(3, 4)
    with pytest.raises(ValueError, match="multi_margin_loss: only p = 1 and p = 2 are supported, got 3"):
        F.multi_margin_loss(x, np.array([0, 1, 2]), p=3)
    with pytest.raises(ValueError, match="multi_margin_loss: target value 4 is out of range for C = 4"):
        F.multi_margin_loss(x, np.array([0, 4, 2]))
    with pytest.raises(ValueError, match=r"multi_margin_loss: input must be \(C,\) or \(N, C\)"):
        F.multi_margin_loss(cp.randn(2, 3, 4), np.zeros((2, 4), np.int64))
    with pytest.raises(ValueError, match="kl_div: reduction must be one of"):
        F.kl_div(x, x, "avg")
    with pytest.raises(ValueError, match=r"kl_div: input shape \(3, 4\) and target shape \(4,\) differ"):
        F.kl_div(x, cp.randn(4))
    with pytest.raises(TypeError, match="l2_penalty: params must be Tensors, item 1 is ndarray"):
        F.l2_penalty([x, np.zeros(3)])


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("margin", [0.0, 0.3])
def test_cosine_embedding_loss(reduction, margin):
    a, b = randn(6, 4, seed=20), randn(6, 4, seed=21)
    y = np.array([1, -1, 1, -1, -1, 1])
    def cosine(u, v):
        return np.sum(u * v, 1) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)

    b = np.where((np.abs(cosine(a, b) - margin) < 0.05)[:, None], b + a, b)
    assert np.all(np.abs(cosine(a, b) - margin) > 0.02)  # away from the hinge's kink
    def ours(u, v, t):
        return F.cosine_embedding_loss(u, v, t, margin, reduction)

    def theirs(u, v, t):
        return TF.cosine_embedding_loss(u, v, t, margin, reduction=reduction)

    parity(ours, theirs, a, b, y, noncontig=True)
    parity(ours, theirs, a[0], b[0], y[:1].reshape(()))  # unbatched
    check_grad(lambda u, v: F.cosine_embedding_loss(u, v, y[:3], margin, reduction), a[:3], b[:3])


def test_cosine_embedding_errors():
    x = cp.randn(3, 4)
    with pytest.raises(ValueError, match=r"cosine_embedding_loss: target values must be 1 or -1, got \[0, 1\]"):
        F.cosine_embedding_loss(x, x, np.array([1, 0, 1]))
    with pytest.raises(ValueError, match=r"cosine_embedding_loss: expected inputs \(N, D\) or \(D,\) and target"):
        F.cosine_embedding_loss(x, x, np.array([1, 1]))


def test_cost_formulas_scale_with_elements():
    from cvprimer.functional.loss import binary, classification, focal, margin, regression

    for mod, flops in ((regression, 5), (binary, 9), (classification, 7), (focal, 14), (margin, 4)):
        c = mod.cost((4, 10), itemsize=8)
        assert c == {"macs": 0, "flops": flops * 40, "bytes": 2 * 40 * 8}, mod.__name__
