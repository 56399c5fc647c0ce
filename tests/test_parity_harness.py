"""The parity harness itself must fail on the faults it exists to catch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import cvprimer as cp
from parity import assert_no_worse_than_torch, parity


def test_detached_output_is_caught():
    x = np.random.default_rng(0).standard_normal((3, 4))
    with pytest.raises(AssertionError, match="requires_grad"):
        parity(lambda a: cp.Tensor(a.data * 2), lambda a: a * 2, x)


def test_small_elements_wrong_by_their_own_size_are_caught():
    truth = np.array([1000.0, 0.5, -0.25, 3e-2])
    ref32 = truth.astype(np.float32)
    ours = ref32.copy()
    ours[1] *= 1.01  # an element 2000 times below the largest, 1% off
    with pytest.raises(AssertionError, match="element error"):
        assert_no_worse_than_torch(ours, ref32, truth, "x")
    assert_no_worse_than_torch(ref32, ref32, truth, "x")


def test_wrong_small_gradient_hidden_by_a_large_one_is_caught():
    w = np.array([1e3, 1.0, 2.0, 3.0])
    off = w * np.array([1, 1.005, 1, 1])  # 0.5% wrong on an element 1000x below the largest: within the scaled
    # absolute tolerance of assert_close (1e-5 * 1000), so only the elementwise check can see it

    def ours(a):
        return (a * cp.Tensor(off.astype(a.dtype))).sum()

    def theirs(a):
        return (a * torch.from_numpy(w.astype(a.detach().numpy().dtype))).sum()

    with pytest.raises(AssertionError, match="element error"):
        parity(ours, theirs, np.ones(4), dtypes=(np.float32,))
