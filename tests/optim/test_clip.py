"""Gradient clipping vs torch.nn.utils: the returned pre-clip norm and the clipped gradients."""

import math

import numpy as np
import pytest
import torch

import cvprimer as cp
from cvprimer import optim

SHAPES = [(3, 4), (5,), (2, 2, 2)]


def _pair(scale, seed=0):
    rng = np.random.default_rng(seed)
    gs = [rng.standard_normal(s) * scale for s in SHAPES]
    ours = [cp.Tensor(np.zeros(s), requires_grad=True) for s in SHAPES]
    theirs = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in SHAPES]
    for p, q, g in zip(ours, theirs, gs, strict=True):
        p.grad, q.grad = cp.Tensor(g.copy()), torch.tensor(g.copy())
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("scale,max_norm", [(10.0, 1.0), (0.01, 5.0)])  # clipped, untouched
def test_clip_grad_norm_parity(norm_type, scale, max_norm):
    ours, theirs = _pair(scale)
    total = optim.clip_grad_norm_(ours, max_norm, norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total == pytest.approx(float(total_t), rel=1e-12)
    for p, q in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-12)
    if scale > 1:
        flat = np.concatenate([p.grad.data.ravel() for p in ours])
        after = np.abs(flat).max() if norm_type == math.inf else np.sum(np.abs(flat) ** norm_type) ** (1 / norm_type)
        assert after == pytest.approx(max_norm, rel=1e-5)  # 1e-6 in the denominator guard


def test_clip_grad_value_parity_and_skips_missing_grads():
    ours, theirs = _pair(3.0)
    extra = cp.Tensor(np.zeros(2), requires_grad=True)  # no grad: skipped, not an error
    optim.clip_grad_value_(ours + [extra], 0.5)
    torch.nn.utils.clip_grad_value_(theirs, 0.5)
    for p, q in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(p.grad.data, q.grad.numpy())
    assert extra.grad is None
    assert optim.clip_grad_norm_([extra], 1.0) == 0.0


def test_clip_errors():
    ours, _ = _pair(1.0)
    with pytest.raises(ValueError, match="max_norm"):
        optim.clip_grad_norm_(ours, -1.0)
    with pytest.raises(ValueError, match="clip_value"):
        optim.clip_grad_value_(ours, -1.0)
    ours[0].grad.data[0, 0] = np.nan
    with pytest.raises(RuntimeError, match="non-finite"):
        optim.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
