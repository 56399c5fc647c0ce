"""cross_entropy and nll_loss vs PyTorch over the grid of their options."""

import numpy as np
import pytest
import torch.nn.functional as TF

import cvprimer as cp
import cvprimer.functional as F
from parity import check_grad, parity, randn

REDUCTIONS = ["none", "mean", "sum"]
SHAPES = [(6, 5), (3, 4, 2, 3), (5,), (2, 3, 4)]  # (N, C), (N, C, H, W), unbatched (C,), (N, C, d)


def _target(shape, seed, ignore=False):
    rng = np.random.default_rng(seed)
    c = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    t = rng.integers(0, c, tshape).astype(np.int64)
    if ignore and t.ndim:
        t.reshape(-1)[:: 3] = -100
    return t


def _soft(shape, seed):
    e = np.exp(randn(*shape, seed=seed))
    return e / e.sum(axis=0 if len(shape) == 1 else 1, keepdims=True)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted,ignore,smoothing", [(False, False, 0.0), (True, False, 0.0), (False, True, 0.0),
                                                       (True, True, 0.0), (False, False, 0.2), (True, True, 0.15)])
def test_cross_entropy_class_targets(shape, reduction, weighted, ignore, smoothing):
    z = randn(*shape, seed=1) * 2
    t = _target(shape, 2, ignore)
    c = shape[0] if len(shape) == 1 else shape[1]
    w = np.random.default_rng(3).uniform(0.3, 2.0, c)
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    parity(lambda a, b, ww: F.cross_entropy(a, b, ww if weighted else None, **kw),
           lambda a, b, ww: TF.cross_entropy(a, b, ww if weighted else None, **kw),
           z, t, w, requires_grad=[True, False, False], noncontig=True)


@pytest.mark.parametrize("shape", SHAPES[:3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted,smoothing", [(False, 0.0), (True, 0.0), (True, 0.1)])
def test_cross_entropy_probability_targets_and_their_gradient(shape, reduction, weighted, smoothing):
    z = randn(*shape, seed=4) * 2
    q = _soft(shape, 5)
    c = shape[0] if len(shape) == 1 else shape[1]
    w = np.random.default_rng(6).uniform(0.3, 2.0, c)
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    parity(lambda a, b, ww: F.cross_entropy(a, b, ww if weighted else None, **kw),
           lambda a, b, ww: TF.cross_entropy(a, b, ww if weighted else None, **kw),
           z, q, w, requires_grad=[True, True, False])


def test_cross_entropy_gradcheck():
    z, t = randn(4, 3, seed=7), np.array([0, 2, -100, 1])
    w = np.array([0.5, 2.0, 1.5])
    check_grad(lambda a: F.cross_entropy(a, t, cp.tensor(w), label_smoothing=0.1), z)
    check_grad(lambda a: F.cross_entropy(a, t[:2].reshape(2, 1), reduction="none"), randn(2, 3, 1, seed=8))
    check_grad(lambda a, b: F.cross_entropy(a, b, label_smoothing=0.2), z, _soft((4, 3), 9))


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    z = randn(5, 4, seed=10)
    t = np.array([0, 3, 1, 1, 2])
    x = cp.tensor(z, dtype="float64", requires_grad=True)
    F.cross_entropy(x, t, reduction="sum").backward()
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    np.testing.assert_allclose(x.grad.data, p - np.eye(4)[t], rtol=1e-12, atol=1e-14)


def test_cross_entropy_extreme_logits_finite_and_equal_to_torch():
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0], [0.0, 0.0, -1e4]])
    t = np.array([1, 1, 2])
    with cp.detect_anomaly():
        for red in REDUCTIONS:
            parity(lambda a, b, r=red: F.cross_entropy(a, b, reduction=r, label_smoothing=0.1),
                   lambda a, b, r=red: TF.cross_entropy(a, b, reduction=r, label_smoothing=0.1), z, t)


def test_minus_inf_logits_of_other_classes_are_fine_like_torch():
    z = np.array([[0.5, -np.inf, 1.0], [-np.inf, 2.0, -np.inf]])
    t = np.array([0, 1])
    for red in REDUCTIONS:
        parity(lambda a, b, r=red: F.cross_entropy(a, b, reduction=r),
               lambda a, b, r=red: TF.cross_entropy(a, b, reduction=r), z, t)


def test_all_ignored_mean_is_nan_like_torch():
    z, t = randn(2, 3, seed=11), np.array([-100, -100])
    parity(lambda a, b: F.cross_entropy(a, b), lambda a, b: TF.cross_entropy(a, b), z, t, grad=False)
    parity(lambda a, b: F.nll_loss(a, b), lambda a, b: TF.nll_loss(a, b), z, t, grad=False)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted,ignore", [(False, False), (True, False), (True, True), (False, True)])
def test_nll_loss(shape, reduction, weighted, ignore):
    z = randn(*shape, seed=12)
    t = _target(shape, 13, ignore)
    c = shape[0] if len(shape) == 1 else shape[1]
    w = np.random.default_rng(14).uniform(0.3, 2.0, c)
    parity(lambda a, b, ww: F.nll_loss(a, b, ww if weighted else None, reduction=reduction),
           lambda a, b, ww: TF.nll_loss(a, b, ww if weighted else None, reduction=reduction),
           z, t, w, requires_grad=[True, False, False], noncontig=True)


def test_nll_of_log_softmax_equals_cross_entropy_and_gradcheck():
    z, t = randn(4, 5, 2, seed=15), np.array([[0, 4], [2, 2], [1, -100], [3, 0]])
    a = F.nll_loss(F.log_softmax(cp.tensor(z, dtype="float64"), 1), t)
    b = F.cross_entropy(cp.tensor(z, dtype="float64"), t)
    assert a.item() == pytest.approx(b.item(), rel=1e-12)
    check_grad(lambda x: F.nll_loss(x, t, cp.tensor(np.arange(1.0, 6.0))), z)


def test_errors():
    z = cp.randn(3, 4)
    with pytest.raises(ValueError, match=r"cross_entropy: target value 4 is out of range for C = 4 classes"):
        F.cross_entropy(z, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"nll_loss: target value -1 is out of range for C = 4"):
        F.nll_loss(z, np.array([0, -1, 1]))
    with pytest.raises(ValueError, match=r"cross_entropy: input shape \(3, 4\) expects target shape \(3,\)"):
        F.cross_entropy(z, np.array([0, 1]))
    with pytest.raises(TypeError, match="cross_entropy: class-index target must have an integer dtype"):
        F.cross_entropy(z, cp.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(TypeError, match="nll_loss: class-index target must have an integer dtype"):
        F.nll_loss(z, np.array([0.0, 1.0, 2.0]))
    # probability rows that do not sum to 1 are taken as given, as PyTorch (tests/functional/test_refused_options.py)
    with pytest.raises(ValueError, match=r"cross_entropy: probability target must have the input's shape"):
        F.cross_entropy(z, cp.tensor(np.full((3, 2), 0.5, np.float32)))
    with pytest.raises(ValueError, match=r"cross_entropy: weight must have shape \(4,\)"):
        F.cross_entropy(z, np.array([0, 1, 2]), weight=np.ones(3))
    with pytest.raises(ValueError, match="cross_entropy: label_smoothing must be in"):
        F.cross_entropy(z, np.array([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="nll_loss: reduction must be one of"):
        F.nll_loss(z, np.array([0, 1, 2]), reduction="batchmean")
