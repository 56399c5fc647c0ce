"""The fast path of cross_entropy (class-index targets, no weights, no smoothing:
``CrossEntropyIndexFn``) against the general ``CrossEntropyFn`` and PyTorch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.functional.loss.classification import CrossEntropyFn, CrossEntropyIndexFn, hard_target_rows
from parity import assert_close, check_grad, parity, randn

TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}
SHAPES = [(7,), (5, 7), (3, 4, 6), (2, 3, 4, 5), (2, 2, 3, 2, 2)]


def _target(shape, seed, ignore=0.0):
    rng = np.random.default_rng(seed)
    want = () if len(shape) == 1 else (shape[0],) + shape[2:]
    c = shape[0] if len(shape) == 1 else shape[1]
    t = rng.integers(0, c, want)
    if ignore:
        t = np.where(rng.random(want) < ignore, -100, t)
    return np.asarray(t)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_fast_cross_entropy_vs_torch(shape, reduction):
    t = _target(shape, 1, ignore=0.3 if len(shape) > 1 else 0.0)
    parity(lambda z, y: F.cross_entropy(z, y, reduction=reduction),
           lambda z, y: TF.cross_entropy(z, y, reduction=reduction), randn(*shape, seed=2), t, noncontig=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_fast_cross_entropy_matches_the_general_path(dtype, shape, reduction):
    z = randn(*shape, seed=3).astype(dtype) * 4
    t = _target(shape, 4, ignore=0.25 if len(shape) > 1 else 0.0)
    outs, grads = [], []
    for fn in (CrossEntropyIndexFn, CrossEntropyFn):
        x = cp.Tensor(z.copy(), requires_grad=True)
        tt, ls = hard_target_rows("cross_entropy", x, t, -100)
        y = (fn.apply(x, tt, -100, reduction, ls) if fn is CrossEntropyIndexFn
             else fn.apply(x, tt, None, -100, reduction, 0.0, False, ls))
        gy = randn(*y.shape, seed=5).astype(dtype) if y.ndim else np.asarray(1.5, dtype)
        y.backward(cp.Tensor(gy))
        outs.append(y.data)
        grads.append(x.grad.data)
    assert outs[0].dtype == outs[1].dtype == dtype and outs[0].shape == outs[1].shape
    assert_close(outs[0], outs[1], "loss", **TOL[dtype])
    assert_close(grads[0], grads[1], "grad", **TOL[dtype])


def test_fast_cross_entropy_takes_the_fast_path_only_without_weights_or_smoothing():
    z, t = cp.tensor(randn(4, 3, seed=6), requires_grad=True), np.array([0, 2, 1, 1])
    fast = F.cross_entropy(z, t)._node
    assert type(fast) is CrossEntropyIndexFn and fast.name == "crossentropy"
    assert type(F.cross_entropy(z, t, weight=np.ones(3, np.float32))._node) is CrossEntropyFn
    assert type(F.cross_entropy(z, t, label_smoothing=0.1)._node) is CrossEntropyFn


def test_fast_cross_entropy_gradcheck_and_all_ignored():
    for shape in [(4, 3), (2, 3, 2, 3)]:
        t = _target(shape, 7, ignore=0.3)
        for red in ("mean", "sum", "none"):
            check_grad(lambda z, red=red, t=t: F.cross_entropy(z, t, reduction=red), randn(*shape, seed=8))
    z = cp.tensor(randn(3, 4, seed=9), requires_grad=True)
    y = F.cross_entropy(z, np.full(3, -100))
    ty = TF.cross_entropy(torch.from_numpy(z.data), torch.full((3,), -100))
    assert np.isnan(y.item()) and torch.isnan(ty)
    assert F.cross_entropy(z, np.full(3, -100), reduction="sum").item() == 0.0


def test_fast_cross_entropy_large_logits_stay_finite():
    z = np.array([[1000.0, 0.0, -1000.0], [-5e4, 5e4, 0.0]], np.float32)
    t = np.array([2, 1])
    parity(lambda a, y: F.cross_entropy(a, y, reduction="none"),
           lambda a, y: TF.cross_entropy(a, y, reduction="none"), z, t)


@pytest.mark.parametrize("shape", [(0, 5), (0, 3, 2, 2), (2, 3, 0, 4)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_fast_cross_entropy_on_empty_batches_like_torch(shape, reduction):
    want = (shape[0],) + shape[2:]
    x = cp.Tensor(np.zeros(shape, np.float32), requires_grad=True)
    y = F.cross_entropy(x, np.zeros(want, np.int64), reduction=reduction)
    ty = TF.cross_entropy(torch.zeros(shape), torch.zeros(want, dtype=torch.long), reduction=reduction)
    assert y.shape == tuple(ty.shape)
    np.testing.assert_array_equal(y.data, ty.numpy())
    y.sum().backward()
    assert x.grad.shape == shape and not x.grad.data.any()
