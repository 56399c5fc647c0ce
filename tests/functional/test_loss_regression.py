"""mse / l1 / smooth_l1 / huber and the two binary cross-entropies vs PyTorch."""

import numpy as np
import pytest
import torch.nn.functional as TF

import cvprimer as cp
import cvprimer.functional as F
from parity import check_grad, parity, randn

REDUCTIONS = ["none", "mean", "sum"]


def _pair(shape, seed, gap=0.05):
    """input, target whose difference stays away from 0 and from +-1, +-0.5 (the kinks)."""
    x = randn(*shape, seed=seed)
    d = randn(*shape, seed=seed + 1)
    for k in (0.0, 0.5, 1.0, 2.0):
        for s in (1, -1):
            d = np.where(np.abs(d - s * k) < gap, d + 2 * gap, d)
    return x, x - d


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,kw", [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {"beta": 1.0}),
                                     ("smooth_l1_loss", {"beta": 0.5}), ("smooth_l1_loss", {"beta": 0.0}),
                                     ("huber_loss", {"delta": 1.0}), ("huber_loss", {"delta": 2.0})])
@pytest.mark.parametrize("shape", [(5,), (3, 4, 2)])
def test_regression_parity(name, kw, reduction, shape):
    x, t = _pair(shape, seed=len(shape) * 7)
    ours, theirs = getattr(F, name), getattr(TF, name)
    parity(lambda a, b: ours(a, b, reduction=reduction, **kw), lambda a, b: theirs(a, b, reduction=reduction, **kw),
           x, t, noncontig=True)


@pytest.mark.parametrize("name,kw", [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {"beta": 0.5}),
                                     ("huber_loss", {"delta": 2.0})])
def test_regression_gradcheck(name, kw):
    x, t = _pair((3, 4), seed=11)
    check_grad(lambda a, b: getattr(F, name)(a, b, reduction="sum", **kw), x, t)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_parity(reduction, weighted):
    rng = np.random.default_rng(3)
    p = rng.uniform(0.02, 0.98, (4, 3))
    y = rng.uniform(0, 1, (4, 3))
    w = rng.uniform(0.5, 2, (3,))
    if weighted:
        parity(lambda a, b, c: F.binary_cross_entropy(a, b, c, reduction),
               lambda a, b, c: TF.binary_cross_entropy(a, b, c, reduction=reduction), p, y, w,
               requires_grad=[True, True, False])
    else:
        parity(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction),
               lambda a, b: TF.binary_cross_entropy(a, b, reduction=reduction), p, y, noncontig=True)
    check_grad(lambda a, b: F.binary_cross_entropy(a, b, reduction="sum"), p[:2], y[:2])


def test_bce_probabilities_exactly_zero_and_one_are_finite_like_torch():
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    y = np.array([0.0, 1.0, 1.0, 0.0, 0.3])
    with cp.detect_anomaly():
        parity(lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
               lambda a, b: TF.binary_cross_entropy(a, b, reduction="none"), p, y,
               requires_grad=[True, False])
    pt, yt = cp.tensor(p, dtype="float64"), cp.tensor(y, dtype="float64", requires_grad=True)
    out = F.binary_cross_entropy(pt, yt, reduction="none")
    assert out.data[2] == pytest.approx(100.0) and out.data[3] == pytest.approx(100.0)
    # target gradient: the derivative of the clamped forward, finite (PyTorch's is +-inf here)
    out.sum().backward()
    with np.errstate(divide="ignore"):
        expect = np.maximum(np.log1p(-p), -100) - np.maximum(np.log(p), -100)
    np.testing.assert_allclose(yt.grad.data, expect)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", ["plain", "weight", "pos_weight", "both"])
def test_bce_with_logits_parity(reduction, opts):
    rng = np.random.default_rng(5)
    z = rng.standard_normal((4, 3, 2)) * 3
    y = rng.uniform(0, 1, (4, 3, 2))
    w = rng.uniform(0.5, 2, (3, 2))
    pw = rng.uniform(0.5, 3, (2,))
    kw_c = {"weight": opts in ("weight", "both"), "pos_weight": opts in ("pos_weight", "both")}

    def run(f, a, b, c, d):
        return f(a, b, weight=c if kw_c["weight"] else None, reduction=reduction,
                 pos_weight=d if kw_c["pos_weight"] else None)

    parity(lambda a, b, c, d: run(F.binary_cross_entropy_with_logits, a, b, c, d),
           lambda a, b, c, d: run(TF.binary_cross_entropy_with_logits, a, b, c, d),
           z, y, w, pw, requires_grad=[True, True, False, False])
    check_grad(lambda a, b, c, d: run(F.binary_cross_entropy_with_logits, a, b, c, d),
               z[:2, :2], y[:2, :2], w[:2], pw, requires_grad=[True, True, False, False])


def test_bce_with_logits_extreme_logits_match_torch():
    z = np.array([1e4, -1e4, 1e4, -1e4, 80.0, -80.0])
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.5, 0.5])
    with cp.detect_anomaly():
        for red in REDUCTIONS:
            parity(lambda a, b, r=red: F.binary_cross_entropy_with_logits(a, b, reduction=r),
                   lambda a, b, r=red: TF.binary_cross_entropy_with_logits(a, b, reduction=r), z, y)


def test_bce_with_logits_equals_bce_of_sigmoid():
    z = randn(6, seed=9)
    y = np.random.default_rng(9).uniform(0, 1, 6)
    a = F.binary_cross_entropy_with_logits(cp.tensor(z, dtype="float64"), cp.tensor(y, dtype="float64"))
    b = F.binary_cross_entropy(cp.sigmoid(cp.tensor(z, dtype="float64")), cp.tensor(y, dtype="float64"))
    assert a.item() == pytest.approx(b.item(), rel=1e-12)


def test_errors():
    x, y = cp.randn(2, 3), cp.randn(3, 2)
    with pytest.raises(ValueError, match=r"mse_loss: input shape \(2, 3\) and target shape \(3, 2\) differ"):
        F.mse_loss(x, y)
    with pytest.raises(ValueError, match="l1_loss: reduction must be one of"):
        F.l1_loss(x, x, reduction="avg")
    with pytest.raises(TypeError, match="huber_loss: target must be floating-point"):
        F.huber_loss(x, cp.zeros(2, 3).long())
    with pytest.raises(ValueError, match="smooth_l1_loss: beta must be >= 0"):
        F.smooth_l1_loss(x, x, beta=-1.0)
    with pytest.raises(ValueError, match="huber_loss: delta must be > 0"):
        F.huber_loss(x, x, delta=0.0)
    with pytest.raises(ValueError, match=r"binary_cross_entropy: all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(cp.tensor([0.5, 1.5]), cp.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: pos_weight of shape \(4,\) does not"):
        F.binary_cross_entropy_with_logits(x, x, pos_weight=np.ones(4, np.float32))
    with pytest.raises(TypeError, match="mse_loss: input dtype float32 and target dtype float64 differ"):
        F.mse_loss(x, cp.tensor(np.zeros((2, 3))))
