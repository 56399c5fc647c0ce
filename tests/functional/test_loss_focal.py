"""Focal losses: no PyTorch function exists, so each is compared (float64) with a direct
PyTorch-autograd composition of its formula, plus gradcheck, the gamma = 0 reductions to
(binary) cross-entropy, and saturated logits with gamma < 1."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cvprimer as cp
import cvprimer.functional as F
from parity import check_grad, parity, randn

F64 = [np.float64]


def torch_sigmoid_focal(z, y, alpha, gamma, reduction):
    p = torch.sigmoid(z)
    ce = TF.binary_cross_entropy_with_logits(z, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * (1 - p_t) ** gamma
    if alpha is not None:
        a = torch.as_tensor(alpha, dtype=z.dtype)
        if a.ndim == 1 and z.ndim >= 2:
            a = a.reshape((1, -1) + (1,) * (z.ndim - 2))
        loss = (a * y + (1 - a) * (1 - y)) * loss
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def torch_softmax_focal(z, t, alpha, gamma, reduction, ignore_index=-100):
    logp = TF.log_softmax(z, 1)
    c = z.shape[1]
    if t.dtype.is_floating_point:
        y, n = t, t[:, 0].numel()
    else:
        valid = t != ignore_index
        y = TF.one_hot(torch.where(valid, t, 0), c).movedim(-1, 1).to(z.dtype) * valid.unsqueeze(1)
        n = valid.sum()
    a = 1.0 if alpha is None else torch.as_tensor(alpha, dtype=z.dtype).reshape((1, -1) + (1,) * (z.ndim - 2))
    loss = -(a * y * (1 - logp.exp()) ** gamma * logp).sum(1)
    return {"none": loss, "mean": loss.sum() / n, "sum": loss.sum()}[reduction]


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("alpha", [None, 0.25, "vector"])
@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 2, 2)])
def test_sigmoid_focal_vs_torch_composition(shape, alpha, gamma, reduction):
    rng = np.random.default_rng(1)
    z = rng.standard_normal(shape) * 4
    y = (rng.random(shape) > 0.6).astype(np.float64)
    if shape == (6, 3):
        y[0] = [0.2, 0.7, 1.0]  # soft labels too
    a = np.array([0.25, 0.5, 0.9]) if alpha == "vector" else alpha
    parity(lambda x, t: F.sigmoid_focal_loss(x, t, a, gamma, reduction),
           lambda x, t: torch_sigmoid_focal(x, t, a, gamma, reduction), z, y,
           requires_grad=[True, False], dtypes=F64)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("alpha", [None, "vector"])
@pytest.mark.parametrize("shape", [(7, 4), (2, 4, 3, 2)])
@pytest.mark.parametrize("soft", [False, True])
def test_softmax_focal_vs_torch_composition(shape, alpha, gamma, reduction, soft):
    rng = np.random.default_rng(2)
    z = rng.standard_normal(shape) * 3
    if soft:
        e = np.exp(rng.standard_normal(shape))
        t = e / e.sum(1, keepdims=True)
    else:
        t = rng.integers(0, shape[1], (shape[0],) + shape[2:])
        t.reshape(-1)[::4] = -100
    a = np.array([0.25, 1.0, 0.5, 2.0]) if alpha == "vector" else alpha
    parity(lambda x, y: F.softmax_focal_loss(x, y, a, gamma, reduction=reduction),
           lambda x, y: torch_softmax_focal(x, y, a, gamma, reduction), z, t,
           requires_grad=[True, False], dtypes=F64)


def test_moderately_saturated_logits_match_composition():
    z = np.array([[30.0, -30.0, 25.0], [-30.0, 30.0, 0.1]])
    y = np.array([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    for gamma in (0.3, 2.0):
        parity(lambda x, t, g=gamma: F.sigmoid_focal_loss(x, t, 0.25, g, "none"),
               lambda x, t, g=gamma: torch_sigmoid_focal(x, t, 0.25, g, "none"), z, y,
               requires_grad=[True, False], dtypes=F64, rtol=1e-7)
        parity(lambda x, t, g=gamma: F.softmax_focal_loss(x, t, None, g, reduction="none"),
               lambda x, t, g=gamma: torch_softmax_focal(x, t, None, g, "none"), z * 0.8, np.array([0, 2]),
               requires_grad=[True, False], dtypes=F64, rtol=1e-7)


@pytest.mark.parametrize("gamma", [0.25, 0.5, 2.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fully_saturated_logits_finite_with_limit_gradients(gamma, dtype):
    # sigmoid: z = +1e4 with y = 1 is perfectly classified (loss 0, gradient 0, the limit of
    # gamma q^(gamma - 1) dq/dz as q -> 0); z = -1e4 with y = 1 has loss 1e4 and gradient -1.
    z = cp.tensor(np.array([1e4, -1e4, 1e4, -1e4]), dtype=dtype, requires_grad=True)
    y = cp.tensor(np.array([1.0, 1.0, 0.0, 0.0]), dtype=dtype)
    with cp.detect_anomaly():
        loss = F.sigmoid_focal_loss(z, y, None, gamma, "none")
        loss.sum().backward()
    np.testing.assert_allclose(loss.data, [0, 1e4, 1e4, 0], rtol=1e-6)
    np.testing.assert_allclose(z.grad.data, [0, -1, 1, 0], atol=1e-6)
    # softmax: row 0 is perfectly classified, row 1 is confidently wrong
    zz = cp.tensor(np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0]]), dtype=dtype, requires_grad=True)
    with cp.detect_anomaly():
        loss = F.softmax_focal_loss(zz, np.array([0, 1]), None, gamma, reduction="none")
        loss.sum().backward()
    np.testing.assert_allclose(loss.data, [0, 2e4], rtol=1e-6)
    np.testing.assert_allclose(zz.grad.data, [[0, 0, 0], [1, -1, 0]], atol=1e-6)


def test_minus_inf_logits_of_other_classes_are_fine():
    z = np.array([[0.5, -np.inf, 1.0], [-np.inf, 2.0, -np.inf]])
    t = np.array([0, 1])
    for gamma in (0.0, 0.5, 2.0):
        # a -inf class has p = 0 and y = 0: it is as if absent (the naive formula gives 0 * -inf = NaN)
        x = cp.tensor(z, requires_grad=True, dtype="float64")
        with cp.detect_anomaly():
            loss = F.softmax_focal_loss(x, t, gamma=gamma, reduction="none")
            loss.sum().backward()
        xr = cp.tensor(z[:1, [0, 2]], requires_grad=True, dtype="float64")
        ref = F.softmax_focal_loss(xr, t[:1], gamma=gamma, reduction="none")
        ref.sum().backward()
        np.testing.assert_allclose(loss.data, [ref.data[0], 0.0], rtol=1e-12)
        np.testing.assert_allclose(x.grad.data, [[xr.grad.data[0, 0], 0, xr.grad.data[0, 1]], [0, 0, 0]], rtol=1e-12)


def test_gamma_zero_without_alpha_is_cross_entropy():
    z = randn(5, 4, 2, seed=3)
    t = np.array([[0, 3], [1, -100], [2, 2], [3, 0], [1, 1]])
    x = cp.tensor(z, dtype="float64")
    for red in ("none", "mean", "sum"):
        np.testing.assert_allclose(F.softmax_focal_loss(x, t, gamma=0.0, reduction=red).data,
                                   F.cross_entropy(x, t, reduction=red).data, rtol=1e-12)
    q = np.exp(randn(5, 4, 2, seed=4))
    q = cp.tensor(q / q.sum(1, keepdims=True))
    np.testing.assert_allclose(F.softmax_focal_loss(x, q, gamma=0.0).data, F.cross_entropy(x, q).data, rtol=1e-12)
    y = cp.tensor(np.random.default_rng(5).random((5, 4, 2)))
    np.testing.assert_allclose(F.sigmoid_focal_loss(x, y, gamma=0.0, reduction="none").data,
                               F.binary_cross_entropy_with_logits(x, y, reduction="none").data, rtol=1e-12)


def test_gradcheck():
    z = randn(3, 4, seed=6) * 2
    y = (np.random.default_rng(7).random((3, 4)) > 0.5).astype(np.float64)
    y[0, 0] = 0.4
    for g in (0.5, 2.0):
        check_grad(lambda x, t, g=g: F.sigmoid_focal_loss(x, t, 0.25, g, "sum"), z, y, requires_grad=[True, False])
        check_grad(lambda x, g=g: F.softmax_focal_loss(x, np.array([0, 3, -100]), np.arange(1.0, 5.0), g), z)
        check_grad(lambda x, g=g: F.softmax_focal_loss(x, np.array([[1], [0], [2]]), None, g, reduction="none"),
                   z.reshape(3, 4, 1))


def test_errors():
    z = cp.randn(3, 4)
    with pytest.raises(ValueError, match=r"softmax_focal_loss: alpha must be a scalar or have shape \(4,\)"):
        F.softmax_focal_loss(z, np.array([0, 1, 2]), alpha=np.ones(3))
    with pytest.raises(ValueError, match="softmax_focal_loss: target value 7 is out of range for C = 4"):
        F.softmax_focal_loss(z, np.array([0, 7, 2]))
    with pytest.raises(ValueError, match=r"sigmoid_focal_loss: target values must lie in \[0, 1\], got \[0, 2\]"):
        F.sigmoid_focal_loss(z, cp.tensor(np.array([[0, 1, 2, 0]] * 3, np.float32)))
    with pytest.raises(ValueError, match="sigmoid_focal_loss: gamma must be >= 0"):
        F.sigmoid_focal_loss(z, z, gamma=-1.0)
    with pytest.raises(ValueError, match=r"sigmoid_focal_loss: input shape \(3, 4\) and target shape \(3,\) differ"):
        F.sigmoid_focal_loss(z, cp.zeros(3))
    with pytest.raises(TypeError, match="softmax_focal_loss: class-index target must have an integer dtype"):
        F.softmax_focal_loss(z, cp.zeros(3))
